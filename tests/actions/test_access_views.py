"""Identity views from the collected role assignments, and the Access and Audit sheets of the workbook."""

from __future__ import annotations

import openpyxl
import pytest

from pf9lib import identity, pipeline
from pf9lib.actions import admin_flavors as fl
from pf9lib.actions import apply
from pf9lib.analytics import access
from pf9lib.config import load_settings
from pf9lib.reports.rvtools import export_rvtools
from pf9lib.store.reader import open_store

pytestmark = pytest.mark.integration


def test_roles_admins_and_grants_over_time_match_keystone(fresh_sim, tmp_path):
    settings = load_settings(cloud=fresh_sim.cloud_name, data_dir=str(tmp_path), env=fresh_sim.env())
    pipeline.collect(settings, tmp_path)
    conn = fresh_sim.connect()
    raw = conn.identity.get("/role_assignments?include_names=true").json()["role_assignments"]
    roles = access.user_roles(tmp_path)
    assert len(roles) == len(raw)
    system = roles[roles["scope_type"] == "system"]
    assert len(system) == sum("system" in a["scope"] for a in raw) > 0
    assert set(system["scope"]) == {"all (system)"}
    expected_admins = {(a.get("user") or a.get("group"))["name"] for a in raw if a["role"]["name"] == "admin"}
    assert set(access.admins(tmp_path)["holder"]) == expected_admins
    # A grant made in Keystone shows as "granted" in the next run.
    user = next(u for u in conn.identity.get("/users").json()["users"] if u["name"] not in expected_admins)
    project = conn.identity.get("/projects").json()["projects"][0]
    role = next(r for r in conn.identity.get("/roles").json()["roles"] if r["name"] == "admin")
    assert (
        conn.identity.put(f"/projects/{project['id']}/users/{user['id']}/roles/{role['id']}").status_code
        == 204
    )
    second = pipeline.collect(settings, tmp_path)
    changes = access.assignment_changes(tmp_path)
    granted = changes[changes["run_id"] == second.run_id]
    assert granted[["change", "holder", "role", "scope"]].values.tolist() == [
        ["granted", user["name"], "admin", project["name"]]
    ]
    assert user["name"] in set(access.admins(tmp_path)["holder"])


def test_the_workbook_carries_access_and_the_audit(fresh_sim, tmp_path):
    settings = load_settings(cloud=fresh_sim.cloud_name, data_dir=str(tmp_path), env=fresh_sim.env())
    identity.grant(tmp_path, "ada", "ada", "admin")
    plan = fl.plan_flavor_create(settings, "ada", "m1.sheet", 1, 256, 1)
    assert apply(settings, plan.plan_id, "ada").status == "succeeded"
    pipeline.collect(settings, tmp_path)
    path = export_rvtools(open_store(tmp_path), tmp_path / "out")
    wb = openpyxl.load_workbook(path, read_only=True)
    audit_rows = [[c.value for c in row] for row in wb["Audit"].iter_rows()]
    assert audit_rows[0] == ["at", "actor", "role", "action", "target", "plan_id", "result", "note"]
    actions = {(r[3], r[4], r[6]) for r in audit_rows[1:]}
    assert {
        ("access.grant", "ada", "succeeded"),
        ("admin.flavor.create.plan", "m1.sheet", "planned"),
        ("admin.flavor.create.apply", "m1.sheet", "succeeded"),
    } <= actions
    access_rows = [[c.value for c in row] for row in wb["Access"].iter_rows()]
    assert access_rows[0][:4] == ["cloud", "holder", "holder_type", "role"]
    assert len(access_rows) - 1 == len(access.user_roles(tmp_path))
