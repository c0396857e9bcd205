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


_FRAMEWORK_PARTS = tuple(
    os.sep + part + os.sep for part in ("_pytest", "pluggy", "pytest", "xdist", "execnet")
)


def _is_framework(filename: str) -> bool:
    return any(part in filename for part in _FRAMEWORK_PARTS)


def format_filtered_exception(exc: BaseException) -> list[str]:
    """Like ``traceback.format_exception`` but only the user's frames (in chained causes too): the
    frames that called into us (pytest, pluggy, runpy, the script's ``@ex.automain`` line) and our own
    frames are dropped."""
    te = traceback.TracebackException.from_exception(exc)
    _filter(te, set())
    return list(te.format())


def _filter(te: traceback.TracebackException, seen: set[int]) -> None:
    if id(te) in seen:
        return
    seen.add(id(te))
    stack = list(te.stack)
    # The user's code starts where one of our frames calls into a frame that is neither ours nor the
    # test framework's (pluggy and pytest hook wrappers interleave with ours).
    start = next(
        (
            i + 1
            for i in range(len(stack) - 1)
            if is_internal_frame(stack[i].filename) and not _is_framework(stack[i + 1].filename)
            and not is_internal_frame(stack[i + 1].filename)
        ),
        0,
    )
    frames = [f for f in stack[start:] if not is_internal_frame(f.filename)]
    te.stack = traceback.StackSummary.from_list(frames)
    for nested in (te.__cause__, te.__context__):
        if nested is not None:
            _filter(nested, seen)
