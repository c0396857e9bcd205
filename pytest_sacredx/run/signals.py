"""SIGTERM and SIGINT during a run: the run ends INTERRUPTED, and the signal is never swallowed.

While a run executes in the main thread, SIGTERM raises :class:`Terminated` and SIGINT raises
``KeyboardInterrupt`` — except while an observer handles an event, or while the run records how it
ended. There the signal waits until the observer returns: an observer's own ``except Exception`` cannot
catch it, no store is left with half an event, and every store that took the start hears how the run
ended. A second signal while the first one waits takes effect at once, so an observer that hangs can
still be stopped.

:class:`Terminated` is a ``SystemExit`` (exit status 143, as a shell reports a process ended by
SIGTERM): a program that calls ``ex.run()`` and does not catch it ends with 143 and no traceback,
as it would without a handler, and no ``except Exception`` in the user's code swallows it.

>>> with held():
...     pending() is None
True
>>> str(Terminated())
'received SIGTERM'
>>> Terminated().code
143
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["Terminated", "deferred", "install", "held", "pending", "interrupt_for"]


class Terminated(SystemExit):
    """SIGTERM arrived during a run: the run ended INTERRUPTED; uncaught, the process exits 143."""

    STATUS = "INTERRUPTED"

    def __init__(self, message: str = "received SIGTERM") -> None:
        super().__init__(128 + signal.SIGTERM)
        self.message = message

    def __str__(self) -> str:
        return self.message


def interrupt_for(signum: int) -> BaseException:
    """The exception a run raises for ``signum``: ``Terminated`` for SIGTERM, else ``KeyboardInterrupt``."""
    return Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


class _Gate:
    """The process's one signal gate: the handler, the depth of held regions, the waiting signal."""

    def __init__(self) -> None:
        self.depth = 0  # held regions of the main thread
        self.pending: int | None = None
        self.installed = False

    def handle(self, signum: int, frame: Any) -> None:
        if self.depth > 0 and self.pending is None:
            self.pending = signum  # raised when the held region ends
            return
        self.pending = None  # not held, or a second signal: now
        raise interrupt_for(signum)

    def take(self) -> BaseException | None:
        signum, self.pending = self.pending, None
        return None if signum is None else interrupt_for(signum)


_GATE = _Gate()


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def install() -> Callable[[], None]:
    """Handle SIGTERM and SIGINT for a run; returns ``restore``, which puts the old handlers back and
    then raises a signal that arrived while held and has not been raised yet.

    Only in the main thread (signals reach no other), and only for a signal nobody else handles: SIGTERM
    at its default, SIGINT at Python's ``KeyboardInterrupt`` handler. A run inside a run leaves the
    outer run's handlers in place.
    """
    if not _in_main_thread() or _GATE.installed:
        return lambda: None
    previous: dict[int, Any] = {}
    for signum, default in ((signal.SIGTERM, signal.SIG_DFL), (signal.SIGINT, signal.default_int_handler)):
        try:
            handler = signal.getsignal(signum)
        except (ValueError, AttributeError):  # pragma: no cover - no such signal here
            continue
        if handler is default or (signum == signal.SIGTERM and handler is None):
            signal.signal(signum, _GATE.handle)
            previous[signum] = handler
    if not previous:
        return lambda: None
    _GATE.installed = True
    _GATE.pending = None

    def restore() -> None:
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        _GATE.installed = False
        interrupt = _GATE.take()
        if interrupt is not None:
            raise interrupt

    return restore


@contextmanager
def held() -> Iterator[None]:
    """Hold SIGTERM/SIGINT back until the block ends, then raise the one that arrived (if any).

    For observer events and for recording a run's end; a no-op outside the main thread. Nested blocks
    raise when the outermost one ends.
    """
    if not _in_main_thread():
        yield
        return
    _GATE.depth += 1
    try:
        yield
    finally:
        _GATE.depth -= 1
        if _GATE.depth == 0 and _GATE.pending is not None:
            interrupt = _GATE.take()
            assert interrupt is not None
            raise interrupt


def deferred() -> bool:
    """Whether a SIGTERM/SIGINT arriving now would wait instead of raising in this thread.

    True in any thread but the main one (signals raise only there) and inside a :func:`held` block of a
    run whose gate is installed. The fd capture reads its last output in the ending thread only then.

    >>> import threading
    >>> deferred() == (threading.current_thread() is not threading.main_thread())
    True
    """
    if not _in_main_thread():
        return True
    return _GATE.installed and _GATE.depth > 0


def pending() -> int | None:
    """The signal waiting for the current held block to end, or None.

    An observer doing long work (an upload, retries) can check it and give up early::

        if pending() is not None:
            return  # the run is being interrupted; its end follows
    """
    return _GATE.pending
