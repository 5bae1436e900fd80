"""The admin forms: pick an operation, fill it, Plan (a stored dry run), review, Confirm and apply, result.

Every button passes the viewer's identity, read when it is clicked, to the library
(`pf9lib.actions.admin_*` plan functions, `pf9lib.actions.apply`), which checks the role and audits a refusal:
a viewer who forges a call is refused there, not here. The cloud's settings come from
`pf9lib.config.load_settings`, exactly as `pf9wb admin` gets them (OS_CLOUD / clouds.yaml, else PF9_*), read
when a button is clicked so the page renders without a cloud.

Nothing here captures output into an Output widget (that hangs Voilà): results go into widget values.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ipywidgets as w
import pandas as pd

from pf9lib import identity
from pf9lib.actions import admin_flavors as fl
from pf9lib.actions import admin_network as nw
from pf9lib.actions import apply, steps_of
from pf9lib.actions.engine import ApplyResult
from pf9lib.actions.plan import Plan
from pf9lib.errors import Pf9Error
from pf9lib.identity import Identity
from pf9lib.store import as_store
from pf9lib.store.reader import Store
from pf9lib.ui import tables

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Field:
    """One input of a form: `kind` is text, int (required whole number), port (optional whole number),
    flag (a checkbox) or choice (a dropdown of `choices`)."""

    name: str
    label: str
    kind: str = "text"
    default: Any = ""
    choices: tuple[str, ...] = ()
    placeholder: str = ""


@dataclass(frozen=True)
class Operation:
    """An admin operation's form: its fields and the library's plan function (called with parsed values)."""

    title: str
    fields: tuple[Field, ...]
    plan: Callable[[Any, Identity | None, dict[str, Any]], Plan]


OPERATIONS: dict[str, Operation] = {
    "flavor.create": Operation(
        "Create a flavor",
        (
            Field("name", "Name", placeholder="m1.small"),
            Field("vcpus", "vCPUs", "int", "2"),
            Field("ram_mb", "RAM (MB)", "int", "2048"),
            Field("disk_gb", "Disk (GB)", "int", "20"),
            Field("public", "Public", "flag", True),
        ),
        lambda s, who, v: fl.plan_flavor_create(
            s, who, v["name"], v["vcpus"], v["ram_mb"], v["disk_gb"], v["public"]
        ),
    ),
    "flavor.delete": Operation(
        "Delete a flavor",
        (Field("ref", "Name or id"),),
        lambda s, who, v: fl.plan_flavor_delete(s, who, v["ref"]),
    ),
    "network.create": Operation(
        "Create a network (and a subnet)",
        (
            Field("name", "Name"),
            Field("project", "Project", placeholder="name or id"),
            Field("subnet", "Subnet CIDR", placeholder="optional, e.g. 10.20.0.0/24"),
            Field("dhcp", "DHCP", "flag", True),
            Field("shared", "Shared", "flag", False),
            Field("external", "External", "flag", False),
        ),
        lambda s, who, v: nw.plan_network_create(
            s, who, v["name"], v["project"], v["shared"], v["external"], v["subnet"] or None, v["dhcp"]
        ),
    ),
    "network.delete": Operation(
        "Delete a network",
        (Field("id", "Network id"),),
        lambda s, who, v: nw.plan_network_delete(s, who, v["id"]),
    ),
    "secgroup.create": Operation(
        "Create a security group",
        (Field("name", "Name"), Field("project", "Project", placeholder="name or id")),
        lambda s, who, v: nw.plan_secgroup_create(s, who, v["name"], v["project"]),
    ),
    "secgroup.delete": Operation(
        "Delete a security group",
        (Field("id", "Group id"),),
        lambda s, who, v: nw.plan_secgroup_delete(s, who, v["id"]),
    ),
    "rule.create": Operation(
        "Add a security-group rule",
        (
            Field("group", "Group id"),
            Field("direction", "Direction", "choice", "ingress", nw.DIRECTIONS),
            Field("protocol", "Protocol", "choice", "tcp", nw.PROTOCOLS),
            Field("ethertype", "Ethertype", "choice", "IPv4", nw.ETHERTYPES),
            Field("port_min", "Port from", "port", placeholder="optional"),
            Field("port_max", "Port to", "port", placeholder="optional"),
            Field("remote", "Remote CIDR", placeholder="optional, e.g. 10.0.0.0/8"),
        ),
        lambda s, who, v: nw.plan_rule_create(
            s,
            who,
            v["group"],
            v["direction"],
            v["protocol"],
            v["ethertype"],
            v["port_min"],
            v["port_max"],
            v["remote"] or None,
        ),
    ),
    "rule.delete": Operation(
        "Delete a security-group rule",
        (Field("id", "Rule id"),),
        lambda s, who, v: nw.plan_rule_delete(s, who, v["id"]),
    ),
}


def parse_value(field: Field, raw: Any) -> Any:
    """A form value as the plan function takes it; a whole-number field that is not one is one line."""
    if field.kind == "flag":
        return bool(raw)
    text = str(raw).strip()
    if field.kind not in ("int", "port"):
        return text
    if not text:
        if field.kind == "port":
            return None
        raise Pf9Error(f"{field.label} is empty: type a whole number")
    try:
        return int(text)
    except ValueError:
        raise Pf9Error(f"{field.label} {text!r} is not a whole number: type digits only, e.g. 22") from None


def one_line(text: str) -> str:
    """The status line shows one line: a message from the cloud may carry newlines."""
    return " ".join(str(text).split())


def review_html(plan: Plan) -> str:
    """The plan as the reviewer reads it before confirming: what, checked on what, step by step."""
    esc = html.escape
    checks = "".join(f"<li>{esc(p.text)}</li>" for p in plan.preconditions)
    steps = "".join(f"<li>{esc(s.text)}</li>" for s in plan.steps)
    return (
        f'<div class="admin-plan-summary"><b>{esc(plan.summary)}</b></div>'
        f'<div class="pf9-muted">plan <span class="admin-plan-id">{esc(plan.plan_id)}</span>'
        f" · {esc(plan.kind)} · by {esc(plan.actor)} · cloud {esc(plan.cloud)} · nothing changed yet</div>"
        f"<div>Checked before (and again at apply):</div><ul class='admin-preconditions'>{checks}</ul>"
        f"<div>Steps:</div><ol class='admin-steps'>{steps}</ol>"
    )


def result_html(result: ApplyResult, steps: pd.DataFrame) -> str:
    """The outcome: what was created, what a failure rolled back (or left behind), each recorded step."""
    esc = html.escape

    def names(objs: list[dict]) -> str:
        return ", ".join(f"{o.get('type', 'object')} {o.get('name') or o.get('id')}" for o in objs) or "none"

    parts = [
        f'<div class="admin-result-{esc(result.status)}"><b>{esc(result.status)}</b>: {esc(result.message)}'
    ]
    parts.append(f" ({result.calls} API calls)</div><div>Created: {esc(names(result.created))}</div>")
    if result.status == "failed":
        parts.append(f'<div class="admin-rolled-back">Rolled back: {esc(names(result.rolled_back))}</div>')
        if result.left:
            parts.append(f'<div class="pf9-sev-critical">Left in the cloud: {esc(names(result.left))}</div>')
    if not steps.empty:
        shown = steps.assign(step=[("plan" if s < 0 else f"step {s + 1}") for s in steps["step"]])
        parts.append(
            tables.html_table(
                shown, (("at", "At (UTC)"), ("step", "Step"), ("state", "State"), ("detail", "Detail"))
            )
        )
    return "".join(parts)


def dashboard_viewer() -> Identity | None:
    """The page's viewer (X-Forwarded-User, else PF9WB_USER), read when a button is clicked."""
    return identity.dashboard_identity()


