"""What every simulated service uses to answer a request: tokens and who may act, the region in the URL,
errors in each service's body format, JSON bodies, microversions and paging.

Services import this module and never app.py: app.py imports the services to build its routes.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

# Nova/Cinder wrap errors in a key named after the fault; Neutron uses NeutronError; Keystone uses "error".
_NOVA_FAULT_KEYS = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    409: "conflictingRequest",
    413: "overLimit",
    429: "overLimit",
    500: "computeFault",
    501: "notImplemented",
    503: "serviceUnavailable",
}
_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Request Entity Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
}
_NEUTRON_TYPES = {
    400: "BadRequest",
    401: "NotAuthorized",
    403: "Forbidden",
    404: "NotFound",
    409: "Conflict",
    413: "OverQuota",
    429: "OverQuota",
    500: "InternalError",
    503: "ServiceUnavailable",
}


class SimError(Exception):
    """Raised by handlers; rendered by the middleware in the body format of the service that was called."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None, kind: str = ""):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.kind = kind  # e.g. Neutron's "NetworkNotFound"


def service_of(path: str) -> str:
    """Which service a request path belongs to: identity, compute, volume, network, image or sim."""
    if path.startswith("/identity"):
        return "identity"
    if path.startswith("/_sim"):
        return "sim"
    parts = path.split("/", 3)
    return parts[2] if len(parts) > 2 else "unknown"


def error_body(service: str, status: int, message: str, kind: str = "") -> dict[str, Any]:
    title = _TITLES.get(status, "Error")
    if service == "identity":
        return {"error": {"code": status, "message": message, "title": title}}
    if service == "network":
        return {
            "NeutronError": {
                "type": kind or _NEUTRON_TYPES.get(status, "Error"),
                "message": message,
                "detail": "",
            }
        }
    if service == "image":  # webob's JSON rendering, used when the client accepts JSON
        return {"message": f"{message}<br /><br />\n\n\n", "code": f"{status} {title}", "title": title}
    key = _NOVA_FAULT_KEYS.get(status, "computeFault")
    return {key: {"code": status, "message": message}}


def _glance_page(status: int, message: str) -> str:
    """Glance answers errors with webob's HTML page unless the client asks for JSON."""
    head = f"{status} {_TITLES.get(status, 'Error')}"
    return (
        f"<html>\n <head>\n  <title>{head}</title>\n </head>\n <body>\n  <h1>{head}</h1>\n"
        f"  {message}<br /><br />\n\n\n\n </body>\n</html>"
    )


def error_response(
    request: web.Request, status: int, message: str, headers: dict[str, str] | None = None, kind: str = ""
) -> web.Response:
    service = service_of(request.path)
    if service == "image" and "application/json" not in request.headers.get("Accept", ""):
        resp = web.Response(text=_glance_page(status, message), status=status, content_type="text/html")
    else:
        body = error_body(service, status, message, kind)
        retry = (headers or {}).get("Retry-After")
        if status == 413 and retry is not None and service in ("compute", "volume"):
            next(iter(body.values()))["retryAfter"] = retry  # Nova and Cinder repeat Retry-After in the body
        resp = json_response(body, status=status)
    for name, value in (headers or {}).items():
        resp.headers[name] = value
    if status == 401:
        sim = request.app["sim"]
        resp.headers["WWW-Authenticate"] = f'Keystone uri="{sim.base_url}/identity"'
    return resp


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=json.dumps(body, separators=(",", ":")).encode(),
        status=status,
        content_type="application/json",
        headers=headers,
    )


