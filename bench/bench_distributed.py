"""Beyond one process: the same sweep serially, with ``-n 2``, on a Dask cluster of two workers
(``--exp-executor``) and as two shards run side by side (``--exp-shard``), in one invocation.

Two workloads, each a sweep of ``--cases`` cases (default 200) of one experiment:

- ``sleep``: every case sleeps ``--sleep`` seconds (default 0.5) — work that parallelises perfectly, so
  the speed-up over serial shows what each way of spreading the cases delivers (target: ≥ 1.8×);
- ``trivial``: every case returns at once — only overhead. The figure is milliseconds per case above
  the session's fixed cost: ``(T(cases) − T(1 case)) / (cases − 1)``, and for Dask the difference to
  serial (aim: ≤ 5 ms per case).

Every figure is the wall time of fresh pytest processes (two at once for the shards: start of the
first to end of the last), each recording into its own TinyDB store in a temporary folder; the Dask
scheduler and its two single-threaded workers are started once before the measurements (not
counted) and stopped by PID at the end. Needs ``pip install -e '.[dask]'`` and ``pytest-xdist``.

    python bench/bench_distributed.py                    # 200 cases, 0.5 s: about 5 minutes here
    python bench/bench_distributed.py --cases 40 --sleep 0.25 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

EXPERIMENT = '''
import time
from pytest_sacredx import Experiment

ex = Experiment("bench_spread")

@ex.config
def cfg():
    i = 0
    sleep = 0.0

@ex.main
def main(i, sleep):
    if sleep:
        time.sleep(sleep)
    return i
'''

BASE = ["-q", "-p", "no:randomly", "-p", "no:cacheprovider", "--exp-summary", "no", "--exp-seed", "1"]


def pytest_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "exp_spread.py", *BASE, *args]


def timed(folder: Path, commands: list[list[str]]) -> float:
    """Wall time of ``commands`` started together, until the last one ends; each must pass (a shard
    left without cases exits 5, which is fine here)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTHONPATH")}
    start = time.perf_counter()
    procs = [subprocess.Popen(c, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True) for c in commands]
    outputs = [p.communicate()[0] for p in procs]
    elapsed = time.perf_counter() - start
    for p, out in zip(procs, outputs, strict=True):
        if p.returncode not in (0, 5) or (p.returncode == 5 and len(commands) == 1):
            raise RuntimeError(f"{' '.join(p.args)} failed ({p.returncode}):\n{out[-3000:]}")
    return elapsed


