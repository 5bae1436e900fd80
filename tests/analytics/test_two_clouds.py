"""Two clouds collected into one store stay apart in every tenant, landing and capacity analytic.

The simulated cloud is named twice in one clouds.yaml ("east" and "west": the same process, so project and
object ids are equal in both, the hardest case). East is collected, the estate moves, west is collected and
east again. The same collects also go into a store of east alone and one of west alone: every analytic of the
shared store filtered to one cloud equals that analytic of the cloud's own store (run ids aside), and
unfiltered it holds both.
"""

from __future__ import annotations

import functools
import os
from datetime import datetime, timedelta

import pandas as pd
import pytest
import yaml

from pf9lib import pipeline
from pf9lib.analytics import capacity, landing, tenants
from pf9lib.config import load_settings
from pf9lib.store.reader import open_store
from pf9sim.client import clouds_yaml
from tests.helpers.sim import start_sim

pytestmark = pytest.mark.integration
p = functools.partial
ANALYTICS = {
    "tenant_health": tenants.tenant_health,
    "tenant_risk": tenants.tenant_risk,
    "utilisation": tenants.utilisation,
    "quota_usage": tenants.quota_usage,
    "tenant_summary": tenants.tenant_summary,
    "usage_trend": p(tenants.usage_trend, days=3),
    "drift_trend": p(tenants.drift_trend, days=3),
    "snapshot_trend": p(tenants.snapshot_trend, days=3),
    "hypervisor_allocation": capacity.hypervisor_allocation,
    "aggregate_allocation": capacity.aggregate_allocation,
    "quota_forecast": p(capacity.quota_forecast, days=3),
    "capacity_forecast": p(capacity.capacity_forecast, days=3),
    "waste_candidates": capacity.waste_candidates,
    "landing.health_summary": landing.health_summary,
    "landing.sla_compliance": landing.sla_compliance,
    "landing.top_hosts": landing.top_hosts,
    "landing.recent_changes": landing.recent_changes,
    "landing.coverage_risks.volumes": lambda s, **kw: landing.coverage_risks(s, **kw)["volumes"],
    "landing.coverage_risks.tenants": lambda s, **kw: landing.coverage_risks(s, **kw)["tenants"],
    "landing.capacity_pressure": landing.capacity_pressure,
    "landing.vm_hotspots": landing.vm_hotspots,
    "landing.tenant_risk": landing.tenant_risk,
    "landing.compliance_drift": landing.compliance_drift,
    "landing.capacity_trends": p(landing.capacity_trends, days=3),
    "landing.trendlines": p(landing.trendlines, days=3),
    "landing.change_compliance": landing.change_compliance,
    "landing.risk_heatmap": landing.risk_heatmap,
    "landing.tenant_summary": landing.tenant_summary,
}


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    root = tmp_path_factory.mktemp("two-clouds")
    sim = start_sim(root)
    try:
        doc = {"clouds": {}}
        for name in ("east", "west"):
            doc["clouds"].update(yaml.safe_load(clouds_yaml(sim.base_url, sim.regions, name))["clouds"])
        config = root / "two-clouds.yaml"
        config.write_text(yaml.safe_dump(doc))
        env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(config)}
        dirs = {"both": root / "both", "east": root / "east", "west": root / "west"}

        def collect(cloud: str, when: datetime) -> None:
            for target in ("both", cloud):
                settings = load_settings(cloud=cloud, data_dir=str(dirs[target]), env=env)
                assert pipeline.collect(settings, dirs[target], started_at=when).status == "success"

        clock = datetime.fromisoformat(sim.summary()["clock"].replace("Z", "+00:00"))
        collect("east", clock)
        sim.advance(24)
        server = next(s for s in sim.connect().compute.get("/servers/detail?all_tenants=1").json()["servers"])
        sim.mutate("servers", server["id"], {"status": "ERROR"})
        later = clock + timedelta(days=1)
        collect("west", later)
        collect("east", later + timedelta(minutes=5))
        yield {name: open_store(path) for name, path in dirs.items()}, later + timedelta(minutes=10)
    finally:
        sim.process.stop()


def _comparable(df: pd.DataFrame) -> pd.DataFrame:
    df = df.drop(columns=[c for c in ("run_id", "event_id") if c in df.columns])
    df = df.astype(str)
    return df.sort_values(list(df.columns)).reset_index(drop=True)


@pytest.mark.parametrize("name", list(ANALYTICS))
def test_each_cloud_of_a_shared_store_equals_its_own_store(stores, name):
    frames, now = stores
    analytic = ANALYTICS[name]
    both = analytic(frames["both"], now=now)
    nonempty = set()
    for cloud in ("east", "west"):
        alone = analytic(frames[cloud], now=now)
        shared = analytic(frames["both"], cloud=cloud, now=now)
        assert set(shared["cloud"]) <= {cloud}
        pd.testing.assert_frame_equal(_comparable(shared), _comparable(alone), check_dtype=False)
        nonempty |= {cloud} if len(alone) else set()
    assert {"cloud", "region"} <= set(both.columns)
    assert set(both["cloud"]) == nonempty  # unfiltered: both clouds, each as itself


def test_the_two_clouds_differ_where_the_estate_moved(stores):
    frames, now = stores
    health = tenants.tenant_health(frames["both"], now=now)
    by_cloud = health.groupby("cloud")["error_vms"].sum()
    assert set(by_cloud.index) == {"east", "west"}
    assert by_cloud["east"] == by_cloud["west"]  # both saw the mutated server at their newest run
    runs = frames["both"].sql("SELECT cloud, count(*) AS n FROM runs GROUP BY 1 ORDER BY 1")
    assert runs.values.tolist() == [["east", 2], ["west", 1]]
    first = tenants.usage_trend(frames["both"], days=3, now=now)
    assert set(first["cloud"]) == {"east", "west"}


@pytest.mark.parametrize("cloud", ["east", "west"])
def test_the_workbook_of_a_shared_store_is_one_clouds(stores, cloud):
    """Each sheet of the shared store's workbook for a cloud equals that cloud's own store's; MetaData says
    which cloud and regions it covers and that the store holds another."""
    from pf9lib.reports.rvtools import build_sheets

    frames, _ = stores
    shared, alone = build_sheets(frames["both"], cloud=cloud), build_sheets(frames[cloud])
    for name, df in alone.items():
        if name in ("Summary", "Audit", "MetaData"):
            continue
        assert set(shared[name].get("cloud", pd.Series([cloud]))) <= {cloud}, name
        pd.testing.assert_frame_equal(_comparable(shared[name]), _comparable(df), check_dtype=False)
    assert len(shared["Servers"]) > 0
    meta = shared["MetaData"].set_index("key")["value"]
    other = {"east": "west", "west": "east"}[cloud]
    assert (meta["cloud"], meta["other_clouds_in_store"]) == (cloud, other)
    assert meta["regions"] == ", ".join(sorted(set(shared["Servers"]["region"]))) == "RegionOne"
    latest = frames["both"].sql(
        "SELECT run_id FROM runs WHERE cloud = ? ORDER BY started_at DESC LIMIT 1", [cloud]
    )
    assert meta["run_id"] == latest["run_id"].iloc[0]
