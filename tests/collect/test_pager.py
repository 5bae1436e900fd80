"""The pager on its own: marker paging to the last page, a looping marker, 429 with Retry-After, 5xx retries,
and the answers that end a listing. The proxy is a recording stand-in for an openstacksdk service proxy."""

from __future__ import annotations

import orjson
import pytest

from pf9lib.collect.pager import ListingError, RetryPolicy, iter_pages
from pf9lib.resources import RESOURCES


class Response:
    def __init__(self, status: int, body: dict | None = None, headers: dict | None = None) -> None:
        self.status_code = status
        self.content = orjson.dumps(body or {})
        self.text = self.content.decode()
        self.headers = headers or {}


class Proxy:
    """Answers GETs from a list, records each call's query."""

    def __init__(self, answers: list[Response]) -> None:
        self.answers = list(answers)
        self.calls: list[dict] = []

    def get(self, path, params=None, microversion=None, raise_exc=False, timeout=None):
        self.calls.append({"path": path, "params": dict(params), "microversion": microversion})
        return self.answers.pop(0)


def page(ids: list[str], next_marker: str | None = None, key: str = "servers") -> Response:
    body = {key: [{"id": i} for i in ids]}
    if next_marker:
        body[f"{key}_links"] = [
            {"rel": "next", "href": f"http://x/servers/detail?limit=2&marker={next_marker}"}
        ]
    return Response(200, body)


SERVERS = RESOURCES["servers"]
FAST = RetryPolicy(attempts=3, backoff_s=0.01)


def test_marker_paging_follows_next_links_to_the_last_page():
    proxy = Proxy([page(["a", "b"], "b"), page(["c", "d"], "d"), page(["e"])])
    got = [obj["id"] for p in iter_pages(proxy, SERVERS, page_size=2, policy=FAST) for obj in p]
    assert got == ["a", "b", "c", "d", "e"]
    assert [c["params"].get("marker") for c in proxy.calls] == [None, "b", "d"]
    assert all(c["params"]["limit"] == "2" and c["params"]["all_tenants"] == "1" for c in proxy.calls)
    assert {c["microversion"] for c in proxy.calls} == {"2.96"}


def test_a_marker_that_comes_back_is_a_loop_and_ends_the_listing():
    proxy = Proxy([page(["a"], "a"), page(["b"], "a"), page(["c"], "a")])
    with pytest.raises(ListingError, match="marker a repeated"):
        list(iter_pages(proxy, SERVERS, policy=FAST))
    assert len(proxy.calls) == 2


def test_429_waits_as_long_as_retry_after_says_then_goes_on():
    slept: list[float] = []
    proxy = Proxy([Response(429, {}, {"Retry-After": "7"}), page(["a"])])
    got = list(iter_pages(proxy, SERVERS, policy=FAST, sleep=slept.append))
    assert got == [[{"id": "a"}]] and slept == [7.0]


def test_5xx_is_retried_with_backoff_and_gives_up_after_the_last_attempt():
    slept: list[float] = []
    proxy = Proxy([Response(503), Response(502), page(["a"])])
    assert list(iter_pages(proxy, SERVERS, policy=FAST, sleep=slept.append)) == [[{"id": "a"}]]
    assert slept == [0.01, 0.02]
    proxy = Proxy([Response(500)] * 3)
    with pytest.raises(ListingError, match="after 3 attempts: HTTP 500") as failed:
        list(iter_pages(proxy, SERVERS, policy=FAST, sleep=slept.append))
    assert failed.value.status == 500


def test_a_4xx_is_not_retried_and_an_answer_without_the_list_is_an_error():
    proxy = Proxy([Response(403, {"forbidden": {"message": "no"}})])
    with pytest.raises(ListingError, match="HTTP 403") as failed:
        list(iter_pages(proxy, SERVERS, policy=FAST))
    assert failed.value.status == 403 and len(proxy.calls) == 1
    with pytest.raises(ListingError, match="has no list 'servers'"):
        list(iter_pages(Proxy([Response(200, {"flavors": []})]), SERVERS, policy=FAST))


def test_glance_pages_by_its_next_link_and_unpaged_lists_are_one_call():
    images = RESOURCES["images"]
    proxy = Proxy(
        [
            Response(200, {"images": [{"id": "i1"}], "next": "/v2/images?marker=i1&limit=1"}),
            Response(200, {"images": [{"id": "i2"}]}),
        ]
    )
    assert [o["id"] for p in iter_pages(proxy, images, page_size=1, policy=FAST) for o in p] == ["i1", "i2"]
    assert proxy.calls[1]["params"]["marker"] == "i1"
    domains = RESOURCES["domains"]
    proxy = Proxy([Response(200, {"domains": [{"id": "d"}], "links": {"next": "ignored"}})])
    assert list(iter_pages(proxy, domains, policy=FAST)) == [[{"id": "d"}]]
    assert "limit" not in proxy.calls[0]["params"]
