"""The workspace: where the workbench keeps and finds its own things, resolved without any cloud.

Data directory (the store, drift rules, roles, branding), report directory, the jobs file, the scheduled
notebooks and the dashboards. Each comes from an explicit argument, else an environment variable, else a
default; the notebooks that ship with the workbench are found in the installed package (package data) or, in
a source checkout, beside it. The cloud settings (clouds.yaml / PF9_*) are pf9lib.config's, and separate.

| what            | variable             | default                                              |
|-----------------|----------------------|------------------------------------------------------|
| data directory  | PF9WB_DATA_DIR       | ./data                                               |
| reports         | PF9_OUTPUT_DIR       | <data>/reports                                       |
| scheduled jobs  | PF9WB_SCHEDULED_DIR  | the packaged scheduled/ (jobs.yaml and notebooks)    |
| jobs file       | PF9WB_JOBS           | <scheduled>/jobs.yaml                                |
| dashboards      | PF9WB_DASHBOARDS_DIR | the packaged dashboards/                             |
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pf9lib.errors import ConfigError

DEFAULT_DATA_DIR = "data"
_SOURCE_ROOT = Path(__file__).resolve().parents[1]  # a source checkout keeps scheduled/ and dashboards/ here


def shipped_dir(name: str) -> Path:
    """A directory the workbench ships (`scheduled` or `dashboards`): the installed package data, else the
    source checkout's. A ConfigError says how to point at one when neither exists."""
    # The notebooks' directories are data packages without __init__.py: find_spec gives their directory (an
    # editable install maps only real packages, so there the checkout's directory is used).
    spec = importlib.util.find_spec(f"pf9lib.{name}")
    for location in (spec.submodule_search_locations or []) if spec else []:
        if Path(location).is_dir():
            return Path(location)
    local = _SOURCE_ROOT / name
    if local.is_dir():
        return local
    variable = f"PF9WB_{name.upper()}_DIR"
    raise ConfigError(f"no {name}/ directory is installed with pf9lib: set {variable} to one")


def _dir(env: Mapping[str, str], variable: str) -> Path | None:
    value = env.get(variable)
    if not value:
        return None
    path = Path(value).expanduser().resolve()
    if not path.is_dir():
        raise ConfigError(f"{variable}={value} is not a directory: fix the path or unset it")
    return path


@dataclass(frozen=True)
class Workspace:
    data_dir: Path
    reports_dir: Path
    scheduled_dir: Path
    jobs_file: Path
    dashboards_dir: Path

    @property
    def roles_file(self) -> Path:
        return self.data_dir / "access" / "roles.yaml"

    @property
    def branding_file(self) -> Path:
        return self.data_dir / "branding.yaml"

    @property
    def textfile(self) -> Path:
        return self.data_dir / "metrics" / "pf9wb.prom"


def resolve_data_dir(data_dir: str | Path | None = None, env: Mapping[str, str] = os.environ) -> Path:
    """The data directory: the argument, else PF9WB_DATA_DIR, else ./data (absolute)."""
    return Path(data_dir or env.get("PF9WB_DATA_DIR") or DEFAULT_DATA_DIR).expanduser().resolve()


def workspace(data_dir: str | Path | None = None, env: Mapping[str, str] = os.environ) -> Workspace:
    """Resolve the workspace (nothing is created or contacted)."""
    data = resolve_data_dir(data_dir, env)
    output = env.get("PF9_OUTPUT_DIR")
    scheduled = _dir(env, "PF9WB_SCHEDULED_DIR") or _lazy_shipped("scheduled")
    jobs = scheduled / "jobs.yaml"
    if env.get("PF9WB_JOBS"):
        jobs = Path(env["PF9WB_JOBS"]).expanduser().resolve()
    dashboards = _dir(env, "PF9WB_DASHBOARDS_DIR") or _lazy_shipped("dashboards")
    return Workspace(
        data_dir=data,
        reports_dir=Path(output).expanduser().resolve() if output else data / "reports",
        scheduled_dir=scheduled,
        jobs_file=jobs,
        dashboards_dir=dashboards,
    )


def _lazy_shipped(name: str) -> Path:
    """The shipped directory, or where it would be (an error is raised only when it is used)."""
    try:
        return shipped_dir(name)
    except ConfigError:
        return _SOURCE_ROOT / name
