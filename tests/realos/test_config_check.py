"""`pf9wb config check` and authentication against real Keystone: good and bad credentials, an application
credential, and tokens that expire while a collect runs."""

from __future__ import annotations

import re
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from pf9lib.collect.inventory import collect_cloud
from pf9lib.store.reader import open_store
from tests.realos.stack import REGION, cloud_entry, keystone_answers

pytestmark = pytest.mark.realos
SERVICES = {"compute", "identity", "image", "network", "placement", "volumev3", "block-storage"}


def _report(stdout: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in re.finditer(r"^(\w[\w ]*?): +(.*)$", stdout, re.M)}


def _one_line_error(result: subprocess.CompletedProcess) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1, (result.returncode, result.stderr)
    return lines[0]


def test_check_with_the_right_credentials_names_user_project_roles_and_catalog(stack):
    result = stack.pf9wb("config", "check", "--cloud", "realos-admin")
    assert result.returncode == 0, result.stderr
    report = _report(result.stdout)
    assert re.fullmatch(r"admin \(\w{32}\) in domain Default", report["user"])
    assert re.fullmatch(r"admin \(\w{32}\) in domain Default", report["project"])
    assert "admin" in report["roles"].split(", ")
    assert report["regions"] == REGION
    public = {
        line.split()[0]: line.split()[-1] for line in result.stdout.split("\n\n", 1)[1].splitlines()[1:]
    }
    assert SERVICES <= set(public)
    assert public["compute"] == "http://127.0.0.1:8774/v2.1"
    assert public["identity"] == "http://127.0.0.1:5000/v3"


def test_check_as_a_member_shows_its_own_project(stack):
    result = stack.pf9wb("config", "check", "--cloud", "realos-demo")
    assert result.returncode == 0, result.stderr
    report = _report(result.stdout)
    assert report["user"].startswith("demo (") and report["project"].startswith("demo (")
    assert report["roles"].split(", ") == ["member", "reader"]  # Keystone's implied role comes along


def test_wrong_password_is_one_line_that_names_user_and_project_and_never_the_password(stack):
    wrong = "wrong-" + uuid.uuid4().hex[:8]
    stack.add_cloud("realos-badpw", cloud_entry(stack.admin_rc, password=wrong))
    try:
        result = stack.pf9wb("config", "check", "--cloud", "realos-badpw")
    finally:
        stack.remove_cloud("realos-badpw")
    line = _one_line_error(result)
    assert "rejected the credentials of user 'admin' in project 'admin' (HTTP 401)" in line
    assert "fix auth.username / auth.password" in line
    assert wrong not in result.stdout + result.stderr


def test_unknown_project_is_rejected_with_its_name(stack):
    stack.add_cloud("realos-noproj", cloud_entry(stack.admin_rc, project_name="no-such-project"))
    try:
        result = stack.pf9wb("config", "check", "--cloud", "realos-noproj")
    finally:
        stack.remove_cloud("realos-noproj")
    line = _one_line_error(result)
    assert "user 'admin' in project 'no-such-project' (HTTP 401)" in line


def test_application_credential_authenticates_as_its_user_and_project(stack, demo, cleanup):
    user_id = demo.current_user_id
    cred = demo.identity.create_application_credential(
        user_id, name=f"pf9wb-{uuid.uuid4().hex[:8]}", description="realos tier", roles=[{"name": "reader"}]
    )
    cleanup.add(
        "delete application credential", lambda: demo.identity.delete_application_credential(user_id, cred)
    )
    entry = {
        "auth_type": "v3applicationcredential",
        "auth": {
            "auth_url": stack.demo_rc["OS_AUTH_URL"],
            "application_credential_id": cred.id,
            "application_credential_secret": cred.secret,
        },
        "region_name": REGION,
    }
    cleanup.add("remove clouds.yaml entry", lambda: stack.remove_cloud("realos-appcred"))
    stack.add_cloud("realos-appcred", entry)
    result = stack.pf9wb("config", "check", "--cloud", "realos-appcred")
    assert result.returncode == 0, result.stderr
    report = _report(result.stdout)
    assert report["user"].startswith(f"demo ({user_id})")
    assert report["project"].startswith("demo (")
    assert report["roles"] == "reader"  # only the roles the credential was given
    assert cred.secret not in result.stdout + result.stderr

    shown = stack.pf9wb("config", "show", "--cloud", "realos-appcred")
    assert shown.returncode == 0 and cred.secret not in shown.stdout
    assert re.search(r"auth\.application_credential_secret +\*{8}", shown.stdout)


