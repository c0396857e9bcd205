"""What can go wrong when reading runs for people: one line each, naming the mistake and the fix.

The ``sacredx`` command prints ``Error: <message>`` and exits 2 for every one of them.

>>> raise UnknownFieldError("unknown column 'confg.gamma'; did you mean 'config.gamma'?")
Traceback (most recent call last):
...
pytest_sacredx.query.errors.UnknownFieldError: unknown column 'confg.gamma'; did you mean 'config.gamma'?
"""

from __future__ import annotations

from ..errors import SacredxError

__all__ = [
    "QueryError",
    "WhereSyntaxError",
    "UnknownFieldError",
    "RunNotFoundError",
    "StoreReadError",
    "QueryUsageError",
]


class QueryError(SacredxError):
    """Base of the errors of ``pytest_sacredx.query`` and ``pytest_sacredx.report``."""


class WhereSyntaxError(QueryError, ValueError):
    """A ``--where`` expression that does not parse; the message points at the column."""


class UnknownFieldError(QueryError, KeyError):
    """A column, sort key, metric or reducer that no listed run has (with a did-you-mean)."""


class RunNotFoundError(QueryError, KeyError):
    """No run (or more than one) has that id or id prefix; the message lists the candidates."""


class StoreReadError(QueryError, OSError):
    """A store that does not exist, cannot be read, or holds something that is not a run."""


class QueryUsageError(QueryError, ValueError):
    """An option value that cannot work (``--last -1``, a plot file of an unknown type, …)."""
