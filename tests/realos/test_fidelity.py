"""The simulated cloud answers like real OpenStack: for the same calls at the same microversions its bodies
carry the real keys (recursively, per object and per status), with the real JSON types and enum values.

`make test` compares a tiny simulated cloud with the real bodies committed in tests/realos/fixtures/real/;
the realos tier records the live stack's bodies, compares the simulated cloud with those too, and checks that
the committed fixtures still describe the stack (REALOS_REFRESH_FIXTURES=1 rewrites them).
"""

from __future__ import annotations

import fnmatch
import os

import pytest

from tests.realos import fidelity
from tests.realos.fidelity import CALLS, Comparison, compare_all, coverage, coverage_table, load_real

# Differences that stay, keyed (call family, check, key), each with its reason. A listed difference that no
# longer occurs fails the test too, so this list stays the true list.
EXCEPTIONS: dict[tuple[str, str, str], str] = {
    ("nova_servers_detail_all", "type", "image"): (
        'a server booted from a volume shows image "" (Nova API reference); every real server here boots '
        "from an image, so only the object form is seen"
    ),
    ("nova_servers_detail_all", "not_for_status", "security_groups (ERROR)"): (
        "Nova lists a server's groups from its ports: the real ERROR server failed scheduling and never had "
        "a port, the simulated ones failed after booting and keep theirs"
    ),
    ("cinder_pools_detail", "type", "capabilities.free_capacity_gb"): (
        "Cinder's fake driver reports 'infinite'; Ceph (the simulated backend) and LVM report numbers"
    ),
    ("cinder_pools_detail", "type", "capabilities.total_capacity_gb"): (
        "Cinder's fake driver reports 'infinite'; Ceph (the simulated backend) and LVM report numbers"
    ),
}

# Keys the simulated cloud shows that the real stack does not (globs on the key path), with the reason.
# Keys under data maps (`metadata.*`, `extra_specs.*` …) are data, not API, and always allowed.
EXTRA_KEYS: dict[tuple[str, str], str] = {
    ("keystone_users", "email"): "users made with an e-mail address (the real stack's have none)",
    ("keystone_users", "description"): "users made with a description (the real stack's have none)",
    ("keystone_services", "description"): "services registered with a description",
    ("keystone_role_assignments", "scope.domain*"): "domain-scoped grants (the real stack has project ones)",
    ("nova_limits", "absolute.maxImageMeta"): "an older limit Nova still returns before 2.39 when configured",
    (
        "cinder_volumes_detail_all",
        "volume_image_metadata",
    ): "volumes created from images (fails on the fakes)",
    ("cinder_pools_detail", "capabilities.*"): "an RBD (Ceph) driver reports more capabilities than the fake",
    ("cinder_quota_sets_usage", "*_*"): "per volume type quotas, named after the simulated cloud's types",
    ("cinder_attachments_all", "connection_info.*"): "RBD connection details (the fake driver says iscsi)",
    ("neutron_networks", "dns_domain"): "dns-integration extension (enabled on Platform9, not in realos)",
    ("neutron_networks", "l2_adjacency"): "l2_adjacency extension (not loaded by the realos ML2 set-up)",
    ("neutron_networks", "qos_policy_id"): "qos extension (not loaded by the realos ML2 set-up)",
    ("neutron_subnets", "dns_publish_fixed_ip"): "subnet-dns-publish-fixed-ip extension",
    ("neutron_subnets", "segment_id"): "segments extension (routed networks)",
    ("neutron_ports", "binding:vif_details.connectivity"): "the ML2/OVS driver reports it; realos's noop not",
    ("neutron_ports", "data_plane_status"): "data-plane-status extension",
    ("neutron_ports", "dns_*"): "dns-integration extension",
    ("neutron_ports", "ip_allocation"): "ip_allocation extension (routed networks)",
    ("neutron_ports", "propagate_uplink_status"): "uplink-status-propagation extension",
    ("neutron_ports", "qos_*"): "qos extension",
    ("neutron_ports", "resource_request"): "port-resource-request extension (qos placement)",
    ("neutron_routers", "conntrack_helpers"): "l3-conntrack-helper extension",
    ("neutron_routers", "enable_ndp_proxy"): "l3-ndp-proxy extension",
    ("neutron_floatingips", "dns_*"): "dns-integration extension",
    ("neutron_floatingips", "port_forwardings"): "floating-ip-port-forwarding extension",
    ("neutron_floatingips", "qos_*"): "qos extension",
    ("glance_images", "*"): "user properties (os_distro, hw_* …) are top-level keys of a Glance image",
    ("nova_servers_detail_all", "image.properties.*"): "the instance's image properties (data)",
}