async def read_json(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SimError(400, f"Malformed request body: {exc}") from None
    if not isinstance(body, dict):
        raise SimError(400, "Malformed request body: expected a JSON object")
    return body


# -- tokens and who may act -----------------------------------------------------------------------
TOKEN_LIFETIME = timedelta(hours=1)


@dataclass
class Token:
    """An issued Keystone token and what it is scoped to."""

    id: str
    user_id: str
    expires_at: datetime
    issued_at: datetime
    methods: list[str]
    project_id: str | None = None
    domain_id: str | None = None
    system: bool = False
    roles: list[str] = field(default_factory=list)  # role names
    app_cred_id: str | None = None

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


class TokenStore:
    """Tokens are random opaque strings; expiry uses wall time so that clients see real expiry."""

    def __init__(self) -> None:
        self._tokens: dict[str, Token] = {}

    def issue(
        self,
        user_id: str,
        methods: list[str],
        roles: list[str],
        project_id: str | None = None,
        domain_id: str | None = None,
        system: bool = False,
        app_cred_id: str | None = None,
    ) -> Token:
        now = datetime.now(UTC)
        token = Token(
            id="gAAAA" + secrets.token_urlsafe(48),
            user_id=user_id,
            expires_at=now + TOKEN_LIFETIME,
            issued_at=now,
            methods=methods,
            project_id=project_id,
            domain_id=domain_id,
            system=system,
            roles=roles,
            app_cred_id=app_cred_id,
        )
        self._tokens[token.id] = token
        return token

    def validate(self, token_id: str | None) -> Token | None:
        if not token_id:
            return None
        token = self._tokens.get(token_id)
        if token is None or token.expires_at <= datetime.now(UTC):
            return None
        return token

    def revoke(self, token_id: str) -> bool:
        return self._tokens.pop(token_id, None) is not None

    def expire_all(self) -> int:
        count = len(self._tokens)
        self._tokens.clear()
        return count


def public(handler):
    """Mark a handler as reachable without a token (version discovery, auth, /_sim)."""
    handler.public = True
    return handler


def token_of(request: web.Request) -> Token:
    return request["token"]


def require_admin(request: web.Request) -> Token:
    token = token_of(request)
    if not token.is_admin:
        raise SimError(403, "Policy doesn't allow this operation to be performed.")
    return token


def region_of(request: web.Request) -> str:
    region = request.match_info.get("region", "")
    if region not in request.app["sim"].estate.regions:
        raise SimError(404, f"Unknown region {region!r}")
    return region


# -- microversions -------------------------------------------------------------------------------
_VERSION_RE = re.compile(r"^(\d+)\.(\d+)$")


def parse_version(text: str) -> tuple[int, int]:
    match = _VERSION_RE.match(text.strip())
    if not match:
        raise SimError(400, f"Invalid microversion {text!r}: expected MAJOR.MINOR")
    return int(match.group(1)), int(match.group(2))


def microversion(
    request: web.Request, service: str, minimum: str, maximum: str, legacy_header: str | None = None
) -> tuple[int, int]:
    """The requested microversion ("latest" = maximum, absent = minimum); 406 when out of range."""
    requested = None
    header = request.headers.get("OpenStack-API-Version", "")
    for part in header.split(","):
        words = part.strip().split()
        if len(words) == 2 and words[0].lower() in (
            service,
            "volume" if service == "block-storage" else service,
        ):
            requested = words[1]
    if requested is None and legacy_header:
        requested = request.headers.get(legacy_header)
    if requested is None:
        return parse_version(minimum)
    if requested.lower() == "latest":
        return parse_version(maximum)
    version = parse_version(requested)
    if not parse_version(minimum) <= version <= parse_version(maximum):
        raise SimError(
            406,
            f"Version {requested} is not supported by the API. Minimum is {minimum} and "
            f"maximum is {maximum}.",
        )
    return version


def version_headers(
    service: str, version: tuple[int, int], legacy_header: str | None = None
) -> dict[str, str]:
    text = f"{version[0]}.{version[1]}"
    headers = {"OpenStack-API-Version": f"{service} {text}", "Vary": "OpenStack-API-Version"}
    if legacy_header:
        headers[legacy_header] = text
    return headers


# -- paging --------------------------------------------------------------------------------------
def int_param(request: web.Request, name: str, default: int | None = None) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SimError(400, f"Invalid value for '{name}': {raw!r} is not an integer") from None
    if value < 0:
        raise SimError(400, f"Invalid value for '{name}': must be >= 0")
    return value


def paginate(
    items: Sequence[dict[str, Any]], marker: str | None, limit: int | None, max_limit: int | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """Slice after `marker` (an id) up to `limit`; return the page and the next marker (None when last).

    A marker that is not in the collection is a 400 (Nova/Cinder: "marker not found").
    """
    start = 0
    if marker:
        for pos, item in enumerate(items):
            if item["id"] == marker:
                start = pos + 1
                break
        else:
            raise SimError(400, f"marker [{marker}] not found")
    effective = limit if limit is not None else max_limit
    if max_limit is not None and effective is not None:
        effective = min(effective, max_limit)
    if effective is None:
        return list(items[start:]), None
    page = list(items[start : start + effective])
    more = start + effective < len(items)
    # Nova and Cinder also give a next link when a page is exactly full and a limit was asked for.
    next_marker = page[-1]["id"] if page and more else None
    return page, next_marker


def next_link(request: web.Request, marker: str, limit: int | None) -> str:
    """The same URL with marker (and limit) replaced, made absolute."""
    params = [(k, v) for k, v in request.query.items() if k not in ("marker", "limit")]
    if limit is not None:
        params.append(("limit", str(limit)))
    params.append(("marker", marker))
    base = request.app["sim"].base_url
    return f"{base}{request.path}?{urlencode(params)}"
