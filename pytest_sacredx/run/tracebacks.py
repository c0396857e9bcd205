"""Tracebacks trimmed to the user's frames: our own frames are noise in a report about their code.

>>> try:
...     1 / 0
... except ZeroDivisionError as e:
...     lines = format_filtered_exception(e)
>>> lines[-1]
'ZeroDivisionError: division by zero\\n'
"""

from __future__ import annotations

import os
import traceback

__all__ = ["format_filtered_exception", "is_internal_frame"]

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def is_internal_frame(filename: str) -> bool:
    """Whether a frame belongs to pytest-sacredx itself."""
    return os.path.abspath(filename).startswith(_PACKAGE_DIR)


def format_filtered_exception(exc: BaseException) -> list[str]:
    """Like ``traceback.format_exception`` but without our frames (in chained causes too)."""
    te = traceback.TracebackException.from_exception(exc)
    _filter(te, set())
    return list(te.format())


def _filter(te: traceback.TracebackException, seen: set[int]) -> None:
    if id(te) in seen:
        return
    seen.add(id(te))
    frames = [f for f in te.stack if not is_internal_frame(f.filename)]
    te.stack = traceback.StackSummary.from_list(frames)
    for nested in (te.__cause__, te.__context__):
        if nested is not None:
            _filter(nested, seen)
