"""MLflow's side of the query benchmark; runs in ``bench/.venv-mlflow`` (see ``bench/mlflow_env.py``).

    python mlflow_store.py create --db F.db --runs N     # N runs like bench_query.py's, into MLflow's SQLite store
    python mlflow_store.py search --db F.db              # time mlflow.search_runs + the gamma > 0.5 filter

``create`` logs the first run through MLflow's own API (so the schema, the tags and the row layout are
MLflow's), then writes the other runs as copies of its rows with their own run ids, params and metric
values (MLflow's API costs ~0.25 s a run here: 10,000 runs would take most of an hour). The config,
metric and result values are drawn exactly as ``bench_query.py`` draws ours (``random.Random(i)``).

``search`` prints one JSON line: the seconds ``mlflow.search_runs`` took (``search_s``), with the
``params.gamma > 0.5`` filter applied to the DataFrame (``filter_s``) — MLflow's grammar refuses
``params.gamma > '0.5'`` (params allow only =, !=, LIKE, ILIKE) — the rows kept, and what the refused
filter said.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import time
import uuid


def values(i: int) -> tuple[dict[str, float], dict[str, list[float]], float]:
    """The run's config (20 keys), 3 metrics of 100 steps and result: as bench_query.py draws them."""
    rnd = random.Random(i)
    config = {"gamma": rnd.random(), **{f"k{j:02d}": rnd.random() for j in range(19)}}
    metrics = {m: [rnd.random() for _ in range(100)] for m in ("loss", "acc", "lr")}
    return config, metrics, rnd.random()


def create(db: str, runs: int) -> None:
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    exp = client.create_experiment("bench")
    t0 = 1_700_000_000_000
    config, metrics, result = values(0)
    first = client.create_run(exp, start_time=t0).info.run_id
    client.log_batch(
        first,
        metrics=[Metric(m, v, t0 + s, s) for m, vs in metrics.items() for s, v in enumerate(vs)]
        + [Metric("result", result, t0 + 100, 0)],
        params=[Param(k, repr(v)) for k, v in config.items()],
    )
    client.set_terminated(first, end_time=t0 + 1000)
    con = sqlite3.connect(db)

    def columns(table: str) -> list[str]:
        return [r[1] for r in con.execute(f"PRAGMA table_info({table})")]

    run_cols = columns("runs")
    template = dict(zip(run_cols, con.execute("SELECT * FROM runs WHERE run_uuid=?", (first,)).fetchone(),
                        strict=True))
    tag_cols = columns("tags")
    tags = [dict(zip(tag_cols, row, strict=True))
            for row in con.execute("SELECT * FROM tags WHERE run_uuid=?", (first,))]
    metric_cols = columns("metrics")
    latest_cols = columns("latest_metrics")
    with con:
        for i in range(1, runs):
            rid = uuid.UUID(int=random.Random(-i).getrandbits(128)).hex
            config, metrics, result = values(i)
            start = t0 + i * 1000
            row = dict(template, run_uuid=rid, name=f"run-{i}", start_time=start, end_time=start + 1000)
            if "artifact_uri" in row and row["artifact_uri"]:
                row["artifact_uri"] = str(row["artifact_uri"]).replace(first, rid)
            con.execute(f"INSERT INTO runs ({','.join(run_cols)}) VALUES ({','.join('?' * len(run_cols))})",
                        [row[c] for c in run_cols])
            con.executemany(f"INSERT INTO tags ({','.join(tag_cols)}) VALUES ({','.join('?' * len(tag_cols))})",
                            [[dict(t, run_uuid=rid)[c] for c in tag_cols] for t in tags])
            con.executemany("INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)",
                            [(k, repr(v), rid) for k, v in config.items()])
            points = [(m, v, start + s, rid, s, 0) for m, vs in metrics.items() for s, v in enumerate(vs)]
            points.append(("result", result, start + 100, rid, 0, 0))
            mrows = [dict(zip(("key", "value", "timestamp", "run_uuid", "step", "is_nan"), p, strict=True))
                     for p in points]
            con.executemany(f"INSERT INTO metrics ({','.join(metric_cols)}) VALUES "
                            f"({','.join('?' * len(metric_cols))})",
                            [[r.get(c) for c in metric_cols] for r in mrows])
            last = {}
            for r in mrows:
                last[r["key"]] = r
            con.executemany(f"INSERT INTO latest_metrics ({','.join(latest_cols)}) VALUES "
                            f"({','.join('?' * len(latest_cols))})",
                            [[r.get(c) for c in latest_cols] for r in last.values()])
    con.close()


def search(db: str) -> None:
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{db}")
    exp = mlflow.get_experiment_by_name("bench")
    refused = ""
    try:
        mlflow.search_runs(experiment_ids=[exp.experiment_id], filter_string="params.gamma > '0.5'")
    except Exception as e:  # MLflow: params compare with =, != and LIKE only
        refused = str(e).splitlines()[0]
    t, c = time.perf_counter(), time.process_time()
    frame = mlflow.search_runs(experiment_ids=[exp.experiment_id])
    search_s, search_cpu_s = time.perf_counter() - t, time.process_time() - c
    t, c = time.perf_counter(), time.process_time()
    kept = frame[frame["params.gamma"].astype(float) > 0.5]
    filter_s, filter_cpu_s = time.perf_counter() - t, time.process_time() - c
    print(json.dumps({"search_s": search_s, "filter_s": filter_s, "search_cpu_s": search_cpu_s,
                      "filter_cpu_s": filter_cpu_s, "rows": len(kept), "all": len(frame),
                      "refused": refused}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=("create", "search"))
    parser.add_argument("--db", required=True)
    parser.add_argument("--runs", type=int, default=10_000)
    args = parser.parse_args(argv)
    if args.what == "create":
        create(args.db, args.runs)
    else:
        search(args.db)
    return 0


if __name__ == "__main__":
    sys.exit(main())
