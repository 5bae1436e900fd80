"""Settings: the cloud from clouds.yaml (openstacksdk's own loader) or the old PF9_* variables, plus the rest.

Every problem becomes a ConfigError / CloudError whose one-line message names what is wrong and how to fix it;
secrets are wrapped in `Secret` so that repr(), str() and logs only ever show a mask.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import openstack.connection
import openstack.exceptions
import yaml
from keystoneauth1 import exceptions as ksa
from openstack.config import cloud_region as sdk_cloud_region
from openstack.config import loader as sdk_loader

from pf9lib import __version__
from pf9lib.connection import CatalogReport, Endpoint, check_cloud, cloud_error, connect
from pf9lib.errors import ConfigError, Pf9Error
from pf9lib.workspace import Workspace, workspace

__all__ = [
    "CatalogReport",
    "Endpoint",
    "Secret",
    "Settings",
    "check_cloud",
    "cloud_error",
    "connect",
    "decrypt_service_password",
    "load_settings",
    "parse_bool",
    "parse_host_map",
]

MASK = "********"
UNSET = "(not set)"
ENV_CLOUD_NAME = "pf9"  # the cloud name given to settings built from PF9_* variables
PF9_REQUIRED = ("PF9_AUTH_URL", "PF9_USERNAME", "PF9_PASSWORD", "PF9_PROJECT_NAME")
_SECRET_KEY_PARTS = ("password", "secret", "token")
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}
_HOSTNAME = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_.-]{0,252})$")


class Secret:
    """A value that must never be shown: str() and repr() give a mask, reveal() gives the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __str__(self) -> str:
        return MASK

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass
class Settings:
    """Everything the workbench needs to know about one cloud and the old system's options."""

    cloud: str  # the clouds.yaml cloud name, or ENV_CLOUD_NAME for PF9_* settings
    source: str  # where the cloud came from, for messages: "clouds.yaml /path" or "PF9_* variables"
    auth_url: str
    regions: tuple[str, ...]  # declared regions; empty means "whatever the catalog offers"
    workspace: Workspace  # where the workbench keeps its data (resolved without the cloud)
    config_file: Path | None = None
    hosts: tuple[str, ...] = ()
    host_map: dict[str, str] = field(default_factory=dict)
    snapshot_service_user_email: str | None = None
    snapshot_service_user_password: Secret | None = None
    snapshot_password_key: Secret | None = None
    snapshot_user_password_encrypted: Secret | None = None
    restore_enabled: bool = False
    restore_dry_run: bool = True
    # Builds the openstacksdk CloudRegion for a region (None: the default one). Holds credentials: no repr.
    region_factory: Callable[[str | None], sdk_cloud_region.CloudRegion] | None = field(
        repr=False, default=None
    )

    @property
    def data_dir(self) -> Path:
        return self.workspace.data_dir

    @property
    def output_dir(self) -> Path:
        return self.workspace.reports_dir

    @property
    def from_clouds_yaml(self) -> bool:
        return self.source.startswith("clouds.yaml")

    @property
    def region(self) -> str | None:
        """The default region (the first declared one), or None to let the catalog decide."""
        return self.regions[0] if self.regions else None

    def cloud_region(self, region: str | None = None) -> sdk_cloud_region.CloudRegion:
        """The openstacksdk CloudRegion for `region` (default: the first declared region)."""
        if self.region_factory is None:
            raise ConfigError("these settings name no cloud: build them with load_settings()")
        try:
            return self.region_factory(region or self.region)
        except openstack.exceptions.ConfigException as exc:
            raise ConfigError(f"{exc} (cloud {self.cloud!r} from {self.source})") from None

    def describe(self) -> list[tuple[str, str]]:
        """(name, value) rows of the resolved settings with every secret masked, for `pf9wb config show`."""
        cfg = self.cloud_region().config
        rows = [
            ("cloud", self.cloud),
            ("source", self.source),
            ("regions", ", ".join(self.regions) or "(all)"),
        ]
        rows += [
            (f"auth.{k}", _masked(k, v)) for k, v in sorted(cfg.get("auth", {}).items()) if v is not None
        ]
        for key in ("auth_type", "interface", "verify", "cacert", "api_timeout"):
            if cfg.get(key) is not None:
                rows.append((key, str(cfg[key])))
        rows += [
            ("data_dir", str(self.data_dir)),
            ("PF9_OUTPUT_DIR", str(self.output_dir)),
            ("PF9_HOSTS", ",".join(self.hosts) or UNSET),
            ("PF9_HOST_MAP", ",".join(f"{ip}:{name}" for ip, name in self.host_map.items()) or UNSET),
            ("SNAPSHOT_SERVICE_USER_EMAIL", self.snapshot_service_user_email or UNSET),
            ("SNAPSHOT_SERVICE_USER_PASSWORD", _shown(self.snapshot_service_user_password)),
            ("SNAPSHOT_PASSWORD_KEY", _shown(self.snapshot_password_key)),
            ("SNAPSHOT_USER_PASSWORD_ENCRYPTED", _shown(self.snapshot_user_password_encrypted)),
            ("RESTORE_ENABLED", str(self.restore_enabled).lower()),
            ("RESTORE_DRY_RUN", str(self.restore_dry_run).lower()),
        ]
        return rows


