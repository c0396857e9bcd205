"""Property-based experiments: hypothesis ``@given`` tests that call ``exp_run``.

Hypothesis runs a test body for many examples and then shrinks a failure; recording every example
would fill the store with runs nobody asked for. So in a ``@given`` test, ``exp_run``'s runs are
scratch runs (same config and seed rules, unobserved, no summary row). When the test fails, the last
run — hypothesis ends by replaying the shrunk, falsifying example — is run once more, recorded, with
``info["hypothesis"] = {"falsifying_example": True, "updates": …}``, so the store holds exactly the run
to look at. ``--exp-record-examples`` (ini ``sacredx_record_examples``) records every example instead.
Strategies over a config space are in ``pytest_sacredx.strategies`` (which imports hypothesis; this
module does not).

Example::

    $ pytest examples/test_iris_properties.py                 # one run recorded, if any example fails
    $ pytest examples/test_iris_properties.py --exp-record-examples
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from .keys import LAST_SCRATCH, SCRATCH_RUNS

__all__ = ["is_hypothesis_test"]

_RECORD_ALL = pytest.StashKey[bool]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sacredx", "experiments (pytest-sacredx)")
    group.addoption(
        "--exp-record-examples",
        dest="sacredx_record_examples",
        action="store_true",
        default=None,
        help="Record the runs of every hypothesis example, not only the falsifying one.",
    )
    parser.addini("sacredx_record_examples", "Default of --exp-record-examples.", type="bool", default=False)


def pytest_configure(config: pytest.Config) -> None:
    value = config.getoption("sacredx_record_examples")
    if value is None:
        value = bool(config.getini("sacredx_record_examples"))
    config.stash[_RECORD_ALL] = bool(value)


def is_hypothesis_test(item: pytest.Item) -> bool:
    """Whether ``item`` is a ``@given`` test (hypothesis marks the wrapped function)."""
    return bool(getattr(getattr(item, "obj", None), "is_hypothesis_test", False))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    if (
        item.config.stash.get(_RECORD_ALL, False)
        or "exp_run" not in getattr(item, "fixturenames", ())
        or not is_hypothesis_test(item)
    ):
        return (yield)
    item.stash[SCRATCH_RUNS] = True
    try:
        return (yield)
    except BaseException:
        _record_falsifying(item)
        raise
    finally:
        item.stash[SCRATCH_RUNS] = False


def _record_falsifying(item: pytest.Item) -> None:
    from .recording import run_case

    last = item.stash.get(LAST_SCRATCH, None)
    if last is None:
        return
    item.stash[SCRATCH_RUNS] = False
    info = {"hypothesis": {"falsifying_example": True, "updates": dict(last.extra_updates or {})}}
    try:
        run_case(item, last.experiment, last.variant, last.extra_updates, record=True, info=info)
    except Exception:  # noqa: BLE001 - the test's own failure is what pytest reports
        pass
