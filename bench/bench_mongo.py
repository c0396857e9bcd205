"""Runs per second of the MongoObserver into a MongoDB wire server: ours, and Sacred 0.8.7's.

A "run" is the event sequence the engine sends for a short run, called directly on the observer so only
the store's cost is measured: ``started_event`` (one source file), two ``heartbeat_event`` (growing
captured output), one ``log_metrics`` (10 values of one metric), ``completed_event`` with a float result.
Each repetition writes N runs, at most ``--per-db`` (9) into each fresh database, and times only the
events; repetitions of the two sides alternate (each side in its own interpreter), and we report the
median runs/s per side and the ratio.

Why 9 runs per database: Sacred 0.8.7 takes the next ``_id`` from ``find().sort("_id", -1)``, and the
nx-27017 wire server sorts ``_id`` as text ("9" > "10"), so Sacred's 11th run in one database retries on
``DuplicateKeyError`` forever. Ours asks for the maximum among numeric ids (``$type: number``) and steps
to the next id on a clash, so it has no such limit (``--per-db 100000`` measures ours alone that way).

Usage::

    nx-27017 --host 127.0.0.1 -p 27117 --db memory --log-file /tmp/nx.log --pid-file /tmp/nx.pid &
    python bench/bench_mongo.py                                   # ours only
    python bench/bench_mongo.py --sacred-python /tmp/sacred-venv/bin/python --runs 200 --repeat 5
    # that venv: python -m venv /tmp/sacred-venv && /tmp/sacred-venv/bin/pip install sacred==0.8.7 pymongo

``--url`` (default ``$SACREDX_MONGO_URL``, ``$SACREDX_MONGO_WIRE_URL`` or ``mongodb://127.0.0.1:27117``)
picks the server. With ``--impl sacred|ours --once`` the script runs one repetition of one side and prints
one JSON line (that is how it runs itself under the other interpreter).
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
import uuid
from typing import Any

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_URL = (
    os.environ.get("SACREDX_MONGO_URL")
    or os.environ.get("SACREDX_MONGO_WIRE_URL")
    or "mongodb://127.0.0.1:27117"
)


def make_observer(impl: str, client: Any, db_name: str) -> Any:
    if impl == "sacred":
        from sacred.observers import MongoObserver
    else:
        sys.path.insert(0, REPO)
        from pytest_sacredx.observers.mongo import MongoObserver
    return MongoObserver(client=client, db_name=db_name)


def one_repetition(impl: str, url: str, runs: int, per_db: int) -> float:
    """Seconds spent in the events of ``runs`` runs, ``per_db`` runs per fresh database."""
    import pymongo

    client: Any = pymongo.MongoClient(url, serverSelectionTimeoutMS=5000)
    source_text = b"print('experiment')\n"
    databases: list[str] = []
    elapsed = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "exp.py"), "wb") as fh:
            fh.write(source_text)
        ex_info = {
            "name": "bench",
            "base_dir": tmp,
            "sources": [("exp.py", hashlib.md5(source_text).hexdigest())],
            "dependencies": ["numpy==1.26.0", "pytest==8.0.0"],
            "repositories": [],
            "mainfile": "exp.py",
        }
        host = {"hostname": "box", "os": ["Linux", "Linux-6"], "python_version": "3.11", "cpu": "x"}
        meta = {"command": "main", "options": {}, "named_configs": []}
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        metrics = {"loss": {"name": "loss", "steps": list(range(10)), "values": [0.5] * 10,
                            "timestamps": [now] * 10}}
        try:
            done = 0
            while done < runs:
                batch = min(per_db, runs - done)
                db_name = f"bench_{impl}_{uuid.uuid4().hex[:8]}"
                databases.append(db_name)
                observer = make_observer(impl, client, db_name)
                start = time.perf_counter()
                for i in range(batch):
                    info: dict[str, Any] = {}
                    observer.started_event(ex_info, "main", host, now, {"i": i, "lr": 0.1}, meta,
                                           None)
                    observer.heartbeat_event(info, "line\n", now, None)
                    observer.log_metrics(metrics, info)
                    observer.heartbeat_event(info, "line\nline\n", now, None)
                    observer.completed_event(now, 0.5 + i)
                elapsed += time.perf_counter() - start
                stored = client[db_name]["runs"].count_documents({})
                if stored != batch:
                    raise RuntimeError(f"{impl}: {stored} runs stored in {db_name}, expected {batch}")
                done += batch
        finally:
            for db_name in databases:
                client.drop_database(db_name)
            client.close()
    return elapsed


def run_side(python: str, impl: str, url: str, runs: int, per_db: int) -> float:
    cmd = [python, os.path.abspath(__file__), "--impl", impl, "--once", "--url", url,
           "--runs", str(runs), "--per-db", str(per_db)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=600).stdout
    return float(json.loads(out.strip().splitlines()[-1])["runs_per_s"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--per-db", type=int, default=9,
                        help="runs per fresh database (see the module docstring for why 9)")
    parser.add_argument("--impl", choices=["ours", "sacred"], default="ours")
    parser.add_argument("--once", action="store_true", help="one repetition of --impl, as JSON")
    parser.add_argument("--sacred-python", help="interpreter with sacred==0.8.7 and pymongo")
    args = parser.parse_args(argv)
    if args.once:
        one_repetition(args.impl, args.url, 5, args.per_db)  # warm-up: imports, connection
        seconds = one_repetition(args.impl, args.url, args.runs, args.per_db)
        print(json.dumps({"impl": args.impl, "runs_per_s": args.runs / seconds}))
        return 0
    sides = [("ours", sys.executable)]
    if args.sacred_python:
        sides.append(("sacred", args.sacred_python))
    rates: dict[str, list[float]] = {name: [] for name, _ in sides}
    for _ in range(args.repeat):  # interleaved, so drift on a shared machine hits both sides alike
        for name, python in sides:
            rates[name].append(run_side(python, name, args.url, args.runs, args.per_db))
    label = {"ours": "pytest-sacredx MongoObserver", "sacred": "Sacred 0.8.7 MongoObserver "}
    print(f"server: {args.url}; {args.runs} runs per repetition ({args.per_db} per database), "
          f"{args.repeat} repetitions")
    for name, values in rates.items():
        print(f"{label[name]}: {statistics.median(values):7.1f} runs/s "
              f"(all: {[round(v, 1) for v in values]})")
    if "sacred" in rates:
        ratio = statistics.median(rates["ours"]) / statistics.median(rates["sacred"])
        print(f"ratio ours/Sacred: {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
