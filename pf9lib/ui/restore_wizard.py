"""The restore wizard (docs/domain.md §8): project → VM → restore point → options → review → confirm →
live progress → result, each step one call of `pf9lib.actions.restore`.

- Who may act is decided by the library: `plan_restore`, `execute`, `cancel` and `retry` check the viewer's
  role (and audit a refusal). The wizard only hides what a viewer could not do (a viewer browses the restore
  points; the plan and execute buttons are not shown) and says why.
- A REPLACE is typed-confirmed (`DELETE AND RESTORE <vm name>`) before its plan is made: the library
  refuses to plan an unconfirmed REPLACE. A NEW restore is confirmed by the Execute button under its plan.
- Execution runs in the library's thread (`execute(wait=False)`); a poller thread reads the job's step
  records and hands each update to the kernel's event loop, so the page stays live (Cancel works) and no
  output is captured into an Output widget.
- A job already running for the chosen VM is followed instead of planning a new one.
"""

from __future__ import annotations

import html
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as w

from pf9lib import identity
from pf9lib.actions import restore
from pf9lib.actions.engine import ActionContext
from pf9lib.actions.plan import Plan
from pf9lib.actions.restore.executor import disabled_message
from pf9lib.actions.restore.points import vm_volumes
from pf9lib.errors import Pf9Error
from pf9lib.store.reader import Store

STAGES = ("project", "vm", "point", "options", "confirm", "review", "progress", "result")
ACTIVE = ("PENDING", "RUNNING")
RESUMABLE = ("FAILED", "CANCELED", "INTERRUPTED")
ORIGINAL_NETWORKS = "(the original's networks)"

STYLE = """
.restore-crumbs span { margin-right: 10px; color: var(--jp-ui-font-color2); }
.restore-crumbs span.restore-crumb-on { color: var(--jp-ui-font-color0); font-weight: 600;
                                        border-bottom: 2px solid var(--pf9-accent); }
.restore-note { padding: 6px 10px; border-left: 4px solid var(--pf9-warning); margin: 4px 0;
                background: var(--jp-layout-color1); color: var(--jp-ui-font-color0); }
.restore-steps li { margin: 2px 0; }
.restore-step-succeeded, .restore-step-adopted { color: var(--jp-success-color1, green); }
.restore-step-failed, .restore-step-rollback_failed { color: var(--pf9-critical); font-weight: 600; }
.restore-step-running { font-weight: 600; }
.restore-step-rolled_back, .restore-step-stopped, .restore-step-pending { color: var(--jp-ui-font-color2); }
"""


def _dashboard_viewer() -> str | None:
    """The page's viewer (X-Forwarded-User, else PF9WB_USER), read when it matters, not at build time: a
    preheated kernel builds the page before the request (and its header) arrives."""
    who = identity.dashboard_identity()
    return who.user if who else None


def _on_main(fn: Callable[[], None]) -> None:
    """Run `fn` on the kernel's event loop (widget updates from the poller thread), or here without one."""
    try:
        from IPython import get_ipython

        loop = getattr(getattr(get_ipython(), "kernel", None), "io_loop", None)
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        loop = None
    if loop is None:
        fn()
    else:
        loop.add_callback(fn)


def _button(text: str, cls: str, style: str = "") -> w.Button:
    button = w.Button(description=text, button_style=style, layout=w.Layout(width="auto"))
    button.add_class(cls)
    return button


def _show(widget: w.Widget, visible: bool) -> None:
    widget.layout.display = None if visible else "none"


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return str(value)


def point_label(row: dict[str, Any]) -> str:
    """One restore point as a line: when, age, size, kind, policy, and what it covers."""
    covers = "covers every attached volume" if row["covers_all"] else "misses " + ", ".join(row["missing"])
    return (
        f"{row['created_at']:%Y-%m-%d %H:%M} UTC · {row['age_h']:g} h old · {_text(row['size_gb'])} GB · "
        f"{row['kind'].replace('_', ' ')} · {_text(row['policy'])} · {covers}"
    )


