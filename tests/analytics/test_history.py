"""pf9lib.analytics.history on nine daily runs of an evolving simulated cloud: every analytic is compared with
values computed here, independently, from the store's `changes` view with pandas."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from pf9lib.analytics import history
from pf9lib.collect import inventory
from pf9lib.config import load_settings
from pf9lib.errors import Pf9Error
from pf9lib.resources import RESOURCES
from pf9lib.store.reader import open_store

pytestmark = pytest.mark.integration
DAYS = 9


@pytest.fixture(scope="module")
def hist(sim_factory, tmp_path_factory):
    """Nine runs a day apart, ending two hours before now; the cloud evolves (a simulated day) before runs
    1, 5, 6, 7 and 8; one server (`victim`) is changed before run 2 (status) and 3 (flavor) and deleted
    before run 4: no evolution on those days, so nothing but the test decides its life."""
    sim = sim_factory("tiny", seed=7)
    data = tmp_path_factory.mktemp("history") / "data"
    settings = load_settings(cloud=sim.cloud_name, data_dir=str(data), env=sim.env())
    now = datetime.now(UTC).replace(microsecond=0)
    first = now - timedelta(days=DAYS - 1, hours=2)
    runs, victim = [], None
    with pytest.MonkeyPatch.context():
        for day in range(DAYS):
            if day in (1, 5, 6, 7, 8):
                sim.advance(24)
            if day == 2:
                victim = (
                    open_store(data)
                    .sql("SELECT id, name, status FROM servers WHERE status = 'ACTIVE' ORDER BY id LIMIT 1")
                    .iloc[0]
                )
                sim.mutate("servers", victim.id, {"status": "SHUTOFF", "OS-EXT-STS:vm_state": "stopped"})
            if day == 3:
                raw = sim.client.get_object("servers", victim.id)
                sim.mutate(
                    "servers", victim.id, {"flavor": {**raw["flavor"], "original_name": "resized.flavor"}}
                )
            if day == 4:
                sim.delete("servers", victim.id)
            result = inventory.collect_cloud(settings, data, started_at=first + timedelta(days=day))
            assert result.status == "success"
            runs.append(result.run_id)
    store = open_store(data)
    changes = store.sql("SELECT * FROM changes")
    changes["time"] = pd.to_datetime(changes["time"], utc=True)
    return {"data": data, "now": now, "runs": runs, "victim": victim, "changes": changes, "store": store}


def _sorted_newest(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(["time", "type", "id"], ascending=[False, True, True]).reset_index(drop=True)


def test_the_history_has_every_kind_of_change(hist):
    kinds = set(hist["changes"]["kind"])
    assert kinds == {"created", "updated", "deleted"}
    assert hist["changes"]["time"].dt.date.nunique() == DAYS


def test_recent_changes_in_a_window(hist):
    now, ch = hist["now"], hist["changes"]
    got = history.recent_changes(hist["store"], hours=50, now=now)
    want = _sorted_newest(ch[(ch["time"] > now - timedelta(hours=50)) & (ch["time"] <= now)])
    assert len(got) == len(want) > 0
    assert (
        got[["type", "id", "kind", "run_id"]].values.tolist()
        == want[["type", "id", "kind", "run_id"]].values.tolist()
    )
    only = history.recent_changes(hist["store"], hours=24 * DAYS, types="volumes", kinds=["deleted"], now=now)
    assert set(only["id"]) == set(ch[(ch["type"] == "volumes") & (ch["kind"] == "deleted")]["id"])


def test_most_changed_counts_real_changes(hist):
    ch = hist["changes"]
    upd = ch[ch["kind"] == "updated"].copy()
    upd["fields"] = upd["changed_fields"].map(len)
    want = (
        upd.groupby(["type", "cloud", "region", "id"])
        .agg(changes=("kind", "size"), fields_changed=("fields", "sum"))
        .reset_index()
        .sort_values(["changes", "fields_changed", "type", "id"], ascending=[False, False, True, True])
        .head(10)
    )
    got = history.most_changed(hist["store"], limit=10)
    cols = ["type", "id", "changes", "fields_changed"]
    assert got[cols].values.tolist() == want[cols].values.tolist()
    victim = (
        history.most_changed(hist["store"], types="servers", limit=1000)
        .set_index("id")
        .loc[hist["victim"].id]
    )
    assert (victim["changes"], bool(victim["deleted"])) == (2, True)


@pytest.mark.parametrize("freq", ["day", "week"])
def test_changes_by_timeframe_and_type(hist, freq):
    now, ch = hist["now"], hist["changes"]
    window = ch[(ch["time"] > now - timedelta(days=30)) & (ch["time"] <= now)].copy()
    if freq == "day":
        window["bucket"] = window["time"].dt.floor("D")
    else:  # ISO weeks start on Monday, as date_trunc('week', …)
        window["bucket"] = (window["time"] - pd.to_timedelta(window["time"].dt.weekday, unit="D")).dt.floor(
            "D"
        )
    want = window.pivot_table(
        index=["bucket", "type"], columns="kind", values="id", aggfunc="size", fill_value=0
    )
    want = want.reindex(columns=["created", "updated", "deleted"], fill_value=0).reset_index()
    want["total"] = want[["created", "updated", "deleted"]].sum(axis=1)
    got = history.changes_by_timeframe(hist["store"], freq, days=30, now=now)
    got["bucket"] = pd.to_datetime(got["bucket"], utc=True)
    cols = ["bucket", "type", "created", "updated", "deleted", "total"]
    assert got[cols].values.tolist() == want[cols].values.tolist()
    with pytest.raises(Pf9Error, match="unknown time frame"):
        history.changes_by_timeframe(hist["store"], "fortnight")


def test_resource_history_includes_the_deletion(hist):
    victim = hist["victim"]
    got = history.resource_history(hist["store"], "servers", victim.id)
    ch = hist["changes"]
    want = ch[ch["id"] == victim.id].sort_values("time")
    assert got["change"].tolist() == want["kind"].tolist() == ["created", "updated", "updated", "deleted"]
    assert got["run_id"].tolist() == want["run_id"].tolist()
    assert f"status: {victim.status!r} → 'SHUTOFF'" in got["details"][1]
    assert "flavor.original_name" in got["details"][2] and "'resized.flavor'" in got["details"][2]
    assert got["details"][3] == "deleted"
    with pytest.raises(Pf9Error, match="unknown resource type"):
        history.resource_history(hist["store"], "vms", victim.id)


def test_compare_two_states_field_by_field_and_raw_keys(hist):
    victim, runs = hist["victim"], hist["runs"]
    fields = history.compare_states(
        hist["store"], "servers", victim.id, before=runs[1], after=runs[2]
    ).set_index("field")
    assert fields.loc["status", ["before", "after", "changed"]].tolist() == [victim.status, "SHUTOFF", True]
    assert fields.loc["vm_state", "after"] == "stopped" and not fields.loc["flavor_name", "changed"]
    assert set(fields.index[fields["changed"] & ~fields["volatile"]]) == {"status", "vm_state"}
    assert set(fields.index[fields["changed"] & fields["volatile"]]) <= {
        "observed_at",
        "run_id",
        "updated_at",
    }
    keys = history.raw_diff(hist["store"], "servers", victim.id, before=runs[1], after=runs[2])
    ch = hist["changes"]
    fields_moved = set(ch[(ch["id"] == victim.id) & (ch["run_id"] == runs[2])]["changed_fields"].iloc[0])
    volatile = RESOURCES["servers"].volatile
    # Real Nova shows `progress` only while a server is ACTIVE or busy: a stop drops the key.
    assert set(keys["key"]) - volatile == fields_moved == {"status", "OS-EXT-STS:vm_state", "progress"}
    # Defaults: the newest state (the tombstone) against the one before it; the deletion shows in `op`.
    last = history.compare_states(hist["store"], "servers", victim.id).set_index("field")
    assert last.loc["op", ["before", "after"]].tolist() == ["upsert", "delete"]
    flavor = history.raw_diff(hist["store"], "servers", victim.id, before=runs[2], after=runs[3])
    assert flavor.set_index("key").loc["flavor.original_name", "after"] == "resized.flavor"
    with pytest.raises(Pf9Error, match="did not exist yet"):
        history.compare_states(hist["store"], "servers", victim.id, after=datetime(2000, 1, 1, tzinfo=UTC))


def _daily_counts(ch: pd.DataFrame, days: list) -> pd.DataFrame:
    ch = ch.assign(day=ch["time"].dt.date)
    return ch[ch["day"].isin(days)]


def test_change_patterns_day_by_type(hist):
    now, ch = hist["now"], hist["changes"]
    days = [now.date() - timedelta(days=9 - i) for i in range(10)]
    part = _daily_counts(ch[ch["time"] <= now], days)
    want = part.pivot_table(index="day", columns="type", values="id", aggfunc="size", fill_value=0)
    want = want.reindex(days, fill_value=0)
    got = history.change_patterns(hist["store"], days=10, now=now).set_index("day")
    assert got.index.tolist() == days
    assert sorted(c for c in got.columns if c != "total") == sorted(want.columns)
    for kind in want.columns:
        assert got[kind].tolist() == want[kind].tolist(), kind
    assert got["total"].tolist() == want.sum(axis=1).tolist()


def test_change_velocity_per_day_and_seven_day_average(hist):
    now, ch = hist["now"], hist["changes"]
    all_days = [now.date() - timedelta(days=12 - i) for i in range(13)]
    per_day = (
        _daily_counts(ch[ch["time"] <= now], all_days).groupby("day").size().reindex(all_days, fill_value=0)
    )
    got = history.change_velocity(hist["store"], days=7, now=now)
    assert got["day"].tolist() == all_days[6:]
    assert got["changes"].tolist() == per_day.tolist()[6:]
    averages = [sum(per_day.tolist()[i - 6 : i + 1]) / 7 for i in range(6, 13)]
    assert got["avg_7d"].tolist() == pytest.approx(averages)
    assert got["per_hour"].tolist() == pytest.approx([c / 24 for c in per_day.tolist()[6:]])
    assert (got["created"] + got["updated"] + got["deleted"]).tolist() == got["changes"].tolist()


def test_compliance_report_is_dated_when_generated(hist):
    now, ch = hist["now"], hist["changes"]
    before = datetime.now(UTC)
    report = history.compliance_report(hist["store"], days=7, high_activity_min=2, now=now)
    assert before <= report["generated_at"] <= datetime.now(UTC)
    assert (report["window_start"], report["window_end"]) == (now - timedelta(days=7), now)
    window = ch[(ch["time"] > now - timedelta(days=7)) & (ch["time"] <= now)]
    per_type = window.groupby("type").size().sort_values(ascending=False)
    got = report["changes_per_type"].set_index("type")
    assert got["total"].to_dict() == per_type.to_dict()
    for kind in ("created", "updated", "deleted"):
        assert got[kind].to_dict() == {
            t: int((window[window["type"] == t]["kind"] == kind).sum()) for t in got.index
        }
    busy = window.groupby(["type", "id"]).size()
    assert {(r.type, r.id): r.changes for r in report["high_activity"].itertuples()} == busy[
        busy >= 2
    ].to_dict()
    newest = _sorted_newest(ch[ch["time"] <= now]).head(50)
    assert (
        report["last_changes"][["type", "id", "kind"]].values.tolist()
        == newest[["type", "id", "kind"]].values.tolist()
    )
    # Without `now` the window ends at the time the store describes (its newest run), not at the wall clock:
    # a history dated in the past still reports its last days.
    live = history.compliance_report(hist["data"])
    newest_run = hist["store"].sql("SELECT max(started_at) AS t FROM runs")["t"].iloc[0]
    assert live["window_end"] == newest_run.to_pydatetime() == hist["store"].now
    assert live["generated_at"] >= report["generated_at"]