def _masked(key: str, value: Any) -> str:
    return MASK if any(part in key.lower() for part in _SECRET_KEY_PARTS) else str(value)


def _shown(secret: Secret | None) -> str:
    return str(secret) if secret is not None else UNSET


# --------------------------------------------------------------------------------------------- loading


def load_settings(
    cloud: str | None = None, data_dir: str | None = None, env: Mapping[str, str] = os.environ
) -> Settings:
    """Resolve settings: `cloud` (or OS_CLOUD) from clouds.yaml/secure.yaml, else the PF9_* variables.

    Nothing is contacted. `env` is read for every variable; openstacksdk itself also reads
    OS_CLIENT_CONFIG_FILE / OS_CLIENT_SECURE_FILE from os.environ, so keep the two consistent.
    """
    cloud = cloud or env.get("OS_CLOUD") or None
    if cloud:
        base = _from_clouds_yaml(cloud, env)
    elif env.get("PF9_AUTH_URL"):
        base = _from_pf9_env(env)
    else:
        raise ConfigError(_nothing_configured_message(env))
    return Settings(
        **base,
        workspace=workspace(data_dir, env),
        hosts=tuple(h.strip() for h in env.get("PF9_HOSTS", "").split(",") if h.strip()),
        host_map=parse_host_map(env.get("PF9_HOST_MAP", "")),
        snapshot_service_user_email=env.get("SNAPSHOT_SERVICE_USER_EMAIL") or None,
        snapshot_service_user_password=_secret(env, "SNAPSHOT_SERVICE_USER_PASSWORD"),
        snapshot_password_key=_secret(env, "SNAPSHOT_PASSWORD_KEY"),
        snapshot_user_password_encrypted=_secret(env, "SNAPSHOT_USER_PASSWORD_ENCRYPTED"),
        restore_enabled=parse_bool(env, "RESTORE_ENABLED", False),
        restore_dry_run=parse_bool(env, "RESTORE_DRY_RUN", True),
    )


def _secret(env: Mapping[str, str], name: str) -> Secret | None:
    value = env.get(name)
    return Secret(value) if value else None


def parse_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    """A boolean variable: true/false, yes/no, on/off, 1/0 (any case); unset means `default`."""
    if name not in env:
        return default
    value = env[name].strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name}={env[name]!r} is not a boolean: use true or false")


def parse_host_map(text: str) -> dict[str, str]:
    """PF9_HOST_MAP `ip:hostname,ip:hostname` → {ip: hostname}; IPv6 works too (the last colon splits)."""
    result: dict[str, str] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        ip, sep, host = item.rpartition(":")
        try:
            ip = str(ipaddress.ip_address(ip.strip().strip("[]")))
        except ValueError:
            ip = ""
        host = host.strip()
        if not sep or not ip or not _HOSTNAME.match(host):
            raise ConfigError(
                f"PF9_HOST_MAP entry {item!r} is not ip:hostname; "
                "write it as 10.0.0.11:host-a,10.0.0.12:host-b"
            )
        if result.get(ip, host) != host:
            raise ConfigError(f"PF9_HOST_MAP maps {ip} twice ({result[ip]} and {host}); keep one")
        result[ip] = host
    return result


