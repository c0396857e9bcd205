"""``sacredx`` against MLflow: finding runs, and the HTML report, side by side in one invocation.

- Stores: N runs (20 config keys, 3 metrics of 100 steps, a result) recorded through our observers into
  TinyDB, FileStorage and SQLite, and the same values into MLflow's SQLite store
  (``workloads/mlflow_store.py`` in ``bench/.venv-mlflow``, made by ``mlflow_env.py`` on first use).
- Query: ``sacredx runs --where 'config.gamma > 0.5' --format csv`` as a whole process (what a user
  waits for), against ``mlflow.search_runs`` timed inside its process (import and start-up not
  counted, which favours MLflow) plus the ``gamma > 0.5`` filter on its DataFrame — MLflow refuses
  ``params.gamma > '0.5'`` (params compare with =, !=, LIKE only). Both sides must keep the same rows.
  Also printed: the same command timed inside its process after its imports (like for like with
  MLflow's side), and both sides as whole processes.
- Linearity: the query on the TinyDB store at each ``--scale`` size; ms per run should stay flat.
- Report: ``sacredx report`` of the N-run TinyDB store: seconds and megabytes.

Usage::

    python bench/bench_query.py                         # 10,000 runs; linearity 1,000/10,000/100,000
    python bench/bench_query.py --runs 2000 --scale 500,2000 --repeat 1    # a quick look
    python bench/bench_query.py --json bench/results/query.json

Figures are medians of ``--repeat`` runs; the machine is shared, so read ratios, not absolutes.
Stores are kept in ``--workdir`` (default ``bench/results/query-stores``) and reused when present.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))
WHERE = "config.gamma > 0.5"


def values(i: int) -> tuple[dict[str, float], dict[str, list[float]], float]:
    """The same draws as ``workloads/mlflow_store.py``."""
    rnd = random.Random(i)
    config = {"gamma": rnd.random(), **{f"k{j:02d}": rnd.random() for j in range(19)}}
    metrics = {m: [rnd.random() for _ in range(100)] for m in ("loss", "acc", "lr")}
    return config, metrics, rnd.random()


def record(observer: Any, runs: int) -> None:
    ex = {"name": "bench", "base_dir": str(REPO), "sources": [], "dependencies": [],
          "repositories": [], "mainfile": None}
    host = {"hostname": "bench", "os": ["Linux", "Linux"], "python_version": "3", "cpu": "x", "ENV": {}}
    t0 = dt.datetime(2024, 1, 1)
    for i in range(runs):
        config, metrics, result = values(i)
        start = t0 + dt.timedelta(seconds=i)
        meta = {"command": "main", "options": {"--seed": i}, "named_configs": [],
                "config_updates": {"gamma": config["gamma"]}}
        observer.started_event(ex, "main", host, start, config, meta, None)
        observer.log_metrics({m: {"name": m, "steps": list(range(100)), "values": vs,
                                  "timestamps": [start + dt.timedelta(milliseconds=10 * s)
                                                 for s in range(100)]}
                              for m, vs in metrics.items()}, {})
        observer.heartbeat_event({}, "", start + dt.timedelta(seconds=1), result)
        observer.completed_event(start + dt.timedelta(seconds=1), result)


#: what a reused store must have been written with: stores of an older writer are recorded again
#: (2: final metric values stored with a run's end — TinyDB's fin, SQL's metric_finals)
STORE_FORMAT = "2"


def make_store(kind: str, folder: Path, runs: int) -> str:
    """A store of ``runs`` runs (reused when a complete one of this writer's format is there);
    returns its URI."""
    done = folder / f"{kind}-{runs}.done"
    path = folder / f"{kind}-{runs}"
    uri = {"tinydb": f"tinydb:{path}", "file": f"file:{path}", "sqlite": f"sqlite:///{path}.db"}[kind]
    if done.exists() and done.read_text() == STORE_FORMAT:
        return uri
    if path.exists():
        shutil.rmtree(path)
    if Path(f"{path}.db").exists():
        os.unlink(f"{path}.db")
    t = time.perf_counter()
    if kind == "tinydb":
        from pytest_sacredx.observers.tinydb_hashfs import TinyDbObserver

        path.mkdir(parents=True)
        observer: Any = TinyDbObserver(path)
    elif kind == "file":
        from pytest_sacredx.observers.file_storage import FileStorageObserver

        observer = FileStorageObserver(path)
    else:
        from pytest_sacredx.observers.sql import SqlObserver

        observer = SqlObserver(uri)
    record(observer, runs)
    print(f"  recorded {runs} runs into {kind} in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    done.write_text(STORE_FORMAT)
    return uri


def expected_rows(runs: int) -> int:
    return sum(1 for i in range(runs) if values(i)[0]["gamma"] > 0.5)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_query(uri: str, repeat: int, runs: int) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "pytest_sacredx.cli.query", "runs", "--where", WHERE, "--format",
           "csv", "--store", uri]
    times = []
    cpu = []
    for _ in range(repeat):
        t, c = time.perf_counter(), _children_cpu()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        times.append(time.perf_counter() - t)
        cpu.append(_children_cpu() - c)
        if proc.returncode != 0:
            raise SystemExit(f"sacredx failed: {proc.stderr}")
        rows = proc.stdout.count("\n") - 1
        if rows != expected_rows(runs):
            raise SystemExit(f"sacredx kept {rows} rows, expected {expected_rows(runs)}")
    return {"s": statistics.median(times), "cpu_s": statistics.median(cpu), "all_s": times,
            "rows": rows}


_IN_PROCESS = """
import contextlib, io, json, sys, time
from pytest_sacredx.cli import query
out = io.StringIO()
t, c = time.perf_counter(), time.process_time()
with contextlib.redirect_stdout(out):
    query.main(["runs", "--where", sys.argv[1], "--format", "csv", "--store", sys.argv[2]])
print(json.dumps({"s": time.perf_counter() - t, "cpu_s": time.process_time() - c,
                  "rows": out.getvalue().count("\\n") - 1}))
"""


def time_in_process(uri: str, repeat: int, runs: int) -> dict[str, Any]:
    """The same command timed inside its process after its imports, as MLflow's side is timed."""
    results = []
    for _ in range(repeat):
        proc = subprocess.run([sys.executable, "-c", _IN_PROCESS, WHERE, uri], capture_output=True,
                              text=True, check=True)
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        if results[-1]["rows"] != expected_rows(runs):
            raise SystemExit(f"sacredx (in process) kept {results[-1]['rows']} rows")
    return {"s": statistics.median(r["s"] for r in results),
            "cpu_s": statistics.median(r["cpu_s"] for r in results)}


def mlflow_side(folder: Path, runs: int, repeat: int) -> dict[str, Any]:
    from mlflow_env import ensure_mlflow_venv

    python = str(ensure_mlflow_venv())
    script = str(BENCH / "workloads" / "mlflow_store.py")
    db = folder / f"mlflow-{runs}.db"
    done = folder / f"mlflow-{runs}.done"
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{db}"}
    if not done.exists():
        if db.exists():
            db.unlink()
        t = time.perf_counter()
        subprocess.run([python, script, "create", "--db", str(db), "--runs", str(runs)], check=True,
                       env=env, capture_output=True)
        print(f"  recorded {runs} runs into MLflow in {time.perf_counter() - t:.0f} s", file=sys.stderr)
        done.write_text("")
    results = []
    for _ in range(repeat):
        t = time.perf_counter()
        proc = subprocess.run([python, script, "search", "--db", str(db)], capture_output=True,
                              text=True, env=env)
        wall = time.perf_counter() - t
        if proc.returncode != 0:
            raise SystemExit(f"mlflow search failed: {proc.stderr[-2000:]}")
        data = json.loads(proc.stdout.strip().splitlines()[-1])
        data["process_s"] = wall
        results.append(data)
    if results[0]["rows"] != expected_rows(runs):
        raise SystemExit(f"MLflow kept {results[0]['rows']} rows, expected {expected_rows(runs)}")
    return {
        "s": statistics.median(r["search_s"] + r["filter_s"] for r in results),
        "cpu_s": statistics.median(r["search_cpu_s"] + r["filter_cpu_s"] for r in results),
        "process_s": statistics.median(r["process_s"] for r in results),
        "rows": results[0]["rows"],
        "refused": results[0]["refused"],
    }


def time_report(uri: str, folder: Path, repeat: int) -> dict[str, Any]:
    out = folder / "report.html"
    cmd = [sys.executable, "-m", "pytest_sacredx.cli.query", "report", "--store", uri, "-o", str(out)]
    times, cpu = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), _children_cpu()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - t)
        cpu.append(_children_cpu() - c)
    return {"s": statistics.median(times), "cpu_s": statistics.median(cpu),
            "mb": out.stat().st_size / 1e6}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--scale", default="1000,10000,100000", help="sizes for the linearity check")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--stores", default="tinydb,file,sqlite")
    parser.add_argument("--no-mlflow", action="store_true")
    parser.add_argument("--workdir", default=str(BENCH / "results" / "query-stores"))
    parser.add_argument("--json", default=None, help="also write every figure here")
    args = parser.parse_args(argv)
    folder = Path(args.workdir)
    folder.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(REPO))
    figures: dict[str, Any] = {"runs": args.runs, "where": WHERE, "query": {}, "scale": {}}
    print(f"stores of {args.runs} runs in {folder} …", file=sys.stderr)
    uris = {kind: make_store(kind, folder, args.runs) for kind in args.stores.split(",")}
    for kind, uri in uris.items():
        figures["query"][kind] = time_query(uri, args.repeat, args.runs)
        figures["query"][kind]["in_process"] = time_in_process(uri, args.repeat, args.runs)
    if not args.no_mlflow:
        figures["query"]["mlflow"] = mlflow_side(folder, args.runs, args.repeat)
    for size in (int(s) for s in args.scale.split(",") if s):
        uri = make_store("tinydb", folder, size)
        figures["scale"][size] = time_query(uri, max(1, args.repeat if size <= args.runs else 1), size)
    if "tinydb" in uris:
        figures["report"] = time_report(uris["tinydb"], folder, args.repeat)

    print(f"\nsacredx runs --where '{WHERE}' --format csv, {args.runs} runs "
          f"(20 config keys, 3 metrics × 100 steps); {figures['query'][next(iter(uris))]['rows']} rows kept")
    ml = figures["query"].get("mlflow")
    print("whole process: our command as a user runs it, against MLflow's search_runs timed inside its "
          "process (favours MLflow);\nin process: both timed after their imports; processes: both "
          "whole processes")
    print(f"{'store':<22}{'wall s':>9}{'cpu s':>9}{'in-process s':>14}"
          f"{'vs MLflow: whole, in-process, processes':>42}")
    for kind in uris:
        f = figures["query"][kind]
        inside = f["in_process"]
        ratio = (f"{ml['s'] / f['s']:.1f}×, {ml['s'] / inside['s']:.1f}×, "
                 f"{ml['process_s'] / f['s']:.1f}× faster") if ml else ""
        print(f"{kind:<22}{f['s']:>9.2f}{f['cpu_s']:>9.2f}{inside['s']:>14.2f}{ratio:>42}")
    if ml:
        print(f"{'MLflow search_runs':<22}{ml['s']:>9.2f}{ml['cpu_s']:>9.2f}{ml['s']:>14.2f}   (whole "
              f"process {ml['process_s']:.1f} s; refused the filter: {ml['refused'][:50]}…)")
    print("\nlinearity (TinyDB, whole command): " + ", ".join(
        f"{n:,} runs {f['cpu_s']:.2f} cpu s = {1000 * f['cpu_s'] / n:.3f} ms/run"
        for n, f in figures["scale"].items()))
    if "report" in figures:
        r = figures["report"]
        print(f"sacredx report of {args.runs} runs: {r['s']:.2f} s wall, {r['cpu_s']:.2f} s cpu, "
              f"{r['mb']:.1f} MB")
    load = os.getloadavg()[0]
    print(f"(load average {load:.1f} on {os.cpu_count()} cores: wall seconds stretch with it, cpu "
          "seconds much less)")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