# -- a token that expires mid-collect -------------------------------------------------------------------
TOKEN_SECONDS = 8  # long enough for a fresh token to reach a service on 2 busy cores


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _short_token_keystone(stack, workdir: Path) -> tuple[subprocess.Popen, str]:
    """A second Keystone on its own port over the same database and Fernet keys, issuing short-lived tokens.

    The stack's Keystone (and every other test) keeps its one-hour tokens; the services validate the short
    tokens like any other (a Fernet token carries its expiry), so they refuse them once expired.
    """
    conf = (stack.state / "etc/keystone/keystone.conf").read_text()
    assert "\n[token]\n" in conf, "realos-up.sh writes a [token] section"
    conf = conf.replace("\n[token]\n", f"\n[token]\nexpiration = {TOKEN_SECONDS}\n")
    conf = re.sub(r"(?m)^log_dir = .*$", f"log_dir = {workdir}", conf)
    (workdir / "keystone.conf").write_text(conf)
    (workdir / "ks_wsgi.py").write_text(
        "import os, sys\n"
        f"os.environ['OS_KEYSTONE_CONFIG_DIR'] = {str(workdir)!r}\n"
        "sys.argv = sys.argv[:1]  # oslo.config must not parse gunicorn's arguments\n"
        "from keystone.wsgi.api import application  # noqa: E402,F401\n"
    )
    port = _free_port()
    command = [str(stack.bin / "gunicorn"), "-b", f"127.0.0.1:{port}", "-w", "1", "--chdir", str(workdir)]
    command += ["--access-logfile", str(workdir / "access.log"), "ks_wsgi:application"]
    with (workdir / "gunicorn.out").open("w") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v3"
    deadline = time.monotonic() + 120
    while not keystone_answers(url, timeout=2):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise AssertionError(
                f"test Keystone did not start: {(workdir / 'gunicorn.out').read_text()[-800:]}"
            )
        time.sleep(0.5)
    return proc, url


@pytest.fixture
def short_token_keystone(stack, tmp_path):
    workdir = tmp_path / "short-keystone"
    workdir.mkdir()
    proc, url = _short_token_keystone(stack, workdir)
    yield url, workdir / "access.log"
    proc.terminate()
    proc.wait(timeout=30)


def test_collect_completes_when_tokens_expire_mid_run(
    stack, admin, settings, data_dir, short_token_keystone, monkeypatch
):
    url, keystone_log = short_token_keystone
    # keystoneauth renews a token shortly before its expiry by its own clock. Switch that off: the client then
    # keeps a token until a service refuses it (401), as when a token expires or is revoked server-side
    # mid-run, and the collect completes only if keystoneauth authenticates again and repeats the call.
    from keystoneauth1.access import access

    from pf9lib.collect import pager

    monkeypatch.setattr(access.AccessInfo, "will_expire_soon", lambda self, stale_duration=0: False)
    # One listing outlasts the token (a slow page on a big cloud): every call after it holds an expired token.
    paused = []
    real_get_json = pager.get_json

    def slow_first_port_listing(proxy, path, *args, **kwargs):
        if path.endswith("/ports") and not paused:
            paused.append(path)
            time.sleep(TOKEN_SECONDS + 1)
        return real_get_json(proxy, path, *args, **kwargs)

    monkeypatch.setattr(pager, "get_json", slow_first_port_listing)
    refused_before = stack.access_log_count(r'" 401 ')
    stack.add_cloud("realos-short", cloud_entry(stack.admin_rc, auth_url=url))
    try:
        started = time.monotonic()
        result = collect_cloud(settings("realos-short"), data_dir)
        elapsed = time.monotonic() - started
    finally:
        stack.remove_cloud("realos-short")
    assert result.status == "success", [s.error for s in result.stats if s.error]
    issued = [line for line in keystone_log.read_text().splitlines() if "POST /v3/auth/tokens" in line]
    refused = stack.access_log_count(r'" 401 ') - refused_before
    assert elapsed > TOKEN_SECONDS and len(issued) >= 2 and refused >= 1, (elapsed, len(issued), refused)
    servers = open_store(data_dir).sql("SELECT count(*) AS n FROM servers")["n"][0]
    assert servers == len(list(admin.compute.servers(all_projects=True)))
