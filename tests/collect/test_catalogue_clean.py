"""What the catalogue's clean steps do to raw listings before they are stored."""

from __future__ import annotations

import copy

from pf9lib.resources import RESOURCES
from pf9lib.store.writer import hash_object


def test_a_groups_rules_in_another_order_are_the_same_group():
    # Real Neutron embeds a group's rules in database order, which differs between two calls.
    rules = [{"id": rid, "direction": "ingress", "protocol": "tcp"} for rid in ("c3", "a1", "b2")]
    first = {"id": "g", "name": "web", "security_group_rules": rules}
    second = {**copy.deepcopy(first), "security_group_rules": [rules[2], rules[0], rules[1]]}
    clean = RESOURCES["security_groups"].clean
    (a,), (b,) = clean([copy.deepcopy(first)]), clean([second])
    assert [r["id"] for r in a["security_group_rules"]] == ["a1", "b2", "c3"]
    volatile = RESOURCES["security_groups"].volatile
    assert hash_object(a, volatile) == hash_object(b, volatile)
