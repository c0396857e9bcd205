"""Helpers for the pytester tests of the plugin: every scenario runs serially and under ``-n 2``."""

from __future__ import annotations

import linecache
import sys
from typing import Any

import pytest

TOY = '''
"""A toy experiment for the plugin tests."""
import random
from pytest_sacredx import Experiment

ex = Experiment("toy")

@ex.config
def cfg():
    gamma = 0.5
    C = 1
    optimizer = {"lr": 0.1}

@ex.named_config
def fast():
    C = 100

@ex.named_config
def big():
    gamma = 2.0

@ex.main
def main(gamma, C, optimizer, _run, _seed):
    _run.log_scalar("score", gamma * C)
    print("case", gamma, C)
    if C == 13:
        raise ValueError("unlucky C")
    return {"seed": _seed, "score": gamma * C, "lr": optimizer["lr"], "draw": random.random()}
'''

MODES = ["serial", "xdist"]


#: what the scenarios' projects opt in to: their experiment files are named exp_<name>.py
OPT_IN = ["-o", "sacredx_files=exp_*.py"]

#: hypothesis' pytest plugin imports all of hypothesis at every session's end (its terminal summary),
#: which is a third of a small pytest process's CPU time. The scenarios whose projects hold no
#: hypothesis test leave it out; those that do (``hypothesis=True``) keep it.
NO_HYPOTHESIS = ["-p", "no:hypothesispytest"]


def run_pytest(
    pytester: pytest.Pytester, mode: str, *args: str, opt_in: bool = True, hypothesis: bool = False
) -> pytest.RunResult:
    """Run pytest on the pytester dir: ``serial`` in this process (``runpytest_inprocess``: no
    interpreter start-up, no re-import of the plugin), ``xdist`` in a subprocess with ``-n 2`` — a
    controller and two worker processes, which is what that mode proves. ``subprocess`` runs the
    serial session in a fresh interpreter, for the tests where isolation is the point. The project
    collects its ``exp_*.py`` files (``OPT_IN``) unless ``opt_in=False``; hypothesis' plugin is
    loaded only with ``hypothesis=True`` (``NO_HYPOTHESIS``)."""
    base = ["-p", "no:randomly", "-p", "no:benchmark", *(OPT_IN if opt_in else ())]
    base += [] if hypothesis else NO_HYPOTHESIS
    if mode == "xdist":
        return pytester.runpytest_subprocess(*base, "-n", "2", *args)
    if mode == "subprocess":
        return pytester.runpytest_subprocess(*base, "-p", "no:xdist", *args)
    # No bytecode from in-process runs: a test that rewrites a module within the same second, to the
    # same size, would otherwise import the stale .pyc of the first version. And no stale source
    # lines: config scopes read their source through linecache, which this process keeps.
    linecache.checkcache()
    dont_write, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        return pytester.runpytest_inprocess(*base, "-p", "no:xdist", *args)
    finally:
        sys.dont_write_bytecode = dont_write


def stored_runs(pytester: pytest.Pytester, store: str = ".sacredx") -> list[Any]:
    from pytest_sacredx.observers.tinydb_hashfs import TinyDbReader

    reader = TinyDbReader(str(pytester.path / store))
    try:
        return list(reader.list_runs())
    finally:
        reader.close()


def results_by_case(pytester: pytest.Pytester) -> dict[str, Any]:
    return {r.meta["pytest"]["case_id"].split("::")[-1]: r for r in stored_runs(pytester)}
