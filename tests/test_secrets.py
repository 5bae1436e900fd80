"""No secret lands in an artefact: after a history with snapshot runs through a Fernet-encrypted service
password, an admin action, the scheduled reports, a workbook and the textfile, no file the workbench wrote
(store, reports, executed notebooks, HTML, logs, textfile) holds a password, the Fernet key or the token."""

from __future__ import annotations

import os

import pytest
from cryptography.fernet import Fernet

from pf9lib import scheduling
from pf9lib.actions import admin_flavors, apply
from pf9lib.config import load_settings
from pf9lib.demo import SIM_SERVICE_USER, build_history
from pf9lib.identity import cli_identity
from pf9lib.reports.rvtools import export_rvtools
from pf9lib.store.reader import open_store
from pf9sim.client import ADMIN_PASSWORD

pytestmark = pytest.mark.integration
CONFIG_FILES = {"clouds.yaml"}  # the cloud's credentials, kept where the operator put them: not an artefact


def test_no_artefact_holds_a_password_or_the_fernet_key(fresh_sim, tmp_path, monkeypatch):
    key = Fernet.generate_key().decode()
    service_password = SIM_SERVICE_USER["SNAPSHOT_SERVICE_USER_PASSWORD"]
    token = Fernet(key.encode()).encrypt(service_password.encode()).decode()
    monkeypatch.setenv("SNAPSHOT_SERVICE_USER_EMAIL", SIM_SERVICE_USER["SNAPSHOT_SERVICE_USER_EMAIL"])
    monkeypatch.setenv("SNAPSHOT_SERVICE_USER_PASSWORD", "")
    monkeypatch.setenv("SNAPSHOT_USER_PASSWORD_ENCRYPTED", token)
    monkeypatch.setenv("SNAPSHOT_PASSWORD_KEY", key)
    data = tmp_path / "data"
    build_history(fresh_sim.process, data, days=3)
    env = {
        **os.environ,
        **fresh_sim.env(),
        "OS_CLIENT_CONFIG_FILE": str(data / "clouds.yaml"),
        "OS_CLOUD": "pf9sim",
    }
    settings = load_settings(cloud="pf9sim", data_dir=str(data), env=env)
    who = cli_identity(data)
    plan = admin_flavors.plan_flavor_create(settings, who, "m1.secret-test", 1, 256, 1)
    assert apply(settings, plan.plan_id, who).status == "succeeded"
    for job in scheduling.load_jobs():
        if job.notebook is not None and job.name in ("inventory_report", "snapshot_sla_report"):
            assert scheduling.run_job(job, data).status == "success", job.name
    export_rvtools(open_store(data), data / "reports" / "rvtools")
    secrets = {
        "admin password": ADMIN_PASSWORD,
        "service password": service_password,
        "Fernet key": key,
        "encrypted password": token,
    }
    written = [p for p in data.rglob("*") if p.is_file() and p.name not in CONFIG_FILES]
    kinds = {p.suffix for p in written}
    assert {".parquet", ".ipynb", ".html", ".xlsx", ".csv", ".prom", ".log", ".json"} <= kinds, kinds
    leaks = []
    for path in written:
        blob = path.read_bytes()
        leaks += [
            f"{name} in {path.relative_to(data)}" for name, value in secrets.items() if value.encode() in blob
        ]
    assert leaks == []
