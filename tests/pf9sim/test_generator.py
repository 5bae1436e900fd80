"""The estate generator: determinism, sizes, realism and referential integrity (in-process, no server)."""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from datetime import timedelta

import pytest

from pf9sim.generator.estate import generate
from pf9sim.generator.snapshots import policies_of
from pf9sim.state import EPOCH, Estate, iso

from .estate_checks import check_integrity


def digest(est: Estate) -> str:
    return hashlib.sha256(json.dumps(est.objects).encode()).hexdigest()


@pytest.fixture(scope="module")
def tiny() -> Estate:
    return generate(seed=42, size="tiny")


@pytest.fixture(scope="module")
def small() -> Estate:
    return generate(seed=42, size="small")


def test_same_seed_same_bytes_different_seed_different() -> None:
    assert digest(generate(seed=5, size="tiny")) == digest(generate(seed=5, size="tiny"))
    assert digest(generate(seed=5, size="tiny")) != digest(generate(seed=6, size="tiny"))
    assert digest(generate(seed=5, size="small")) == digest(generate(seed=5, size="small"))


def test_unknown_size_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown estate size 'huge'"):
        generate(size="huge")


def test_tiny_is_small_and_fast() -> None:
    start = time.perf_counter()
    est = generate(seed=1, size="tiny")
    assert time.perf_counter() - start < 0.3
    counts = est.counts()
    assert est.regions == ["RegionOne"]
    assert counts["domains"] == 2
    assert 4 <= counts["projects"] <= 6
    assert counts["servers"] == 12
    for kind in (
        "hypervisors",
        "flavors",
        "images",
        "volumes",
        "snapshots",
        "volume_types",
        "networks",
        "subnets",
        "ports",
        "routers",
        "floating_ips",
        "security_groups",
        "security_group_rules",
        "keypairs",
        "server_groups",
        "aggregates",
        "availability_zones",
        "quotas",
        "users",
        "groups",
    ):
        assert counts[kind] >= 1, kind
    assert est.clock == EPOCH


def test_small_is_the_demo_size(small: Estate) -> None:
    counts = small.counts()
    assert small.regions == ["RegionOne", "RegionTwo"]
    assert counts["domains"] == 3
    assert 10 <= counts["projects"] <= 14
    assert counts["servers"] == 200
    assert counts["hypervisors"] == 12
    assert {s["_region"] for s in small.all("servers")} == {"RegionOne", "RegionTwo"}


def test_large_has_about_a_thousand_servers() -> None:
    counts = generate(seed=3, size="large").counts()
    assert counts["servers"] == 1000
    assert 1300 <= counts["volumes"] <= 1800


@pytest.mark.slow
def test_xl_size_and_time() -> None:
    start = time.perf_counter()
    est = generate(seed=42, size="xl")
    elapsed = time.perf_counter() - start
    counts = est.counts()
    assert elapsed < 60
    assert counts["servers"] == 10000
    assert 13000 <= counts["volumes"] <= 17000
    assert 35000 <= counts["snapshots"] <= 45000
    assert 25000 <= counts["ports"] <= 35000
    assert 100_000 <= sum(counts.values()) <= 140_000


def test_history_spreads_over_120_days_and_ends_at_epoch(small: Estate) -> None:
    created = sorted(s["created"] for s in small.all("servers"))
    assert created[0] >= iso(EPOCH - timedelta(days=120))
    assert created[-1] <= iso(EPOCH)
    assert created[0] < iso(EPOCH - timedelta(days=60))
    assert created[-1] > iso(EPOCH - timedelta(days=7))
    assert small.clock == EPOCH


def test_identity_layout(tiny: Estate) -> None:
    est = tiny
    default = est.get("domains", "default")
    assert default["name"] == "Default"
    admin = est.find_by_name("users", "admin")
    assert est.secrets["passwords"][admin["id"]] == "pf9sim-admin"
    roles = {r["name"]: r["id"] for r in est.all("roles")}
    assert set(roles) == {"admin", "member", "reader"}
    admin_project = next(p for p in est.all("projects") if p["name"] == "admin")
    grants = [a for a in est.all("role_assignments") if a.get("user", {}).get("id") == admin["id"]]
    scopes = {json.dumps(a["scope"], sort_keys=True) for a in grants if a["role"]["id"] == roles["admin"]}
    assert json.dumps({"project": {"id": admin_project["id"]}}, sort_keys=True) in scopes
    assert json.dumps({"system": {"all": True}}, sort_keys=True) in scopes
    svc = est.find_by_name("users", "snapshot-svc@pf9sim.local")
    assert svc["domain_id"] == "default" and svc["email"] == "snapshot-svc@pf9sim.local"
    assert est.secrets["passwords"][svc["id"]] == "pf9sim-snapshots"
    svc_projects = [
        a["scope"]["project"]["id"]
        for a in est.all("role_assignments")
        if a.get("user", {}).get("id") == svc["id"]
    ]
    assert 1 <= len(svc_projects) <= 3
    names = {p["name"] for p in est.all("projects")}
    assert {"acme-prod", "acme-dev", "acme-lab"} <= names
    used_roles = {a["role"]["id"] for a in est.all("role_assignments") if "group" in a}
    assert roles["member"] in used_roles and roles["reader"] in used_roles


