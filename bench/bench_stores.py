"""Cost of recording runs into the embedded stores, ours and (optionally) Sacred 0.8.7's.

A "run" is the event sequence the engine sends for a short run: ``started_event``, two
``heartbeat_event`` (with growing captured output), ``completed_event`` — called directly on the
observer, so only the store's cost is measured.

- TinyDB: the cost of the 10th run into a store vs the cost of a run into a store already holding
  ``--runs`` runs (a store whose writes are O(1) has a ratio near 1). The two are timed *interleaved*
  (``--pairs`` samples, medians, equal warm-up) so that CPU stolen by other processes hits both alike. ``runs/s`` and
  ``mean ms`` are over building the big store.
- FileStorage: runs per second into one folder (and the medians of the first and last 20 runs).

Usage::

    python bench/bench_stores.py                       # ours only
    python bench/bench_stores.py --runs 500            # fewer runs
    python bench/bench_stores.py --sacred-python /tmp/sacred-venv/bin/python --sacred-runs 500
        # + Sacred's observers (venv with sacred==0.8.7 tinydb hashfs tinydb-serialization); Sacred's
        # TinyDB store is quadratic, so 2,000 runs take over an hour there

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
    if impl == "sacred":
        return (lambda p: TinyDbObserver.create(p)), (lambda p: FileStorageObserver(p))
    # ours: the append-log store (create(path) would ask for Sacred's format)
    return (lambda p: TinyDbObserver(p)), (lambda p: FileStorageObserver(p))


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


def _setup(impl: str) -> tuple[Any, Any, str, dict[str, Any]]:
    make_tinydb, make_file = observers(impl)
    tmp = tempfile.mkdtemp(prefix=f"bench-{impl}-")
    with open(os.path.join(tmp, "exp.py"), "w") as fh:
        fh.write("from sacred import Experiment\nex = Experiment('bench')\n")
    ex_info = {
        "name": "bench",
        "base_dir": tmp,
        "sources": [("exp.py", "0" * 32)],
        "dependencies": ["numpy==1.26.0"],
        "repositories": [],
        "mainfile": "exp.py",
    }
    return make_tinydb, make_file, tmp, ex_info


def measure_tinydb(impl: str, runs: int, pairs: int) -> dict[str, Any]:
    """Cost of the 10th run vs a run into a store holding ``runs`` runs.

    On a shared machine a few milliseconds of stolen CPU swamp a 0.1 ms run, so the two costs are
    measured *interleaved*: each pair times the 10th run into a fresh store (after 9 untimed runs) and
    then, after the same 9 untimed runs there, a run into the big store (so it holds ``runs`` to
    ``runs + 10 * pairs`` runs), so any slowdown and cache state hit both sides alike; we compare
    medians. (Without the second warm-up the small store is measured cache-hot and the big one cold,
    which shows up as a spurious 20%.)
    """
    make_tinydb, _, tmp, ex_info = _setup(impl)
    big = make_tinydb(os.path.join(tmp, "big"))
    t0 = time.perf_counter()
    build = [one_run(big, ex_info, i) for i in range(runs - 1)]
    build_s = time.perf_counter() - t0
    tenth, nth = [], []
    for k in range(pairs):
        small = make_tinydb(os.path.join(tmp, f"small{k}"))
        for i in range(9):
            one_run(small, ex_info, i)
        tenth.append(one_run(small, ex_info, 9))
        for i in range(
            9
        ):  # the same warm-up on the big store: both timed runs start equally cache-hot
            one_run(big, ex_info, i)
        nth.append(one_run(big, ex_info, runs + k))
    early, late = statistics.median(tenth), statistics.median(nth)
    return {
        "impl": impl,
        "store": "tinydb",
        "runs": runs,
        "early_ms": round(early * 1e3, 4),
        "late_ms": round(late * 1e3, 4),
        "ratio": round(late / early, 3),
        "mean_ms": round(statistics.mean(build) * 1e3, 4),
        "runs_per_s": round((runs - 1) / build_s, 1),
    }


def measure_file(impl: str, runs: int) -> dict[str, Any]:
    """Runs per second into one FileStorage folder (plus the 10th-vs-last medians of 20 runs)."""
    _, make_file, tmp, ex_info = _setup(impl)
    obs = make_file(os.path.join(tmp, "fs"))
    t0 = time.perf_counter()
    costs = [one_run(obs, ex_info, i) for i in range(runs)]
    total = time.perf_counter() - t0
    early, late = statistics.median(costs[:20]), statistics.median(costs[-20:])
    return {
        "impl": impl,
        "store": "file",
        "runs": runs,
        "early_ms": round(early * 1e3, 4),
        "late_ms": round(late * 1e3, 4),
        "ratio": round(late / early, 3),
        "mean_ms": round(statistics.mean(costs) * 1e3, 4),
        "runs_per_s": round(runs / total, 1),
    }


def measure(impl: str, runs: int, store: str, pairs: int) -> dict[str, Any]:
    return measure_tinydb(impl, runs, pairs) if store == "tinydb" else measure_file(impl, runs)


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
    parser.add_argument(
        "--pairs", type=int, default=100, help="interleaved 10th/Nth TinyDB samples"
    )
    parser.add_argument("--sacred-pairs", type=int, default=20)
    parser.add_argument("--json", action="store_true", help="print JSON lines only")
    args = parser.parse_args()
    stores = ["tinydb", "file"] if args.store == "both" else [args.store]

    results = [measure(args.impl, args.runs, s, args.pairs) for s in stores]
    if args.sacred_python:
        cmd = [
            args.sacred_python,
            os.path.abspath(__file__),
            "--impl",
            "sacred",
            "--json",
            "--runs",
            str(args.sacred_runs or args.runs),
            "--pairs",
            str(args.sacred_pairs),
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
