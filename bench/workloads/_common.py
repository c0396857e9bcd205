"""Shared plumbing for the workload scripts: library selection, arguments and JSON results.

Every workload script runs under either library — the APIs are the same, only the
top-level package differs::

    python bench/workloads/run_trivial.py --lib sacredx --out result.json
    bench/.venv-sacred/bin/python bench/workloads/run_trivial.py --lib sacred --out result.json

A script never prints its result to stdout (the capture workload fills stdout with
100,000 lines); it writes one JSON object to ``--out``::

    {"ok": true, "lib": "sacredx", "metrics": {"runs_per_s": 812.3}, "samples": {...}, "notes": {...}}
    {"ok": false, "lib": "sacred", "error": "ImportError: ...", "traceback": "..."}
    {"ok": false, "lib": "sacredx", "skipped": "plugin not available yet: ..."}

Only the standard library is used here; the library under test is imported lazily by :func:`load`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

# The name a workload is given on the command line -> the package it imports.
PACKAGES: dict[str, str] = {"sacredx": "pytest_sacredx", "sacred": "sacred"}

# What every ex.run() in the benchmark passes: keep logging out of the timings.
QUIET: dict[str, Any] = {"--loglevel": "ERROR"}


class Skipped(Exception):
    """Raised by a workload that cannot run on this side yet; its message says why."""


@dataclass(frozen=True)
class Lib:
    """The library under test, resolved from ``--lib``."""

    name: str  # "sacredx" | "sacred" | "bare"
    package: ModuleType | None

    @property
    def Experiment(self) -> Any:  # noqa: N802 - mirrors the library's name
        assert self.package is not None, "the 'bare' side has no Experiment"
        return self.package.Experiment

    def module(self, dotted: str) -> ModuleType:
        """Import ``<package>.<dotted>``, e.g. ``lib.module("observers")``."""
        assert self.package is not None, "the 'bare' side has no library"
        return importlib.import_module(f"{self.package.__name__}.{dotted}")

    def observer(self, kind: str, path: str | Path) -> Any:
        """A fresh ``FileStorageObserver`` (kind ``file``) or ``TinyDbObserver`` (kind ``tinydb``)."""
        observers = self.module("observers")
        if kind == "file":
            return observers.FileStorageObserver(str(path))
        if kind == "tinydb":
            return observers.TinyDbObserver(str(path))
        raise ValueError(f"unknown observer kind {kind!r}; expected 'file' or 'tinydb'")


def load(name: str) -> Lib:
    """Import the library called *name* on the command line (``bare`` imports nothing)."""
    if name == "bare":
        return Lib(name, None)
    return Lib(name, importlib.import_module(PACKAGES[name]))


def parser(
    description: str, sides: tuple[str, ...] = ("sacredx", "sacred")
) -> argparse.ArgumentParser:
    """The arguments every workload takes; scripts add their own size options."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--lib", choices=sides, required=True, help="which side to measure")
    p.add_argument("--out", required=True, type=Path, help="where to write the JSON result")
    return p


def write_result(out: Path, payload: dict[str, Any]) -> None:
    out.write_text(json.dumps(payload, indent=1, sort_keys=True), encoding="utf-8")


def main(body: Callable[[argparse.Namespace], dict[str, Any]], args: argparse.Namespace) -> int:
    """Run *body* and write its result (or its error) to ``args.out``; never raise.

    *body* returns ``{"metrics": {...}, "samples": {...}, "notes": {...}}`` (the last two optional).
    """
    try:
        result = body(args)
    except Skipped as exc:
        write_result(args.out, {"ok": False, "lib": args.lib, "skipped": str(exc)})
        return 0
    except BaseException as exc:  # noqa: BLE001 - unfinished parts of a side must not crash the harness
        tb = traceback.format_exc()
        write_result(
            args.out,
            {
                "ok": False,
                "lib": args.lib,
                "error": f"{type(exc).__name__}: {exc}".splitlines()[0][:300],
                "traceback": tb[-4000:],
            },
        )
        print(tb, file=sys.stderr)
        return 1
    write_result(args.out, {"ok": True, "lib": args.lib, **result})
    return 0


@contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    """A fresh temporary folder, removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix=f"sacredx-bench-{prefix}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def timed(func: Callable[[], Any]) -> float:
    """Wall time of one call, in seconds."""
    t0 = time.perf_counter()
    func()
    return time.perf_counter() - t0


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
