"""The admin page's widgets against the simulated cloud's process: the forms are driven in Python (fill,
click Plan, click Confirm and apply) and `/_sim/summary` and the SDK say what changed in the cloud."""

from __future__ import annotations

import ipywidgets
import pytest

from pf9lib import identity
from pf9lib.actions import admin_flavors as fl
from pf9lib.actions import admin_network as nw
from pf9lib.actions import audit, plans
from pf9lib.actions.client import plan_tag
from pf9lib.config import load_settings
from pf9lib.errors import Pf9Error
from pf9lib.identity import Identity
from pf9lib.store.reader import open_store
from pf9lib.ui.admin import AdminPage
from pf9lib.ui.admin_forms import OPERATIONS, AdminForms

pytestmark = pytest.mark.integration
ADMIN, OPERATOR, VIEWER = (Identity(u, "dashboard") for u in ("ada", "otto", "vic"))


@pytest.fixture
def cloud(fresh_sim, tmp_path):
    """(simulated cloud, data dir, settings loader) with ada admin and otto operator; vic has no role."""
    data_dir = tmp_path / "data"
    identity.grant(data_dir, ADMIN, ADMIN.user, "admin")
    identity.grant(data_dir, ADMIN, OPERATOR.user, "operator")

    def settings():  # the loader `pf9wb admin` uses, pointed at this cloud as OS_CLOUD would
        return load_settings(cloud=fresh_sim.cloud_name, data_dir=str(data_dir), env=fresh_sim.env())

    return fresh_sim, data_dir, settings


def counts(sim) -> dict:
    return sim.summary()["counts"]


def flavors_named(sim, name: str) -> list[dict]:
    conn = sim.connect()
    body = conn.compute.get("/flavors/detail?is_public=None", microversion="2.55").json()["flavors"]
    return [f for f in body if f["name"] == name]


def fill(forms: AdminForms, operation: str, **values) -> None:
    forms.operation.value = operation
    for name, value in values.items():
        forms.inputs[name].value = value


def widgets_in(widget: ipywidgets.Widget) -> list[ipywidgets.Widget]:
    found = [widget]
    for child in getattr(widget, "children", ()):
        found += widgets_in(child)
    return found


def test_an_admin_creates_a_flavor_through_the_form_and_it_is_in_the_cloud_and_the_audit(cloud):
    sim, data_dir, settings = cloud
    page = AdminPage(open_store(data_dir), viewer=lambda: ADMIN, settings=settings)
    page.reveal()
    forms = page.forms
    assert forms is not None
    fill(forms, "flavor.create", name="m1.widget", vcpus="3", ram_mb="3072", disk_gb="30")
    before = counts(sim)
    plan = forms.make_plan()
    assert plan is not None, forms.status.value
    assert counts(sim) == before and flavors_named(sim, "m1.widget") == []
    assert plan.plan_id in forms.review.value and not forms.apply_button.disabled
    # An edit after Plan withdraws the reviewed plan: Confirm applies only what the form shows.
    forms.inputs["vcpus"].value = "4"
    assert forms.plan_id is None and forms.apply_button.disabled and forms.review.value == ""
    assert forms.apply_plan() is None and "press Plan first" in forms.status.value
    forms.inputs["vcpus"].value = "3"
    plan = forms.make_plan()
    assert plan is not None and plan.plan_id in forms.review.value, forms.status.value
    for step in plan.steps:
        assert step.text in forms.review.value
    result = forms.apply_plan()
    assert result is not None and result.status == "succeeded", forms.status.value
    assert counts(sim) == {**before, "flavors": before["flavors"] + 1}
    made = flavors_named(sim, "m1.widget")
    assert [(f["vcpus"], f["ram"], f["disk"], f["description"]) for f in made] == [
        (3, 3072, 30, plan_tag(plan.plan_id))
    ]
    trail = audit(data_dir, plan_id=plan.plan_id)
    assert sorted(zip(trail["action"], trail["result"], trail["actor"], strict=True)) == [
        ("admin.flavor.create.apply", "succeeded", "ada"),
        ("admin.flavor.create.plan", "planned", "ada"),
    ]
    # The page's audit table was refreshed by the apply; a plan applies once.
    assert page.audit_table.value.count(plan.plan_id) == 2
    assert forms.apply_button.disabled and forms.plan_id is None
    assert forms.status.value == f"plan {plan.plan_id}: succeeded: {result.message}"


@pytest.mark.parametrize("who", [VIEWER, OPERATOR, None], ids=["viewer", "operator", "nobody"])
def test_a_non_admin_sees_one_line_and_no_form(cloud, who):
    _, data_dir, settings = cloud
    page = AdminPage(open_store(data_dir), viewer=lambda: who, settings=settings)
    page.reveal()
    assert page.forms is None
    (notice,) = page.forms_box.children
    assert "\n" not in notice.value and "admin role" in notice.value
    if who is not None:
        assert f"{who} is {identity.role_of(data_dir, who)}" in notice.value
    inputs = (ipywidgets.Text, ipywidgets.Button, ipywidgets.Dropdown, ipywidgets.Checkbox)
    everything = widgets_in(page.forms_box) + widgets_in(page.identity) + [page.audit_table]
    assert not [x for x in everything if isinstance(x, inputs)]