def _check_auth_url(url: str | None, where: str) -> str:
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{where} auth URL {url!r} is not an http(s) URL; "
            "use the Keystone v3 endpoint, e.g. https://HOST/keystone/v3"
        )
    return str(url)


def _from_pf9_env(env: Mapping[str, str]) -> dict[str, Any]:
    missing = [name for name in PF9_REQUIRED if not env.get(name)]
    if missing:
        raise ConfigError(f"PF9_AUTH_URL is set but {', '.join(missing)} not: set them (or use clouds.yaml)")
    auth_url = _check_auth_url(env["PF9_AUTH_URL"], "PF9_AUTH_URL:")
    auth = {
        "auth_url": auth_url,
        "username": env["PF9_USERNAME"],
        "password": env["PF9_PASSWORD"],
        "user_domain_name": env.get("PF9_USER_DOMAIN") or "Default",
        "project_name": env["PF9_PROJECT_NAME"],
        "project_domain_name": env.get("PF9_PROJECT_DOMAIN") or "Default",
    }
    regions = tuple(r.strip() for r in env.get("PF9_REGION_NAME", "").split(",") if r.strip())
    sdk_config = _sdk_config(load_yaml_config=False)

    def factory(region: str | None) -> sdk_cloud_region.CloudRegion:
        if region and regions and region not in regions:
            raise ConfigError(f"region {region!r} is not in PF9_REGION_NAME ({', '.join(regions)})")
        return sdk_config.get_one(
            auth_type="password", auth=dict(auth), region_name=region or "", identity_api_version="3"
        )

    return {
        "cloud": ENV_CLOUD_NAME,
        "source": "PF9_* variables",
        "auth_url": auth_url,
        "regions": regions,
        "region_factory": factory,
    }


def _sdk_config(**kwargs: Any) -> sdk_loader.OpenStackConfig:
    # OS_* variables must not invent an extra "envvars" cloud beside the named one.
    return sdk_loader.OpenStackConfig(
        load_envvars=False, app_name="pf9-workbench", app_version=__version__, **kwargs
    )


def _search_list(env: Mapping[str, str], variable: str, defaults: list[str]) -> list[str]:
    override = env.get(variable)
    if override and not Path(override).is_file():
        raise ConfigError(f"{variable}={override} does not exist: fix the path or unset it")
    return ([override] if override else []) + list(defaults)


def _check_parses(paths: list[str]) -> None:
    """Fail on a malformed first clouds/secure file: openstacksdk would only log it and silently go on."""
    path = next((Path(p) for p in paths if os.path.exists(p)), None)
    if path is None:
        return
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    try:
        json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        started = f" ({exc.context} at line {exc.context_mark.line + 1})" if exc.context_mark else ""
        raise ConfigError(f"{where}: malformed YAML: {exc.problem}{started}; fix the file") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: malformed YAML ({exc}); fix the file") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path}:{exc.lineno}:{exc.colno}: malformed JSON ({exc.msg}); fix the file"
        ) from None


def _load_clouds(env: Mapping[str, str]) -> sdk_loader.OpenStackConfig:
    config_files = _search_list(env, "OS_CLIENT_CONFIG_FILE", sdk_loader.CONFIG_FILES)
    secure_files = _search_list(env, "OS_CLIENT_SECURE_FILE", sdk_loader.SECURE_FILES)
    _check_parses(config_files)
    _check_parses(secure_files)
    try:
        return _sdk_config(config_files=config_files, secure_files=secure_files)
    except openstack.exceptions.ConfigException as exc:
        raise ConfigError(f"{exc}; fix the file") from None


def _searched() -> str:
    dirs = dict.fromkeys(os.path.dirname(p) for p in sdk_loader.CONFIG_FILES)
    return f"OS_CLIENT_CONFIG_FILE, then clouds.yaml in {', '.join(dirs)}"


