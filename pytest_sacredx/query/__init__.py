"""Reading runs for people: the ``sacredx`` tool's engine, usable from Python.

- :func:`runs`: the runs of a store (any URI, or a reader such as a ``MemoryObserver``), filtered by a
  ``--where`` expression, sorted, the last N.
- :func:`runs_table`: the same runs as the tidy table ``sacredx export`` writes — one row per run, config
  flattened with dotted names (``config.opt.lr``), each metric's last value (``metrics.loss``) — as a
  pandas DataFrame when pandas is installed, else a list of dicts.

>>> from pytest_sacredx.observers.memory import MemoryObserver
>>> store = MemoryObserver()
>>> runs_table(store, as_frame=False)
[]

Modules: ``fields`` (paths and reducers), ``where`` (the ``--where`` grammar), ``table`` (selection,
columns, tidy rows), ``groups`` (mean ± std per config group), ``compare`` (runs and sweeps),
``copy`` (between stores), ``sweep_check`` (a sweep's cases against those expected), ``stores`` (read-only opening, id prefixes). Nothing here writes to a store
except ``copy``, and only to its destination.
"""

from __future__ import annotations

from typing import Any

from ..observers.record import RunReader, RunRecord

__all__ = ["runs", "runs_table"]


def runs(
    store: str | RunReader = "tinydb:.sacredx",
    where: str | None = None,
    sort: str | None = None,
    last: int | None = None,
) -> list[RunRecord]:
    """The runs of ``store`` that ``where`` keeps (see :mod:`pytest_sacredx.query.where`)."""
    from .stores import read_runs
    from .table import select

    return select(read_runs(store), where=where, sort=sort, last=last)


def runs_table(
    store: str | RunReader = "tinydb:.sacredx",
    where: str | None = None,
    sort: str | None = None,
    last: int | None = None,
    as_frame: bool | None = None,
) -> Any:
    """The tidy table of the selected runs: a DataFrame (``as_frame=None`` and pandas installed, or
    ``as_frame=True``) or a list of dicts (``as_frame=False``, or no pandas)."""
    from .table import tidy_rows

    rows = tidy_rows(runs(store, where=where, sort=sort, last=last))
    if as_frame is False:
        return rows
    try:
        import pandas as pd
    except ImportError:
        if as_frame:
            from ..errors import missing_extra

            raise missing_extra("pandas", "pandas") from None
        return rows
    return pd.DataFrame(rows)
