"""Give a test's user a role in a data directory, as an admin would with `pf9wb access grant`."""

from __future__ import annotations

from pathlib import Path

from pf9lib import identity


def give_role(data_dir: Path | str, user: str, role: str) -> None:
    """Grant `role` to `user`: bootstraps the roles file when there is none, else acts as its first admin."""
    admins = [u for u, r in identity.grants(data_dir) if r == "admin"]
    if not admins:
        identity.grant(data_dir, "setup", user if role == "admin" else "setup", "admin")
        admins = [u for u, r in identity.grants(data_dir) if r == "admin"]
    if dict(identity.grants(data_dir)).get(user) != role:
        identity.grant(data_dir, admins[0], user, role)
