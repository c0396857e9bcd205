"""Faults for the embedded stores: many processes writing one store at once, and a writer SIGKILLed mid-run.

Each worker is a separate Python process that plays full event sequences (the stores must hold up
across processes, not just threads). Workers wait for a start signal so that they really overlap.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytest_sacredx.observers.file_storage import FileStorageReader
from pytest_sacredx.observers.tinydb_hashfs import TinyDbReader

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]

WORKER = r"""
import datetime as dt, os, sys, time
kind, path, n, tag, mode, go = sys.argv[1:7]
if kind == "file":
    from pytest_sacredx.observers.file_storage import FileStorageObserver as Obs
else:
    from pytest_sacredx.observers.tinydb_hashfs import TinyDbObserver as Obs
obs = Obs(path)
ex = {"name": "worker" + tag, "base_dir": "/", "sources": [], "dependencies": []}
while not os.path.exists(go):
    time.sleep(0.001)
now = dt.datetime.utcnow
for i in range(int(n)):
    run_id = obs.started_event(ex, "main", {"hostname": tag}, now(), {"worker": tag, "i": i}, {}, None)
    obs.log_metrics({"loss": {"name": "loss", "steps": [0], "values": [1.0], "timestamps": [now()]}}, {})
    obs.heartbeat_event({"i": i}, "out %d\n" % i, now(), None)
    if mode == "hang":
        print("ready", run_id, flush=True)
        out, step = "out 0\n", 0
        while True:  # keep writing until killed
            step += 1
            out += "step %d %s\n" % (step, "x" * (step % 500))
            obs.log_metrics({"loss": {"name": "loss", "steps": [step], "values": [1.0 / step],
                                      "timestamps": [now()]}}, {"step": step})
            obs.heartbeat_event({"step": step, "pad": "y" * (step % 300)}, out, now(), step)
    obs.heartbeat_event({"i": i}, "out %d\nend\n" % i, now(), i)
    obs.completed_event(now(), i)
"""


def spawn(
    kind: str, path: Path, n: int, tag: str, go: Path, mode: str = "full"
) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, kind, str(path), str(n), tag, mode, str(go)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def reader_for(kind: str, path: Path) -> FileStorageReader | TinyDbReader:
    return FileStorageReader(path) if kind == "file" else TinyDbReader(path)


def assert_all_json_valid(kind: str, path: Path) -> None:
    """Every JSON file parses; in line-based files only a torn *last* line may fail to."""
    if kind == "file":
        for p in path.rglob("*.json"):
            json.loads(p.read_text(encoding="utf-8"))
        line_files = list(path.rglob("metrics.jsonl"))
    else:
        line_files = [path / "metadata.json"]
    for p in line_files:
        lines = p.read_bytes().split(b"\n")
        for line in lines[:-1]:
            json.loads(line)


@pytest.mark.parametrize("kind", ["file", "tinydb"])
def test_four_processes_two_hundred_runs_each(tmp_path: Path, kind: str) -> None:
    store = tmp_path / "store"
    if kind == "tinydb":
        store.mkdir()
    go = tmp_path / "go"
    workers = [spawn(kind, store, 200, str(w), go) for w in range(4)]
    time.sleep(0.5)  # let them import and wait at the start line
    go.touch()
    for w in workers:
        out, err = w.communicate(timeout=300)
        assert w.returncode == 0, err
    assert_all_json_valid(kind, store)
    runs = list(reader_for(kind, store).list_runs())
    assert len(runs) == 800
    assert len({r.id for r in runs}) == 800
    assert {r.status for r in runs} == {"COMPLETED"}
    per_worker = {}
    for r in runs:
        per_worker.setdefault(r.config["worker"], []).append(r.config["i"])
        assert r.result == r.config["i"]
        assert r.captured_out == f"out {r.config['i']}\nend\n"
        assert r.metrics["loss"]["values"] == [1.0]
    assert {w: sorted(v) for w, v in per_worker.items()} == {
        str(w): list(range(200)) for w in range(4)
    }
    if kind == "file":
        assert sorted(int(r.id) for r in runs) == list(range(1, 801))


@pytest.mark.parametrize("kind", ["file", "tinydb"])
def test_sigkill_mid_run_leaves_a_readable_running_run(tmp_path: Path, kind: str) -> None:
    store = tmp_path / "store"
    if kind == "tinydb":
        store.mkdir()
    go = tmp_path / "go"
    go.touch()
    victim = spawn(kind, store, 1, "victim", go, mode="hang")
    assert victim.stdout is not None
    line = victim.stdout.readline()
    assert line.startswith("ready"), victim.stderr.read() if victim.stderr else ""
    killed_id = line.split()[1]
    time.sleep(0.4)  # it is now looping over heartbeats and metrics
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    assert victim.returncode == -signal.SIGKILL

    assert_all_json_valid(kind, store)
    rec = reader_for(kind, store).load_run(killed_id)
    assert rec.status == "RUNNING"
    assert rec.heartbeat is not None and rec.heartbeat >= rec.start_time
    assert rec.captured_out.startswith("out 0\n")
    assert rec.metrics["loss"]["values"][0] == 1.0

    # the store stays usable by the next writer (a torn TinyDB append is cut off)
    nxt = spawn(kind, store, 3, "next", go)
    _, err = nxt.communicate(timeout=120)
    assert nxt.returncode == 0, err
    assert_all_json_valid(kind, store)
    runs = list(reader_for(kind, store).list_runs())
    assert [r.status for r in runs] == ["RUNNING", "COMPLETED", "COMPLETED", "COMPLETED"]
    if kind == "tinydb":
        for raw in (store / "metadata.json").read_bytes().splitlines():
            json.loads(raw)


def test_many_processes_start_runs_at_once_in_one_file_store(tmp_path: Path) -> None:
    """Sacred pain point #1: simultaneous launches each get a distinct run directory."""
    store = tmp_path / "store"
    go = tmp_path / "go"
    workers = [spawn("file", store, 5, str(w), go) for w in range(12)]
    time.sleep(0.8)
    go.touch()
    for w in workers:
        _, err = w.communicate(timeout=120)
        assert w.returncode == 0, err
    ids = sorted(int(r.id) for r in FileStorageReader(store).list_runs())
    assert ids == list(range(1, 61))
