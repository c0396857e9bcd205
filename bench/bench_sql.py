"""Runs per second of the SQL observer on SQLite: ours, and (optionally) Sacred 0.8.7's.

A "run" is the event sequence the engine sends for a short run, called directly on the observer so only
the store's cost is measured: ``started_event``, two ``heartbeat_event`` (growing captured output), one
``log_metrics`` (10 values), ``completed_event`` with a float result. N runs go into one SQLite file
(a fresh file per repetition); we report the median runs/s over the repetitions, and the ratio when
Sacred's side ran. Sacred's ``log_metrics`` is a no-op (its SQL observer drops metrics), so its figure
includes no metric writes while ours does.

Usage::

    python bench/bench_sql.py                          # ours only
    python bench/bench_sql.py --runs 200 --repeat 5
    python bench/bench_sql.py --sacred-python /tmp/sacred-venv/bin/python
    # that venv: python -m venv /tmp/sacred-venv && /tmp/sacred-venv/bin/pip install sacred==0.8.7 'sqlalchemy<2'

Self-contained: with ``--impl sacred`` it imports Sacred's observer instead of ours (that is how it runs
itself under the other interpreter) and prints one JSON line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_observer(impl: str, url: str) -> Any:
    if impl == "sacred":
        from sacred.observers import SqlObserver
    else:
        sys.path.insert(0, REPO)
        from pytest_sacredx.observers.sql import SqlObserver
    return SqlObserver(url)


def one_repetition(impl: str, runs: int) -> float:
    """Seconds for ``runs`` runs into a fresh SQLite file."""
    with tempfile.TemporaryDirectory() as tmp:
        source = os.path.join(tmp, "exp.py")
        with open(source, "w") as fh:
            fh.write("print('experiment')\n")
        ex_info = {
            "name": "bench",
            "base_dir": tmp,
            "sources": [("exp.py", hashlib.md5(b"print('experiment')\n").hexdigest())],
            "dependencies": ["numpy==1.26.0", "pytest==8.0.0"],
            "repositories": [],
            "mainfile": "exp.py",
        }
        host = {"hostname": "box", "os": ["Linux", "Linux-6"], "python_version": "3.11", "cpu": "x"}
        meta = {"command": "main", "options": {}, "named_configs": [], "priority": 0, "comment": ""}
        observer = make_observer(impl, f"sqlite:///{os.path.join(tmp, 'runs.db')}")
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        metrics = {
            "loss": {"name": "loss", "steps": list(range(10)), "values": [0.5] * 10,
                     "timestamps": [now] * 10},
        }  # fmt: skip
        start = time.perf_counter()
        for i in range(runs):
            observer.started_event(ex_info, "main", host, now, {"i": i, "lr": 0.1}, meta, None)
            observer.heartbeat_event({}, "line\n", now, None)
            observer.log_metrics(metrics, {})
            observer.heartbeat_event({}, "line\nline\n", now, None)
            observer.completed_event(now, 0.5 + i)
        return time.perf_counter() - start


def measure(impl: str, runs: int, repeat: int) -> dict[str, Any]:
    one_repetition(impl, 5)  # warm-up: imports, first table creation
    seconds = [one_repetition(impl, runs) for _ in range(repeat)]
    rates = [runs / s for s in seconds]
    return {"impl": impl, "runs": runs, "repeat": repeat, "median_runs_per_s": statistics.median(rates),
            "all_runs_per_s": [round(r, 1) for r in rates]}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--impl", choices=["ours", "sacred"], default="ours")
    parser.add_argument("--sacred-python", help="interpreter with sacred==0.8.7 and sqlalchemy<2")
    args = parser.parse_args(argv)
    if args.impl == "sacred":
        print(json.dumps(measure("sacred", args.runs, args.repeat)))
        return 0
    ours = measure("ours", args.runs, args.repeat)
    print(f"pytest-sacredx SqlObserver (SQLite): {ours['median_runs_per_s']:.1f} runs/s "
          f"(median of {ours['all_runs_per_s']})")  # fmt: skip
    if args.sacred_python:
        cmd = [args.sacred_python, os.path.abspath(__file__), "--impl", "sacred",
               "--runs", str(args.runs), "--repeat", str(args.repeat)]  # fmt: skip
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        sacred = json.loads(out.strip().splitlines()[-1])
        print(f"Sacred 0.8.7 SqlObserver (SQLite):   {sacred['median_runs_per_s']:.1f} runs/s "
              f"(median of {sacred['all_runs_per_s']})")  # fmt: skip
        print(f"ratio ours/Sacred: {ours['median_runs_per_s'] / sacred['median_runs_per_s']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
