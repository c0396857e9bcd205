"""The recording examples (observers, metrics, iris) run as their docstrings show."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
pytestmark = pytest.mark.slow


def run(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_observers_in_code(tmp_path: Path) -> None:
    proc = run(tmp_path, str(EXAMPLES / "observers.py"), "with", "steps=3", env={"RECORD_TO": "runs"})
    assert proc.returncode == 0, proc.stderr
    assert 'Started run with ID "1"' in proc.stderr
    files = {p.name for p in (tmp_path / "runs" / "1").iterdir()}
    assert {"config.json", "cout.txt", "info.json", "metrics.json", "run.json"} <= files
    run_json = json.loads((tmp_path / "runs" / "1" / "run.json").read_text())
    assert run_json["status"] == "COMPLETED" and run_json["result"] == 3
    assert json.loads((tmp_path / "runs" / "1" / "metrics.json").read_text())["value"]["values"] == [0, 1, 4]
    assert "hello\n" in (tmp_path / "runs" / "1" / "cout.txt").read_text()  # log lines are captured too


def test_observer_flags(tmp_path: Path) -> None:
    assert run(tmp_path, str(EXAMPLES / "observers.py"), "-F", "runs").returncode == 0
    proc = run(tmp_path, str(EXAMPLES / "observers.py"), "-t", "runs_db", "-c", "a comment")
    assert proc.returncode == 0, proc.stderr
    proc = run(tmp_path, str(EXAMPLES / "observers.py"), "-O", "sqlite:///runs.db", "-O", "file:runs")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (tmp_path / "runs").iterdir() if p.name[0] != "_") == ["1", "2"]
    from pytest_sacredx.observers.readers import open_reader

    (tiny,) = list(open_reader(f"tinydb:{tmp_path / 'runs_db'}").list_runs())
    assert tiny.meta["comment"] == "a comment" and tiny.result == 5
    (sql,) = list(open_reader(f"sqlite:///{tmp_path / 'runs.db'}").list_runs())
    assert sql.status == "COMPLETED" and sql.result == 5
    listing = run(tmp_path, "-m", "pytest_sacredx.cli.query", "list", "--store", "tinydb:runs_db")
    assert "observers" in listing.stdout and "COMPLETED" in listing.stdout


def test_metrics_example(tmp_path: Path) -> None:
    proc = run(tmp_path, str(EXAMPLES / "metrics.py"), "-F", "runs", "with", "epochs=4")
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((tmp_path / "runs" / "1" / "metrics.json").read_text())
    assert metrics["loss"]["values"] == pytest.approx([1.0, 0.5, 1 / 3, 0.25])
    assert metrics["loss"]["steps"] == [0, 1, 2, 3]
    assert metrics["accuracy"]["steps"] == [0, 100, 200, 300]


def test_iris_script_with_file_storage(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    proc = run(tmp_path, str(EXAMPLES / "iris_svm.py"), "with", "C=10", "gamma=0.1", "seed=1")
    assert proc.returncode == 0, proc.stderr
    assert 'Started run with ID "1"' in proc.stderr and "Result: 0." in proc.stderr
    stored = json.loads((tmp_path / "my_runs" / "1" / "run.json").read_text())
    assert stored["status"] == "COMPLETED" and 0.8 < stored["result"] <= 1.0
    again = run(tmp_path, str(EXAMPLES / "iris_svm.py"), "with", "C=10", "gamma=0.1", "seed=1")
    assert json.loads((tmp_path / "my_runs" / "2" / "run.json").read_text())["result"] == stored["result"]


def test_iris_sweep_as_in_the_readme(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    proc = run(
        tmp_path, "-m", "pytest", str(EXAMPLES / "iris_svm.py"), "--exp-config", "gamma=0.1,0.7",
        "--exp-config", "C=1,10", "-p", "no:randomly", "--rootdir", str(tmp_path), "-p", "no:cacheprovider",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "4 passed" in proc.stdout and "iris_rbf_svm[C=10-gamma=0.7]" in proc.stdout
    from pytest_sacredx.observers.readers import open_reader

    runs = list(open_reader(f"tinydb:{tmp_path / '.sacredx'}").list_runs())
    assert sorted((r.config["C"], r.config["gamma"]) for r in runs) == [(1, 0.1), (1, 0.7), (10, 0.1), (10, 0.7)]


def test_iris_study_module_passes(tmp_path: Path) -> None:
    """examples/test_iris_svm.py: ordinary tests sweeping the experiment with exp_run."""
    pytest.importorskip("sklearn")
    proc = run(
        tmp_path, "-m", "pytest", str(EXAMPLES / "test_iris_svm.py"), "-p", "no:randomly",
        "--rootdir", str(tmp_path), "-p", "no:cacheprovider", "-q",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "5 passed" in proc.stdout
