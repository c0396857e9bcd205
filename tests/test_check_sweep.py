"""``sacredx check-sweep`` as a command line (pytest_sacredx/cli/check_sweep.py): real subprocesses."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from plugin_helpers import NO_HYPOTHESIS, TOY

BASE = ["-p", "no:randomly", "-p", "no:xdist", "-p", "no:cacheprovider", *NO_HYPOTHESIS]
SWEEP = ["exp_toy.py", "--exp-config", "C=1,2,3,4"]


def sacredx(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest_sacredx.cli.query", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def pytest_run(cwd: Path, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    proc = subprocess.run([sys.executable, "-m", "pytest", *BASE, *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def sharded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two shards of one sweep, each in its own store, and the expected cases (read-only for tests)."""
    path = tmp_path_factory.mktemp("sharded")
    (path / "exp_toy.py").write_text(TOY)
    for i in (1, 2):
        pytest_run(path, *SWEEP, "--exp-shard", f"{i}/2", "--exp-sweep-id", "sw", "--exp-observer",
                   f"tinydb:store{i}")
    pytest_run(path, *SWEEP, "--collect-only", "-q", "--exp-list-cases", "cases.txt")
    return path


@pytest.mark.slow
def test_the_union_of_two_shard_stores_passes(sharded: Path) -> None:
    proc = sacredx(sharded, "check-sweep", "sw", "--expect-cases", "cases.txt", "--store", "tinydb:store1",
                   "--store", "tinydb:store2")
    assert proc.returncode == 0, proc.stderr
    assert "4 expected cases, 4 recorded (COMPLETED 4)" in proc.stdout and proc.stdout.rstrip().endswith("OK")
    proc = sacredx(sharded, "check-sweep", "sw", "--expect-cases", "cases.txt", "--store", "tinydb:store1",
                   "--store", "tinydb:store2", "--json")
    data = json.loads(proc.stdout)
    assert data["ok"] and data["missing"] == [] and data["statuses"] == {"COMPLETED": 4}


@pytest.mark.slow
def test_one_shard_alone_is_incomplete_and_exits_1(sharded: Path) -> None:
    proc = sacredx(sharded, "check-sweep", "sw", "--store", "tinydb:store1", "--from-collect", "--", *SWEEP)
    assert proc.returncode == 1, proc.stderr
    assert "missing (" in proc.stdout and proc.stdout.rstrip().endswith("FAILED")


@pytest.mark.slow
def test_a_shard_run_twice_is_duplicated(sharded: Path, tmp_path: Path) -> None:
    sharded = Path(shutil.copytree(sharded, tmp_path / "copy"))
    pytest_run(sharded, *SWEEP, "--exp-shard", "1/2", "--exp-sweep-id", "sw", "--exp-observer", "tinydb:store2")
    args = ["check-sweep", "sw", "--expect-cases", "cases.txt", "--store", "tinydb:store1", "--store",
            "tinydb:store2"]
    proc = sacredx(sharded, *args)
    assert proc.returncode == 1 and "duplicated (" in proc.stdout
    assert sacredx(sharded, *args, "--allow-reruns").returncode == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["check-sweep", "sw", "--expect-cases", "nope.txt"], "Error: cannot read the expected cases 'nope.txt'"),
        (["check-sweep", "sw", "--expect-cases", "cases.txt", "--store", "tinydb:absent"],
         "Error: cannot read tinydb:absent"),
        (["check-sweep", "nosuch", "--expect-cases", "cases.txt", "--store", "tinydb:store1"],
         "sweep 'nosuch' is not in the store; recent sweeps: sw"),
        (["check-sweep", "sw", "--expect-cases", "cases.txt", "--", "x.py"], "Error: unexpected arguments 'x.py'"),
        (["check-sweep", "sw", "--store", "tinydb:store1", "--from-collect", "--", "missing.py"],
         "ERROR: file or directory not found: missing.py"),
    ],
)
@pytest.mark.slow
def test_bad_input_is_one_error_and_exit_2(sharded: Path, args: list[str], message: str) -> None:
    proc = sacredx(sharded, *args)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_expect_cases_or_from_collect_is_required(tmp_path: Path) -> None:
    proc = sacredx(tmp_path, "check-sweep", "sw")
    assert proc.returncode == 2 and "one of the arguments --expect-cases --from-collect is required" in proc.stderr
