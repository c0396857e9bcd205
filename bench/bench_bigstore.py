"""Big stores: what a TinyDB store and a FileStorage folder of 10,000 … 100,000 runs cost to write and read.

For each store kind and size, in one invocation (medians over ``--reps`` repetitions, each measurement in
a fresh process):

- **writer peak memory**: the RSS high-water mark (``VmHWM``) of a fresh process that opens an
  observer on the store and records one run (started, 3 heartbeats, 50 metric points, completed),
  against the same process writing into an empty store (run alternately, so both share the machine's
  noise); the target is a ratio within 1.2;
- **``sacredx runs --last 10``** and **``sacredx list --last 10``**: wall time of the whole command (the
  interpreter's start included), target under 1 s, and its CPU time (user + system: what the command
  costs when other processes share the cores);
- **full listing**: ``sacredx runs --columns id,status,config --format csv`` of every run, wall time and
  CPU microseconds per run — linear means the per-run figure stays flat from 10k to 100k.

The stores are generated directly, not through the observer (recording 100,000 runs through the engine
takes far longer than the measurements): one run is recorded by the real observer (20 output lines, 50
metric points) as a template, then the script writes that document once per run with its own id, config
and result — for TinyDB straight into the log format a compaction writes (a ``doc`` line without the
bulk, a ``set`` line with ``captured_out`` and ``metrics``), for FileStorage the run folder's files. The
TinyDB run index is then built by opening a writer once (timed: ``index build``), as the first writer
after an upgrade would. Sizes grow in place (10k, then 30k, then 100k) under ``--dir``.

Usage::

    python bench/bench_bigstore.py                              # 10k, 30k, 100k; both stores; 3 reps
    python bench/bench_bigstore.py --sizes 1000,3000 --reps 1 --kinds tinydb
    python bench/bench_bigstore.py --json /tmp/big.json        # also keep every figure

Times are never asserted in tests (the machine is shared); see bench/README.md for the figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

OUTPUT_LINES = 20
METRIC_POINTS = 50

WRITER = r"""
import datetime as dt, sys
kind, path = sys.argv[1:3]
if kind == "file":
    from pytest_sacredx.observers.file_storage import FileStorageObserver as Obs
else:
    from pytest_sacredx.observers.tinydb_hashfs import TinyDbObserver as Obs
obs = Obs(path)
now = dt.datetime.utcnow
ex = {"name": "bench", "base_dir": "/", "sources": [], "dependencies": ["numpy==1.26.0"]}
obs.started_event(ex, "main", {"hostname": "bench"}, now(), {"lr": 0.1, "seed": 1}, {}, None)
out = ""
for beat in range(3):
    out += "epoch %d loss 0.5\n" % beat
    obs.heartbeat_event({"epoch": beat}, out, now(), None)
obs.log_metrics({"loss": {"name": "loss", "steps": list(range(50)), "values": [0.5] * 50,
                          "timestamps": [now()] * 50}}, {})