def _from_clouds_yaml(name: str, env: Mapping[str, str]) -> dict[str, Any]:
    sdk_config = _load_clouds(env)
    if sdk_config.config_filename is None and sdk_config.secure_config_filename is None:
        raise ConfigError(
            f"cloud {name!r} was asked for but no clouds.yaml was found (searched {_searched()})"
        )
    known = ", ".join(sdk_config.get_cloud_names()) or "none"
    file = sdk_config.config_filename or sdk_config.secure_config_filename
    source = f"clouds.yaml {file}"
    if name not in sdk_config.get_cloud_names():
        raise ConfigError(
            f"cloud {name!r} is not defined in {file} (known clouds: {known}); "
            "pass one of them with --cloud or OS_CLOUD"
        )

    def factory(region: str | None) -> sdk_cloud_region.CloudRegion:
        return sdk_config.get_one(cloud=name, region_name=region or "")

    try:
        first = factory(None)
    except (openstack.exceptions.ConfigException, ksa.AuthPluginException) as exc:
        raise ConfigError(f"cloud {name!r} in {source}: {exc}") from None
    auth = first.config.get("auth") or {}
    where = f"cloud {name!r} in {source}:"
    auth_url = _check_auth_url(auth.get("auth_url"), where)
    if first.config.get("auth_type") in (None, "password", "v3password"):
        for key in ("username", "password"):
            if not auth.get(key) and not (key == "username" and auth.get("user_id")):
                raise ConfigError(f"{where} auth.{key} is missing; add it (a password may go in secure.yaml)")
    raw = sdk_config.cloud_config["clouds"][name]
    return {
        "cloud": name,
        "source": source,
        "auth_url": auth_url,
        "regions": _declared_regions(raw),
        "config_file": Path(sdk_config.config_filename) if sdk_config.config_filename else None,
        "region_factory": factory,
    }


def _declared_regions(raw: Mapping[str, Any]) -> tuple[str, ...]:
    """Region names a clouds.yaml entry declares: `regions:` (names or {name, values}) or `region_name`."""
    regions = raw.get("regions") or raw.get("region_name") or []
    if isinstance(regions, str):
        regions = regions.split(",")
    return tuple(str(r["name"] if isinstance(r, dict) else r).strip() for r in regions if r)


def _nothing_configured_message(env: Mapping[str, str]) -> str:
    hint = ""
    try:
        sdk_config = _load_clouds(env)
        known = sdk_config.get_cloud_names() if sdk_config.config_filename else []
        if known:
            hint = f" (clouds.yaml defines: {', '.join(known)})"
    except Pf9Error:
        pass  # the listing is only a hint; the missing cloud name is the error to report
    return (
        f"no cloud named: pass --cloud NAME or set OS_CLOUD{hint}, "
        f"or set {', '.join(PF9_REQUIRED)} (PF9_REGION_NAME optional)"
    )


# --------------------------------------------------------------------------------------------- secrets


def decrypt_service_password(settings: Settings) -> str | None:
    """The snapshot service user's password: plain, or Fernet-decrypted; None when neither is set."""
    from cryptography.fernet import Fernet, InvalidToken

    if settings.snapshot_service_user_password is not None:
        return settings.snapshot_service_user_password.reveal()
    token = settings.snapshot_user_password_encrypted
    if token is None:
        return None
    key = settings.snapshot_password_key
    if key is None:
        raise ConfigError(
            "SNAPSHOT_USER_PASSWORD_ENCRYPTED is set but SNAPSHOT_PASSWORD_KEY is not: "
            "set the Fernet key it was encrypted with (or SNAPSHOT_SERVICE_USER_PASSWORD instead)"
        )
    try:
        fernet = Fernet(key.reveal().encode())
    except ValueError:
        raise ConfigError(
            "SNAPSHOT_PASSWORD_KEY is not a Fernet key (32 url-safe base64-encoded bytes): "
            "set the key SNAPSHOT_USER_PASSWORD_ENCRYPTED was encrypted with"
        ) from None
    try:
        return fernet.decrypt(token.reveal().encode()).decode()
    except (InvalidToken, UnicodeDecodeError):
        raise ConfigError(
            "SNAPSHOT_USER_PASSWORD_ENCRYPTED cannot be decrypted with SNAPSHOT_PASSWORD_KEY (wrong key or "
            "damaged value): set the matching key, or re-encrypt the password with this key"
        ) from None
