"""The active run, found through a context variable.

Sacred stores each captured function's config on the function object, so two runs in one process (or in
threads) see each other's config. Here a captured function asks ``current_run()`` at call time; a run
sets the variable for exactly the code it runs, and threads/asyncio tasks started inside it inherit it
(``contextvars.copy_context``) while unrelated threads never see it.

>>> current_run() is None
True
"""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .run import Run

__all__ = ["CURRENT_RUN", "ACTIVE_RUNS", "current_run", "only_active_run"]

CURRENT_RUN: contextvars.ContextVar[Run | None] = contextvars.ContextVar("sacredx_run", default=None)


def current_run() -> Run | None:
    """The run whose code is executing in this context, if any."""
    return CURRENT_RUN.get()


#: runs executing right now in this process, for threads started without the run's context
ACTIVE_RUNS: list[Run] = []


def only_active_run() -> Run | None:
    """The single run executing in this process, when exactly one is.

    A plain ``threading.Thread`` started inside a run does not inherit the context variable; Sacred's
    captured functions still see the run there, so we fall back to it — but only when it is
    unambiguous, never guessing between concurrent runs.
    """
    active = ACTIVE_RUNS
    return active[0] if len(active) == 1 else None
