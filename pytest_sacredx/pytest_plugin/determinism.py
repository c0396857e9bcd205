"""``--exp-check-determinism``: run each case twice with the same seed and fail when anything moved.

Hidden nondeterminism — an unseeded generator, iteration over a set of strings, state left behind by
an earlier run, threads racing — breaks reproducible-seed regression tests; this finds it first.

- After a case's test passed, its (last) recorded run is repeated as a scratch run (same config, same
  seed, same process; unobserved, so the store still holds one run per case) and the result and the
  final value of each metric are compared exactly (NaN equals NaN). A difference fails the case with a
  table of the keys that differ, first run against second.
- Under ``pytest -n N`` the second run happens in the same worker process as the first. (A twin item
  per case, compared on the controller, would also catch differences between processes, such as
  ``PYTHONHASHSEED``; xdist's scheduler does not let us choose the worker, so it is not done.)

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
