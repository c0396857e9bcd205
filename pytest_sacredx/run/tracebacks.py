"""Tracebacks trimmed to the user's frames: our own frames are noise in a report about their code.

What the command line prints is headed ``Traceback (most recent calls WITHOUT Sacred internals):``, as
Sacred heads it, so that people who know Sacred's output recognise it; stored ``fail_trace`` lines keep
Python's own header.

>>> try:
...     1 / 0
... except ZeroDivisionError as e:
...     lines = format_filtered_exception(e)
>>> lines[-1]
'ZeroDivisionError: division by zero\\n'

Sacred's ``sacred.utils`` helpers format the exception being handled:

>>> from pytest_sacredx.errors import SacredError
>>> try:
...     raise SacredError("bad value", print_traceback=False)
... except SacredError as e:
...     print(format_sacred_error(e, "usage: exp.py"))
pytest_sacredx.errors.SacredError: bad value
<BLANKLINE>
"""

from __future__ import annotations

import os
import sys
import traceback

__all__ = [
    "FILTERED_HEADER",
    "format_filtered_exception",
    "format_filtered_stacktrace",
    "format_sacred_error",
    "format_trimmed_for_people",
    "is_internal_frame",
]

FILTERED_HEADER = "Traceback (most recent calls WITHOUT Sacred internals):\n"
_PLAIN_HEADER = "Traceback (most recent call last):\n"
FILTER_MODES = ("always", "default", "never")

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


def format_trimmed_for_people(exc: BaseException) -> str:
    """The trimmed traceback as the command line prints it: each traceback of the chain headed
    ``Traceback (most recent calls WITHOUT Sacred internals):``, as Sacred heads it."""
    lines = format_filtered_exception(exc)
    return "".join(FILTERED_HEADER if line == _PLAIN_HEADER else line for line in lines)


def format_filtered_stacktrace(filter_traceback: str = "default") -> str:
    """The exception being handled (``sys.exc_info()``) as text, as Sacred's function of that name.

    ``always`` drops our frames; ``default`` does too unless the exception was raised inside
    pytest-sacredx itself (a bug of ours: then our frames are what matters, and only they are shown);
    ``never`` shows every frame.
    """
    exc = sys.exc_info()[1]
    return "" if exc is None else _format_stacktrace(exc, filter_traceback)


def _format_stacktrace(exc: BaseException, filter_traceback: str) -> str:
    if filter_traceback not in FILTER_MODES:
        raise ValueError(
            f"Unknown filter_traceback {filter_traceback!r}: use one of {', '.join(FILTER_MODES)}."
        )
    tb = exc.__traceback__
    if filter_traceback == "never" or tb is None:
        return "".join(traceback.format_exception(exc))
    last = tb
    while last.tb_next is not None:
        last = last.tb_next
    if filter_traceback == "default" and is_internal_frame(last.tb_frame.f_code.co_filename):
        own = traceback.format_exception(type(exc), exc, last)
        return "Exception originated from within pytest_sacredx.\n" + "".join(own)
    return format_trimmed_for_people(exc)


def format_sacred_error(e: BaseException, short_usage: str) -> str:
    """How the command line shows a ``SacredError`` ``e``: the usage when ``e.print_usage``, then the
    traceback (filtered by ``e.filter_traceback``) when ``e.print_traceback``, else one line."""
    lines = []
    if getattr(e, "print_usage", False):
        lines.append(short_usage)
    if getattr(e, "print_traceback", False):
        lines.append(_format_stacktrace(e, getattr(e, "filter_traceback", "default")))
    else:
        lines.append("".join(traceback.format_exception_only(type(e), e)))
    return "\n".join(lines)


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
