"""Who is acting, and with which role: the one place that answers "may this person do this?".

Roles are `viewer` < `operator` < `admin`, kept in the workspace's roles file (`<data>/access/roles.yaml`):

    # Edit with `pf9wb access grant USER ROLE` / `pf9wb access revoke USER`; every change is audited.
    users:
      alice: admin
      bob: operator
    impersonate: [svc-cron]   # OS logins that may act as PF9WB_USER on the command line

Without a roles file everyone is a viewer; the very first grant (which must name an admin) creates it.
Who acts: on the command line the OS login — or PF9WB_USER, when the login is listed under `impersonate`
(a scheduler's service account acting for a named person); in a Voilà dashboard the authenticating proxy's
X-Forwarded-User, else the PF9WB_USER of the server that holds the Voilà token. The check is made inside the
library call that acts (`require`), never only in a widget, and a refusal is recorded in the audit.
"""

from __future__ import annotations

import getpass
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from pf9lib.errors import PermissionDenied, Pf9Error

ROLES = ("viewer", "operator", "admin")
RANK = {role: n for n, role in enumerate(ROLES)}
VIEWER_HEADER_ENV = "HTTP_X_FORWARDED_USER"  # Voilà's http_header_envs name for an X-Forwarded-User header
GRANT_HINT = (
    "grant roles with `pf9wb access grant USER ROLE` (the first grant, of an admin, creates the file)"
)


@dataclass(frozen=True)
class Identity:
    user: str
    source: str  # "cli" | "dashboard" | "scheduler" | "library"

    def __str__(self) -> str:
        return self.user


def os_login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers): still say something true
        return f"uid:{os.getuid()}"


def roles_file(data_dir: Path | str) -> Path:
    return Path(data_dir) / "access" / "roles.yaml"


def _load(data_dir: Path | str) -> dict | None:
    path = roles_file(data_dir)
    if not path.exists():
        return None
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise Pf9Error(
            f"{path} is not valid YAML ({str(exc).splitlines()[0]}): fix it or restore it"
        ) from None
    users = data.get("users") or {}
    bad = {u: r for u, r in users.items() if r not in ROLES}
    if not isinstance(users, dict) or bad:
        raise Pf9Error(f"{path}: roles must be one of {', '.join(ROLES)} (found {bad}); fix the file")
    return {
        "users": {str(u): r for u, r in users.items()},
        "impersonate": list(data.get("impersonate") or []),
    }


def cli_identity(data_dir: Path | str, env: Mapping[str, str] = os.environ) -> Identity:
    """The person behind a command: the OS login, or PF9WB_USER when the roles file lets the login
    impersonate."""
    login = os_login()
    wanted = (env.get("PF9WB_USER") or "").strip()
    if wanted and wanted != login:
        config = _load(data_dir) or {"impersonate": []}
        if login in config["impersonate"]:
            return Identity(wanted, "cli")
    return Identity(login, "cli")


def dashboard_identity(env: Mapping[str, str] = os.environ) -> Identity | None:
    """The person viewing a dashboard: the proxy's X-Forwarded-User, else the Voilà server's PF9WB_USER; None
    when neither is set (then nothing may be done from the page)."""
    for name in (VIEWER_HEADER_ENV, "PF9WB_USER"):
        value = (env.get(name) or "").strip()
        if value:
            return Identity(value, "dashboard")
    return None


def acting(data_dir: Path | str, actor: Identity | str | None = None) -> Identity:
    """Who a library call acts for: the identity it was given (a dashboard's viewer, a test's user), else the
    person behind the command (cli_identity)."""
    if isinstance(actor, Identity):
        return actor
    if actor:
        return Identity(str(actor), "library")
    return cli_identity(data_dir)


def role_of(data_dir: Path | str, user: str | Identity | None) -> str:
    """The role of a user (viewer when unknown, when there is no roles file, or for nobody)."""
    config = _load(data_dir)
    if config is None or user is None:
        return "viewer"
    return config["users"].get(str(user), "viewer")


def require(
    data_dir: Path | str, who: Identity | str | None, role: str, action: str, target: str = ""
) -> str:
    """Raise PermissionDenied (and audit the refusal) unless `who` holds at least `role`; returns the role."""
    have = role_of(data_dir, who)
    if who is not None and RANK[have] >= RANK[role]:
        return have
    from pf9lib.actions.audit import record

    name = str(who) if who is not None else "(nobody)"
    record(data_dir, name, action, target, result="denied", role=have, note=f"needs {role}")
    if who is None:
        raise PermissionDenied(
            f"{action} refused: no identity (X-Forwarded-User or PF9WB_USER); {GRANT_HINT}"
        )
    hint = (
        GRANT_HINT
        if not roles_file(data_dir).exists()
        else f"an admin can run `pf9wb access grant {who} {role}`"
    )
    raise PermissionDenied(f"{action} refused: {who} is {have}, {role} is needed; {hint}")


# --------------------------------------------------------------------------------------------- grants


def _save(data_dir: Path | str, config: dict) -> None:
    path = roles_file(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = "# Who may do what here (viewer < operator < admin). Edit with pf9wb access grant/revoke.\n"
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text(header + yaml.safe_dump(config, sort_keys=True))
    os.replace(tmp, path)


def grant(data_dir: Path | str, who: Identity | str, user: str, role: str) -> str:
    """Give `user` a role; an admin grants, except the first grant (no roles file yet), which bootstraps the
    first admin and must therefore grant admin. Audited. Returns a one-line description."""
    from pf9lib.actions.audit import record

    if role not in ROLES:
        raise Pf9Error(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    if not user.strip():
        raise Pf9Error("no user named: pass the user name the dashboards and the CLI see")
    config = _load(data_dir)
    if config is None:
        if role != "admin":
            raise Pf9Error(
                f"no roles file yet: the first grant makes an admin (pf9wb access grant {user} admin)"
            )
        config = {"users": {}, "impersonate": []}
        note = "first grant: bootstraps the roles file"
    else:
        require(data_dir, who, "admin", "access.grant", user)
        note = f"was {config['users'].get(user, 'viewer')}"
    config["users"][user] = role
    _save(data_dir, config)
    record(
        data_dir, str(who), "access.grant", user, result="succeeded", role="admin", note=f"{role} ({note})"
    )
    return f"{user} is now {role}"


def revoke(data_dir: Path | str, who: Identity | str, user: str) -> str:
    """Take away `user`'s role (back to viewer); admins only, and never the last admin. Audited."""
    from pf9lib.actions.audit import record

    require(data_dir, who, "admin", "access.revoke", user)
    config = _load(data_dir) or {"users": {}, "impersonate": []}
    was = config["users"].pop(user, None)
    if was is None:
        return f"{user} had no role (viewer)"
    if was == "admin" and "admin" not in config["users"].values():
        raise Pf9Error(f"{user} is the last admin: grant another admin before revoking this one")
    _save(data_dir, config)
    record(data_dir, str(who), "access.revoke", user, result="succeeded", role="admin", note=f"was {was}")
    return f"{user} is now viewer (was {was})"


def grants(data_dir: Path | str) -> list[tuple[str, str]]:
    """(user, role) of every user with a role, admins first."""
    config = _load(data_dir) or {"users": {}}
    return sorted(config["users"].items(), key=lambda ur: (-RANK[ur[1]], ur[0]))
