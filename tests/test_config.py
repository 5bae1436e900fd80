"""Settings: PF9_* variables, clouds.yaml, host map, Fernet password, data dir; `pf9wb config` via the CLI."""

from __future__ import annotations

import datetime
import http.server
import ipaddress
import os
import re
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pf9lib.config import (
    MASK,
    check_cloud,
    connect,
    decrypt_service_password,
    load_settings,
    parse_host_map,
)
from pf9lib.errors import CloudError, ConfigError

REPO = Path(__file__).resolve().parents[1]
PF9WB = Path(sys.executable).parent / "pf9wb"

PF9_ENV = {
    "PF9_AUTH_URL": "https://pf9.example.com/keystone/v3",
    "PF9_USERNAME": "ops@example.com",
    "PF9_PASSWORD": "pf9-pass-Zq81",
    "PF9_PROJECT_NAME": "service",
}


def settings_env(**extra: str) -> dict[str, str]:
    return {**PF9_ENV, **extra}


# ------------------------------------------------------------------------------------ PF9_* variables


def test_pf9_env_builds_password_cloud_region_with_default_domains():
    settings = load_settings(env=settings_env(PF9_REGION_NAME="region-a, region-b"))
    assert settings.cloud == "pf9"
    assert settings.auth_url == "https://pf9.example.com/keystone/v3"
    assert settings.regions == ("region-a", "region-b")
    region = settings.cloud_region()
    assert region.region_name == "region-a"
    assert region.config["auth_type"] == "password"
    assert region.config["auth"] == {
        "auth_url": "https://pf9.example.com/keystone/v3",
        "username": "ops@example.com",
        "password": "pf9-pass-Zq81",
        "user_domain_name": "Default",
        "project_name": "service",
        "project_domain_name": "Default",
    }
    assert settings.cloud_region("region-b").region_name == "region-b"
    with pytest.raises(ConfigError, match="'region-c' is not in PF9_REGION_NAME"):
        settings.cloud_region("region-c")


def test_pf9_env_honours_domains_and_old_settings():
    settings = load_settings(
        env=settings_env(
            PF9_USER_DOMAIN="corp",
            PF9_PROJECT_DOMAIN="tenants",
            PF9_HOSTS="10.0.0.11, 10.0.0.12,",
            PF9_HOST_MAP="10.0.0.11:hv-a,10.0.0.12:hv-b",
            PF9_OUTPUT_DIR="/srv/reports",
            SNAPSHOT_SERVICE_USER_EMAIL="snap@example.com",
            RESTORE_ENABLED="Yes",
            RESTORE_DRY_RUN="false",
        )
    )
    auth = settings.cloud_region().config["auth"]
    assert (auth["user_domain_name"], auth["project_domain_name"]) == ("corp", "tenants")
    assert settings.regions == ()
    assert settings.hosts == ("10.0.0.11", "10.0.0.12")
    assert settings.host_map == {"10.0.0.11": "hv-a", "10.0.0.12": "hv-b"}
    assert settings.output_dir == Path("/srv/reports")
    assert settings.snapshot_service_user_email == "snap@example.com"
    assert (settings.restore_enabled, settings.restore_dry_run) == (True, False)


def test_restore_flags_default_to_disabled_and_dry_run():
    settings = load_settings(env=settings_env())
    assert (settings.restore_enabled, settings.restore_dry_run) == (False, True)
    with pytest.raises(ConfigError, match=r"RESTORE_DRY_RUN='maybe' is not a boolean"):
        load_settings(env=settings_env(RESTORE_DRY_RUN="maybe"))


def test_pf9_env_missing_variables_are_named():
    env = settings_env()
    del env["PF9_PASSWORD"], env["PF9_PROJECT_NAME"]
    with pytest.raises(ConfigError, match=r"PF9_PASSWORD, PF9_PROJECT_NAME not"):
        load_settings(env=env)


def test_pf9_env_rejects_a_non_http_auth_url():
    with pytest.raises(
        ConfigError, match=r"PF9_AUTH_URL: auth URL 'pf9.example.com/keystone' is not an http"
    ):
        load_settings(env=settings_env(PF9_AUTH_URL="pf9.example.com/keystone"))


