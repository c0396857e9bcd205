"""Our logger hierarchy (``sacredx.<experiment>``): the root logger is never configured behind the
user's back.

Sacred calls ``logging.basicConfig`` and logs through the root logger, which duplicates or overrides the
user's handlers. We log to ``sacredx.*``; when nobody configured logging (the root logger has no
handlers) we attach one handler of ours to ``sacredx`` that prints Sacred's familiar lines
(``INFO - hello_config - Started``) to stderr. As soon as the user configures root logging, our handler
steps aside and records propagate to theirs (and to pytest's log capture).
"""

from __future__ import annotations

import datetime as _dt
import logging
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .errors import CommandLineError

if TYPE_CHECKING:
    from .ingredient import Ingredient

__all__ = ["BASE_LOGGER_NAME", "get_run_loggers", "parse_log_level", "td_format"]

BASE_LOGGER_NAME = "sacredx"
_PREFIX = BASE_LOGGER_NAME + "."


class _ShortNameFormatter(logging.Formatter):
    """Shows ``hello_config`` for the logger ``sacredx.hello_config``, as Sacred's lines read."""

    def format(self, record: logging.LogRecord) -> str:
        name = record.name
        record.shortname = name[len(_PREFIX):] if name.startswith(_PREFIX) else name
        return super().format(record)


class _OurHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler as ours, so we can tell it apart from the user's."""

    def __init__(self) -> None:
        super().__init__()

    @property  # type: ignore[override]
    def stream(self) -> Any:  # always the current stderr (pytest and tests swap it)
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def _ensure_handler(base: logging.Logger) -> None:
    ours: list[logging.Handler] = [h for h in base.handlers if isinstance(h, _OurHandler)]
    if logging.getLogger().handlers:
        for h in ours:
            base.removeHandler(h)
        if ours:
            base.propagate = True
            if getattr(base, "_sacredx_set_level", False):
                base.setLevel(logging.NOTSET)
        return
    if ours or [h for h in base.handlers if not isinstance(h, _OurHandler)]:
        return
    handler = _OurHandler()
    handler.setFormatter(_ShortNameFormatter("%(levelname)s - %(shortname)s - %(message)s"))
    base.addHandler(handler)
    base.propagate = False
    if base.level == logging.NOTSET:
        base.setLevel(logging.INFO)
        base._sacredx_set_level = True  # type: ignore[attr-defined]


def parse_log_level(level: str | int) -> int:
    """``"DEBUG"``, ``"debug"``, ``"10"`` or ``10`` → 10; anything else is a one-line error."""
    if isinstance(level, int):
        return level
    text = str(level).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    value = logging.getLevelName(text.upper())
    if isinstance(value, int):
        return value
    raise CommandLineError(
        f"Unknown log level {level!r}: use DEBUG, INFO, WARNING, ERROR, CRITICAL or a number."
    )


def get_run_loggers(experiment: Ingredient) -> tuple[logging.Logger, logging.Logger]:
    """The experiment's root logger and the run's logger (its child named after the experiment)."""
    if experiment.logger is not None:
        root = experiment.logger
    else:
        root = logging.getLogger(BASE_LOGGER_NAME)
        _ensure_handler(root)
    return root, root.getChild(experiment.path)


def set_log_level(logger: logging.Logger, log_level: str | int | None) -> Callable[[], None]:
    """Apply ``-l/--loglevel`` for one run; call the returned function when the run ends.

    Sacred sets the root logger's level and leaves it set, so one ``-l ERROR`` run silences every later
    run (and every library) in the process — hundreds of runs in one pytest session. Ours lasts one run.
    Runs in threads may overlap: the level of the newest run still active holds, and the logger's own
    level comes back when the last one ends (whatever order they end in).

    >>> log = logging.getLogger("sacredx.doctest.level")
    >>> first, second = set_log_level(log, "ERROR"), set_log_level(log, "DEBUG")
    >>> first(); logging.getLevelName(log.level)
    'DEBUG'
    >>> second(); log.level
    0
    """
    if log_level is None:
        return _nothing
    level = parse_log_level(log_level)
    token = object()
    with _LEVELS_LOCK:
        original, active = _LEVELS.setdefault(id(logger), (logger.level, []))
        active.append((token, level))
        logger.setLevel(level)

    def restore() -> None:
        with _LEVELS_LOCK:
            entry = _LEVELS.get(id(logger))
            if entry is None or all(t is not token for t, _ in entry[1]):
                return  # restored already
            entry[1][:] = [(t, lvl) for t, lvl in entry[1] if t is not token]
            if entry[1]:
                logger.setLevel(entry[1][-1][1])
            else:
                logger.setLevel(entry[0])
                del _LEVELS[id(logger)]

    return restore


#: logger id -> (its level before any run changed it, [(run token, level), …] of the active runs)
_LEVELS: dict[int, tuple[int, list[tuple[object, int]]]] = {}
_LEVELS_LOCK = threading.Lock()


def _nothing() -> None:
    pass


def td_format(td_object: _dt.timedelta) -> str:
    """Format a duration as Sacred does in its log lines: ``H:MM:SS``."""
    seconds = int(td_object.total_seconds())
    return str(_dt.timedelta(seconds=seconds))
