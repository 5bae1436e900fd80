"""`python -m pf9sim` is the simulator's own command line; `pf9wb sim` is the same one under pf9wb's name."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PF9WB = str(Path(sys.executable).parent / "pf9wb")
COMMANDS = ("serve", "clouds-yaml", "summary", "advance", "mutate", "delete", "faults", "expire-tokens")
UNREACHABLE = "http://127.0.0.1:1"  # nothing listens on port 1


def _run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def test_pf9wb_sim_offers_exactly_the_commands_of_python_m_pf9sim() -> None:
    own = _run(sys.executable, "-m", "pf9sim", "--help")
    under_pf9wb = _run(PF9WB, "sim", "--help")
    assert own.returncode == under_pf9wb.returncode == 0
    for command in COMMANDS:
        assert f"\n    {command}" in own.stdout
    # The same text but for the program name and the description only `python -m pf9sim` shows.
    description = own.stdout.split("\n\n")[1]
    assert description.startswith("The simulated OpenStack cloud")
    own_text = own.stdout.replace(description + "\n\n", "").replace("python -m pf9sim", "pf9wb sim")
    assert own_text == under_pf9wb.stdout


def test_sub_command_help_passes_through_pf9wb() -> None:
    result = _run(PF9WB, "sim", "serve", "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: pf9wb sim serve [-h] [--size {tiny,small,large,xl}]")


def test_each_names_an_unreachable_simulator_in_one_line_under_its_own_name() -> None:
    own = _run(sys.executable, "-m", "pf9sim", "summary", "--url", UNREACHABLE)
    under_pf9wb = _run(PF9WB, "sim", "summary", "--url", UNREACHABLE)
    assert own.returncode == under_pf9wb.returncode == 1
    message = f"error: cannot reach the simulated cloud at {UNREACHABLE}"
    assert own.stderr.startswith(f"pf9sim: {message}") and own.stderr.count("\n") == 1
    assert under_pf9wb.stderr.startswith(f"pf9wb: {message}") and under_pf9wb.stderr.count("\n") == 1


def test_the_tests_cloud_runs_as_python_m_pf9sim_serve(sim) -> None:
    assert sim.process.proc.args[1:4] == ["-m", "pf9sim", "serve"]