def test_nothing_configured_says_how_to_configure():
    with pytest.raises(ConfigError, match=r"no cloud named: pass --cloud NAME or set OS_CLOUD.*PF9_AUTH_URL"):
        load_settings(env={})


def test_secrets_never_appear_in_repr_str_or_show():
    secrets = {
        "PF9_PASSWORD": "pf9-pass-Zq81",
        "SNAPSHOT_SERVICE_USER_PASSWORD": "svc-pass-Kx02",
        "SNAPSHOT_PASSWORD_KEY": Fernet.generate_key().decode(),
        "SNAPSHOT_USER_PASSWORD_ENCRYPTED": "gAAAAAencrypted-token-Yv93",
    }
    settings = load_settings(env=settings_env(**secrets))
    shown = repr(settings) + str(settings) + repr(settings.describe())
    for value in secrets.values():
        assert value not in shown
    rows = dict(settings.describe())
    assert rows["auth.password"] == MASK
    assert rows["SNAPSHOT_PASSWORD_KEY"] == MASK
    assert rows["auth.username"] == "ops@example.com"


# ------------------------------------------------------------------------------------ PF9_HOST_MAP


def test_host_map_parses_ipv4_ipv6_and_spacing():
    assert parse_host_map(" 10.0.0.5:host-1 ,10.0.0.6:host-2.dc1,, fd00::7:host-3") == {
        "10.0.0.5": "host-1",
        "10.0.0.6": "host-2.dc1",
        "fd00::7": "host-3",
    }
    assert parse_host_map("") == {}


@pytest.mark.parametrize(
    "bad", ["10.0.0.5", "host-1:10.0.0.5", "10.0.0.300:h", "10.0.0.5:", "10.0.0.5:bad host"]
)
def test_host_map_bad_entry_names_it_and_the_format(bad):
    with pytest.raises(ConfigError) as info:
        parse_host_map(f"10.0.0.1:ok,{bad}")
    assert str(info.value) == (
        f"PF9_HOST_MAP entry {bad!r} is not ip:hostname; write it as 10.0.0.11:host-a,10.0.0.12:host-b"
    )


def test_host_map_conflicting_duplicate_is_an_error():
    assert parse_host_map("10.0.0.5:a,10.0.0.5:a") == {"10.0.0.5": "a"}
    with pytest.raises(ConfigError, match="maps 10.0.0.5 twice"):
        parse_host_map("10.0.0.5:a,10.0.0.5:b")


def test_host_map_error_surfaces_from_load_settings():
    with pytest.raises(ConfigError, match="PF9_HOST_MAP entry 'nope'"):
        load_settings(env=settings_env(PF9_HOST_MAP="nope"))


# ------------------------------------------------------------------------------------ service password


def test_fernet_encrypted_password_decrypts_with_the_right_key():
    key = Fernet.generate_key()
    token = Fernet(key).encrypt(b"svc-S3cret!").decode()
    env = settings_env(SNAPSHOT_PASSWORD_KEY=key.decode(), SNAPSHOT_USER_PASSWORD_ENCRYPTED=token)
    assert decrypt_service_password(load_settings(env=env)) == "svc-S3cret!"


def test_plain_service_password_wins_and_none_when_unset():
    assert decrypt_service_password(load_settings(env=settings_env())) is None
    env = settings_env(SNAPSHOT_SERVICE_USER_PASSWORD="plain-1", SNAPSHOT_USER_PASSWORD_ENCRYPTED="x")
    assert decrypt_service_password(load_settings(env=env)) == "plain-1"


