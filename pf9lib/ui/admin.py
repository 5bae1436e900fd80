"""The admin page: the admin forms (admins only), the identity views and the recent audit.

The forms (pf9lib.ui.admin_forms) are drawn once the viewer is known — under Voilà's preheated kernel that is
after `wait_for_request` — and only for an admin; anyone else reads one line saying why there are none. That
is presentation: the library checks the role again on every plan and apply, and audits a refusal.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as w
import pandas as pd

from pf9lib import identity
from pf9lib.actions import audit
from pf9lib.actions.engine import KIND_ROLES
from pf9lib.analytics import access
from pf9lib.identity import Identity
from pf9lib.store.reader import Store
from pf9lib.ui import tables
from pf9lib.ui.admin_forms import AdminForms, dashboard_viewer, html_widget

ROLE_CAN = {  # beyond the plan kinds (KIND_ROLES), what each role adds in the workbench
    "viewer": "read dashboards and reports",
    "operator": "acknowledge drift",
    "admin": "grant and revoke roles",
}
ASSIGNMENT_ROWS = 500  # a large cloud has thousands of assignments: the page shows the first ones
AUDIT_COLUMNS = (
    ("at", "At (UTC)"),
    ("actor", "Actor"),
    ("role", "Role"),
    ("action", "Action"),
    ("target", "Target"),
    ("result", "Result"),
    ("plan_id", "Plan"),
    ("note", "Note"),
)


def workbench_access(data_dir: Path | str) -> pd.DataFrame:
    """Who may do what in the workbench: each granted user, their role and what it allows (the plan kinds
    whose role it reaches, from the actions' registry, plus ROLE_CAN)."""
    rows = []
    for user, role in identity.grants(data_dir):
        reach = [r for r in identity.ROLES if identity.RANK[r] <= identity.RANK[role]]
        kinds = sorted({k.rsplit(".", 1)[0] for k, need in KIND_ROLES.items() if need in reach})
        may = [ROLE_CAN[r] for r in reach] + [f"plan and apply {', '.join(kinds)}"] * bool(kinds)
        rows.append({"user": user, "role": role, "may": "; ".join(may)})
    return pd.DataFrame(rows, columns=["user", "role", "may"])


def access_notice(data_dir: Path | str, who: Identity | None) -> str:
    """The one line a non-admin sees instead of the forms."""
    if who is None:
        return "Admin operations need an identity (X-Forwarded-User or PF9WB_USER) with the admin role."
    role = identity.role_of(data_dir, who)
    return (
        f"Admin operations need the admin role: {who} is {role} "
        f"(an admin can run `pf9wb access grant {who} admin`)."
    )


class AdminPage:
    """The forms (admins only, decided by `reveal` once the viewer is known), the identity views and the
    recent audit."""

    def __init__(
        self,
        store: Store,
        viewer: Callable[[], Identity | None] = dashboard_viewer,
        settings: Callable[[], Any] | None = None,
        audit_rows: int = 30,
        changes_days: float = 30,
    ) -> None:
        self.store, self._viewer, self._settings = store, viewer, settings
        self.audit_rows = audit_rows
        self.forms: AdminForms | None = None
        waiting = w.Label("Checking who is looking…")
        waiting.add_class("pf9-muted")
        self.forms_box = w.VBox([waiting])
        self.forms_box.add_class("admin-forms-box")
        self.audit_table = html_widget("admin-audit")
        self.identity = w.VBox(
            [
                _sub("Workbench roles (who may do what here)"),
                tables.table(
                    workbench_access(store.data_dir),
                    (("user", "User"), ("role", "Role"), ("may", "May")),
                    "admin-workbench-roles",
                    f"No roles file: everyone is a viewer; {identity.GRANT_HINT}.",
                ),
                _sub("Holders of the admin role in the cloud"),
                tables.table(
                    access.admins(store),
                    (("cloud", "Cloud"), ("holder", "Holder"), ("holder_type", "Kind"), ("scopes", "Scopes")),
                    "admin-cloud-admins",
                    "No admin role assignment collected.",
                ),
                _sub(f"Role assignments (project, domain and system scope; the first {ASSIGNMENT_ROWS})"),
                tables.table(
                    access.user_roles(store).head(ASSIGNMENT_ROWS),
                    (
                        ("holder", "Holder"),
                        ("holder_type", "Kind"),
                        ("role", "Role"),
                        ("scope_type", "Scope type"),
                        ("scope", "Scope"),
                        ("inherited", "Inherited"),
                    ),
                    "admin-role-assignments",
                    "No role assignment collected yet: run `pf9wb collect`.",
                ),
                _sub(f"Role grants and revocations (last {changes_days:g} days)"),
                tables.table(
                    access.assignment_changes(store, days=changes_days),
                    (
                        ("time", "Seen (UTC)"),
                        ("change", "Change"),
                        ("holder", "Holder"),
                        ("role", "Role"),
                        ("scope", "Scope"),
                    ),
                    "admin-role-changes",
                    "No role assignment changed in the window.",
                ),
            ]
        )
        self.refresh_audit()

    def reveal(self, who: Identity | None = None) -> None:
        """Draw the forms for an admin, one line for anyone else. Call it once the viewer is known (after
        `wait_for_request` under Voilà's preheated kernel). The library still checks every click. The audit
        is read again: a preheated kernel built the page before the request, maybe long before."""
        who = who if who is not None else self._viewer()
        self.refresh_audit()
        if who is not None and identity.role_of(self.store.data_dir, who) == "admin":
            self.forms = AdminForms(self.store, self._viewer, self._settings, self.refresh_audit)
            self.forms_box.children = [self.forms.widget]
            return
        notice = w.Label(access_notice(self.store.data_dir, who))
        notice.add_class("admin-notice")
        self.forms_box.children = [notice]

    def refresh_audit(self) -> None:
        trail = audit(self.store, limit=self.audit_rows)
        self.audit_table.value = tables.table(
            trail, AUDIT_COLUMNS, "admin-audit-table", "Nothing audited yet.", severity_column=None
        ).value


def _sub(title: str) -> w.HTML:
    return w.HTML(f"<div><b>{html.escape(title)}</b></div>")
