"""Error answers of the calls the workbench makes (and the actions it will make) on real and simulated clouds.

Each call is refused without changing anything (unknown ids, a bad marker, stopping a stopped server,
deleting a group in use, a volume over quota, a duplicate project), so it can run on any estate. The real
answers are committed in tests/realos/fixtures/errors.json; ids and numbers are normalized before comparing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.realos.fidelity import FIXTURES, shape_of

ERRORS_FIXTURE = FIXTURES / "errors.json"
UNKNOWN = "00000000-0000-4000-8000-000000000000"


@dataclass(frozen=True)
class ErrorCall:
    name: str
    service: str
    method: str
    path: str  # may hold {stopped_server} and {group_in_use}, found on each cloud
    body: dict[str, Any] | None = None
    version: str | None = None


_SERVERS = "/servers/detail?all_tenants=1"
ERROR_CALLS: tuple[ErrorCall, ...] = (
    ErrorCall("nova_server_404", "compute", "GET", f"/servers/{UNKNOWN}", version="2.96"),
    ErrorCall("nova_flavor_404", "compute", "GET", "/flavors/nope", version="2.96"),
    ErrorCall("nova_bad_marker_400", "compute", "GET", f"{_SERVERS}&marker=nope", version="2.96"),
    ErrorCall("nova_bad_limit_400", "compute", "GET", f"{_SERVERS}&limit=-1", version="2.96"),
    ErrorCall("nova_unknown_query_400", "compute", "GET", f"{_SERVERS}&foo=bar", version="2.96"),
    ErrorCall(
        "nova_stop_stopped_409", "compute", "POST", "/servers/{stopped_server}/action", {"os-stop": None}
    ),
    ErrorCall("cinder_volume_404", "block-storage", "GET", f"/volumes/{UNKNOWN}", version="3.70"),
    ErrorCall("cinder_snapshot_404", "block-storage", "GET", f"/snapshots/{UNKNOWN}", version="3.70"),
    ErrorCall("cinder_bad_marker_404", "block-storage", "GET", "/volumes/detail?all_tenants=1&marker=nope"),
    ErrorCall("cinder_over_quota_413", "block-storage", "POST", "/volumes", {"volume": {"size": 50000}}),
    ErrorCall("neutron_network_404", "network", "GET", f"/v2.0/networks/{UNKNOWN}"),
    ErrorCall("neutron_port_404", "network", "GET", f"/v2.0/ports/{UNKNOWN}"),
    ErrorCall("neutron_bad_marker_404", "network", "GET", "/v2.0/ports?marker=nope&limit=5"),
    ErrorCall("neutron_group_in_use_409", "network", "DELETE", "/v2.0/security-groups/{group_in_use}"),
    ErrorCall("glance_image_404", "image", "GET", f"/v2/images/{UNKNOWN}"),
    ErrorCall("glance_bad_marker_400", "image", "GET", "/v2/images?marker=nope"),
    ErrorCall("keystone_project_404", "identity", "GET", "/projects/0123456789abcdef0123456789abcdef"),
    ErrorCall(
        "keystone_duplicate_project_409", "identity", "POST", "/projects", {"project": {"name": "{project}"}}
    ),
)


def record_errors(admin: Any, targets: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Each call's status, media type and body (JSON, or the text of an HTML page), made as admin."""
    out: dict[str, dict[str, Any]] = {}
    for call in ERROR_CALLS:
        headers = {}
        if call.version:
            kind = "compute" if call.service == "compute" else "volume"
            headers["OpenStack-API-Version"] = f"{kind} {call.version}"
        body = None
        if call.body is not None:
            body = json.loads(json.dumps(call.body).replace("{project}", targets["project_name"]))
            if call.service == "identity":
                body["project"]["domain_id"] = targets["domain_id"]
        resp = admin.session.request(
            call.path.format(**targets),
            call.method,
            endpoint_filter={"service_type": call.service, "interface": "public"},
            json=body,
            headers=headers,
            raise_exc=False,
        )
        media = (resp.headers.get("Content-Type") or "").split(";")[0].strip()
        try:
            content: Any = resp.json()
        except ValueError:
            content = resp.text
        out[call.name] = {"status": resp.status_code, "media": media, "body": content}
    return out


def targets_of(admin: Any) -> dict[str, str]:
    """On any cloud: a SHUTOFF server, a security group its ports use (not "default"), its project."""
    for server in admin.compute.servers(all_projects=True, status="SHUTOFF"):
        groups = {g for p in admin.network.ports(device_id=server.id) for g in p.security_group_ids or ()}
        named = [g for g in admin.network.security_groups(project_id=server.project_id) if g.id in groups]
        named = [g for g in named if g.name != "default"] or named
        if named:
            project = admin.identity.get_project(server.project_id)
            return {
                "stopped_server": server.id,
                "group_in_use": named[0].id,
                "project_name": project.name,
                "domain_id": project.domain_id,
            }
    raise AssertionError("no SHUTOFF server with a port in a security group on this cloud")


_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\b[0-9a-f]{32}\b")


def normalized(value: Any, names: tuple[str, ...] = ()) -> Any:
    """Ids, numbers and the estate's own names replaced by placeholders: what stays is the wording."""
    if isinstance(value, dict):
        return {k: normalized(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [normalized(v, names) for v in value]
    if isinstance(value, str):
        text = _ID.sub("<id>", value)
        for name in names:
            text = text.replace(name, "<name>")
        return re.sub(r"\d+", "<n>", text)
    return value


def differences(
    real: dict[str, Any], sim: dict[str, Any], names: Callable[[str], tuple[str, ...]]
) -> list[str]:
    """What differs between a real and a simulated error answer: status, media type, body shape, wording."""
    out = []
    for name, want in real.items():
        got = sim[name]
        if got["status"] != want["status"]:
            out.append(f"{name}: status {got['status']} (real {want['status']})")
        if got["media"] != want["media"]:
            out.append(f"{name}: media type {got['media']!r} (real {want['media']!r})")
        if isinstance(want["body"], dict) and isinstance(got["body"], dict):
            if set(shape_of(want["body"]).types) != set(shape_of(got["body"]).types):
                out.append(
                    f"{name}: body keys {sorted(shape_of(got['body']).types)} "
                    f"(real {sorted(shape_of(want['body']).types)})"
                )
        real_text = normalized(want["body"], names("real"))
        sim_text = normalized(got["body"], names("sim"))
        if real_text != sim_text:
            out.append(f"{name}: body {json.dumps(sim_text)[:300]}\n    real {json.dumps(real_text)[:300]}")
    return out


def record_cloud(admin: Any) -> dict[str, Any]:
    """{"targets": what the calls were made on, "answers": each call's answer}."""
    targets = targets_of(admin)
    return {"targets": targets, "answers": record_errors(admin, targets)}


def compare_clouds(real: dict[str, Any], sim: dict[str, Any]) -> list[str]:
    names = {"real": (real["targets"]["project_name"],), "sim": (sim["targets"]["project_name"],)}
    return differences(real["answers"], sim["answers"], names.__getitem__)


def load_errors(path: Path = ERRORS_FIXTURE) -> dict[str, Any]:
    return json.loads(path.read_text())


def write_errors(recorded: dict[str, Any], path: Path = ERRORS_FIXTURE) -> None:
    path.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")
