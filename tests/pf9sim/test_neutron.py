"""The simulated Neutron against unmodified openstacksdk and python-openstackclient.

The cloud is the generator's `tiny` estate with Keystone and Neutron served in-process on port 0, so every
test compares what the API answers with the estate itself (read when checked: some tests add objects).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openstack
import openstack.config
import pytest
import requests
from aiohttp import web
from openstack import exceptions as sdk_exc

from pf9sim.app import fault_and_auth_middleware
from pf9sim.client import ADMIN_PASSWORD, clouds_yaml
from pf9sim.cloud import SimCloud
from pf9sim.generator.estate import generate
from pf9sim.keystone import routes as keystone
from pf9sim.neutron import routes as neutron
from pf9sim.state import Estate

VENV_BIN = Path(sys.executable).parent
NETWORK_KINDS = (
    "networks",
    "subnets",
    "ports",
    "routers",
    "floating_ips",
    "security_groups",
    "security_group_rules",
)


@dataclass
class Cloud:
    sim: SimCloud
    clouds_yaml: Path

    @property
    def est(self) -> Estate:
        return self.sim.estate

    @property
    def region(self) -> str:
        return self.est.regions[0]

    @property
    def url(self) -> str:
        return f"{self.sim.base_url}/{self.region}/network/v2.0"

    def objects(self, kind: str, **equal: Any) -> list[dict[str, Any]]:
        return [o for o in self.est.all(kind, self.region) if all(o.get(k) == v for k, v in equal.items())]

    def project(self, name: str) -> dict[str, Any]:
        return next(p for p in self.est.all("projects") if p["name"] == name)

    def connect(self, user: str = "admin", project: str = "admin") -> openstack.connection.Connection:
        if user == "admin":
            config = openstack.config.OpenStackConfig(config_files=[str(self.clouds_yaml)])
            return openstack.connection.Connection(
                config=config.get_one(cloud="pf9sim", region_name=self.region)
            )
        found = next(u for u in self.est.all("users") if u["name"] == user)
        proj = self.project(project)
        return openstack.connect(
            auth_url=f"{self.sim.base_url}/identity/v3",
            username=user,
            user_domain_id=found["domain_id"],
            password=self.est.secrets["passwords"][found["id"]],
            project_name=project,
            project_domain_id=proj["domain_id"],
            region_name=self.region,
            load_yaml_config=False,
            load_envvars=False,
        )

    def cli(self, *args: str) -> Any:
        env = {"OS_CLIENT_CONFIG_FILE": str(self.clouds_yaml), "OS_CLOUD": "pf9sim", "PATH": "/usr/bin:/bin"}
        cmd = [str(VENV_BIN / "openstack"), "--os-region-name", self.region, *args, "-f", "json"]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, f"{' '.join(args)} failed: {proc.stderr[-2000:]}"
        return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def cloud(tmp_path_factory) -> Iterator[Cloud]:
    sim = SimCloud(generate(seed=42, size="tiny"), port=0)
    app = web.Application(middlewares=[fault_and_auth_middleware])
    app["sim"] = sim
    keystone.register(app)
    neutron.register(app)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, access_log=None)

    async def start() -> None:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        sim.port = site._server.sockets[0].getsockname()[1]  # noqa: SLF001

    loop.run_until_complete(start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    path = tmp_path_factory.mktemp("neutron") / "clouds.yaml"
    path.write_text(clouds_yaml(sim.base_url, sim.estate.regions, password=ADMIN_PASSWORD))
    yield Cloud(sim, path)
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def conn(cloud: Cloud) -> openstack.connection.Connection:
    return cloud.connect()


def _get(cloud: Cloud, conn, path: str, params: Any = None) -> requests.Response:
    headers = {"X-Auth-Token": conn.session.get_token()}
    return requests.get(f"{cloud.url}{path}", headers=headers, params=params, timeout=30)


def _private_network(cloud: Cloud, project: str) -> dict[str, Any]:
    pid = cloud.project(project)["id"]
    return next(n for n in cloud.objects("networks", project_id=pid) if n["subnets"])


def _free_ip(cloud: Cloud, subnet: dict[str, Any]) -> str:
    used = {f["ip_address"] for p in cloud.objects("ports") for f in p["fixed_ips"]}
    pool = subnet["allocation_pools"][0]
    start, end = ipaddress.ip_address(pool["start"]), ipaddress.ip_address(pool["end"])
    return str(
        next(
            ip
            for ip in ipaddress.ip_network(subnet["cidr"]).hosts()
            if start <= ip <= end and str(ip) not in used and ip > start + 50
        )
    )


# -- discovery ---------------------------------------------------------------------------------
def test_version_discovery_needs_no_token(cloud: Cloud) -> None:
    body = requests.get(f"{cloud.sim.base_url}/{cloud.region}/network/", timeout=10).json()
    assert body == {
        "versions": [{"id": "v2.0", "status": "CURRENT", "links": [{"href": f"{cloud.url}/", "rel": "self"}]}]
    }
    resources = requests.get(cloud.url, timeout=10).json()["resources"]
    assert {r["collection"] for r in resources} == {
        "networks",
        "subnets",
        "ports",
        "routers",
        "floatingips",
        "security_groups",
        "security_group_rules",
    }


def test_extensions_clients_check_are_listed(conn) -> None:
    aliases = {e.alias for e in conn.network.extensions()}
    assert {
        "quotas",
        "quota_details",
        "security-group",
        "router",
        "external-net",
        "binding",
        "standard-attr-timestamp",
        "agent",
        "availability_zone",
        "pagination",
        "sorting",
    } <= aliases
    assert conn.network.find_extension("quota_details").name == "Quota details management support"


# -- listings ----------------------------------------------------------------------------------
def test_sdk_lists_match_the_estate(cloud: Cloud, conn) -> None:
    net = conn.network
    seen = {
        "networks": [o.id for o in net.networks()],
        "subnets": [o.id for o in net.subnets()],
        "ports": [o.id for o in net.ports(limit=3)],  # 3 per page: many pages
        "routers": [o.id for o in net.routers()],
        "floating_ips": [o.id for o in net.ips()],
        "security_groups": [o.id for o in net.security_groups()],
        "security_group_rules": [o.id for o in net.security_group_rules()],
    }
    for kind in NETWORK_KINDS:
        expected = sorted(o["id"] for o in cloud.objects(kind))
        assert sorted(seen[kind]) == expected, kind
        assert len(seen[kind]) == len(expected) > 0, kind
    assert len(seen["ports"]) > 9  # the paged sweep really crossed pages


def test_paging_links_follow_neutron(cloud: Cloud, conn) -> None:
    all_ids = sorted(o["id"] for o in cloud.objects("ports"))
    first = _get(cloud, conn, "/ports", {"limit": 4}).json()
    assert [p["id"] for p in first["ports"]] == all_ids[:4]
    links = {link["rel"]: link["href"] for link in first["ports_links"]}
    assert f"marker={all_ids[3]}" in links["next"] and "limit=4" in links["next"]
    assert "page_reverse=True" in links["previous"]
    second = requests.get(
        links["next"], headers={"X-Auth-Token": conn.session.get_token()}, timeout=10
    ).json()
    assert [p["id"] for p in second["ports"]] == all_ids[4:8]
    back = _get(cloud, conn, "/ports", {"limit": 4, "marker": all_ids[4], "page_reverse": "True"}).json()
    assert [p["id"] for p in back["ports"]] == all_ids[:4]
    last = _get(cloud, conn, "/ports", {"limit": 1000, "marker": all_ids[-2]}).json()
    assert [p["id"] for p in last["ports"]] == all_ids[-1:]
    assert [link["rel"] for link in last["ports_links"]] == ["previous"]  # short page: no next
    assert "ports_links" not in _get(cloud, conn, "/ports").json()  # no limit, no paging
    names = [
        p["name"]
        for p in _get(cloud, conn, "/ports", {"sort_key": "name", "sort_dir": "desc"}).json()["ports"]
    ]
    assert names == sorted(names, reverse=True)
    missing = _get(cloud, conn, "/ports", {"limit": 2, "marker": "00000000-0000-4000-8000-000000000000"})
    assert missing.status_code == 404 and missing.json()["NeutronError"]["type"] == "PortNotFound"


def test_filters_and_fields(cloud: Cloud, conn) -> None:
    interfaces = _get(cloud, conn, "/ports", {"device_owner": "network:router_interface"}).json()["ports"]
    assert sorted(p["id"] for p in interfaces) == sorted(
        p["id"] for p in cloud.objects("ports", device_owner="network:router_interface")
    )
    external = [n.id for n in conn.network.networks(is_router_external=True)]
    assert external == [n["id"] for n in cloud.objects("networks", **{"router:external": True})]
    router = cloud.objects("routers")[0]
    by_device = _get(cloud, conn, "/ports", [("device_id", router["id"]), ("device_id", "nope")]).json()[
        "ports"
    ]
    assert sorted(p["id"] for p in by_device) == sorted(
        p["id"] for p in cloud.objects("ports", device_id=router["id"])
    )
    some = _get(cloud, conn, "/networks", [("fields", "id"), ("fields", "name")]).json()["networks"]
    assert all(set(n) == {"id", "name"} for n in some) and len(some) == len(cloud.objects("networks"))
    group = cloud.objects("security_groups", name="default")[0]
    rules = [r.id for r in conn.network.security_group_rules(security_group_id=group["id"])]
    assert sorted(rules) == sorted(r["id"] for r in group["security_group_rules"])
    ssh = _get(cloud, conn, "/security-group-rules", {"port_range_min": "22", "protocol": "tcp"}).json()
    expected_ssh = cloud.objects("security_group_rules", port_range_min=22, protocol="tcp")
    assert sorted(r["id"] for r in ssh["security_group_rules"]) == sorted(r["id"] for r in expected_ssh)
    assert len(expected_ssh) > 0
    bad = _get(cloud, conn, "/networks", {"colour": "blue"})
    assert (
        bad.status_code == 400
        and bad.json()["NeutronError"]["message"] == "[colour] is invalid attribute for filtering"
    )


def test_project_user_sees_own_and_external_networks_only(cloud: Cloud) -> None:
    pid = cloud.project("acme-prod")["id"]
    user = cloud.connect("zoe.green", "acme-prod")
    seen = sorted(n.id for n in user.network.networks())
    expected = sorted(
        n["id"]
        for n in cloud.objects("networks")
        if n["project_id"] == pid or n["shared"] or n["router:external"]
    )
    assert seen == expected and len(seen) < len(cloud.objects("networks"))
    assert sorted(p.id for p in user.network.ports()) == sorted(
        p["id"] for p in cloud.objects("ports", project_id=pid)
    )
    other = _private_network(cloud, "acme-dev")
    with pytest.raises(sdk_exc.NotFoundException):
        user.network.get_network(other["id"])


# -- changes -----------------------------------------------------------------------------------
def test_create_port_with_fixed_ip_and_groups_then_delete(cloud: Cloud, conn) -> None:
    net = _private_network(cloud, "acme-lab")
    subnet = cloud.est.get("subnets", net["subnets"][0])
    groups = [g["id"] for g in cloud.objects("security_groups", project_id=net["project_id"])][:2]
    address = _free_ip(cloud, subnet)
    before = len(cloud.objects("ports"))
    port = conn.network.create_port(
        network_id=net["id"],
        project_id=net["project_id"],
        name="probe",
        fixed_ips=[{"subnet_id": subnet["id"], "ip_address": address}],
        security_group_ids=groups,
    )
    assert port.fixed_ips == [{"subnet_id": subnet["id"], "ip_address": address}]
    assert (
        port.security_group_ids == groups
        and port.status == "DOWN"
        and port.mac_address.startswith("fa:16:3e:")
    )
    assert len(cloud.objects("ports")) == before + 1
    with pytest.raises(sdk_exc.ConflictException) as dup:
        conn.network.create_port(network_id=net["id"], fixed_ips=[{"ip_address": address}])
    assert "already allocated" in str(dup.value)
    conn.network.delete_port(port)
    assert len(cloud.objects("ports")) == before
    gone = _get(cloud, conn, f"/ports/{port.id}")
    assert gone.status_code == 404
    assert gone.json()["NeutronError"] == {
        "type": "PortNotFound",
        "message": f"Port {port.id} could not be found.",
        "detail": "",
    }
    again = conn.network.create_port(
        network_id=net["id"], fixed_ips=[{"ip_address": address}]
    )  # address freed
    assert again.fixed_ips[0]["ip_address"] == address
    conn.network.delete_port(again)


def test_network_with_ports_cannot_be_deleted(cloud: Cloud, conn) -> None:
    net = next(n for n in cloud.objects("networks") if cloud.objects("ports", network_id=n["id"]))
    reply = requests.delete(
        f"{cloud.url}/networks/{net['id']}", headers={"X-Auth-Token": conn.session.get_token()}, timeout=10
    )
    assert reply.status_code == 409 and reply.json()["NeutronError"]["type"] == "NetworkInUse"
    assert cloud.est.get("networks", net["id"]) is not None


def test_security_group_deletion_rules(cloud: Cloud, conn) -> None:
    default = cloud.objects("security_groups", name="default")[0]
    with pytest.raises(sdk_exc.ConflictException) as refused:
        conn.network.delete_security_group(default["id"])
    assert "default security group" in str(refused.value)
    in_use = next(
        g
        for g in cloud.objects("security_groups")
        if g["name"] != "default" and any(g["id"] in p["security_groups"] for p in cloud.objects("ports"))
    )
    with pytest.raises(sdk_exc.ConflictException):
        conn.network.delete_security_group(in_use["id"])
    group = conn.network.create_security_group(name="probe-sg", description="probe")
    assert [(r["direction"], r["ethertype"]) for r in group.security_group_rules] == [
        ("egress", "IPv4"),
        ("egress", "IPv6"),
    ]
    rule = conn.network.create_security_group_rule(
        security_group_id=group.id,
        direction="ingress",
        protocol="tcp",
        port_range_min=22,
        port_range_max=22,
        remote_ip_prefix="0.0.0.0/0",
    )
    embedded = conn.network.get_security_group(group.id).security_group_rules
    assert rule.id in [r["id"] for r in embedded] and len(embedded) == 3
    with pytest.raises(sdk_exc.ConflictException):  # the same rule twice
        conn.network.create_security_group_rule(
            security_group_id=group.id,
            direction="ingress",
            protocol="tcp",
            port_range_min=22,
            port_range_max=22,
            remote_ip_prefix="0.0.0.0/0",
        )
    conn.network.delete_security_group_rule(rule)
    assert len(conn.network.get_security_group(group.id).security_group_rules) == 2
    conn.network.delete_security_group(group)
    assert cloud.objects("security_group_rules", security_group_id=group.id) == []


def test_router_interface_and_floating_ip_lifecycle(cloud: Cloud, conn) -> None:
    net = conn.network
    external = cloud.objects("networks", **{"router:external": True})[0]
    lan = net.create_network(name="probe-lan")
    subnet = net.create_subnet(network_id=lan.id, cidr="192.168.77.0/24", ip_version=4, name="probe-sub")
    assert subnet.gateway_ip == "192.168.77.1" and subnet.allocation_pools == [
        {"start": "192.168.77.2", "end": "192.168.77.254"}
    ]
    assert net.get_network(lan.id).subnet_ids == [subnet.id]
    router = net.create_router(name="probe-r", external_gateway_info={"network_id": external["id"]})
    assert router.external_gateway_info["enable_snat"] is True
    assert len(router.external_gateway_info["external_fixed_ips"]) == 1
    net.add_interface_to_router(router, subnet=subnet.id)
    (iface,) = net.ports(device_id=router.id, device_owner="network:router_interface")
    assert iface.fixed_ips == [{"subnet_id": subnet.id, "ip_address": "192.168.77.1"}]
    vm_port = net.create_port(network_id=lan.id)
    assert vm_port.fixed_ips[0]["ip_address"] == "192.168.77.2"
    fip = net.create_ip(floating_network_id=external["id"], port_id=vm_port.id)
    assert (fip.status, fip.router_id, fip.fixed_ip_address) == ("ACTIVE", router.id, "192.168.77.2")
    with pytest.raises(sdk_exc.ConflictException):  # the floating IP routes through this interface
        net.remove_interface_from_router(router, subnet=subnet.id)
    with pytest.raises(sdk_exc.ConflictException):
        net.delete_router(router)
    fip = net.update_ip(fip, port_id=None)
    assert (fip.status, fip.port_id, fip.router_id) == ("DOWN", None, None)
    net.delete_ip(fip)
    net.delete_port(vm_port)
    net.remove_interface_from_router(router, subnet=subnet.id)
    net.delete_router(router)
    assert cloud.objects("ports", device_id=router.id) == []  # the gateway port went with the router
    net.delete_network(lan)
    assert cloud.est.get("subnets", subnet.id) is None


def test_quota_details_count_the_estate(cloud: Cloud, conn) -> None:
    project = cloud.project("acme-prod")
    details = _get(cloud, conn, f"/quotas/{project['id']}/details").json()["quota"]
    stored = cloud.est.get("quotas", f"{cloud.region}/network/{project['id']}")["limits"]
    for key, kind in (
        ("network", "networks"),
        ("subnet", "subnets"),
        ("port", "ports"),
        ("router", "routers"),
        ("floatingip", "floating_ips"),
        ("security_group", "security_groups"),
        ("security_group_rule", "security_group_rules"),
    ):
        assert details[key]["used"] == len(cloud.objects(kind, project_id=project["id"])), key
        assert (
            details[key]["limit"] == stored.get(key, details[key]["limit"]) and details[key]["reserved"] == 0
        )
    sdk_view = conn.network.get_quota(project["id"], details=True)
    assert sdk_view.ports["used"] == details["port"]["used"]
    defaults = _get(cloud, conn, f"/quotas/{project['id']}/default").json()["quota"]
    assert defaults["network"] == 100 and defaults["port"] == 500


def test_over_quota_is_refused(cloud: Cloud, conn) -> None:
    project = cloud.project("acme-dev")
    used = len(cloud.objects("routers", project_id=project["id"]))
    conn.network.update_quota(project["id"], routers=used)
    try:
        with pytest.raises(sdk_exc.ConflictException) as over:
            conn.network.create_router(name="one-too-many", project_id=project["id"])
        assert "Quota exceeded for resources: ['router']" in str(over.value)
    finally:
        conn.network.update_quota(project["id"], routers=10)


# -- openstackclient ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("command", "kind"),
    [
        ("network list", "networks"),
        ("subnet list", "subnets"),
        ("port list", "ports"),
        ("router list", "routers"),
        ("floating ip list", "floating_ips"),
        ("security group list", "security_groups"),
        ("security group rule list", "security_group_rules"),
    ],
)
def test_openstackclient_lists(cloud: Cloud, command: str, kind: str) -> None:
    rows = cloud.cli(*command.split())
    assert sorted(r["ID"] for r in rows) == sorted(o["id"] for o in cloud.objects(kind))


def test_openstackclient_network_agents_and_zones(cloud: Cloud) -> None:
    agents = cloud.cli("network", "agent", "list")
    hosts = {h["service"]["host"] for h in cloud.objects("hypervisors")}
    assert {a["Host"] for a in agents} == hosts
    assert sum(a["Agent Type"] == "Open vSwitch agent" for a in agents) == len(hosts)
    zones = cloud.cli("availability", "zone", "list", "--network")
    assert {(z["Zone Name"], z["Zone Status"]) for z in zones} == {("nova", "available")}


def test_tags_and_revision_constraints(cloud: Cloud, conn) -> None:
    token = {"X-Auth-Token": conn.session.get_token()}
    net = _private_network(cloud, "acme-dev")
    base = f"{cloud.url}/networks/{net['id']}"
    assert requests.put(f"{base}/tags", json={"tags": ["b", "a"]}, headers=token, timeout=10).json() == {
        "tags": ["a", "b"]
    }
    assert requests.put(f"{base}/tags/c", headers=token, timeout=10).status_code == 201
    tagged = _get(cloud, conn, "/networks", {"tags": "a,c"}).json()["networks"]
    assert [n["id"] for n in tagged] == [net["id"]]
    assert _get(cloud, conn, "/networks", {"not-tags-any": "a"}).json()["networks"] == [
        _get(cloud, conn, f"/networks/{n['id']}").json()["network"]
        for n in sorted(cloud.objects("networks"), key=lambda n: n["id"])
        if n["id"] != net["id"]
    ]
    revision = cloud.est.get("networks", net["id"])["revision_number"]
    stale = requests.put(
        base,
        json={"network": {"description": "x"}},
        headers={**token, "If-Match": f"revision_number={revision - 1}"},
        timeout=10,
    )
    assert stale.status_code == 412
    assert stale.json()["NeutronError"]["type"] == "RevisionNumberConstraintFailed"
    fresh = requests.put(
        base,
        json={"network": {"description": "x"}},
        headers={**token, "If-Match": f"revision_number={revision}"},
        timeout=10,
    ).json()["network"]
    assert (fresh["description"], fresh["revision_number"]) == ("x", revision + 1)
    assert requests.delete(f"{base}/tags", headers=token, timeout=10).status_code == 204
    assert cloud.est.get("networks", net["id"])["tags"] == []


def test_subnet_rules_on_create_and_update(cloud: Cloud, conn) -> None:
    net = _private_network(cloud, "acme-lab")
    subnet = cloud.est.get("subnets", net["subnets"][0])
    with pytest.raises(sdk_exc.BadRequestException) as overlap:
        conn.network.create_subnet(network_id=net["id"], cidr=subnet["cidr"], ip_version=4)
    assert "overlaps with another subnet" in str(overlap.value)
    last_in_pool = subnet["allocation_pools"][-1]["end"]
    with pytest.raises(sdk_exc.ConflictException) as clash:
        conn.network.update_subnet(subnet["id"], gateway_ip=last_in_pool)
    assert "conflicts with allocation pool" in str(clash.value)
    with pytest.raises(sdk_exc.BadRequestException):
        conn.network.update_subnet(subnet["id"], cidr="10.250.0.0/24")
    assert cloud.est.get("subnets", subnet["id"])["cidr"] == subnet["cidr"]
