"""The simulated Keystone v3 answers unmodified openstacksdk and openstackclient as a real Keystone does.

Each test builds a small identity estate by hand with the pf9sim.model.identity factories and serves it
in-process (only Keystone is registered, behind the real auth/fault middleware), so every count below is
known exactly.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import keystoneauth1.exceptions
import openstack
import pytest
import requests
import yaml
from aiohttp import web

from pf9sim.app import fault_and_auth_middleware
from pf9sim.cloud import SimCloud
from pf9sim.keystone import routes as keystone
from pf9sim.model import identity as mi
from pf9sim.state import Estate

REGIONS = ["RegionOne", "RegionTwo"]
PASSWORDS = {"admin": "pf9sim-admin", "alice": "alice-pw", "bob": "bob-pw", "carol": "carol-pw"}
SERVICE_TYPES = {"identity", "compute", "volumev3", "block-storage", "network", "image"}


@dataclass
class Identity:
    """The hand-built estate: ids by name, and the running server."""

    sim: SimCloud
    ids: dict[str, str]

    @property
    def base(self) -> str:
        return self.sim.base_url

    @property
    def auth_url(self) -> str:
        return f"{self.base}/identity/v3"

    def connect(self, user: str = "admin", **scope: str) -> openstack.connection.Connection:
        if not scope:
            scope = {"project_name": "admin", "project_domain_id": "default"}
        user_domain = "default" if user == "admin" else self.ids["acme"]
        return openstack.connect(
            auth_url=self.auth_url,
            username=user,
            password=PASSWORDS[user],
            user_domain_id=user_domain,
            region_name="RegionOne",
            load_yaml_config=False,
            load_envvars=False,
            **scope,
        )

    def token(self, user: str, scope: dict | None = None) -> requests.Response:
        domain = {"id": "default"} if user == "admin" else {"name": "acme"}
        auth: dict = {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"name": user, "domain": domain, "password": PASSWORDS[user]}},
            }
        }
        if scope is not None:
            auth["scope"] = scope
        return requests.post(f"{self.auth_url}/auth/tokens", json={"auth": auth}, timeout=10)

    def admin_token(self) -> str:
        return self.token("admin", {"project": {"name": "admin", "domain": {"id": "default"}}}).headers[
            "X-Subject-Token"
        ]


def build_estate() -> tuple[Estate, dict[str, str]]:
    """3 domains (one disabled), 4 projects, 4 users, 1 group (bob), 3 roles, 6 grants."""
    est = Estate(seed=7, size="tiny", regions=list(REGIONS))
    ids: dict[str, str] = {}
    ids["default"] = mi.make_domain(est, "Default", domain_id="default")["id"]
    ids["acme"] = mi.make_domain(est, "acme", description="Acme Corp")["id"]
    ids["retired"] = mi.make_domain(est, "retired", enabled=False)["id"]
    for name, dom in (("admin", "default"), ("service", "default"), ("prod", "acme"), ("dev", "acme")):
        ids[name] = mi.make_project(est, name, ids[dom])["id"]
    for name in ("admin", "member", "reader"):
        ids[f"role:{name}"] = mi.make_role(est, name)["id"]
    ids["user:admin"] = mi.make_user(est, "admin", "default", PASSWORDS["admin"])["id"]
    for name in ("alice", "bob", "carol"):
        user = mi.make_user(est, name, ids["acme"], PASSWORDS[name], email=f"{name}@acme.example")
        ids[f"user:{name}"] = user["id"]
    ids["devs"] = mi.make_group(est, "devs", ids["acme"], "developers")["id"]
    mi.make_group_member(est, ids["devs"], ids["user:bob"])
    admin, member, reader = ids["role:admin"], ids["role:member"], ids["role:reader"]
    mi.make_role_assignment(est, admin, user_id=ids["user:admin"], project_id=ids["admin"])
    mi.make_role_assignment(est, admin, user_id=ids["user:admin"], system=True)
    mi.make_role_assignment(est, member, user_id=ids["user:alice"], project_id=ids["prod"])
    mi.make_role_assignment(est, member, group_id=ids["devs"], project_id=ids["dev"])
    mi.make_role_assignment(est, admin, user_id=ids["user:carol"], domain_id=ids["acme"])
    mi.make_role_assignment(est, reader, user_id=ids["user:alice"], domain_id=ids["acme"], inherited=True)
    # The same grant made twice is one object.
    mi.make_role_assignment(est, member, user_id=ids["user:alice"], project_id=ids["prod"])
    return est, ids


@pytest.fixture
def ks() -> Iterator[Identity]:
    est, ids = build_estate()
    sim = SimCloud(est, port=0)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    runner_box: list[web.AppRunner] = []

    async def start() -> None:
        app = web.Application(middlewares=[fault_and_auth_middleware])
        app["sim"] = sim
        keystone.register(app)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        sim.port = runner.addresses[0][1]
        runner_box.append(runner)
        ready.set()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    assert ready.wait(10)
    yield Identity(sim, ids)
    asyncio.run_coroutine_threadsafe(runner_box[0].cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


# -- discovery and tokens ---------------------------------------------------------------------------
def test_version_discovery_matches_keystone(ks: Identity) -> None:
    root = requests.get(f"{ks.base}/identity", timeout=10)
    assert root.status_code == 300
    (v3,) = root.json()["versions"]["values"]
    assert v3["id"] == "v3.14" and v3["status"] == "stable"
    assert v3["links"] == [{"rel": "self", "href": f"{ks.base}/identity/v3/"}]
    assert v3["media-types"] == [
        {"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}
    ]
    for path in ("/identity/v3", "/identity/v3/"):
        resp = requests.get(ks.base + path, timeout=10)
        assert resp.status_code == 200 and resp.json() == {"version": v3}


def test_project_scoped_token_body_and_catalog(ks: Identity) -> None:
    resp = ks.token("admin", {"project": {"name": "admin", "domain": {"id": "default"}}})
    assert resp.status_code == 201
    token = resp.json()["token"]
    assert resp.headers["X-Subject-Token"].startswith("gAAAA")
    assert token["methods"] == ["password"]
    assert token["user"] == {
        "domain": {"id": "default", "name": "Default"},
        "id": ks.ids["user:admin"],
        "name": "admin",
        "password_expires_at": None,
    }
    assert token["project"] == {
        "domain": {"id": "default", "name": "Default"},
        "id": ks.ids["admin"],
        "name": "admin",
    }
    assert token["is_domain"] is False
    # Keystone's bootstrap roles: admin implies member implies reader.
    assert sorted(r["name"] for r in token["roles"]) == ["admin", "member", "reader"]
    assert {r["id"] for r in token["roles"]} == {ks.ids[f"role:{n}"] for n in ("admin", "member", "reader")}
    assert len(token["audit_ids"]) == 1 and len(token["audit_ids"][0]) == 22
    assert token["expires_at"].endswith("Z") and token["issued_at"] < token["expires_at"]
    # Every service, and for each region one public, internal and admin endpoint.
    assert {s["type"] for s in token["catalog"]} == SERVICE_TYPES
    for service in token["catalog"]:
        seen = {(e["region"], e["interface"]) for e in service["endpoints"]}
        assert seen == {(r, i) for r in REGIONS for i in ("public", "internal", "admin")}
        assert all(e["region_id"] == e["region"] for e in service["endpoints"])
    urls = {(s["type"], e["region"]): e["url"] for s in token["catalog"] for e in s["endpoints"]}
    assert urls[("identity", "RegionTwo")] == f"{ks.base}/identity/v3"
    assert urls[("compute", "RegionTwo")] == f"{ks.base}/RegionTwo/compute/v2.1"
    assert urls[("volumev3", "RegionOne")] == f"{ks.base}/RegionOne/volume/v3/{ks.ids['admin']}"
    assert urls[("block-storage", "RegionOne")] == urls[("volumev3", "RegionOne")]
    assert urls[("network", "RegionTwo")] == f"{ks.base}/RegionTwo/network"
    assert urls[("image", "RegionOne")] == f"{ks.base}/RegionOne/image"


def test_sdk_catalog_has_every_service_in_every_region(ks: Identity) -> None:
    conn = ks.connect()
    access = conn.session.auth.get_access(conn.session)
    assert access.project_id == ks.ids["admin"]
    catalog = access.service_catalog
    for stype in SERVICE_TYPES:
        for region in REGIONS:
            for interface in ("public", "internal", "admin"):
                assert catalog.url_for(service_type=stype, region_name=region, interface=interface)
    url = conn.session.get_endpoint(service_type="block-storage", region_name="RegionTwo", interface="public")
    assert url == f"{ks.base}/RegionTwo/volume/v3/{ks.ids['admin']}"


def test_domain_and_system_scopes(ks: Identity) -> None:
    conn = ks.connect("carol", domain_id=ks.ids["acme"])
    access = conn.session.auth.get_access(conn.session)
    assert access.domain_id == ks.ids["acme"] and access.project_id is None
    assert sorted(access.role_names) == ["admin", "member", "reader"]
    # Domain-scoped tokens get the catalog; Cinder's URL then has no project part.
    assert access.service_catalog.url_for(service_type="volumev3", region_name="RegionOne") == (
        f"{ks.base}/RegionOne/volume/v3"
    )

    conn = ks.connect("admin", system_scope="all")
    access = conn.session.auth.get_access(conn.session)
    assert access.system_scoped is True and access.system == {"all": True}
    assert "admin" in access.role_names

    # alice has no role on the acme domain itself (her domain grant is inherited to projects only).
    assert ks.token("alice", {"domain": {"id": ks.ids["acme"]}}).status_code == 401
    assert ks.token("alice", {"system": {"all": True}}).status_code == 401


def test_roles_via_group_and_inheritance(ks: Identity) -> None:
    bob = ks.token("bob", {"project": {"name": "dev", "domain": {"name": "acme"}}})
    assert bob.status_code == 201
    assert sorted(r["name"] for r in bob.json()["token"]["roles"]) == ["member", "reader"]
    assert ks.token("bob", {"project": {"name": "prod", "domain": {"name": "acme"}}}).status_code == 401
    # alice: member on prod directly, reader on every acme project through the inherited domain grant.
    alice_dev = ks.token("alice", {"project": {"id": ks.ids["dev"]}})
    assert [r["name"] for r in alice_dev.json()["token"]["roles"]] == ["reader"]
    token = alice_dev.headers["X-Subject-Token"]
    projects = requests.get(
        f"{ks.auth_url}/auth/projects", headers={"X-Auth-Token": token}, timeout=10
    ).json()
    assert sorted(p["name"] for p in projects["projects"]) == ["dev", "prod"]
    assert projects["links"]["next"] is None

    conn = ks.connect()
    assert [g.name for g in conn.identity.user_groups(ks.ids["user:bob"])] == ["devs"]
    assert [p.name for p in conn.identity.user_projects(ks.ids["user:bob"])] == ["dev"]
    headers = {"X-Auth-Token": ks.token("carol", {"domain": {"name": "acme"}}).headers["X-Subject-Token"]}
    domains = requests.get(f"{ks.auth_url}/auth/domains", headers=headers, timeout=10).json()["domains"]
    assert [d["name"] for d in domains] == ["acme"]
    system = requests.get(f"{ks.auth_url}/auth/system", headers=headers, timeout=10).json()
    assert system["system"] == []
    headers = {"X-Auth-Token": ks.admin_token()}
    assert requests.get(f"{ks.auth_url}/auth/system", headers=headers, timeout=10).json()["system"] == [
        {"all": True}
    ]
    catalog = requests.get(f"{ks.auth_url}/auth/catalog", headers=headers, timeout=10).json()["catalog"]
    assert {s["type"] for s in catalog} == SERVICE_TYPES


def test_unscoped_and_rescoped_tokens(ks: Identity) -> None:
    unscoped = ks.token("alice")
    assert unscoped.status_code == 201
    body = unscoped.json()["token"]
    assert "catalog" not in body and "roles" not in body and "project" not in body
    auth = {
        "identity": {"methods": ["token"], "token": {"id": unscoped.headers["X-Subject-Token"]}},
        "scope": {"project": {"id": ks.ids["prod"]}},
    }
    rescoped = requests.post(f"{ks.auth_url}/auth/tokens", json={"auth": auth}, timeout=10)
    assert rescoped.status_code == 201
    token = rescoped.json()["token"]
    assert token["methods"] == ["token", "password"]
    assert token["project"]["id"] == ks.ids["prod"]
    assert sorted(r["name"] for r in token["roles"]) == ["member", "reader"]


def test_wrong_password_is_401_with_keystone_body(ks: Identity) -> None:
    # Authentication happens inside keystoneauth, which raises its own 401 (as against a real Keystone).
    with pytest.raises(keystoneauth1.exceptions.http.Unauthorized) as err:
        conn = openstack.connect(
            auth_url=ks.auth_url,
            username="admin",
            password="wrong",
            user_domain_id="default",
            project_name="admin",
            project_domain_id="default",
            load_yaml_config=False,
            load_envvars=False,
        )
        list(conn.identity.projects())
    assert err.value.http_status == 401
    auth = {
        "identity": {
            "methods": ["password"],
            "password": {"user": {"id": ks.ids["user:admin"], "password": "x"}},
        }
    }
    resp = requests.post(f"{ks.auth_url}/auth/tokens", json={"auth": auth}, timeout=10)
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"] == f'Keystone uri="{ks.base}/identity"'
    assert resp.json() == {
        "error": {
            "code": 401,
            "message": "The request you have made requires authentication.",
            "title": "Unauthorized",
        }
    }


def test_validate_and_revoke_token(ks: Identity) -> None:
    admin = ks.admin_token()
    alice = ks.token("alice", {"project": {"id": ks.ids["prod"]}}).headers["X-Subject-Token"]
    headers = {"X-Auth-Token": admin, "X-Subject-Token": alice}
    resp = requests.get(f"{ks.auth_url}/auth/tokens", headers=headers, timeout=10)
    assert resp.status_code == 200 and resp.headers["X-Subject-Token"] == alice
    assert resp.json()["token"]["user"]["name"] == "alice"
    assert requests.head(f"{ks.auth_url}/auth/tokens", headers=headers, timeout=10).status_code == 200
    assert requests.delete(f"{ks.auth_url}/auth/tokens", headers=headers, timeout=10).status_code == 204
    assert requests.get(f"{ks.auth_url}/auth/tokens", headers=headers, timeout=10).status_code == 404
    # The revoked token no longer opens anything.
    resp = requests.get(f"{ks.auth_url}/auth/projects", headers={"X-Auth-Token": alice}, timeout=10)
    assert resp.status_code == 401


# -- admin listings -----------------------------------------------------------------------------------
def test_sdk_listings_exact_counts(ks: Identity) -> None:
    conn = ks.connect()
    assert sorted(p.name for p in conn.identity.projects()) == ["admin", "dev", "prod", "service"]
    assert sorted(p.name for p in conn.identity.projects(domain_id=ks.ids["acme"])) == ["dev", "prod"]
    assert [p.id for p in conn.identity.projects(name="prod")] == [ks.ids["prod"]]
    assert sorted(u.name for u in conn.identity.users()) == ["admin", "alice", "bob", "carol"]
    assert len(list(conn.identity.users(domain_id="default"))) == 1
    assert sorted(d.name for d in conn.identity.domains()) == ["Default", "acme", "retired"]
    assert sorted(d.name for d in conn.identity.domains(is_enabled=True)) == ["Default", "acme"]
    assert [g.name for g in conn.identity.groups()] == ["devs"]
    assert sorted(r.name for r in conn.identity.roles()) == ["admin", "member", "reader"]
    assert len(list(conn.identity.role_assignments())) == 6
    assert conn.identity.get_project(ks.ids["prod"]).domain_id == ks.ids["acme"]
    assert conn.identity.get_user(ks.ids["user:bob"]).email == "bob@acme.example"
    assert [u.name for u in conn.identity.group_users(ks.ids["devs"])] == ["bob"]


def test_role_assignments_filters_and_include_names(ks: Identity) -> None:
    conn = ks.connect()
    system = list(conn.identity.role_assignments(scope_system="all"))
    assert [(a.user["id"], a.scope) for a in system] == [(ks.ids["user:admin"], {"system": {"all": True}})]
    on_prod = list(conn.identity.role_assignments(scope_project_id=ks.ids["prod"], include_names=True))
    assert len(on_prod) == 1
    (a,) = on_prod
    acme = {"id": ks.ids["acme"], "name": "acme"}
    assert a.user == {"id": ks.ids["user:alice"], "name": "alice", "domain": acme}
    assert a.scope == {"project": {"id": ks.ids["prod"], "name": "prod", "domain": acme}}
    assert a.role == {"id": ks.ids["role:member"], "name": "member"}
    assert a.links == {
        "assignment": f"{ks.auth_url}/projects/{ks.ids['prod']}/users/{ks.ids['user:alice']}/roles/"
        f"{ks.ids['role:member']}"
    }
    (inherited,) = conn.identity.role_assignments(
        scope_domain_id=ks.ids["acme"], role_id=ks.ids["role:reader"]
    )
    assert inherited.scope == {"domain": {"id": ks.ids["acme"]}, "OS-INHERIT:inherited_to": "projects"}
    (group,) = conn.identity.role_assignments(group_id=ks.ids["devs"], include_names=True)
    assert group.group == {"id": ks.ids["devs"], "name": "devs", "domain": acme}


def test_role_assignments_effective(ks: Identity) -> None:
    conn = ks.connect()
    effective = list(conn.identity.role_assignments(effective=True))
    # 6 grants: the group grant becomes bob's, the inherited reader grant one per acme project (2).
    assert len(effective) == 7
    assert all(a.group is None for a in effective)
    (bob,) = [a for a in effective if a.user["id"] == ks.ids["user:bob"]]
    assert bob.links == {
        "assignment": f"{ks.auth_url}/projects/{ks.ids['dev']}/groups/{ks.ids['devs']}/roles/"
        f"{ks.ids['role:member']}",
        "membership": f"{ks.auth_url}/groups/{ks.ids['devs']}/users/{ks.ids['user:bob']}",
    }
    alice = list(
        conn.identity.role_assignments(user_id=ks.ids["user:alice"], effective=True, include_names=True)
    )
    got = sorted((a.role["name"], a.scope["project"]["name"]) for a in alice)
    assert got == [("member", "prod"), ("reader", "dev"), ("reader", "prod")]


def test_non_admin_gets_403_in_keystone_format(ks: Identity) -> None:
    alice = ks.token("alice", {"project": {"id": ks.ids["prod"]}}).headers["X-Subject-Token"]
    resp = requests.get(f"{ks.auth_url}/users", headers={"X-Auth-Token": alice}, timeout=10)
    assert resp.status_code == 403
    assert resp.json()["error"]["code"] == 403 and resp.json()["error"]["title"] == "Forbidden"
    # ... but a user may read herself and her own projects.
    me = requests.get(
        f"{ks.auth_url}/users/{ks.ids['user:alice']}", headers={"X-Auth-Token": alice}, timeout=10
    )
    assert me.status_code == 200 and me.json()["user"]["name"] == "alice"
    missing = requests.get(
        f"{ks.auth_url}/projects/nope", headers={"X-Auth-Token": ks.admin_token()}, timeout=10
    )
    assert missing.status_code == 404
    assert missing.json()["error"] == {
        "code": 404,
        "message": "Could not find project: nope.",
        "title": "Not Found",
    }


# -- changes ------------------------------------------------------------------------------------------
def test_grant_head_put_delete(ks: Identity) -> None:
    conn = ks.connect()
    path = f"/projects/{ks.ids['prod']}/users/{ks.ids['user:carol']}/roles/{ks.ids['role:member']}"
    assert conn.identity.head(path, raise_exc=False).status_code == 404
    assert conn.identity.put(path, raise_exc=False).status_code == 204
    assert conn.identity.head(path, raise_exc=False).status_code == 204
    assert len(list(conn.identity.role_assignments())) == 7
    roles = conn.identity.get(f"/projects/{ks.ids['prod']}/users/{ks.ids['user:carol']}/roles").json()[
        "roles"
    ]
    assert [r["name"] for r in roles] == ["member"]
    carol = ks.token("carol", {"project": {"id": ks.ids["prod"]}})
    assert carol.status_code == 201
    assert conn.identity.delete(path, raise_exc=False).status_code == 204
    assert conn.identity.head(path, raise_exc=False).status_code == 404
    assert ks.token("carol", {"project": {"id": ks.ids["prod"]}}).status_code == 401
    # A system grant for a user, checked and listed the same way.
    system = f"/system/users/{ks.ids['user:carol']}/roles/{ks.ids['role:reader']}"
    assert conn.identity.put(system, raise_exc=False).status_code == 204
    assert conn.identity.head(system, raise_exc=False).status_code == 204
    assert len(list(conn.identity.role_assignments(scope_system="all"))) == 2
    # A group grant on a domain: absent, added, present.
    domain_grant = f"/domains/{ks.ids['acme']}/groups/{ks.ids['devs']}/roles/{ks.ids['role:reader']}"
    assert conn.identity.head(domain_grant, raise_exc=False).status_code == 404
    assert conn.identity.put(domain_grant, raise_exc=False).status_code == 204
    assert conn.identity.head(domain_grant, raise_exc=False).status_code == 204
    assert ks.token("bob", {"domain": {"id": ks.ids["acme"]}}).status_code == 201


def test_create_and_delete_projects_and_users(ks: Identity) -> None:
    conn = ks.connect()
    project = conn.identity.create_project(name="staging", domain_id=ks.ids["acme"], description="stage")
    assert project.parent_id == ks.ids["acme"] and project.is_enabled is True
    with pytest.raises(openstack.exceptions.ConflictException):
        conn.identity.create_project(name="staging", domain_id=ks.ids["acme"])
    # The same name in another domain is fine.
    other = conn.identity.create_project(name="staging", domain_id="default")
    user = conn.identity.create_user(name="dave", domain_id=ks.ids["acme"], password="dave-pw")
    with pytest.raises(openstack.exceptions.ConflictException):
        conn.identity.create_user(name="dave", domain_id=ks.ids["acme"], password="x")
    conn.identity.assign_project_role_to_user(
        project, user, conn.identity.find_role("member", ignore_missing=False)
    )
    assert len(list(conn.identity.role_assignments(scope_project_id=project.id))) == 1
    conn.identity.delete_project(project)
    conn.identity.delete_project(other)
    assert len(list(conn.identity.projects())) == 4
    # Deleting the project removed its grants too.
    assert len(list(conn.identity.role_assignments(user_id=user.id))) == 0
    conn.identity.delete_user(user)
    assert len(list(conn.identity.users())) == 4


def test_application_credential_authenticates(ks: Identity) -> None:
    conn = ks.connect()
    cred = conn.identity.create_application_credential(
        user=ks.ids["user:admin"], name="collector", secret="s3cret-value", roles=[{"name": "member"}]
    )
    assert cred.secret == "s3cret-value" and cred.project_id == ks.ids["admin"]
    with pytest.raises(openstack.exceptions.ConflictException):
        conn.identity.create_application_credential(user=ks.ids["user:admin"], name="collector")
    app = openstack.connect(
        auth_type="v3applicationcredential",
        auth_url=ks.auth_url,
        application_credential_id=cred.id,
        application_credential_secret="s3cret-value",
        region_name="RegionOne",
        load_yaml_config=False,
        load_envvars=False,
    )
    access = app.session.auth.get_access(app.session)
    assert access.project_id == ks.ids["admin"]
    assert access.role_names == ["member"]  # only the credential's roles, not the user's admin
    assert access.application_credential == {"id": cred.id, "name": "collector", "restricted": True}
    listed = list(conn.identity.application_credentials(user=ks.ids["user:admin"]))
    assert [c.name for c in listed] == ["collector"]
    conn.identity.delete_application_credential(ks.ids["user:admin"], cred.id)
    auth = {
        "identity": {
            "methods": ["application_credential"],
            "application_credential": {"id": cred.id, "secret": "s3cret-value"},
        }
    }
    assert requests.post(f"{ks.auth_url}/auth/tokens", json={"auth": auth}, timeout=10).status_code == 401


def test_catalog_listings_for_the_cli(ks: Identity) -> None:
    headers = {"X-Auth-Token": ks.admin_token()}
    services = requests.get(f"{ks.auth_url}/services", headers=headers, timeout=10).json()["services"]
    assert {s["type"] for s in services} == SERVICE_TYPES
    endpoints = requests.get(f"{ks.auth_url}/endpoints", headers=headers, timeout=10).json()["endpoints"]
    assert len(endpoints) == len(SERVICE_TYPES) * len(REGIONS) * 3
    regions = requests.get(f"{ks.auth_url}/regions", headers=headers, timeout=10).json()["regions"]
    assert [r["id"] for r in regions] == REGIONS


# -- openstackclient ------------------------------------------------------------------------------------
OPENSTACK_CLI = Path(sys.executable).parent / "openstack"


@pytest.mark.integration
@pytest.mark.skipif(not OPENSTACK_CLI.exists(), reason="python-openstackclient is not installed")
def test_openstack_cli_identity_commands(ks: Identity, tmp_path: Path) -> None:
    clouds = {
        "clouds": {
            "ks": {
                "auth": {
                    "auth_url": ks.auth_url,
                    "username": "admin",
                    "password": PASSWORDS["admin"],
                    "project_name": "admin",
                    "user_domain_name": "Default",
                    "project_domain_name": "Default",
                },
                "region_name": "RegionOne",
                "identity_api_version": 3,
            }
        }
    }
    (tmp_path / "clouds.yaml").write_text(yaml.safe_dump(clouds))
    env = {"OS_CLIENT_CONFIG_FILE": str(tmp_path / "clouds.yaml"), "OS_CLOUD": "ks", "PATH": "/usr/bin:/bin"}

    def cli(*args: str) -> list[dict]:
        proc = subprocess.run(
            [str(OPENSTACK_CLI), *args, "-f", "json"], env=env, capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    assert sorted(p["Name"] for p in cli("project", "list")) == ["admin", "dev", "prod", "service"]
    assert sorted(u["Name"] for u in cli("user", "list")) == ["admin", "alice", "bob", "carol"]
    assert sorted(r["Name"] for r in cli("role", "list")) == ["admin", "member", "reader"]
    assert sorted(d["Name"] for d in cli("domain", "list")) == ["Default", "acme", "retired"]
    assert sorted(s["Type"] for s in cli("catalog", "list")) == sorted(SERVICE_TYPES)
    assert len(cli("endpoint", "list")) == len(SERVICE_TYPES) * len(REGIONS) * 3
    rows = cli("role", "assignment", "list", "--names")
    assert len(rows) == 6
    assert {
        "Role": "member",
        "User": "alice@acme",
        "Group": "",
        "Project": "prod@acme",
        "Domain": "",
        "System": "",
        "Inherited": False,
    } in rows
    assert any(r["System"] == "all" and r["User"] == "admin@Default" for r in rows)


# -- the whole simulated cloud (generated estate, separate process) ----------------------------------------
@pytest.mark.integration
def test_generated_estate_through_the_full_cloud(sim, sdk) -> None:
    counts = sim.summary()["counts"]
    for kind in ("domains", "projects", "users", "groups", "roles"):
        assert len(list(getattr(sdk.identity, kind)())) == counts[kind], kind
    assert len(list(sdk.identity.role_assignments(include_names=True))) == counts["role_assignments"]
    access = sdk.session.auth.get_access(sdk.session)
    assert access.project_name == "admin" and access.user_domain_id == "default"
    assert sorted(access.role_names) == ["admin", "member", "reader"]
    for stype in SERVICE_TYPES:
        for region in sim.regions:
            url = access.service_catalog.url_for(service_type=stype, region_name=region, interface="public")
            assert url.startswith(sim.base_url)