def test_custom_credentials_are_used() -> None:
    est = generate(
        seed=1,
        size="tiny",
        admin_password="s3cret",
        service_user_email="snap@x.io",
        service_user_password="pw2",
    )
    admin = est.find_by_name("users", "admin")
    svc = est.find_by_name("users", "snap@x.io")
    assert est.secrets["passwords"][admin["id"]] == "s3cret"
    assert est.secrets["passwords"][svc["id"]] == "pw2"


def test_catalogue_realism(small: Estate) -> None:
    est = small
    flavors = {f["name"] for f in est.all("flavors")}
    assert {"m1.tiny", "m1.small", "m1.medium", "m1.large", "m1.xlarge", "c1.large", "r1.large"} <= flavors
    distros = {(i.get("os_distro"), i.get("os_version")) for i in est.all("images")}
    assert {
        ("ubuntu", "22.04"),
        ("ubuntu", "24.04"),
        ("rhel", "8"),
        ("rhel", "9"),
        ("windows", "2019"),
        ("windows", "2022"),
        ("debian", "12"),
        ("centos", "7"),
    } <= distros
    assert any(i["visibility"] == "private" for i in est.all("images"))
    servers = list(est.all("servers"))
    assert any(s["image"] == "" for s in servers) and any(isinstance(s["image"], dict) for s in servers)
    statuses = Counter(s["status"] for s in servers)
    assert statuses["ACTIVE"] > 150 and statuses["ERROR"] >= 1 and statuses["SHUTOFF"] >= 1
    assert any(v["status"] == "error" for v in est.all("volumes"))
    assert any(s["status"] == "error" for s in est.all("snapshots"))
    azs = {h["_az"] for h in est.all("hypervisors")}
    assert azs == {"az1", "az2"}
    external = [n for n in est.all("networks") if n["router:external"]]
    assert len(external) == 2
    assert any(f["port_id"] for f in est.all("floating_ips"))
    risky = [
        r
        for r in est.all("security_group_rules")
        if r["remote_ip_prefix"] == "0.0.0.0/0"
        and r["direction"] == "ingress"
        and r["port_range_min"] in (22, 3389)
    ]
    assert {r["port_range_min"] for r in risky} == {22, 3389}


def test_snapshot_policies_and_names(small: Estate) -> None:
    est = small
    enrolled = [v for v in est.all("volumes") if policies_of(v["metadata"])]
    assert 0.2 < len(enrolled) / len(est.objects["volumes"]) < 0.7
    assert any(v["metadata"].get("auto_snapshot") == "false" for v in est.all("volumes"))
    sample = next(v for v in enrolled if "monthly_1st" in v["metadata"]["snapshot_policies"])
    assert sample["metadata"]["retention_monthly_1st"].isdigit()
    svc = est.find_by_name("users", "snapshot-svc@pf9sim.local")
    autos = [s for s in est.all("snapshots") if s["name"].startswith("auto-")]
    manual = [s for s in est.all("snapshots") if not s["name"].startswith("auto-")]
    assert autos and manual
    for snap in autos:
        volume = est.get("volumes", snap["volume_id"])
        policy = snap["metadata"]["policy"]
        assert snap["metadata"]["created_by"] and snap["metadata"]["run_id"]
        assert policy in dict(policies_of(volume["metadata"]))
        project = est.get("projects", volume["os-vol-tenant-attr:tenant_id"])
        assert snap["name"].startswith(f"auto-{project['name']}-{policy}-")
        stamp = snap["created_at"][:19].replace("-", "").replace(":", "").replace("T", "-")
        assert snap["name"].endswith(f"-{stamp}")
        assert snap["created_at"][11:13] == "02"
        assert snap["user_id"] == svc["id"]
    # Retention: never more automatic snapshots of a (volume, policy) than the policy keeps.
    kept = Counter((s["volume_id"], s["metadata"]["policy"]) for s in autos)
    for (vid, policy), count in kept.items():
        assert count <= dict(policies_of(est.get("volumes", vid)["metadata"]))[policy]


@pytest.mark.parametrize("size", ["tiny", "small"])
def test_referential_integrity(size: str) -> None:
    check_integrity(generate(seed=11, size=size))


def test_referential_integrity_large() -> None:
    check_integrity(generate(seed=42, size="large"))


def test_quotas_cover_usage_some_near_limits(small: Estate) -> None:
    est = small
    near = 0
    for quota in est.all("quotas"):
        limits = quota["limits"]
        if quota["_service"] == "compute":
            servers = [
                s for s in est.all("servers", quota["_region"]) if s["tenant_id"] == quota["project_id"]
            ]
            assert limits["instances"] >= len(servers)
            assert limits["cores"] >= sum(s["flavor"]["vcpus"] for s in servers)
            assert limits["ram"] >= sum(s["flavor"]["ram"] for s in servers)
            if servers and limits["instances"] <= len(servers) * 1.1:
                near += 1
        if quota["_service"] == "volume":
            snaps = [
                s
                for s in est.all("snapshots", quota["_region"])
                if s["os-extended-snapshot-attributes:project_id"] == quota["project_id"]
            ]
            assert limits["snapshots"] >= len(snaps)
    assert near >= 1
    regions_of = {(q["project_id"], q["_region"], q["_service"]) for q in est.all("quotas")}
    for server in est.all("servers"):
        for service in ("compute", "volume", "network"):
            assert (server["tenant_id"], server["_region"], service) in regions_of