def steps_html(steps: list[dict[str, Any]]) -> str:
    """A job's steps as an ordered list, each with its state (a class per state) and detail, escaped."""
    items = []
    for s in steps:
        detail = s.get("heartbeat") if s["state"] == "running" and s.get("heartbeat") else s.get("detail")
        extra = f" — {html.escape(detail)}" if detail and detail != s["text"] else ""
        items.append(
            f'<li class="restore-step restore-step-{html.escape(s["state"])}">'
            f"[{html.escape(s['state'])}] {html.escape(s['text'])}{extra}</li>"
        )
    return f'<ol class="restore-steps">{"".join(items)}</ol>'


def plan_html(plan: Plan) -> str:
    """The review of a plan: its summary, the quota check with its numbers, the ports, the warnings and
    the step list, all from the plan's inputs."""
    i = plan.inputs
    rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td class='pf9-num'>{v['need']}</td>"
        f"<td class='pf9-num'>{_text(v['limit'])}</td><td class='pf9-num'>{v['used']}</td>"
        f"<td class='pf9-num'>{'unlimited' if v['limit'] is None else v['limit'] - v['used']}</td></tr>"
        for k, v in i["quota"].items()
    )
    quota = (
        "<table class='pf9-table restore-quota'><tr><th>quota</th><th>needed</th><th>limit</th>"
        f"<th>used</th><th>left</th></tr>{rows}</table>"
    )
    ports = "".join(
        f"<li>port {p['index'] + 1}: {html.escape(str(p['network']))} "
        f"{html.escape(p['ip'] or 'a new address')} "
        f"(was {html.escape(', '.join(p['original_ips']) or '-')})</li>"
        for p in i["ports"]
    )
    warnings = "".join(f"<li>{html.escape(x)}</li>" for x in i.get("warnings", []))
    steps = "".join(f"<li>{html.escape(s.text)}</li>" for s in plan.steps)
    return (
        f"<div class='restore-summary'>{html.escape(plan.summary)}</div>"
        f"<div class='pf9-muted'>plan {html.escape(plan.plan_id)} by {html.escape(plan.actor)}</div>"
        f"<h4>Quota check</h4>{quota}<h4>Network</h4><ul class='restore-ports'>{ports}</ul>"
        f"<h4>Warnings ({len(i.get('warnings', []))})</h4><ul class='restore-warnings'>{warnings}</ul>"
        f"<h4>Steps ({len(plan.steps)})</h4><ol class='restore-plan-steps'>{steps}</ol>"
    )