def settings_loader(data_dir: Path | str) -> Callable[[], Any]:
    """The cloud settings `pf9wb admin` uses (pf9lib.config.load_settings: OS_CLOUD / clouds.yaml, else
    PF9_*), with this page's data directory."""

    def load() -> Any:
        from pf9lib.config import load_settings

        return load_settings(data_dir=str(data_dir))

    return load


class AdminForms:
    """Pick an operation, fill its form, Plan (a dry run stored by the library), review, Confirm and apply
    the stored plan, read the result. `on_change` is called after each plan or apply (the audit refreshes)."""

    def __init__(
        self,
        store: Store | Path | str,
        viewer: Callable[[], Identity | None] = dashboard_viewer,
        settings: Callable[[], Any] | None = None,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        # The page's store (or one opened here): reading the steps back through an open store is cheap, a new
        # Store per click binds every view again (~1 s on a loaded machine).
        self.store = as_store(store)
        self.data_dir = Path(self.store.data_dir)
        self._viewer, self._on_change = viewer, on_change
        self._settings = settings or settings_loader(self.data_dir)
        self.plan_id: str | None = None
        self.operation = w.Dropdown(
            options=[(op.title, key) for key, op in OPERATIONS.items()], description="Operation"
        )
        self.operation.add_class("admin-operation")
        self.fields = w.VBox()
        self.fields.add_class("admin-fields")
        self.inputs: dict[str, w.ValueWidget] = {}
        self.plan_button = _button("Plan", "info", "admin-plan")
        self.apply_button = _button("Confirm and apply", "danger", "admin-apply", disabled=True)
        self.review, self.result = html_widget("admin-review"), html_widget("admin-result")
        self.status = w.Label("")
        self.status.add_class("admin-status")
        self.operation.observe(self._show_fields, names="value")
        self.plan_button.on_click(self.make_plan)
        self.apply_button.on_click(self.apply_plan)
        self.widget = w.VBox(
            [
                self.operation,
                self.fields,
                w.HBox([self.plan_button]),  # boxed: a button alone in the column would span it
                self.review,
                w.HBox([self.apply_button]),
                self.status,
                self.result,
            ]
        )
        self.widget.add_class("admin-forms")
        self._show_fields()

    def _show_fields(self, *_: Any) -> None:
        for old in self.inputs.values():
            old.close()
        self.inputs = {f.name: _input(f) for f in OPERATIONS[self.operation.value].fields}
        for widget in self.inputs.values():
            widget.observe(self._edited, names="value")
        self.fields.children = list(self.inputs.values())
        self._forget_plan()

    def _edited(self, *_: Any) -> None:
        """Confirm applies only what the form shows: an edit after Plan withdraws the reviewed plan."""
        if self.plan_id is not None:
            self._forget_plan()
            self.status.value = "the form changed after the plan was made: press Plan again to review it"

    def _forget_plan(self) -> None:
        """A changed form or a new plan makes the shown plan stale: it can no longer be confirmed here."""
        self.plan_id = None
        self.apply_button.disabled = True
        self.review.value = ""

    def values(self) -> dict[str, Any]:
        op = OPERATIONS[self.operation.value]
        return {f.name: parse_value(f, self.inputs[f.name].value) for f in op.fields}

    def make_plan(self, *_: Any) -> Plan | None:
        """The Plan button: the library checks the viewer, validates and stores a dry-run plan."""
        self._forget_plan()
        self.result.value = ""
        op = OPERATIONS[self.operation.value]
        try:
            plan = op.plan(self._settings(), self._viewer(), self.values())
        except Exception as exc:  # noqa: BLE001 - every failure becomes the status line
            self._failed("plan", exc)
            return None
        finally:
            self._changed()
        self.plan_id = plan.plan_id
        self.review.value = review_html(plan)
        self.apply_button.disabled = False
        self.status.value = (
            f"plan {plan.plan_id} stored, nothing changed yet: review it, then Confirm and apply"
        )
        return plan

    def apply_plan(self, *_: Any) -> ApplyResult | None:
        """The Confirm button: apply the stored plan (the library re-checks the viewer and the cloud)."""
        plan_id = self.plan_id
        if plan_id is None:
            self.status.value = "no plan to apply: fill the form and press Plan first"
            return None
        self.apply_button.disabled = self.plan_button.disabled = True
        self.status.value = f"applying plan {plan_id}…"
        try:
            result = apply(self._settings(), plan_id, self._viewer(), progress=self._progress)
        except Exception as exc:  # noqa: BLE001 - every failure becomes the status line
            self._failed("apply", exc)
            self.apply_button.disabled = False
            return None
        finally:
            self.plan_button.disabled = False
            self._changed()
        self.plan_id = None  # a plan applies once; another change needs another plan
        self.status.value = one_line(f"plan {plan_id}: {result.status}: {result.message}")
        self.result.value = result_html(result, steps_of(self.store, plan_id))
        return result

    def _progress(self, line: str) -> None:
        self.status.value = one_line(line)

    def _failed(self, what: str, exc: Exception) -> None:
        if isinstance(exc, Pf9Error):
            self.status.value = one_line(str(exc))
        else:  # a bug or an unexpected answer: one line here, the traceback in the kernel's log
            log.exception("admin %s failed", what)
            self.status.value = one_line(f"{what} failed unexpectedly ({type(exc).__name__}: {exc})")

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()


def _button(text: str, style: str, cls: str, disabled: bool = False) -> w.Button:
    button = w.Button(description=text, button_style=style, disabled=disabled, layout=w.Layout(width="auto"))
    button.add_class(cls)
    return button


def html_widget(cls: str) -> w.HTML:
    widget = w.HTML("")
    widget.add_class(cls)
    return widget


def _input(field: Field) -> w.ValueWidget:
    style = {"description_width": "110px"}
    if field.kind == "flag":
        widget = w.Checkbox(value=bool(field.default), description=field.label, style=style)
    elif field.kind == "choice":
        widget = w.Dropdown(options=field.choices, value=field.default, description=field.label, style=style)
    else:
        widget = w.Text(
            value=str(field.default), description=field.label, placeholder=field.placeholder, style=style
        )
    widget.add_class(f"admin-field-{field.name}")
    return widget