class Cluster:
    """``dask scheduler`` and two ``dask worker`` processes (one thread each) on 127.0.0.1."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.procs: list[subprocess.Popen[bytes]] = []
        scheduler_file = folder / "scheduler.json"
        dask = [sys.executable, "-m", "dask"]
        log = open(folder / "dask.log", "wb")  # noqa: SIM115 - the processes keep it
        self.procs.append(subprocess.Popen(
            [*dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--dashboard-address", "127.0.0.1:0",
             "--scheduler-file", str(scheduler_file)], stdout=log, stderr=subprocess.STDOUT, cwd=folder))
        deadline = time.monotonic() + 60
        self.address = ""
        while not self.address:
            try:
                self.address = json.loads(scheduler_file.read_text())["address"]
            except (OSError, ValueError, KeyError):
                if time.monotonic() > deadline:
                    raise RuntimeError("the Dask scheduler did not start; see dask.log") from None
                time.sleep(0.1)
        for name in ("w1", "w2"):
            self.procs.append(subprocess.Popen(
                [*dask, "worker", "--scheduler-file", str(scheduler_file), "--host", "127.0.0.1", "--nworkers",
                 "1", "--nthreads", "1", "--no-dashboard", "--name", name, "--local-directory", str(folder)],
                stdout=log, stderr=subprocess.STDOUT, cwd=folder,
                env={**os.environ, "PYTHONPATH": str(folder)}))
        from distributed import Client

        with Client(self.address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)

    @property
    def uri(self) -> str:
        return self.address.replace("tcp://", "dask://")

    def stop(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in reversed(self.procs):
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


def modes(cluster: Cluster) -> dict[str, Any]:
    """Each mode: a function of (sweep args, store name) giving the commands run together."""
    return {
        "serial": lambda sweep, store: [pytest_cmd(*sweep, "-p", "no:xdist", "--exp-observer", f"tinydb:{store}")],
        "-n 2": lambda sweep, store: [pytest_cmd(*sweep, "-n", "2", "--exp-observer", f"tinydb:{store}")],
        "dask, 2 workers": lambda sweep, store: [pytest_cmd(*sweep, "-p", "no:xdist", "--exp-executor", cluster.uri,
                                                            "--exp-observer", f"tinydb:{store}")],
        "2 shards": lambda sweep, store: [
            pytest_cmd(*sweep, "-p", "no:xdist", "--exp-shard", f"{i}/2", "--exp-sweep-id", store,
                       "--exp-observer", f"tinydb:{store}") for i in (1, 2)
        ],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--sleep", type=float, default=0.5)
    parser.add_argument("--json", metavar="FILE", help="also write every figure as JSON")
    args = parser.parse_args(argv)
    results: dict[str, dict[str, float]] = {"sleep": {}, "trivial": {}, "trivial_one": {}}
    with tempfile.TemporaryDirectory(prefix="sacredx-bench-spread-") as tmp:
        folder = Path(tmp)
        (folder / "exp_spread.py").write_text(EXPERIMENT)
        cluster = Cluster(folder)
        try:
            spread = modes(cluster)
            cases = f"i=range(0, {args.cases})"
            sweeps = {
                "sleep": ["--exp-config", cases, "--exp-config", f"sleep={args.sleep}"],
                "trivial": ["--exp-config", cases],
                "trivial_one": ["--exp-config", "i=0"],
            }
            # warm-up: imports and the workers' first import of the experiment are not measured
            timed(folder, spread["dask, 2 workers"](sweeps["trivial_one"], "warm"))
            for workload in ("trivial_one", "trivial", "sleep"):
                for mode, commands in spread.items():
                    store = f"store-{workload}-{mode.replace(' ', '').replace(',', '')}"
                    results[workload][mode] = timed(folder, commands(sweeps[workload], store))
                    print(f"  {workload:<12} {mode:<16} {results[workload][mode]:8.2f} s", file=sys.stderr)
        finally:
            cluster.stop()
    n = args.cases
    print(f"\n{n} cases of time.sleep({args.sleep}) and {n} trivial cases; wall time of fresh pytest processes")
    print(f"{'mode':<18}{'sleep: s':>10}{'speed-up':>10}{'  target':<10}{'trivial: s':>12}{'ms/case':>10}")
    serial_case = (results["trivial"]["serial"] - results["trivial_one"]["serial"]) / (n - 1) * 1000
    rows = []
    for mode in results["sleep"]:
        speed = results["sleep"]["serial"] / results["sleep"][mode]
        per_case = (results["trivial"][mode] - results["trivial_one"][mode]) / (n - 1) * 1000
        target = "" if mode == "serial" else ("  ≥1.8 ok" if speed >= 1.8 else "  ≥1.8 MISS")
        rows.append({"mode": mode, "sleep_s": results["sleep"][mode], "speedup": speed,
                     "trivial_s": results["trivial"][mode], "ms_per_case": per_case})
        print(f"{mode:<18}{results['sleep'][mode]:>10.1f}{speed:>9.2f}×{target:<10}"
              f"{results['trivial'][mode]:>12.2f}{per_case:>10.2f}")
    dask_case = next(r["ms_per_case"] for r in rows if r["mode"].startswith("dask"))
    verdict = "ok" if dask_case - serial_case <= 5 else "MISS"
    print(f"Dask's overhead per trivial case over serial: {dask_case - serial_case:.2f} ms (aim ≤ 5 ms: {verdict})")
    if args.json:
        Path(args.json).write_text(json.dumps({"cases": n, "sleep": args.sleep, "rows": rows,
                                               "raw": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
