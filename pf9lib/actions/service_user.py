"""The snapshot service user: snapshots are made in a volume's own project by a cross-tenant service account.

It is found in Keystone by SNAPSHOT_SERVICE_USER_EMAIL (its name or its e-mail). Before it acts in a project
it is given the admin role there, only when it lacks it (HEAD on the grant, PUT to add it) and once per run.
Its password is SNAPSHOT_SERVICE_USER_PASSWORD, or SNAPSHOT_USER_PASSWORD_ENCRYPTED decrypted with the
Fernet key SNAPSHOT_PASSWORD_KEY (pf9lib.config.decrypt_service_password). Without a service user, the
admin session acts instead, and says so: its snapshots then belong to the admin's project.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import openstack.connection

from pf9lib.actions.client import WriteError, Writer
from pf9lib.config import decrypt_service_password
from pf9lib.errors import Pf9Error


class ServiceUser:
    """Sessions scoped to each project as the service user (or the admin writer when there is none)."""

    def __init__(self, settings, admin: Writer) -> None:
        self.settings, self.admin = settings, admin
        self.email = settings.snapshot_service_user_email
        self.password = decrypt_service_password(settings) if self.email else None
        self.user_id: str | None = None
        self.role_id: str | None = None
        self.granted: set[str] = set()  # projects checked (and granted) in this run
        self.grants_added: list[str] = []
        self._writers: dict[tuple[str, str | None], Writer] = {}
        if self.email and not self.password:
            raise Pf9Error(
                "SNAPSHOT_SERVICE_USER_EMAIL is set but no password: set SNAPSHOT_SERVICE_USER_PASSWORD or "
                "SNAPSHOT_USER_PASSWORD_ENCRYPTED with SNAPSHOT_PASSWORD_KEY"
            )

    @property
    def enabled(self) -> bool:
        return bool(self.email)

    def describe(self) -> str:
        if not self.enabled:
            return "no service user (SNAPSHOT_SERVICE_USER_EMAIL): the admin session creates the snapshots"
        return f"service user {self.email}"

    def lookup(self) -> None:
        """Find the user and the admin role in Keystone (one line naming what is missing otherwise)."""
        if not self.enabled or self.user_id:
            return
        for key in ("name", "email"):
            users = self.admin.get("identity", f"/users?{urlencode({key: self.email})}", "service user")
            found = users.get("users") or []
            if len(found) == 1:
                self.user_id = found[0]["id"]
                break
        if self.user_id is None:
            raise Pf9Error(
                f"service user {self.email} is not in Keystone: create it, or fix SNAPSHOT_SERVICE_USER_EMAIL"
            )
        roles = self.admin.get("identity", "/roles?name=admin", "admin role").get("roles") or []
        if not roles:
            raise Pf9Error("Keystone has no role named admin to grant the service user")
        self.role_id = roles[0]["id"]

    def ensure_role(self, project_id: str) -> bool:
        """Give the service user the admin role on a project when it lacks it; True when a grant was added."""
        if not self.enabled or project_id in self.granted:
            return False
        self.lookup()
        path = f"/projects/{project_id}/users/{self.user_id}/roles/{self.role_id}"
        self.granted.add(project_id)
        try:
            self.admin.request("HEAD", "identity", path, f"the service user's role on project {project_id}")
            return False
        except WriteError as exc:
            if exc.status != 404:
                raise
        self.admin.request("PUT", "identity", path, f"admin role for {self.email} on project {project_id}")
        self.grants_added.append(project_id)
        return True

    def writer(self, project_id: str, region: str | None) -> Writer:
        """A writer acting as the service user in `project_id` (the admin writer when there is none)."""
        if not self.enabled:
            return self.admin
        key = (project_id, region)
        if key not in self._writers:
            self.ensure_role(project_id)
            self._writers[key] = Writer(self._connect(project_id, region))
        return self._writers[key]

    def _connect(self, project_id: str, region: str | None) -> Any:
        base = self.settings.cloud_region(region).config
        auth = base.get("auth") or {}
        return openstack.connection.Connection(
            auth_url=auth.get("auth_url") or self.settings.auth_url,
            username=self.email,
            password=self.password,
            user_domain_name=auth.get("user_domain_name") or "Default",
            project_id=project_id,
            region_name=region or base.get("region_name"),
            verify=base.get("verify", True),
            cacert=base.get("cacert"),
            interface=base.get("interface"),
            identity_api_version="3",
        )

    @property
    def calls(self) -> int:
        return sum(w.total_calls for w in self._writers.values())