obs.completed_event(now(), 0.4)
# VmHWM, not ru_maxrss: on Linux ru_maxrss survives exec, so it would report the forking parent's peak
print(next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")))
"""


def _template_run(obs: Any) -> None:
    now = dt.datetime(2026, 1, 1, 12, 0)
    ex = {
        "name": "bench",
        "base_dir": "/",
        "sources": [],
        "dependencies": ["numpy==1.26.0", "pytest==8.3.3"],
        "repositories": [],
        "mainfile": "exp.py",
    }
    meta = {"command": "main", "options": {"--loglevel": "ERROR"}, "config_updates": {"lr": 0.1}}
    obs.started_event(ex, "main", {"hostname": "bench", "cpu": "x86", "os": ["Linux", "6"]}, now,
                      {"lr": 0.1, "seed": 1, "layers": [64, 64]}, meta, None)
    out = "".join(f"epoch {i} loss {1 / (i + 1):.6f} accuracy {i / 20:.3f}\n" for i in range(OUTPUT_LINES))
    obs.log_metrics({"loss": {"name": "loss", "steps": list(range(METRIC_POINTS)),
                              "values": [1 / (i + 1) for i in range(METRIC_POINTS)],
                              "timestamps": [now + dt.timedelta(seconds=i) for i in range(METRIC_POINTS)]}},
                    {})
    obs.heartbeat_event({"epoch": OUTPUT_LINES}, out, now, None)
    obs.completed_event(now + dt.timedelta(seconds=60), 0.05)


# -- generating stores ----------------------------------------------------------------------------------


class TinyStore:
    """A TinyDB store written in the log format directly (see the module docstring)."""

    kind = "tinydb"

    def __init__(self, root: str) -> None:
        from pytest_sacredx.observers.tinydb_hashfs import TinyDbObserver, TinyDbReader

        tmp = tempfile.mkdtemp(prefix="bigstore-template-")
        _template_run(TinyDbObserver(tmp))
        (self.template,) = TinyDbReader(tmp).fetch_metadata(indices=[0])
        shutil.rmtree(tmp)
        self.root = root
        self.uri = f"tinydb:{root}"
        self.runs = 0

    def grow(self, runs: int) -> float:
        """Rewrite the log with ``runs`` runs; returns the seconds the index build took."""
        from pytest_sacredx.observers.tinydb_bases import LogStorage
        from pytest_sacredx.observers.tinydb_bases import dumps_line as _dumps

        os.makedirs(self.root, exist_ok=True)
        path = os.path.join(self.root, "metadata.json")
        heavy_keys = ("captured_out", "metrics")
        light = {k: v for k, v in self.template.items() if k not in heavy_keys}
        heavy = {k: self.template[k] for k in heavy_keys}
        heavy_line = _dumps(heavy)
        parts = ['{"t":"runs"}\n']
        for i in range(1, runs + 1):
            doc = {**light, "_id": f"{i:032x}", "config": {**light["config"], "i": i},
                   "result": round(1 / i, 6)}
            doc = {"_id": doc.pop("_id"), **doc}
            parts.append(_dumps({"t": "runs", "id": i, "doc": doc}) + "\n")
            parts.append(f'{{"t":"runs","id":{i},"set":{heavy_line}}}\n')
        body = "".join(parts).encode("utf-8")
        header = (_dumps({"sacredx_tinydb_log": 1, "snapshot_bytes": len(body)}) + "\n").encode()
        tmp = path + ".tmp"
        with open(tmp, "wb") as fh:
            fh.write(header + body)
        os.replace(tmp, path)
        self.runs = runs
        t0 = time.perf_counter()
        storage = LogStorage(path)
        with storage._writing():  # the first writer indexes the log
            pass
        storage.close()
        return time.perf_counter() - t0

    def size_bytes(self) -> int:
        return sum(os.path.getsize(os.path.join(self.root, n)) for n in os.listdir(self.root)
                   if os.path.isfile(os.path.join(self.root, n)))


class FileStore:
    """A FileStorage folder written file by file (see the module docstring)."""

    kind = "file"

    def __init__(self, root: str) -> None:
        from pytest_sacredx.observers.file_storage import FileStorageObserver

        tmp = tempfile.mkdtemp(prefix="bigstore-template-")
        _template_run(FileStorageObserver(tmp))
        run_dir = os.path.join(tmp, "1")
        self.files = {}
        for name in os.listdir(run_dir):
            with open(os.path.join(run_dir, name), "rb") as fh:
                self.files[name] = fh.read()
        shutil.rmtree(tmp)
        self.config = json.loads(self.files["config.json"])
        self.root = root
        self.uri = f"file:{root}"
        self.runs = 0

    def grow(self, runs: int) -> float:
        os.makedirs(self.root, exist_ok=True)
        for i in range(self.runs + 1, runs + 1):
            run_dir = os.path.join(self.root, str(i))
            os.mkdir(run_dir)
            for name, data in self.files.items():
                if name == "config.json":
                    data = json.dumps({**self.config, "i": i}).encode()
                with open(os.path.join(run_dir, name), "wb") as fh:
                    fh.write(data)
        self.runs = runs
        return 0.0

    def size_bytes(self) -> int:
        return sum(len(d) for d in self.files.values()) * self.runs


# -- measuring ------------------------------------------------------------------------------------------


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTEST_ADDOPTS")}
    env["PYTHONPATH"] = REPO
    return env


def writer_rss_kb(kind: str, path: str) -> int:
    out = subprocess.run([sys.executable, "-c", WRITER, kind, path], capture_output=True, text=True,
                         env=_env(), check=True)
    return int(out.stdout.split()[-1])


CPU: list[float] = []  # CPU seconds (user + system) of the last command, for a loaded machine


def command_s(args: list[str]) -> tuple[float, str]:
    before = os.times()
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "pytest_sacredx.cli.query", *args], capture_output=True,
                         text=True, env=_env())
    elapsed = time.perf_counter() - t0
    after = os.times()
    CPU.append(after.children_user - before.children_user
               + after.children_system - before.children_system)
    if out.returncode != 0:
        raise RuntimeError(f"sacredx {' '.join(args)} failed: {out.stderr.strip()}")
    return elapsed, out.stdout


def measure(store: TinyStore | FileStore, reps: int, scratch: str) -> dict[str, Any]:
    rss_big, rss_empty, last_runs, last_list, full = [], [], [], [], []
    cpu_runs, cpu_list, cpu_full = [], [], []
    for rep in range(reps):
        empty = os.path.join(scratch, f"empty-{store.kind}-{store.runs}-{rep}")
        pair = [(rss_empty, empty), (rss_big, store.root)]
        for sink, path in pair if rep % 2 == 0 else pair[::-1]:
            sink.append(writer_rss_kb(store.kind, path))
        shutil.rmtree(empty, ignore_errors=True)
        seconds, out = command_s(["runs", "--store", store.uri, "--last", "10", "--plain"])
        assert out.strip().endswith(f"10 of {store.runs + rep + 1} runs"), out[-200:]
        last_runs.append(seconds)
        cpu_runs.append(CPU[-1])
        seconds, out = command_s(["list", "--store", store.uri, "--last", "10"])
        assert len(out.strip().splitlines()) >= 11, out
        last_list.append(seconds)
        cpu_list.append(CPU[-1])
        seconds, out = command_s(["runs", "--store", store.uri, "--columns", "id,status,config",
                                  "--format", "csv"])
        assert len(out.splitlines()) == store.runs + rep + 2, len(out.splitlines())
        full.append(seconds)
        cpu_full.append(CPU[-1])
    big, small = statistics.median(rss_big), statistics.median(rss_empty)
    n = store.runs
    return {
        "store": store.kind,
        "runs": n,
        "writer_rss_mb": round(big / 1024, 1),
        "empty_rss_mb": round(small / 1024, 1),
        "rss_ratio": round(big / small, 3),
        "runs_last10_s": round(statistics.median(last_runs), 3),
        "list_last10_s": round(statistics.median(last_list), 3),
        "full_listing_s": round(statistics.median(full), 3),
        "runs_last10_cpu_s": round(statistics.median(cpu_runs), 3),
        "list_last10_cpu_s": round(statistics.median(cpu_list), 3),
        "full_listing_cpu_s": round(statistics.median(cpu_full), 3),
        "full_us_per_run": round(statistics.median(full) / n * 1e6, 1),
        # the listing's cost per run beyond what a --last 10 command costs (start-up, index)
        "extra_us_per_run": round(
            (statistics.median(full) - statistics.median(last_runs)) / (n - 10) * 1e6, 1),
        "spread": {"rss_mb": [round(x / 1024, 1) for x in rss_big],
                   "runs_last10_s": [round(x, 3) for x in last_runs],
                   "full_listing_s": [round(x, 3) for x in full]},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,30000,100000")
    parser.add_argument("--kinds", default="tinydb,file")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--dir", default=None, help="where the stores go (default: a temp folder, removed)")
    parser.add_argument("--json", default=None, help="also write every figure to this file")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    scratch = args.dir or tempfile.mkdtemp(prefix="bigstore-")
    results = []
    try:
        for kind in args.kinds.split(","):
            root = os.path.join(scratch, kind)
            store: TinyStore | FileStore = TinyStore(root) if kind == "tinydb" else FileStore(root)
            for n in sizes:
                t0 = time.perf_counter()
                index_s = store.grow(n)
                gen_s = time.perf_counter() - t0 - index_s
                row = measure(store, args.reps, scratch)
                row.update(generate_s=round(gen_s, 1), index_build_s=round(index_s, 2),
                           store_mb=round(store.size_bytes() / 2**20, 1))
                results.append(row)
                print(json.dumps(row), flush=True)
                store.runs += args.reps  # the writers added one run per repetition
    finally:
        if args.dir is None:
            shutil.rmtree(scratch, ignore_errors=True)
    print()
    header = ("| store | runs | store size | writer peak RSS (empty store) | ratio | `runs --last 10` "
              "wall (CPU) | `list --last 10` wall (CPU) | full listing wall (CPU) | CPU µs/run | index build |")
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for r in results:
        print(f"| {r['store']} | {r['runs']:,} | {r['store_mb']:,} MB | {r['writer_rss_mb']} MB "
              f"({r['empty_rss_mb']} MB) | {r['rss_ratio']:.2f} | {r['runs_last10_s']:.2f} s "
              f"({r['runs_last10_cpu_s']:.2f} s) | {r['list_last10_s']:.2f} s ({r['list_last10_cpu_s']:.2f} s) | "
              f"{r['full_listing_s']:.2f} s ({r['full_listing_cpu_s']:.2f} s) | "
              f"{r['full_listing_cpu_s'] / r['runs'] * 1e6:.1f} | {r['index_build_s']} s |")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