def test_wrong_fernet_key_names_the_variables_and_no_secret():
    right, wrong = Fernet.generate_key(), Fernet.generate_key()
    token = Fernet(right).encrypt(b"svc-S3cret!").decode()
    env = settings_env(SNAPSHOT_PASSWORD_KEY=wrong.decode(), SNAPSHOT_USER_PASSWORD_ENCRYPTED=token)
    with pytest.raises(ConfigError) as info:
        decrypt_service_password(load_settings(env=env))
    message = str(info.value)
    assert "SNAPSHOT_USER_PASSWORD_ENCRYPTED cannot be decrypted with SNAPSHOT_PASSWORD_KEY" in message
    for secret in (right.decode(), wrong.decode(), token, "svc-S3cret!"):
        assert secret not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_malformed_or_missing_fernet_key():
    with pytest.raises(ConfigError, match="SNAPSHOT_PASSWORD_KEY is not a Fernet key") as info:
        decrypt_service_password(
            load_settings(
                env=settings_env(SNAPSHOT_PASSWORD_KEY="short-key", SNAPSHOT_USER_PASSWORD_ENCRYPTED="t")
            )
        )
    assert "short-key" not in str(info.value)
    with pytest.raises(ConfigError, match="SNAPSHOT_PASSWORD_KEY is not"):
        decrypt_service_password(load_settings(env=settings_env(SNAPSHOT_USER_PASSWORD_ENCRYPTED="t")))


# ------------------------------------------------------------------------------------ data directory


