"""Against the simulated cloud's exporter pages: every host scraped and joined to inventory, alerts that fire
and resolve, an unreachable target, and a process restart between scrapes (through the `pf9wb` CLI)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pf9lib.analytics import monitoring
from pf9lib.analytics.monitoring_alerts import alerts, load_rules
from pf9lib.cli import main
from pf9lib.collect.inventory import collect_cloud
from pf9lib.collect.metrics_targets import Host, build_targets, hosts_from_inventory
from pf9lib.config import load_settings
from pf9lib.pipeline_metrics import MetricsOptions, run_cycle
from pf9lib.store.reader import open_store

pytestmark = pytest.mark.integration
PF9WB = [sys.executable, "-m", "pf9lib.cli"]


def template(sim) -> str:
    return sim.base_url + "/_sim/exporters/{kind}/{hostname}/metrics"


def collect_inventory(sim, data) -> None:
    settings = load_settings(cloud=sim.cloud_name, data_dir=str(data), env=sim.env())
    assert collect_cloud(settings, data, ["hypervisors", "servers"]).status == "success"


def test_every_host_of_the_small_estate_is_scraped_and_joined_to_inventory(sim_factory, tmp_path):
    sim = sim_factory("small")
    collect_inventory(sim, tmp_path)
    hosts = hosts_from_inventory(open_store(tmp_path))
    # One more target that nothing answers: recorded down, the cycle goes on.
    targets = build_targets(hosts, template=template(sim)) + build_targets(
        [Host("ghost", "127.0.0.1")], {"node": 1}, kinds=["node"]
    )
    run_cycle(tmp_path, targets, MetricsOptions(timeout_s=5, rules=[]))
    sim.advance(0.02)
    result = run_cycle(tmp_path, targets, MetricsOptions(timeout_s=5, rules=[]))
    assert result.up == 2 * len(hosts) and result.down == 1
    collect_inventory(sim, tmp_path)  # the advance may have started or stopped VMs
    store = open_store(tmp_path)
    hypervisors = store.sql("SELECT id, name FROM hypervisors")
    assert len(hosts) == len(hypervisors) == 12

    latest = monitoring.latest_hosts(store).set_index("host")
    assert latest.loc["ghost", "stale"] and "cannot connect" in latest.loc["ghost", "stale_reason"]
    fresh = latest.drop(index="ghost")
    assert sorted(fresh["hypervisor_id"]) == sorted(hypervisors["id"])
    assert not fresh["stale"].any() and fresh["note"].isna().all()
    for col in ("cpu_pct", "mem_pct", "fs_pct"):
        assert fresh[col].between(0, 100).all(), col

    vms = monitoring.latest_vms(store)
    active = store.sql("SELECT id, project_name, flavor_name FROM servers WHERE status = 'ACTIVE'")
    assert sorted(vms["instance_uuid"]) == sorted(active["id"])  # exactly the running VMs, each once
    assert (vms["joined_by"] == "uuid").all()
    assert (vms["project_name"] == vms["inv_project_name"]).all() and (
        vms["flavor"] == vms["inv_flavor"]
    ).all()
    assert vms["cpu_pct"].between(0, 100).all() and vms["note"].isna().all()
    status = monitoring.target_status(store).set_index(["kind", "host"])
    assert not status.loc[("node", "ghost"), "up"] and status["up"].sum() == 24


def test_alert_fires_after_n_breaches_and_resolves_after_recovery(fresh_sim, tmp_path):
    sim = fresh_sim
    collect_inventory(sim, tmp_path)
    targets = build_targets(
        hosts_from_inventory(open_store(tmp_path)), template=template(sim), kinds=["node"]
    )
    first = run_cycle(tmp_path, targets, MetricsOptions(rules=[]))
    sim.advance(0.02)
    probe = run_cycle(tmp_path, targets, MetricsOptions(rules=[]))
    hottest = max(probe.hosts, key=lambda r: r["cpu_pct"])
    threshold = hottest["cpu_pct"] / 2
    assert threshold > 3  # a disabled host runs at 2 %: it will be back under the threshold
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(
        "rules:\n  - {name: host_cpu_test, entity: host, metric: cpu_pct, op: '>', "
        f"threshold: {threshold}, for: 3, severity: critical}}\n"
    )
    options = MetricsOptions(rules=load_rules(rules_file))
    fired = []
    for _ in range(3):
        sim.advance(0.02)
        fired.append({e["entity"] for e in run_cycle(tmp_path, targets, options).alert_events})
    assert fired[0] == fired[1] == set() and hottest["host"] in fired[2]  # the third breach fires
    assert first.hosts[0]["note"] == "no rate yet"

    hyp = open_store(tmp_path).sql(
        "SELECT id FROM hypervisors WHERE name = ?", [hottest["hypervisor_hostname"]]
    )
    sim.mutate("hypervisors", hyp["id"][0], {"status": "disabled"})  # its load drops to 2 %
    sim.advance(0.02)
    reset = run_cycle(tmp_path, targets, options)  # the simulator recomputes its counters: a reset
    assert next(r for r in reset.hosts if r["host"] == hottest["host"])["note"] == "counter reset"
    assert not [e for e in reset.alert_events if e["entity"] == hottest["host"]]
    sim.advance(0.02)
    recovered = run_cycle(tmp_path, targets, options)
    row = next(r for r in recovered.hosts if r["host"] == hottest["host"])
    assert row["cpu_pct"] < threshold
    (event,) = [e for e in recovered.alert_events if e["entity"] == hottest["host"]]
    assert event["state"] == "resolved" and event["resolved_at"] == row["ts"]

    episodes = alerts(open_store(tmp_path)).set_index("entity")
    assert episodes.loc[hottest["host"], "state"] == "resolved"
    assert episodes.loc[hottest["host"], "first_seen"] < episodes.loc[hottest["host"], "fired_at"]
    assert episodes.loc[hottest["host"], "last_seen"] < episodes.loc[hottest["host"], "resolved_at"]


def test_rates_survive_a_process_restart_between_scrapes(fresh_sim, tmp_path, capsys):
    sim, env = fresh_sim, fresh_sim.env()
    data = str(tmp_path / "data")
    collect_inventory(sim, tmp_path / "data")

    def pf9wb(*args: str) -> subprocess.CompletedProcess:
        done = subprocess.run([*PF9WB, *args], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done

    metrics = ("metrics", "collect", "--once", "--data-dir", data, "--target-template", template(sim))
    out = pf9wb(*metrics).stdout
    assert "6/6 targets up, 3 hosts" in out
    sim.advance(0.02)
    pf9wb(*metrics)  # a new process: the previous counters come from the store
    store = open_store(data)
    newest = monitoring.cycles(store).iloc[0]["batch_id"]
    hosts = store.sql("SELECT * FROM metric_hosts WHERE batch_id = ?", [newest])
    vms = store.sql("SELECT * FROM metric_vms WHERE batch_id = ?", [newest])
    assert len(hosts) == 3 and hosts["cpu_pct"].notna().all() and hosts["note"].isna().all()
    assert len(vms) > 0 and vms["cpu_pct"].notna().all()
    assert main(["metrics", "latest", "--data-dir", data, "--vms"]) == 0
    assert "uuid" in capsys.readouterr().out  # joined to inventory
    prom = (tmp_path / "data" / "metrics" / "pf9wb.prom").read_text()
    assert 'pf9wb_objects{cloud="pf9sim",source="inventory",type="servers"}' in prom
    assert 'pf9wb_last_run_success{cloud="",job="metrics"} 1.0' in prom
