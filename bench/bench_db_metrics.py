"""100,000 ``log_scalar`` calls in one run recorded into PostgreSQL and MongoDB: calls per second.

The time is the whole ``ex.run()`` — start, the calls, the final flush into the database and the
completion — and the stored series is read back to check that every value arrived. Needs the servers
that ``.ci/services.sh`` starts (``$SACREDX_PG_URL``, ``$SACREDX_MONGO_WIRE_URL``, or a real MongoDB in
``$SACREDX_MONGO_URL``)::

    source .ci/services.sh && services_start
    python bench/bench_db_metrics.py --calls 100000 --repeat 3
    python bench/bench_db_metrics.py --sacred-python bench/.venv-sacred/bin/python   # + Sacred's Mongo

Sacred's SqlObserver stores no metrics, so only its MongoObserver can be compared.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid


def measure(impl: str, backend: str, url: str, calls: int) -> float:
    if impl == "sacred":
        from sacred import Experiment
        from sacred.observers import MongoObserver
    else:
        from pytest_sacredx import Experiment
        from pytest_sacredx.observers import MongoObserver, SqlObserver
    ex = Experiment("db_metrics", interactive=True)

    @ex.main
    def main(_run):
        for i in range(calls):
            _run.log_scalar("loss", i * 0.5)

    if backend == "mongo":
        db = "bench_" + uuid.uuid4().hex[:10]
        ex.observers.append(MongoObserver(url=url, db_name=db))
    else:
        ex.observers.append(SqlObserver(url))
    t0 = time.perf_counter()
    run = ex.run(options={"--loglevel": "ERROR"})
    elapsed = time.perf_counter() - t0
    if impl == "ours":
        record = ex.observers[0].load_run(run._id)
        stored = len(record.metrics["loss"]["values"])
        assert stored == calls, f"{stored} of {calls} values stored"
    return calls / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--impl", choices=["ours", "sacred"], default="ours")
    parser.add_argument("--backend", choices=["pg", "mongo"])
    parser.add_argument("--sacred-python", help="interpreter with sacred==0.8.7 and pymongo")
    args = parser.parse_args()
    pg = os.environ.get("SACREDX_PG_URL")
    mongo = os.environ.get("SACREDX_MONGO_URL") or os.environ.get("SACREDX_MONGO_WIRE_URL")
    if args.backend:  # one measurement in this interpreter, as JSON (used for Sacred's side)
        url = pg if args.backend == "pg" else mongo
        print(json.dumps(measure(args.impl, args.backend, url or "", args.calls)))
        return 0
    rows = []
    for backend, url in (("pg", pg), ("mongo", mongo)):
        if not url:
            print(f"{backend}: no server URL in the environment (source .ci/services.sh && services_start)")
            continue
        ours = [measure("ours", backend, url, args.calls) for _ in range(args.repeat)]
        line = f"{backend:6s} ours {statistics.median(ours):12,.0f} calls/s"
        if backend == "mongo" and args.sacred_python:
            sacred = []
            for _ in range(args.repeat):
                out = subprocess.run(
                    [args.sacred_python, __file__, "--impl", "sacred", "--backend", "mongo",
                     "--calls", str(args.calls)], capture_output=True, text=True, check=True,
                )
                sacred.append(json.loads(out.stdout.strip().splitlines()[-1]))
            ratio = statistics.median(ours) / statistics.median(sacred)
            line += f"   Sacred 0.8.7 {statistics.median(sacred):12,.0f} calls/s   ratio {ratio:.2f}"
        rows.append(line)
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
