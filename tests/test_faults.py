"""Faults end to end, in real processes: killed runs, Ctrl-C, SIGTERM, many writers at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pytest_sacredx import Experiment

    ex = Experiment("longrun")

    @ex.config
    def cfg():
        steps = 1000

    @ex.automain
    def main(steps, _run):
        for i in range(steps):
            print(f"step {i}", flush=True)
            _run.log_scalar("loss", 1.0 / (i + 1))
            if i == 3:
                print("READY", file=sys.stderr, flush=True)
            time.sleep(0.05)
        return "done"
    """
)


def start(tmp_path: Path, *flags: str) -> subprocess.Popen[str]:
    script = tmp_path / "longrun.py"
    script.write_text(SCRIPT)
    proc = subprocess.Popen(
        [sys.executable, str(script), "-b", "0.1", *flags],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stderr is not None
    for line in proc.stderr:  # wait until the run is well under way (EOF if it died)
        if "READY" in line:
            break
    # and until a periodic beat after it reached both stores (a condition, not a sleep: a busy
    # machine may delay the beat thread)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not _beat_stored(tmp_path):
        time.sleep(0.02)
    return proc


def _beat_stored(tmp_path: Path) -> bool:
    """A beat carrying ``step 3`` is in the file store and in the TinyDB store."""
    try:
        cout = (tmp_path / "runs" / "1" / "cout.txt").read_text()
        record = tiny_run(tmp_path)
        return "step 3" in cout and "step 3" in record.captured_out and record.heartbeat is not None
    except (OSError, ValueError):  # not written yet
        return False


def file_run(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "runs" / "1" / "run.json").read_text())


def tiny_run(tmp_path: Path):
    from pytest_sacredx.observers.tinydb_hashfs import TinyDbReader

    (record,) = list(TinyDbReader(str(tmp_path / "db")).list_runs())
    return record


def test_sigkill_leaves_valid_records_marked_running(tmp_path: Path) -> None:
    proc = start(tmp_path, "-F", "runs", "-t", "db")
    proc.kill()
    proc.wait(timeout=30)
    run = file_run(tmp_path)
    assert run["status"] == "RUNNING" and run["heartbeat"] is not None
    for name in ("config.json", "metrics.json", "info.json"):
        path = tmp_path / "runs" / "1" / name
        if path.exists():
            json.loads(path.read_text())  # valid JSON, never half-written
    assert "step 3" in (tmp_path / "runs" / "1" / "cout.txt").read_text()
    record = tiny_run(tmp_path)
    assert record.status == "RUNNING" and record.heartbeat is not None
    import datetime as dt

    later = record.heartbeat + dt.timedelta(minutes=10)
    assert record.effective_status(now=later) == "DEAD"


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupt_saves_partial_output_and_metrics(tmp_path: Path, sig: int, code: int) -> None:
    proc = start(tmp_path, "-F", "runs", "-t", "db")
    os.kill(proc.pid, sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert "Interrupted: run ended with status INTERRUPTED" in err and "Traceback" not in err
    run = file_run(tmp_path)
    assert run["status"] == "INTERRUPTED" and run["stop_time"]
    out = (tmp_path / "runs" / "1" / "cout.txt").read_text()
    last_step = max(int(line.split()[1]) for line in out.splitlines() if line.startswith("step "))
    assert last_step >= 3
    metrics = json.loads((tmp_path / "runs" / "1" / "metrics.json").read_text())
    assert len(metrics["loss"]["values"]) == last_step + 1  # every logged value up to the stop
    record = tiny_run(tmp_path)
    assert record.status == "INTERRUPTED" and len(record.metrics["loss"]["values"]) == last_step + 1


WRITER = textwrap.dedent(
    """
    import sys
    from pytest_sacredx import Experiment
    from pytest_sacredx.observers import FileStorageObserver, TinyDbObserver

    ex = Experiment("writer", interactive=True)
    ex.observers += [FileStorageObserver(sys.argv[1]), TinyDbObserver(sys.argv[2])]

    @ex.main
    def main(i, worker):
        print("run", worker, i)
        return [worker, i]

    for i in range(int(sys.argv[4])):
        ex.run(config_updates={"i": i, "worker": int(sys.argv[3])}, options={"--loglevel": "ERROR", "--force": True})
    """
)


def test_four_processes_two_hundred_runs_each_lose_nothing(tmp_path: Path) -> None:
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    files, db = tmp_path / "runs", tmp_path / "db"
    procs = [
        subprocess.Popen([sys.executable, str(script), str(files), str(db), str(w), "200"], cwd=tmp_path)
        for w in range(4)
    ]
    assert [p.wait(timeout=600) for p in procs] == [0, 0, 0, 0]
    run_dirs = [p for p in files.iterdir() if p.name.isdigit()]
    assert sorted(int(p.name) for p in run_dirs) == list(range(1, 801))
    results = {tuple(json.loads((p / "run.json").read_text())["result"]) for p in run_dirs}
    assert results == {(w, i) for w in range(4) for i in range(200)}
    from pytest_sacredx.observers.tinydb_hashfs import TinyDbReader

    records = list(TinyDbReader(str(db)).list_runs())
    assert len(records) == 800 and {r.status for r in records} == {"COMPLETED"}
    assert {tuple(r.result) for r in records} == results
