"""Cost of recording runs into the embedded stores, ours and (optionally) Sacred 0.8.7's.

A "run" is the event sequence the engine sends for a short run: ``started_event``, two
``heartbeat_event`` (with growing captured output), ``completed_event`` — called directly on the
observer, so only the store's cost is measured. For the TinyDB store we time every run into one growing
store and compare the median cost around the 10th run (runs 1–20) with the median around the last
(the last 20); a store whose writes are O(1) has a ratio near 1. For the FileStorage store we report
runs per second.

Usage::

    python bench/bench_stores.py                       # ours only
    python bench/bench_stores.py --runs 500            # fewer runs
    python bench/bench_stores.py --sacred-python /tmp/sacred-venv/bin/python
                                                       # + Sacred's observers (sacred==0.8.7, hashfs)

The script is self-contained: with ``--impl sacred`` it imports Sacred's observers instead of ours (that
is how it runs itself under the other interpreter), and prints one JSON line per measurement.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def observers(impl: str) -> tuple[Any, Any]:
    """(make_tinydb(path), make_file(path)) for ``ours`` or ``sacred``."""
    if impl == "sacred":
        import warnings

        warnings.simplefilter("ignore")
        from sacred.observers import FileStorageObserver, TinyDbObserver
    else:
        sys.path.insert(0, REPO)
        from pytest_sacredx.observers.file_storage import FileStorageObserver
        from pytest_sacredx.observers.tinydb_hashfs import TinyDbObserver
    return (lambda p: TinyDbObserver.create(p)), (lambda p: FileStorageObserver(p))


def one_run(obs: Any, ex_info: dict[str, Any], i: int) -> float:
    now = dt.datetime.utcnow
    t0 = time.perf_counter()
    obs.started_event(
        ex_info,
        "main",
        {"hostname": "bench", "cpu": "x"},
        now(),
        {"lr": 0.01, "layers": [64, 64], "seed": i},
        {"command": "main", "options": {}},
        None,
    )
    obs.heartbeat_event({"epoch": 1}, "epoch 1 loss 0.5\n", now(), None)
    obs.heartbeat_event({"epoch": 2}, "epoch 1 loss 0.5\nepoch 2 loss 0.4\n", now(), None)
    obs.completed_event(now(), 0.4)
    return time.perf_counter() - t0


def measure(impl: str, runs: int, store: str) -> dict[str, Any]:
    make_tinydb, make_file = observers(impl)
    tmp = tempfile.mkdtemp(prefix=f"bench-{impl}-")
    source = os.path.join(tmp, "exp.py")
    with open(source, "w") as fh:
        fh.write("from sacred import Experiment\nex = Experiment('bench')\n")
    ex_info = {
        "name": "bench",
        "base_dir": tmp,
        "sources": [("exp.py", "0" * 32)],
        "dependencies": ["numpy==1.26.0"],
        "repositories": [],
        "mainfile": "exp.py",
    }
    obs = (
        make_tinydb(os.path.join(tmp, "db"))
        if store == "tinydb"
        else make_file(os.path.join(tmp, "fs"))
    )
    costs = [one_run(obs, ex_info, i) for i in range(runs)]
    window = min(20, max(1, runs // 10))
    early = statistics.median(costs[:window])
    late = statistics.median(costs[-window:])
    return {
        "impl": impl,
        "store": store,
        "runs": runs,
        "early_ms": round(early * 1e3, 4),
        "late_ms": round(late * 1e3, 4),
        "ratio": round(late / early, 3),
        "mean_ms": round(statistics.mean(costs) * 1e3, 4),
        "runs_per_s": round(runs / sum(costs), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument(
        "--sacred-runs", type=int, default=None, help="runs for Sacred (default: --runs)"
    )
    parser.add_argument("--impl", choices=["ours", "sacred"], default="ours")
    parser.add_argument("--store", choices=["tinydb", "file", "both"], default="both")
    parser.add_argument(
        "--sacred-python", default=None, help="a Python with sacred==0.8.7 installed"
    )
    parser.add_argument("--json", action="store_true", help="print JSON lines only")
    args = parser.parse_args()
    stores = ["tinydb", "file"] if args.store == "both" else [args.store]

    results = [measure(args.impl, args.runs, s) for s in stores]
    if args.sacred_python:
        cmd = [
            args.sacred_python,
            os.path.abspath(__file__),
            "--impl",
            "sacred",
            "--json",
            "--runs",
            str(args.sacred_runs or args.runs),
            "--store",
            args.store,
        ]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        results += [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    if args.json:
        for r in results:
            print(json.dumps(r))
        return
    print(
        f"{'impl':7} {'store':7} {'runs':>5} {'~10th ms':>9} {'last ms':>9} {'ratio':>6} {'mean ms':>8} {'runs/s':>8}"
    )
    for r in results:
        print(
            f"{r['impl']:7} {r['store']:7} {r['runs']:5d} {r['early_ms']:9.3f} {r['late_ms']:9.3f} "
            f"{r['ratio']:6.2f} {r['mean_ms']:8.3f} {r['runs_per_s']:8.1f}"
        )


if __name__ == "__main__":
    main()
