"""The file system's floor under a FileStorage run: what creating a run's folder and files costs alone.

A crash-safe FileStorage run makes a folder and Sacred's four files (``config.json``, ``cout.txt``,
``metrics.json``, ``run.json``), ``run.json`` twice through a temporary name and a rename. This script
does exactly those system calls from Python with nothing else, in a fresh folder on the file system
``--dir`` names (default: the system's temporary folder, where bench/workloads put their stores), and
prints the milliseconds per run and the runs per second no FileStorage observer could beat there::

    python bench/fs_floor.py                 # medians of 5 rounds of 500 runs
    python bench/fs_floor.py --runs 2000 --dir /mnt/fast
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC


def _new(path: str, data: bytes) -> None:
    fd = os.open(path, _FLAGS, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def sacred_files(folder: str) -> None:
    """The folder and Sacred's four files, each written once (no temporary names)."""
    os.mkdir(folder)
    for name in ("config.json", "cout.txt", "metrics.json", "run.json"):
        _new(f"{folder}/{name}", b"{}")


def crash_safe(folder: str) -> None:
    """What our FileStorageObserver does for a run without metrics or output (see its module)."""
    os.mkdir(folder)
    _new(f"{folder}/config.json", b'{"a": 1}')
    _new(f"{folder}/cout.txt", b"")
    for name, size in (("run.json", 1400), ("metrics.json", 2), ("run.json", 1500)):
        tmp = f"{folder}/.{name}.tmp"
        _new(tmp, b"x" * size)
        os.rename(tmp, f"{folder}/{name}")


def per_run_ms(layout: Callable[[str], None], runs: int, where: str | None) -> float:
    base = tempfile.mkdtemp(prefix="sacredx-fs-floor-", dir=where)
    try:
        start = time.perf_counter()
        for i in range(runs):
            layout(f"{base}/{i}")
        return (time.perf_counter() - start) / runs * 1e3
    finally:
        shutil.rmtree(base, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dir", default=None, help="a folder on the file system to measure")
    args = parser.parse_args()
    for label, layout in (("folder + Sacred's 4 files", sacred_files),
                          ("our crash-safe run (5 files, 3 renames)", crash_safe)):
        ms = statistics.median(per_run_ms(layout, args.runs, args.dir) for _ in range(args.rounds))
        print(f"{label:42s} {ms:.3f} ms/run  -> at most {1000 / ms:,.0f} runs/s")


if __name__ == "__main__":
    main()
