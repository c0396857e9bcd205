"""Seeds tied to the test session: one printed number reproduces every case.

- The session seed is ``--exp-seed=N`` (or ``last``: the previous session's, from pytest's cache), else
  ini ``sacredx_seed``, else pytest-randomly's seed when that plugin is active, else a fresh one. It is
  chosen once, on the xdist controller, and sent to the workers (workers re-parse the command line, so a
  default drawn there would differ per process). The header prints ``sacredx: --exp-seed=N``.
- A case's seed is ``derive_seed(session_seed, case_id)`` (``pytest_sacredx.run.seeding``), where the
  case id is the node id taken at collection — so it does not depend on collection order, ``-k`` or
  ``--lf`` selection, ``-n``, or xdist's ``@group`` suffixes. With ini ``sacredx_seed_scope = experiment``
  all variants of one experiment share one seed (paired comparisons). A case seed is the run's root
  seed (the ``--seed`` option of ``ex.run``): it fans out to ``_seed``/``_rnd`` as
  ``SETTINGS.CONFIG.SEED_DERIVATION`` says (Sacred's draws by default; ``pytest_sacredx.run.seeding``).
- A case whose config fixes ``seed`` — a variant's ``seed=`` (``--exp-config seed=5``), a named config
  or config scope setting it — runs with that seed instead, and the summary table, the JUnit property
  and the failure section (``case seed: 5 (set by the case's config, …)``, ``or: python exp.py with …
  seed=5``) show the seed the run used.
- Global RNG states (``random``, NumPy's legacy global) are restored after each experiment case, so the
  tests around it draw as if it had not run.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Generator
from typing import Any

import pytest

from ..run.seeding import derive_seed, random_seed
from .keys import ACTIVE, CASE_ID, EXPERIMENT, SESSION_SEED

__all__ = ["session_seed", "case_seed", "case_key"]

_CACHE_KEY = "sacredx/last_seed"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sacredx", "experiments (pytest-sacredx)")
    group.addoption(
        "--exp-seed",
        dest="sacredx_seed",
        default=None,
        metavar="N|last",
        help="Session seed every case seed derives from; 'last' reuses the previous session's.",
    )
    parser.addini("sacredx_seed", "Default session seed (same as --exp-seed).", default=None)
    parser.addini(
        "sacredx_seed_scope",
        "case: a seed per case (default); experiment: one seed for all variants of an experiment.",
        default="case",
    )


def _parse_seed(value: Any, config: pytest.Config) -> int | None:
    if value is None or value == "":
        return None
    text = str(value).strip()
    if text == "last":
        cache = getattr(config, "cache", None)
        cached = cache.get(_CACHE_KEY, None) if cache is not None else None
        if cached is None:
            raise pytest.UsageError("--exp-seed=last: no earlier session seed is cached; give a number.")
        return int(cached)
    try:
        return int(text)
    except ValueError:
        raise pytest.UsageError(f"--exp-seed={text!r} is not a number; give an integer or 'last'.") from None


@pytest.hookimpl(trylast=True)  # after pytest-randomly resolved its own seed
def pytest_configure(config: pytest.Config) -> None:
    scope = config.getini("sacredx_seed_scope")
    if scope not in ("case", "experiment"):
        raise pytest.UsageError(f"sacredx_seed_scope = {scope!r}: use 'case' or 'experiment'.")
    workerinput = getattr(config, "workerinput", None)
    seed: int | None
    if workerinput is not None and "sacredx_seed" in workerinput:
        seed = int(workerinput["sacredx_seed"])
    else:
        seed = _parse_seed(config.getoption("sacredx_seed"), config)
        if seed is None:
            seed = _parse_seed(config.getini("sacredx_seed"), config)
        if seed is None:
            seed = _randomly_seed(config)
        if seed is None:
            seed = random_seed()
    config.stash[SESSION_SEED] = seed


def _remember_seed(config: pytest.Config) -> None:
    """Keep the seed for ``--exp-seed=last`` — only of sessions that had experiment cases, so a project
    without experiments finds nothing of ours in its cache."""
    cache = getattr(config, "cache", None)
    if cache is not None and not hasattr(config, "workerinput") and config.stash.get(ACTIVE, False):
        cache.set(_CACHE_KEY, config.stash[SESSION_SEED])


def pytest_collection_finish(session: pytest.Session) -> None:
    _remember_seed(session.config)  # as soon as it is known: a session killed later still counts


def pytest_sessionfinish(session: pytest.Session) -> None:
    _remember_seed(session.config)  # an xdist controller knows only once workers reported cases


def _randomly_seed(config: pytest.Config) -> int | None:
    if not config.pluginmanager.hasplugin("randomly"):
        return None
    value = getattr(config.option, "randomly_seed", None)
    return value if isinstance(value, int) else None


def session_seed(config: pytest.Config) -> int:
    return config.stash[SESSION_SEED]


def case_key(item: pytest.Item) -> str:
    """What a case's seed derives from: its collection-time node id (or its experiment's, per ini)."""
    key = item.stash.get(CASE_ID, item.nodeid)
    if item.config.getini("sacredx_seed_scope") == "experiment":
        key = key.split("[", 1)[0]
    return key


def case_seed(item: pytest.Item) -> int:
    seed = item.ihook.pytest_sacredx_case_seed(item=item, session_seed=session_seed(item.config))
    return int(seed)


@pytest.hookimpl(trylast=True)  # the default: conftests, --exp-seeds and baselines answer first
def pytest_sacredx_case_seed(item: pytest.Item, session_seed: int) -> int:
    return derive_seed(session_seed, case_key(item))


def pytest_itemcollected(item: pytest.Item) -> None:
    item.stash.setdefault(CASE_ID, item.nodeid)


@pytest.fixture
def exp_seed(request: pytest.FixtureRequest) -> int:
    """The seed of this test case, derived from the session seed (see ``--exp-seed``)."""
    return case_seed(request.node)


class RNGState:
    """Saves and restores the global RNGs an experiment seeds."""

    def __init__(self) -> None:
        self.python = random.getstate()
        np = sys.modules.get("numpy")
        self.numpy = np.random.get_state() if np is not None else None

    def restore(self) -> None:
        random.setstate(self.python)
        np = sys.modules.get("numpy")
        if np is not None and self.numpy is not None:
            np.random.set_state(self.numpy)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    # an experiment case, or a test using the exp_run fixture: the stash says so
    if EXPERIMENT not in item.stash and "exp_run" not in getattr(item, "fixturenames", ()):
        return (yield)
    state = RNGState()
    try:
        return (yield)
    finally:
        state.restore()
