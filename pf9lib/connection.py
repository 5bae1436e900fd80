"""Connecting to the cloud the settings name, and turning every failure into one line naming problem and fix.

`check_cloud` is what `pf9wb config check` runs; `cloud_error` serves every other caller of the SDK too.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import openstack.connection
import openstack.exceptions
from keystoneauth1 import exceptions as ksa

from pf9lib.errors import CloudError, ConfigError, Pf9Error

if TYPE_CHECKING:
    from pf9lib.config import Settings


def connect(settings: Settings, region: str | None = None) -> openstack.connection.Connection:
    """An openstacksdk Connection for one region of the settings' cloud (no network call yet)."""
    return openstack.connection.Connection(config=settings.cloud_region(region))


@dataclass(frozen=True)
class Endpoint:
    service_type: str
    service_name: str
    region: str
    interface: str
    url: str


@dataclass
class CatalogReport:
    """What a successful authentication tells: who we are, in which project, and the service catalog."""

    cloud: str
    auth_url: str
    user_name: str
    user_id: str
    user_domain: str
    project_name: str
    project_id: str
    project_domain: str
    roles: list[str]
    endpoints: list[Endpoint]

    def public_endpoints(self) -> list[Endpoint]:
        return [e for e in self.endpoints if e.interface == "public"]

    @property
    def regions(self) -> list[str]:
        return sorted({e.region for e in self.endpoints if e.region})


def check_cloud(settings: Settings) -> CatalogReport:
    """Authenticate once and return the token's user, project and catalog; failures become one-line errors."""
    conn = connect(settings)
    try:
        access = conn.session.auth.get_access(conn.session)
    except (ksa.ClientException, openstack.exceptions.SDKException) as exc:
        raise cloud_error(exc, settings) from None
    endpoints = [
        Endpoint(
            service_type=service.get("type", ""),
            service_name=service.get("name", ""),
            region=ep.get("region_id") or ep.get("region") or "",
            interface=ep.get("interface", ""),
            url=ep.get("url", ""),
        )
        for service in access.service_catalog.catalog or []
        for ep in service.get("endpoints", [])
    ]
    endpoints.sort(key=lambda e: (e.service_type, e.region, e.interface))
    return CatalogReport(
        cloud=settings.cloud,
        auth_url=settings.auth_url,
        user_name=access.username or "",
        user_id=access.user_id or "",
        user_domain=access.user_domain_name or "",
        project_name=access.project_name or "",
        project_id=access.project_id or "",
        project_domain=access.project_domain_name or "",
        roles=sorted(access.role_names or []),
        endpoints=endpoints,
    )


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def cloud_error(exc: BaseException, settings: Settings, url: str | None = None) -> Pf9Error:
    """Turn an openstacksdk / keystoneauth exception into one line naming the problem and its fix."""
    url = url or settings.auth_url
    parts = urlsplit(url)
    host = f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
    chain = _chain(exc)
    kinds = tuple(type(e) for e in chain)
    text = " ".join(str(e) for e in chain)
    in_file = f"cloud {settings.cloud!r} in {settings.source}"
    if any(issubclass(k, ksa.SSLError | ssl.SSLError) for k in kinds):
        if "CERTIFICATE_VERIFY_FAILED" in text:
            reason = text.split("certificate verify failed:", 1)[-1].split("(_ssl")[0].strip(" )'\"")
            fix = (
                f"add `cacert: /path/to/ca.pem` to {in_file} (or `verify: false` to skip the check)"
                if settings.from_clouds_yaml
                else "use a clouds.yaml cloud with `cacert: /path/to/ca.pem` (or `verify: false`), "
                "or set REQUESTS_CA_BUNDLE"
            )
            return CloudError(f"TLS certificate of {host} could not be verified ({reason}): {fix}")
        if "WRONG_VERSION_NUMBER" in text:
            return CloudError(f"{url} does not speak TLS on {host}: use http:// or the HTTPS port")
        return CloudError(f"TLS handshake with {host} failed ({chain[-1]}): check the URL and certificates")
    if any(issubclass(k, ksa.ConnectTimeout | TimeoutError) for k in kinds):
        timeout = settings.cloud_region().config.get("api_timeout")
        return CloudError(
            f"{url} did not answer in time{f' ({timeout} s)' if timeout else ''}: "
            "check the host, VPN and firewall, or raise api_timeout"
        )
    if any(issubclass(k, socket.gaierror) for k in kinds):
        return CloudError(f"cannot resolve host {parts.hostname!r} of {url}: check the auth URL and DNS")
    if any(issubclass(k, ConnectionRefusedError) for k in kinds):
        return CloudError(f"connection to {host} refused ({url}): is the service up and the port right?")
    if isinstance(exc, ksa.Unauthorized):
        fix = (
            f"fix auth.username / auth.password (and domains, project) of {in_file}"
            if settings.from_clouds_yaml
            else "fix PF9_USERNAME / PF9_PASSWORD (and PF9_USER_DOMAIN, PF9_PROJECT_NAME)"
        )
        auth = settings.cloud_region().config.get("auth") or {}
        who = f"user {auth.get('username') or auth.get('user_id')!r} in project {auth.get('project_name')!r}"
        return CloudError(f"{settings.auth_url} rejected the credentials of {who} (HTTP 401): {fix}")
    if isinstance(exc, ksa.Forbidden):
        return CloudError(f"{url} refused access (HTTP 403): the user needs a role on the project")
    if isinstance(exc, ksa.DiscoveryFailure | ksa.NotFound | ksa.EndpointNotFound) or any(
        issubclass(k, ksa.UnknownConnectionError) for k in kinds
    ):
        reason = (
            "only Keystone v2.0 found, v3 is required"
            if "v2 authentication" in text
            else str(chain[-1])[:120]
        )
        return CloudError(
            f"{url} is not a usable Keystone v3 auth URL ({reason}): "
            "use the identity endpoint, e.g. https://HOST/keystone/v3"
        )
    if isinstance(exc, ksa.ConnectionError):
        return CloudError(f"cannot connect to {url} ({chain[-1]}): check the URL, network and proxy")
    if isinstance(exc, ksa.HttpError):
        return CloudError(f"{url} answered HTTP {exc.http_status} ({exc.message}): the service is failing")
    if isinstance(exc, openstack.exceptions.ConfigException | ksa.AuthPluginException):
        return ConfigError(f"{in_file}: {exc}")
    return CloudError(f"{type(exc).__name__} talking to {url}: {exc}")