def test_data_dir_precedence(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_settings(env=settings_env()).data_dir == tmp_path / "data"
    assert load_settings(env=settings_env()).output_dir == tmp_path / "data" / "reports"
    env = settings_env(PF9WB_DATA_DIR=str(tmp_path / "from-env"))
    assert load_settings(env=env).data_dir == tmp_path / "from-env"
    assert load_settings(data_dir="rel/arg", env=env).data_dir == tmp_path / "rel" / "arg"


# ------------------------------------------------------------------------------------ clouds.yaml


def write_clouds(path: Path, clouds: dict) -> Path:
    path.write_text(yaml.safe_dump({"clouds": clouds}))
    return path


def cloud_entry(auth_url: str, password: str = "yaml-pass-Pw77", **extra) -> dict:
    auth = {"auth_url": auth_url, "username": "admin", "password": password, "project_name": "admin"}
    auth |= {"user_domain_name": "Default", "project_domain_name": "Default"}
    return {"auth": auth, **extra}


def test_clouds_yaml_cloud_wins_over_pf9_env_and_declares_regions(tmp_path, monkeypatch):
    monkeypatch.delenv("OS_CLIENT_CONFIG_FILE", raising=False)
    monkeypatch.delenv("OS_CLIENT_SECURE_FILE", raising=False)
    clouds = write_clouds(
        tmp_path / "clouds.yaml",
        {"prod": cloud_entry("http://keystone.example:5000/v3", regions=["east", "west"])},
    )
    env = settings_env(OS_CLIENT_CONFIG_FILE=str(clouds), OS_CLOUD="prod")
    settings = load_settings(env=env)
    assert (settings.cloud, settings.regions, settings.config_file) == ("prod", ("east", "west"), clouds)
    assert settings.auth_url == "http://keystone.example:5000/v3"
    assert settings.cloud_region("west").region_name == "west"
    with pytest.raises(ConfigError, match="north is not a valid region name"):
        settings.cloud_region("north")
    assert "yaml-pass-Pw77" not in repr(settings)


# ------------------------------------------------------------------------------------ the real CLI


def cli_env(**extra: str) -> dict[str, str]:
    prefixes = ("OS_", "PF9_", "PF9WB_", "SNAPSHOT_", "RESTORE_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env["PYTHONPATH"] = str(REPO)
    return {**env, **extra}


def pf9wb(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    cmd = [str(PF9WB)] if PF9WB.exists() else [sys.executable, "-m", "pf9lib.cli"]
    return subprocess.run([*cmd, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


def assert_one_line_error(result: subprocess.CompletedProcess, pattern: str) -> str:
    assert result.returncode != 0, result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("pf9wb: error: ")
    assert re.search(pattern, lines[0]), lines[0]
    assert result.stdout == ""
    return lines[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_cli_malformed_clouds_yaml_names_file_and_line(tmp_path):
    bad = tmp_path / "clouds.yaml"
    bad.write_text("clouds:\n  prod:\n    auth: {auth_url: http://x/v3\n      username: u\n")
    result = pf9wb(
        "config", "check", env=cli_env(OS_CLIENT_CONFIG_FILE=str(bad), OS_CLOUD="prod"), cwd=tmp_path
    )
    line = assert_one_line_error(result, rf"{re.escape(str(bad))}:\d+:\d+: malformed YAML")
    assert result.returncode == 2
    assert "line 3" in line  # where the unclosed flow mapping starts


def test_cli_unknown_cloud_lists_known_clouds_and_file(tmp_path):
    clouds = write_clouds(
        tmp_path / "clouds.yaml", {"alpha": cloud_entry("http://a/v3"), "beta": cloud_entry("http://b/v3")}
    )
    result = pf9wb(
        "config", "check", "--cloud", "gamma", env=cli_env(OS_CLIENT_CONFIG_FILE=str(clouds)), cwd=tmp_path
    )
    line = assert_one_line_error(result, r"cloud 'gamma' is not defined in ")
    assert f"{clouds} (known clouds: alpha, beta)" in line
    assert result.returncode == 2


def test_cli_no_cloud_and_no_pf9_variables(tmp_path):
    result = pf9wb("config", "check", env=cli_env(), cwd=tmp_path)
    assert_one_line_error(result, r"no cloud named: pass --cloud NAME or set OS_CLOUD, or set PF9_AUTH_URL")


def test_cli_closed_port_is_reported_as_refused(tmp_path):
    port = free_port()
    env = cli_env(**settings_env(PF9_AUTH_URL=f"http://127.0.0.1:{port}/v3"))
    line = assert_one_line_error(pf9wb("config", "check", env=env, cwd=tmp_path), r"refused")
    assert f"connection to 127.0.0.1:{port} refused (http://127.0.0.1:{port}/v3)" in line
    assert "pf9-pass-Zq81" not in line


def make_self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


class QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        pass  # failed handshakes are the point of these tests


@pytest.fixture
def https_server(tmp_path) -> Iterator[tuple[int, Path]]:
    """A local HTTPS server with a self-signed certificate: (port, certificate file)."""
    cert, key = make_self_signed(tmp_path)
    server = QuietServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], cert
    server.shutdown()
    server.server_close()


def test_cli_self_signed_certificate_suggests_cacert(tmp_path, https_server):
    port, _cert = https_server
    clouds = write_clouds(tmp_path / "clouds.yaml", {"tls": cloud_entry(f"https://127.0.0.1:{port}/v3")})
    result = pf9wb(
        "config", "check", "--cloud", "tls", env=cli_env(OS_CLIENT_CONFIG_FILE=str(clouds)), cwd=tmp_path
    )
    line = assert_one_line_error(result, rf"TLS certificate of 127.0.0.1:{port} could not be verified")
    assert "self-signed certificate" in line
    assert "cacert: /path/to/ca.pem" in line and "verify: false" in line


def test_cli_https_url_on_plain_http_port(tmp_path):
    server = QuietServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        env = cli_env(**settings_env(PF9_AUTH_URL=f"https://127.0.0.1:{port}/v3"))
        line = assert_one_line_error(pf9wb("config", "check", env=env, cwd=tmp_path), "does not speak TLS")
        url = f"https://127.0.0.1:{port}/v3"
        assert line.endswith(f"{url} does not speak TLS on 127.0.0.1:{port}: use http:// or the HTTPS port")
    finally:
        server.shutdown()
        server.server_close()


def test_cli_show_masks_secrets(tmp_path):
    env = cli_env(**settings_env(SNAPSHOT_SERVICE_USER_PASSWORD="svc-pass-Kx02", PF9_HOST_MAP="10.1.1.1:hv1"))
    result = pf9wb("config", "show", "--data-dir", str(tmp_path / "d"), env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "pf9-pass-Zq81" not in result.stdout and "svc-pass-Kx02" not in result.stdout
    rows = dict(line.split(maxsplit=1) for line in result.stdout.splitlines())
    assert rows["auth.password"] == MASK
    assert rows["SNAPSHOT_SERVICE_USER_PASSWORD"] == MASK
    assert rows["data_dir"] == str(tmp_path / "d")
    assert rows["PF9_HOST_MAP"] == "10.1.1.1:hv1"
    assert rows["PF9_HOSTS"] == "(not set)"


# ------------------------------------------------------------------------------------ the simulated cloud


@pytest.mark.integration
def test_cli_check_against_the_simulated_cloud(sim, tmp_path):
    env = cli_env(OS_CLIENT_CONFIG_FILE=str(sim.clouds_yaml))
    result = pf9wb("config", "check", "--cloud", sim.cloud_name, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    out = result.stdout.splitlines()
    assert re.match(r"user: +admin \(\w+\) in domain Default$", out[2]), out[2]
    project = re.match(r"project: +admin \((\w+)\) in domain Default$", out[3])
    assert project, out[3]
    assert out[5] == f"regions:  {', '.join(sorted(sim.regions))}"
    table = [line.split() for line in out[out.index("") + 1 :]]
    assert table[0] == ["SERVICE", "NAME", "REGION", "PUBLIC", "URL"]
    rows = {(row[0], row[2]): row[3] for row in table[1:]}
    for region in sim.regions:
        assert rows[("compute", region)] == f"{sim.base_url}/{region}/compute/v2.1"
        assert rows[("identity", region)] == sim.auth_url
        assert rows[("network", region)].startswith(f"{sim.base_url}/{region}/network")
        assert rows[("image", region)].startswith(f"{sim.base_url}/{region}/image")
        assert rows[("volumev3", region)] == f"{sim.base_url}/{region}/volume/v3/{project.group(1)}"
    assert {region for _, region in rows} == set(sim.regions)


@pytest.mark.integration
def test_check_cloud_report_against_the_simulated_cloud(sim, monkeypatch):
    monkeypatch.delenv("OS_CLIENT_SECURE_FILE", raising=False)
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(sim.clouds_yaml))
    settings = load_settings(cloud=sim.cloud_name, env={"OS_CLIENT_CONFIG_FILE": str(sim.clouds_yaml)})
    report = check_cloud(settings)
    assert (report.user_name, report.project_name, report.user_domain) == ("admin", "admin", "Default")
    assert "admin" in report.roles
    assert report.regions == sorted(sim.regions)
    assert {e.interface for e in report.endpoints} >= {"public"}
    compute = [e for e in report.public_endpoints() if e.service_type == "compute"]
    assert sorted(e.url for e in compute) == sorted(f"{sim.base_url}/{r}/compute/v2.1" for r in sim.regions)
    response = connect(settings, sim.regions[-1]).compute.get("/flavors")
    assert response.status_code == 200 and response.json()["flavors"]


@pytest.mark.integration
def test_cli_check_with_pf9_variables_against_the_simulated_cloud(sim, tmp_path):
    config = yaml.safe_load(Path(sim.clouds_yaml).read_text())["clouds"][sim.cloud_name]
    env = cli_env(
        PF9_AUTH_URL=sim.auth_url,
        PF9_USERNAME=config["auth"]["username"],
        PF9_PASSWORD=config["auth"]["password"],
        PF9_PROJECT_NAME="admin",
        PF9_REGION_NAME=",".join(sim.regions),
    )
    result = pf9wb("config", "check", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "cloud:    pf9 (PF9_* variables)"
    assert f"compute        nova      {sim.regions[0]}" in result.stdout


@pytest.mark.integration
def test_cli_wrong_password_on_the_simulated_cloud(sim, tmp_path):
    config = yaml.safe_load(Path(sim.clouds_yaml).read_text())
    config["clouds"][sim.cloud_name]["auth"]["password"] = "definitely-wrong-Qq5"
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text(yaml.safe_dump(config))
    result = pf9wb(
        "config",
        "check",
        "--cloud",
        sim.cloud_name,
        env=cli_env(OS_CLIENT_CONFIG_FILE=str(clouds)),
        cwd=tmp_path,
    )
    line = assert_one_line_error(
        result, r"rejected the credentials of user 'admin' in project 'admin' \(HTTP 401\)"
    )
    assert line.startswith(f"pf9wb: error: {sim.auth_url} rejected")
    assert f"cloud '{sim.cloud_name}' in clouds.yaml {clouds}" in line
    assert "definitely-wrong-Qq5" not in line
    assert result.returncode == 1


def test_check_cloud_wraps_unreachable_as_cloud_error():
    settings = load_settings(env=settings_env(PF9_AUTH_URL=f"http://127.0.0.1:{free_port()}/v3"))
    with pytest.raises(CloudError, match="refused"):
        check_cloud(settings)
