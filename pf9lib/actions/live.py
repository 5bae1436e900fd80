"""Live listings for actions: what a plan relies on is read from the cloud, not from the store.

The store is minutes or hours old; a plan that creates or deletes must see the cloud as it is. Listings go
through the collector's pager (same paging, retries and microversions as collection) on the action's
connection.
"""

from __future__ import annotations

from typing import Any

from pf9lib.actions.engine import ActionContext
from pf9lib.collect.pager import ListingError, iter_pages
from pf9lib.errors import Pf9Error
from pf9lib.resources import RESOURCES

_PROXIES = {
    "identity": "identity",
    "compute": "compute",
    "block-storage": "block_storage",
    "network": "network",
    "image": "image",
}
_STRIP = {"identity": "/v3", "network": "/v2.0", "image": "/v2"}


def listing(ctx: ActionContext, kind: str, region: str | None = None) -> list[dict[str, Any]]:
    """Every object of a type in a region (all projects), raw; a Pf9Error when the listing cannot finish."""
    res = RESOURCES[kind]
    writer = ctx.writer(region)
    proxy = getattr(writer.connection, _PROXIES[res.service])
    path = res.path.removeprefix(_STRIP.get(res.service, ""))
    out: list[dict[str, Any]] = []
    try:
        for page in iter_pages(proxy, res, path):
            writer.count("GET", res.service)
            out.extend(page)
    except ListingError as exc:
        raise Pf9Error(
            f"cannot list {kind} in {region or 'the default region'}: {exc}; retry later"
        ) from None
    return res.clean(out) if res.clean else out


def names(ctx: ActionContext, kind: str, region: str | None = None) -> dict[str, str | None]:
    """id → name of every object of a type, from the lightest listing there is (Nova's `/servers` without
    `/detail` carries only ids and names: a tenth of the bytes)."""
    res = RESOURCES[kind]
    if kind != "servers":
        return {o["id"]: o.get("name") for o in listing(ctx, kind, region)}
    writer = ctx.writer(region)
    out: dict[str, str | None] = {}
    try:
        for page in iter_pages(writer.connection.compute, res, "/servers", dict(res.params)):
            writer.count("GET", "compute")
            out.update((s["id"], s.get("name")) for s in page)
    except ListingError as exc:
        where = region or "the default region"
        raise Pf9Error(f"cannot list servers in {where}: {exc}; retry later") from None
    return out


def regions(ctx: ActionContext) -> list[str]:
    """The cloud's regions: the declared ones, else the catalog's."""
    if ctx.settings.regions:
        return list(ctx.settings.regions)
    from pf9lib.collect.inventory import discover_regions

    return discover_regions(ctx.writer().connection)


def projects(ctx: ActionContext) -> dict[str, dict[str, Any]]:
    """id → {name, domain_id, domain_name} of every project."""
    domains = {d["id"]: d.get("name") for d in listing(ctx, "domains")}
    return {
        p["id"]: {
            "name": p.get("name"),
            "domain_id": p.get("domain_id"),
            "domain_name": domains.get(p.get("domain_id")),
        }
        for p in listing(ctx, "projects")
    }
