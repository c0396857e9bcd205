"""``--exp-check-determinism``: run each case twice with the same seed and fail when anything moved.

Hidden nondeterminism — an unseeded generator, iteration over a set of strings, state left behind by
an earlier run, threads racing — breaks reproducible-seed regression tests; this finds it first.

- After a case's test passed, its (last) recorded run is repeated as a scratch run (same config, same
  seed, same process; unobserved, so the store still holds one run per case) and the result and the
  final value of each metric are compared exactly (NaN equals NaN). A difference fails the case with a
  table of the keys that differ, first run against second.
- Under ``pytest -n N`` the case is also run a third time in another process: a fresh pytest that runs
  just this case (the command of the failure report's "reproduce" line), recording into a scratch store
  that is read back and compared the same way. That catches what differs between processes —
  ``PYTHONHASHSEED`` and set order, import-order side effects, state of the worker — which a second run
  in the same worker cannot. (xdist's scheduler cannot be told to send a twin item to the other worker,
  so the other process is one we start.)

Example::

    $ pytest examples/iris_svm.py --exp-config gamma=0.1,0.7 --exp-check-determinism
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from .keys import CASE_RUNS

__all__ = ["run_values"]

_ENABLED = pytest.StashKey[bool]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sacredx", "experiments (pytest-sacredx)")
    group.addoption(
        "--exp-check-determinism",
        dest="sacredx_check_determinism",
        action="store_true",
        default=None,
        help="Run each case a second time with the same seed and fail when its result or final "
        "metrics differ.",
    )
    parser.addini("sacredx_check_determinism", "Default of --exp-check-determinism.", type="bool",
                  default=False)


def pytest_configure(config: pytest.Config) -> None:
    enabled = config.getoption("sacredx_check_determinism")
    if enabled is None:
        enabled = bool(config.getini("sacredx_check_determinism"))
    config.stash[_ENABLED] = bool(enabled)


def run_values(run: Any) -> dict[str, Any]:
    """A run's result and final metrics in stored (JSON) form."""
    from ..serialize import to_jsonable

    return to_jsonable({"result": run.result, "metrics": dict(getattr(run, "final_metrics", {}) or {})})


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    if not item.config.stash.get(_ENABLED, False):
        return (yield)
    outcome = yield
    _check(item)
    return outcome


def _check(item: pytest.Item) -> None:
    from .recording import run_case
    from .tolerance import compare_run, format_differences

    runs = item.stash.get(CASE_RUNS, None)
    if not runs or runs[-1].run.status != "COMPLETED":
        return
    first = runs[-1]
    try:
        second = run_case(item, first.experiment, first.variant, first.extra_updates, record=False)
    except Exception as e:  # the first run completed, the second did not: as nondeterministic as it gets
        pytest.fail(
            f"nondeterministic: the same case with the same seed ({first.run.seed}) completed once and "
            f"then raised {type(e).__name__}: {e}",
            pytrace=False,
        )
    diffs = compare_run(run_values(first.run), run_values(second))
    if diffs:
        pytest.fail(
            f"nondeterministic: a second run with the same seed ({first.run.seed}) in the same process "
            "gave other values:\n" + format_differences(diffs, names=("first run", "second run")),
            pytrace=False,
        )
    if hasattr(item.config, "workerinput"):
        _check_in_another_process(item, first)


def _check_in_another_process(item: pytest.Item, first: Any) -> None:
    import os
    import subprocess
    import sys
    import tempfile

    from ..observers.tinydb_hashfs import TinyDbReader
    from .report import reproduce_args
    from .tolerance import compare_run, format_differences

    config = item.config
    with tempfile.TemporaryDirectory(prefix="sacredx-determinism-") as scratch:
        cmd = [
            sys.executable, "-m", "pytest", *reproduce_args(item, first.variant, show=False),
            "-p", "no:xdist", "-p", "no:randomly", "-p", "no:cacheprovider", "-q",
            "--rootdir", str(config.rootpath), "--exp-observer", f"tinydb:{scratch}", "--exp-summary=no",
        ]
        if config.getoption("sacredx_regression", None):
            cmd.append("--exp-regression")  # a baseline pins the seed there too
        # a fresh process, not another xdist worker: drop what marks this one as a worker
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
        env.pop("PYTEST_CURRENT_TEST", None)
        proc = subprocess.run(cmd, cwd=config.rootpath, env=env, capture_output=True, text=True, timeout=600)
        reader = TinyDbReader(scratch)
        try:
            records = [r for r in reader.list_runs() if r.status == "COMPLETED"]
        finally:
            reader.close()
    if not records:
        pytest.fail(
            f"nondeterministic or not reproducible: the same case run again in another process "
            f"(seed {first.run.seed}) did not complete:\n  {' '.join(cmd[1:])}\n"
            + (proc.stdout[-2000:] + proc.stderr[-1000:]).strip(),
            pytrace=False,
        )
    other = {"result": records[-1].result, "metrics": records[-1].final_metrics()}
    diffs = compare_run(run_values(first.run), other)
    if diffs:
        pytest.fail(
            f"nondeterministic across processes: the same case with the same seed ({first.run.seed}) run "
            "in another process gave other values:\n"
            + format_differences(diffs, names=("this worker", "other process")),
            pytrace=False,
        )