def test_a_forged_call_as_a_viewer_is_refused_by_the_library_and_audited(cloud):
    sim, data_dir, settings = cloud
    before = counts(sim)
    # The viewer has no form; building one anyway (what a forged widget message amounts to) gets nowhere.
    forged = AdminForms(data_dir, viewer=lambda: VIEWER, settings=settings)
    fill(forged, "flavor.create", name="m1.forged")
    assert forged.make_plan() is None
    assert "admin.flavor.create.plan refused: vic is viewer, admin is needed" in forged.status.value
    assert plans(data_dir).empty
    # Confirming an admin's stored plan as the viewer is refused by apply itself.
    admin_plan = fl.plan_flavor_create(settings(), ADMIN, "m1.forged", 1, 512, 1)
    forged.plan_id = admin_plan.plan_id
    assert forged.apply_plan() is None
    assert "admin.flavor.create.apply refused: vic is viewer" in forged.status.value
    assert counts(sim) == before and flavors_named(sim, "m1.forged") == []
    assert plans(data_dir)["state"].tolist() == ["planned"]
    denied = audit(data_dir, actor="vic")
    assert sorted(zip(denied["action"], denied["result"], strict=True)) == [
        ("admin.flavor.create.apply", "denied"),
        ("admin.flavor.create.plan", "denied"),
    ]


def _library_message(call) -> str:
    with pytest.raises(Pf9Error) as refused:
        call()
    return str(refused.value)


@pytest.mark.parametrize(
    "operation, values, expected",
    [
        ("flavor.create", {"name": "big", "vcpus": "65"}, lambda: fl.validate_flavor("big", 65, 2048, 20)),
        ("flavor.create", {"name": "bad name!"}, lambda: fl.validate_flavor("bad name!", 2, 2048, 20)),
        (
            "rule.create",
            {"group": "g", "port_min": "0"},
            lambda: nw.validate_rule("ingress", "tcp", "IPv4", 0, None, None),
        ),
        (
            "rule.create",
            {"group": "g", "protocol": "icmp", "port_min": "22"},
            lambda: nw.validate_rule("ingress", "icmp", "IPv4", 22, None, None),
        ),
        ("flavor.create", {"name": "m1", "ram_mb": "2 GB"}, "RAM (MB) '2 GB' is not a whole number"),
    ],
    ids=["vcpus-range", "name-pattern", "port-range", "ports-need-tcp", "not-a-number"],
)
def test_a_validation_error_is_one_line_and_changes_nothing(cloud, operation, values, expected):
    sim, data_dir, settings = cloud
    forms = AdminForms(data_dir, viewer=lambda: ADMIN, settings=settings)
    fill(forms, operation, **values)
    before = counts(sim)
    assert forms.make_plan() is None
    message = expected if isinstance(expected, str) else _library_message(expected)
    assert message in forms.status.value and "\n" not in forms.status.value
    assert forms.apply_button.disabled and forms.review.value == ""
    assert counts(sim) == before and plans(data_dir).empty


def test_a_failed_apply_shows_what_was_rolled_back(cloud):
    sim, data_dir, settings = cloud
    project = next(
        p["name"] for p in sim.connect().identity.get("/projects").json()["projects"] if p["name"] != "admin"
    )
    forms = AdminForms(data_dir, viewer=lambda: ADMIN, settings=settings)
    fill(forms, "network.create", name="net-ui", project=project, subnet="10.79.0.0/24")
    before = counts(sim)
    plan = forms.make_plan()
    assert plan is not None and len(plan.steps) == 2, forms.status.value
    sim.faults({"method": "POST", "path": "/subnets$", "status": 503})
    try:
        result = forms.apply_plan()
    finally:
        sim.clear_faults()
    assert result is not None and result.status == "failed"
    assert counts(sim) == before
    assert [c["name"] for c in result.rolled_back] == ["net-ui"]
    assert '<div class="admin-rolled-back">Rolled back: network net-ui</div>' in forms.result.value
    assert "rolled_back" in forms.result.value and "HTTP 503" in forms.status.value
    assert "\n" not in forms.status.value


def test_every_operation_has_a_form_the_library_accepts(cloud):
    """Each form's fields parse into the arguments its plan function takes (a typo would raise TypeError,
    shown as "failed unexpectedly"): empty forms end in the library's own one-line refusal."""
    _, data_dir, settings = cloud
    forms = AdminForms(data_dir, viewer=lambda: ADMIN, settings=settings)
    for key in OPERATIONS:
        forms.operation.value = key
        for name, widget in forms.inputs.items():
            if isinstance(widget, ipywidgets.Text) and name not in ("vcpus", "ram_mb", "disk_gb"):
                widget.value = ""
        forms.make_plan()
        assert "unexpectedly" not in forms.status.value and forms.status.value, key


def test_the_admin_page_never_captures_output(cloud, monkeypatch):
    """Capturing output into an Output widget while Voilà executes a dashboard can hang the render
    (tests/ui/test_widgets.py): building the page, revealing the forms, planning and applying draw through
    widget state only."""
    _, data_dir, settings = cloud
    captured: list[str] = []
    monkeypatch.setattr(ipywidgets.Output, "__enter__", lambda self: captured.append("with out"))
    monkeypatch.setattr(
        ipywidgets.Output, "clear_output", lambda self, *a, **k: captured.append("clear_output")
    )
    page = AdminPage(open_store(data_dir), viewer=lambda: ADMIN, settings=settings)
    page.reveal()
    fill(page.forms, "flavor.create", name="m1.quiet")
    assert page.forms.make_plan() is not None and page.forms.apply_plan().status == "succeeded"
    assert captured == []
    assert not [x for x in widgets_in(page.forms_box) if isinstance(x, ipywidgets.Output)]