def _problems(comparisons: list[Comparison]) -> list[str]:
    found: set[tuple[str, str, str]] = set()
    out: list[str] = []

    def report(c: Comparison, check: str, key: str, detail: str = "") -> None:
        found.add((c.call.family, check, key))
        if (c.call.family, check, key) not in EXCEPTIONS:
            out.append(f"{c.call.name}: {check} {key} {detail}".rstrip())

    for c in comparisons:
        for key in sorted(c.missing):
            report(c, "missing", key)
        for key, (real, sim) in sorted(c.type_mismatches.items()):
            report(c, "type", key, f"real {sorted(real)} simulated {sorted(sim)}")
        for key in sorted(c.not_always):
            report(c, "not_always", key)
        for key in sorted(c.not_for_status):
            report(c, "not_for_status", key)
        for violation in c.enum_violations:
            report(c, "enum", violation)
        for key in sorted(c.extra):
            allowed = "*" in key or any(
                family == c.call.family and fnmatch.fnmatchcase(key, pattern)
                for family, pattern in EXTRA_KEYS
            )
            if not allowed:
                out.append(f"{c.call.name}: extra {key} (real OpenStack has no such key)")
    stale = sorted(set(EXCEPTIONS) - found)
    out += [f"documented difference no longer seen, drop it: {key}" for key in stale]
    return out


def _assert_like_real(real: dict, simulated: dict) -> None:
    comparisons = compare_all(real, simulated)
    problems = _problems(comparisons)
    cov = coverage(comparisons)
    table = coverage_table(cov)
    assert not problems, "\n".join(problems) + "\n" + table
    for have, total in cov.values():
        assert have / total >= 0.99, table
    print(table)


@pytest.fixture(scope="module")
def simulated(sim) -> dict:
    return fidelity.record_sim(sim)


@pytest.mark.integration
def test_simulated_bodies_match_the_recorded_real_ones(simulated):
    _assert_like_real({c.name: load_real(c.name) for c in CALLS}, simulated)


@pytest.mark.integration
def test_every_call_answers_200_on_both_clouds(simulated):
    failed = {name: body["_status"] for name, body in simulated.items() if "_status" in body}
    assert not failed
    recorded = {c.name: load_real(c.name) for c in CALLS}
    assert not {name for name, body in recorded.items() if "_status" in body}


@pytest.mark.realos
def test_live_real_bodies_match_the_fixtures_and_the_simulated_cloud(stack, extras, simulated):
    live = fidelity.record_real(stack)
    if os.environ.get("REALOS_REFRESH_FIXTURES") == "1":
        fidelity.write_real(live)
    drift = []
    for call in CALLS:
        now, committed = fidelity.shape_of(live[call.name]), fidelity.shape_of(load_real(call.name))
        if now.types != committed.types:
            drift.append(f"{call.name}: {sorted(set(now.types) ^ set(committed.types)) or 'types differ'}")
    assert not drift, (
        "the real stack answers differently from the committed fixtures "
        "(REALOS_REFRESH_FIXTURES=1 make test-real rewrites them):\n" + "\n".join(drift)
    )
    _assert_like_real(live, simulated)