class RestoreWizard:
    """The wizard over a data directory. `settings` (None: browse only, `settings_problem` says why) give
    the cloud the plans and jobs act on; `viewer` says who is looking when an action is asked for;
    `context` makes the executor's context (None: the library's pacing); `poll_s` paces the progress."""

    def __init__(
        self,
        data_dir: Path | str,
        settings: Any | None = None,
        settings_problem: str = "",
        viewer: Callable[[], str | None] = _dashboard_viewer,
        context: Callable[[], ActionContext] | None = None,
        poll_s: float = 1.0,
    ) -> None:
        self.data_dir, self.settings, self._viewer = Path(data_dir), settings, viewer
        self._context, self.poll_s = context, poll_s
        self.store = Store(self.data_dir)
        self.plan: Plan | None = None
        self.job_id: str | None = None
        self.job_state: dict[str, Any] | None = None
        self._poller: threading.Thread | None = None
        self._points: dict[str, dict[str, Any]] = {}
        self.volume_boxes: dict[str, w.Checkbox] = {}
        self.notice = w.HTML(self._notice(settings_problem))
        self.crumbs = w.HTML()
        self.crumbs.add_class("restore-crumbs")
        self.status = w.HTML()
        self.status.add_class("restore-status")
        self.stages = {
            "project": self._project_stage(),
            "vm": self._vm_stage(),
            "point": self._point_stage(),
            "options": self._options_stage(),
            "confirm": self._confirm_stage(),
            "review": self._review_stage(),
            "progress": self._progress_stage(),
            "result": self._result_stage(),
        }
        self.body = w.VBox()
        self.widget = w.VBox(
            [w.HTML(f"<style>{STYLE}</style>"), self.notice, self.crumbs, self.body, self.status]
        )
        self.widget.add_class("restore-wizard")
        self.stage = ""
        self.show("project")

    # ----------------------------------------------------------------------------------------- frame

    def _notice(self, problem: str) -> str:
        if self.settings is None:
            why = problem or "no cloud settings"
            return f"<div class='restore-note restore-plans-only'>Browse only: {html.escape(why)}</div>"
        if not self.settings.restore_enabled or self.settings.restore_dry_run:
            text = disabled_message(self.settings)
            return f"<div class='restore-note restore-plans-only'>{html.escape(text)}</div>"
        return ""

    @property
    def can_execute(self) -> bool:
        s = self.settings
        return s is not None and s.restore_enabled and not s.restore_dry_run

    def viewer_role(self) -> tuple[str | None, str]:
        who = self._viewer()
        return who, identity.role_of(self.data_dir, who)

    def may_act(self) -> bool:
        """Whether to offer the plan and execute buttons (the library decides again when they are used)."""
        _, role = self.viewer_role()
        return identity.RANK[role] >= identity.RANK["operator"]

    def show(self, stage: str) -> None:
        self.stage = stage
        replace = self.mode.value == "REPLACE"
        order = [s for s in STAGES if s != "confirm" or replace]
        self.crumbs.value = "".join(
            f'<span class="restore-crumb-{s}{" restore-crumb-on" if s == stage else ""}">{s}</span>'
            for s in order
        )
        self.body.children = [self.stages[stage]]

    def say(self, text: str, cls: str = "") -> None:
        self.status.value = f'<div class="{cls}">{html.escape(text)}</div>' if text else ""

    def _stage(self, title: str, cls: str, *parts: w.Widget) -> w.VBox:
        box = w.VBox([w.HTML(f"<h3>{html.escape(title)}</h3>"), *parts])
        box.add_class(f"restore-stage-{cls}")
        return box

    # ----------------------------------------------------------------------------------------- choosing

    def _project_stage(self) -> w.VBox:
        df = restore.projects_with_vms(self.store)
        options = [
            (
                f"{r.project_name} ({r.domain_name}) · {r.vms} VMs, {r.boot_from_volume} boot from volume",
                r.project_id,
            )
            for r in df.itertuples()
        ]
        self.project = w.Dropdown(options=options, layout=w.Layout(width="520px"))
        self.project.add_class("restore-project")
        nxt = _button("Next: choose the VM", "restore-next-project", "primary")
        nxt.on_click(self.choose_project)
        empty = w.HTML(
            "" if options else "<div class='pf9-no-data'>No VMs in the store: run `pf9wb collect`</div>"
        )
        return self._stage("1. Project", "project", self.project, empty, nxt)

    def choose_project(self, *_: Any) -> None:
        if self.project.value is None:
            return self.say("no project chosen: collect first (`pf9wb collect`)")
        df = restore.vms_of_project(self.store, self.project.value)
        self.vm.options = [
            (f"{r.name} · {r.status} · boots from {r.boot} · {r.flavor_name} · {r.volumes} volume(s)", r.id)
            for r in df.itertuples()
        ]
        self.vm.value = self.vm.options[0][1] if self.vm.options else None
        self.say("")
        self.show("vm")

    def _vm_stage(self) -> w.VBox:
        self.vm = w.Select(rows=8, layout=w.Layout(width="640px"))
        self.vm.add_class("restore-vm")
        back, nxt = (
            _button("Back", "restore-back"),
            _button("Next: restore points", "restore-next-vm", "primary"),
        )
        back.on_click(lambda *_: self.show("project"))
        nxt.on_click(self.choose_vm)
        return self._stage("2. VM", "vm", self.vm, w.HBox([back, nxt]))

    def choose_vm(self, *_: Any) -> None:
        if self.vm.value is None:
            return self.say("no VM chosen: pick one in the list")
        running = restore.jobs(self.store, vm=self.vm.value)  # the kept store sees new job events
        running = running[running["state"].isin(ACTIVE)]
        if len(running):
            row = running.iloc[0]
            self.say(
                f"a restore of {row['vm_name']} is already running (job {row['job_id']} by {row['actor']})"
            )
            return self.follow(row["job_id"])
        df = restore.points(self.store, self.vm.value)
        self._points = {r["point_id"]: r for r in df.to_dict("records")}
        self.point.options = [(point_label(r), r["point_id"]) for r in self._points.values()]
        self.point.value = df["point_id"].iloc[0] if len(df) else None
        self.point_empty.value = (
            "" if len(df) else "<div class='pf9-no-data'>No restore point: take snapshots, then collect</div>"
        )
        who, role = self.viewer_role()
        allowed = self.may_act()
        _show(self.point_next, allowed and bool(len(df)) and self.settings is not None)
        self.point_role.value = (
            ""
            if allowed
            else "<div class='restore-note restore-viewer-note'>"
            f"{html.escape(str(who or 'nobody (no X-Forwarded-User)'))} is {role}: "
            "restore points can be browsed; "
            "planning and executing a restore need the operator role "
            f"(`pf9wb access grant {html.escape(str(who or 'USER'))} operator`)</div>"
        )
        self.say("")
        self.show("point")

    def _point_stage(self) -> w.VBox:
        self.point = w.Select(rows=6, layout=w.Layout(width="900px"))
        self.point.add_class("restore-point")
        self.point_empty, self.point_role = w.HTML(), w.HTML()
        back = _button("Back", "restore-back")
        self.point_next = _button("Next: options", "restore-next-point", "primary")
        back.on_click(lambda *_: self.show("vm"))
        self.point_next.on_click(self.choose_point)
        hint = w.HTML(
            "<div class='pf9-muted'>Newest first; each says whether it covers every attached volume.</div>"
        )
        return self._stage(
            "3. Restore point",
            "point",
            hint,
            self.point,
            self.point_empty,
            self.point_role,
            w.HBox([back, self.point_next]),
        )

    def choose_point(self, *_: Any) -> None:
        if self.point.value not in self._points:
            return self.say("no restore point chosen: pick one in the list")
        chosen = self._points[self.point.value]
        vm = restore.find_vm(self.store, self.vm.value)
        covered = chosen["data_snapshots"] or {}
        _, data = vm_volumes(self.store, vm)
        boxes, self.volume_boxes = [], {}
        for vol in data:
            ok = vol["id"] in covered
            label = f"{vol['name'] or vol['id']} ({vol['device']}, {vol['size_gb']} GB)"
            box = w.Checkbox(
                value=ok,
                disabled=not ok,
                description=label + ("" if ok else " — no snapshot near"),
                indent=False,
                layout=w.Layout(width="auto"),
            )
            box.add_class("restore-volume")
            self.volume_boxes[vol["id"]] = box
            boxes.append(box)
        self.volumes.children = boxes or [w.HTML("<span class='pf9-muted'>no data volume</span>")]
        project = vm["project_id"]
        nets = self.store.sql(
            "SELECT DISTINCT name FROM networks WHERE project_id = ? OR shared ORDER BY name", [project]
        )["name"].tolist()
        self.network.options = [ORIGINAL_NETWORKS, *nets]
        self.groups.options = self.store.sql(
            "SELECT DISTINCT name FROM security_groups WHERE project_id = ? ORDER BY name", [project]
        )["name"].tolist()
        self.name.placeholder = f"default: {vm['name']}-restored-<YYYYMMDD-HHMM>"
        self.confirm_help.value = (
            "<div class='restore-note'>REPLACE deletes VM "
            f"<b>{html.escape(vm['name'])}</b> and brings it back from the chosen point. Type exactly "
            f"<code>{html.escape(restore.confirmation(vm['name']))}</code> to plan it.</div>"
        )
        self.confirm_text.value = ""
        self.say("")
        self.show("options")

    # ----------------------------------------------------------------------------------------- options

    def _options_stage(self) -> w.VBox:
        self.mode = w.ToggleButtons(options=list(restore.MODES), value="NEW", description="Mode")
        self.mode.add_class("restore-mode")
        self.name = w.Text(description="Name", layout=w.Layout(width="520px"))
        self.name.add_class("restore-name")
        self.ip_strategy = w.Dropdown(options=list(restore.IP_STRATEGIES), description="IP strategy")
        self.ip_strategy.add_class("restore-ip-strategy")
        self.ips = w.Text(description="Addresses", placeholder="one per port, comma-separated")
        self.ips.add_class("restore-ips")
        self.network = w.Dropdown(options=[ORIGINAL_NETWORKS], description="Network")
        self.groups = w.SelectMultiple(options=[], rows=4, description="Sec. groups")
        self.volumes = w.VBox()
        self.safety = w.Checkbox(
            value=True, description="take a safety snapshot before the delete", indent=False
        )
        self.keep_hint = w.HTML(
            "<div class='pf9-muted'>No security group chosen: the original ports' groups.</div>"
        )
        back = _button("Back", "restore-back")
        self.options_next = _button("Next: review the plan", "restore-next-options", "primary")
        back.on_click(lambda *_: self.show("point"))
        self.options_next.on_click(self.next_from_options)
        self.mode.observe(self._mode_changed, "value")
        self.ip_strategy.observe(lambda *_: _show(self.ips, self.ip_strategy.value == "MANUAL_IP"), "value")
        _show(self.ips, False)
        _show(self.safety, False)
        return self._stage(
            "4. Options",
            "options",
            self.mode,
            self.name,
            self.ip_strategy,
            self.ips,
            self.network,
            self.groups,
            self.keep_hint,
            w.HTML("<b>Data volumes</b>"),
            self.volumes,
            self.safety,
            w.HBox([back, self.options_next]),
        )

    def _mode_changed(self, *_: Any) -> None:
        replace = self.mode.value == "REPLACE"
        _show(self.safety, replace)
        self.options_next.description = "Next: confirm the REPLACE" if replace else "Next: review the plan"

    def options(self) -> restore.RestoreOptions:
        """The options as the form has them."""
        picked = tuple(vid for vid, box in self.volume_boxes.items() if box.value)
        return restore.RestoreOptions(
            mode=self.mode.value,
            name=self.name.value.strip() or None,
            ip_strategy=self.ip_strategy.value,
            ips=tuple(x.strip() for x in self.ips.value.split(",") if x.strip())
            if self.ip_strategy.value == "MANUAL_IP"
            else (),
            network=None if self.network.value == ORIGINAL_NETWORKS else self.network.value,
            security_groups=tuple(self.groups.value),
            data_volumes=picked,
            confirm=self.confirm_text.value.strip() if self.mode.value == "REPLACE" else None,
            safety_snapshot=self.safety.value,
        )

    def next_from_options(self, *_: Any) -> None:
        if self.mode.value == "REPLACE":
            self.say("")
            return self.show("confirm")
        self.review()

    def _confirm_stage(self) -> w.VBox:
        self.confirm_help = w.HTML()
        self.confirm_text = w.Text(placeholder="DELETE AND RESTORE …", layout=w.Layout(width="520px"))
        self.confirm_text.add_class("restore-confirm")
        back = _button("Back", "restore-back")
        self.confirm_next = _button("Plan the REPLACE", "restore-plan-replace", "danger")
        self.confirm_next.disabled = True
        back.on_click(lambda *_: self.show("options"))
        self.confirm_next.on_click(self.review)
        self.confirm_text.observe(self._confirm_typed, "value")
        return self._stage(
            "5. Confirm the REPLACE",
            "confirm",
            self.confirm_help,
            self.confirm_text,
            w.HBox([back, self.confirm_next]),
        )

    def _confirm_typed(self, *_: Any) -> None:
        vm = restore.find_vm(self.store, self.vm.value)
        self.confirm_next.disabled = self.confirm_text.value.strip() != restore.confirmation(vm["name"])

    # ----------------------------------------------------------------------------------------- plan

    def _review_stage(self) -> w.VBox:
        self.review_html = w.HTML()
        self.review_html.add_class("restore-review")
        self.review_note = w.HTML()
        back = _button("Back", "restore-back")
        self.execute_button = _button("Execute the restore", "restore-execute", "danger")
        back.on_click(lambda *_: self.show("options"))
        self.execute_button.on_click(self.execute)
        return self._stage(
            "Review the plan",
            "review",
            self.review_html,
            self.review_note,
            w.HBox([back, self.execute_button]),
        )

    def review(self, *_: Any) -> None:
        """Make the plan (the library checks the viewer, the live cloud and the quotas) and show it."""
        if self.settings is None:
            return self.say("no cloud settings: the wizard only browses here")
        self.say("planning (checking the live cloud)…")
        try:
            self.plan = restore.plan_restore(
                self.settings,
                self._viewer(),
                self.vm.value,
                self.point.value,
                self.options(),
                store=self.store,
            )
        except Pf9Error as exc:
            self.plan = None
            return self.say(str(exc), "restore-error")
        except Exception as exc:  # noqa: BLE001 - e.g. the cloud unreachable: a callback's error shows nowhere
            self.plan = None
            return self.say(f"planning failed: {type(exc).__name__}: {exc}", "restore-error")
        self.review_html.value = plan_html(self.plan)
        show_execute = self.can_execute and self.may_act()
        _show(self.execute_button, show_execute)
        self.review_note.value = (
            ""
            if show_execute
            else f"<div class='restore-note restore-plans-only'>{html.escape(self._why_not())}</div>"
        )
        self.say(f"plan {self.plan.plan_id} stored (nothing changed in the cloud yet)")
        self.show("review")

    def _why_not(self) -> str:
        if not self.can_execute:
            return disabled_message(self.settings) if self.settings else "no cloud settings"
        who, role = self.viewer_role()
        return f"{who} is {role}: executing a restore needs the operator role"

    # ----------------------------------------------------------------------------------------- running

    def execute(self, *_: Any) -> None:
        """Start the planned job in the library's thread and follow it; a refusal is one line."""
        if self.plan is None:
            return self.say("no plan to execute: review one first")
        try:
            context = self._context() if self._context else None
            restore.execute(self.settings, self.plan.plan_id, self._viewer(), wait=False, context=context)
        except Pf9Error as exc:
            return self.say(str(exc), "restore-error")
        self.say("")
        self.follow(self.plan.plan_id)

    def _progress_stage(self) -> w.VBox:
        self.progress_head = w.HTML()
        self.progress_head.add_class("restore-progress-head")
        self.progress_steps = w.HTML()
        self.progress_steps.add_class("restore-progress")
        self.cancel_button = _button("Cancel", "restore-cancel", "warning")
        self.cancel_button.on_click(self.cancel)
        return self._stage(
            "Restoring", "progress", self.progress_head, self.progress_steps, self.cancel_button
        )

    def _result_stage(self) -> w.VBox:
        self.result_html = w.HTML()
        self.result_html.add_class("restore-result")
        self.result_steps = w.HTML()
        self.retry_button = _button("Retry from where it stopped", "restore-retry", "warning")
        self.retry_button.on_click(self.retry)
        again = _button("Restore another VM", "restore-again")
        again.on_click(lambda *_: self.show("project"))
        return self._stage(
            "Result", "result", self.result_html, self.result_steps, w.HBox([self.retry_button, again])
        )

    def follow(self, job_id: str) -> None:
        """Show job `job_id`'s progress, polled in a thread until it ends."""
        self.job_id, self.job_state = job_id, None
        self.progress_head.value = f"job {html.escape(job_id)}: starting…"
        self.progress_steps.value = ""
        _show(self.cancel_button, self.may_act())
        self.show("progress")
        self._poller = threading.Thread(
            target=self._poll, args=(job_id,), name=f"wizard-{job_id}", daemon=True
        )
        self._poller.start()

    def _poll(self, job_id: str) -> None:
        store = Store(self.data_dir)  # the thread's own: a DuckDB connection is not shared between threads
        try:
            while True:
                try:
                    found = restore.job(store, job_id)
                except Exception as exc:  # noqa: BLE001 - a thread has nobody to raise to: the page says it
                    said = f"reading job {job_id} failed: {exc}"
                    _on_main(lambda said=said: self.say(said, "restore-error"))
                    return
                _on_main(lambda found=found: self._update(found))
                if found["state"] not in ACTIVE:
                    return
                time.sleep(self.poll_s)
        finally:
            store.close()

    def _update(self, found: dict[str, Any]) -> None:
        if found["job_id"] != self.job_id:
            return  # an older job's last poll
        self.job_state = found
        head = f"job {found['job_id']} ({found['mode']} of {found['vm_name']} as {found['name']}): "
        head += found["state"]
        head += f" · {found['progress']} steps done"
        if found["cancel_requested"]:
            head += " · cancel requested"
        self.progress_head.value = html.escape(head)
        self.progress_steps.value = steps_html(found["steps"])
        if found["state"] in ACTIVE:
            return
        ok = found["state"] == "SUCCEEDED"
        self.result_html.value = (
            f"<div class='restore-outcome restore-outcome-{found['state'].lower()}'>"
            f"<b>{html.escape(found['state'])}</b>: {html.escape(found['detail'])}</div>"
            + ("" if ok else self._rolled_back(found["steps"]))
        )
        self.result_steps.value = steps_html(found["steps"])
        _show(self.retry_button, found["state"] in RESUMABLE and self.can_execute and self.may_act())
        self.show("result")

    @staticmethod
    def _rolled_back(steps: list[dict[str, Any]]) -> str:
        undone = [s for s in steps if s["state"] in ("rolled_back", "rollback_failed")]
        if not undone:
            said = "nothing was made, so nothing was rolled back"
            return f"<div class='restore-rolled-back pf9-muted'>{said}</div>"
        items = "".join(f"<li>{html.escape(s['detail'] or s['text'])}</li>" for s in undone)
        return f"<div class='restore-rolled-back'>Rolled back:<ul>{items}</ul></div>"

    def cancel(self, *_: Any) -> None:
        if self.job_id is None:
            return
        try:
            self.say(restore.cancel(self.settings, self.job_id, self._viewer()))
        except Pf9Error as exc:
            self.say(str(exc), "restore-error")

    def retry(self, *_: Any) -> None:
        if self.job_id is None:
            return
        try:
            context = self._context() if self._context else None
            restore.retry(self.settings, self.job_id, self._viewer(), wait=False, context=context)
        except Pf9Error as exc:
            return self.say(str(exc), "restore-error")
        self.say("")
        self.follow(self.job_id)

    def wait(self, timeout: float = 300.0) -> dict[str, Any] | None:
        """Block until the followed job's poller ends (tests, benchmarks); the job's last state."""
        if self._poller is not None:
            self._poller.join(timeout)
        return self.job_state


def wizard_page(data_dir: Path | str, cloud: str | None = None) -> tuple[RestoreWizard, str]:
    """The wizard with the workspace's cloud settings, found as the CLI finds them (clouds.yaml and
    OS_CLOUD, else the PF9_* variables); (wizard, problem): a problem leaves the wizard browse-only."""
    from pf9lib.config import load_settings

    try:
        settings, problem = load_settings(cloud=cloud, data_dir=str(data_dir)), ""
    except Pf9Error as exc:
        settings, problem = None, str(exc)
    return RestoreWizard(data_dir, settings, problem), problem
