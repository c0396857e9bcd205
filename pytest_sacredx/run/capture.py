"""Capturing a run's stdout and stderr while the user still sees them, without ever losing a line.

Three modes, as in Sacred: ``no`` captures nothing; ``sys`` swaps ``sys.stdout``/``sys.stderr`` for tee
proxies; ``fd`` (the default on POSIX) also catches output of C code and child processes by pointing fds
1 and 2 at pipes. Unlike Sacred's ``fd`` mode there are no ``tee`` subprocesses (they lost output and
deadlocked, Sacred issues #289, #705, #718, #755): one reader thread in this process copies each pipe to
the original fd and into the buffer (:mod:`pytest_sacredx.run.fd_tee`), and ``__exit__`` collects
everything written before it returned, on every exit path. Both streams go into one buffer; stdout still reaches the original stdout and stderr
the original stderr, so ``2>err.log`` and pytest's "Captured stderr" keep working.

Under pytest, ``sys.stdout`` is often not a writer to fd 1 (pytest's ``sys`` capture has no fileno, its
``fd`` capture writes to a temp file of its own); such streams are teed at the ``sys`` level as well, so
a run inside a test captures everything and pytest still shows it.

>>> with OutputCapture("sys") as capture:
...     print("hello")
hello
>>> capture.get()
'hello\\n'
>>> apply_backspaces_and_linefeeds("10%\\r50%\\r100%\\n")
'100%\\n'
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, Literal

from ..errors import CaptureModeError
from . import signals
from .fd_tee import HAS_POLL, FdTee

__all__ = [
    "CAPTURE_MODES",
    "CaptureMode",
    "OutputCapture",
    "apply_backspaces_and_linefeeds",
    "resolve_capture_mode",
]

CaptureMode = Literal["no", "sys", "fd"]
CAPTURE_MODES: tuple[CaptureMode, ...] = ("no", "sys", "fd")


def resolve_capture_mode(requested: str | None, has_observers: bool) -> str:
    """The mode a run captures with: ``--capture`` if given, else ``no`` without observers, else the setting.

    >>> resolve_capture_mode(None, has_observers=False)
    'no'
    >>> resolve_capture_mode("sys", has_observers=False)
    'sys'
    """
    if requested is None:
        if not has_observers:
            return "no"
        from ..settings import SETTINGS

        requested = SETTINGS.CAPTURE_MODE
    _check_mode(requested)
    return requested  # type: ignore[return-value]


def _check_mode(mode: object) -> None:
    if mode not in CAPTURE_MODES:
        raise CaptureModeError(
            f"Unknown capture mode {mode!r}; expected one of 'no', 'sys', 'fd' "
            "(set it with --capture=sys or SETTINGS.CAPTURE_MODE = 'sys')"
        )


class _Buffer:
    """Captured text: appends never block on a lock, readers get the filtered whole text, cached.

    ``append`` only appends to a list (atomic); ``get`` removes exactly the prefix it joined, so chunks
    appended meanwhile wait for the next ``get``. The filter runs only when new text arrived.
    """

    __slots__ = (
        "_pending",
        "_text",
        "_filter",
        "_filtered",
        "_filtered_len",
        "_get_lock",
        "append",
    )

    def __init__(self, filter: Callable[[str], str] | None) -> None:
        self._pending: list[str] = []
        self._text = ""
        self._filter = filter
        self._filtered = ""
        self._filtered_len = -1  # length of the text _filtered was made from
        self._get_lock = threading.Lock()
        self.append = self._pending.append

    def get(self) -> str:
        with self._get_lock:
            pending = self._pending
            count = len(pending)
            if count:
                self._text += "".join(pending[:count])
                del pending[:count]
            text = self._text
            if self._filter is None:
                return text
            if len(text) != self._filtered_len:
                self._filtered = self._filter(text)
                self._filtered_len = len(text)
            return self._filtered


class _TeeStream:
    """Stands in for ``sys.stdout``/``sys.stderr``: writes go to the wrapped stream and into the buffer.

    Everything else (``encoding``, ``isatty``, ``fileno``, ``buffer``, ...) is the wrapped stream's, and
    ``isinstance`` sees the wrapped stream's class, like Sacred's wrapt proxy. Once its capture ends, a
    proxy that someone else has wrapped meanwhile stays in their chain and only forwards.
    """

    def __init__(self, wrapped: Any, sink: Callable[[str], None]) -> None:
        self._wrapped = wrapped
        self._sink = sink
        self._active = True

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # so isinstance(sys.stdout, io.TextIOWrapper) keeps working
        return type(self._wrapped) if self._wrapped is not None else _TeeStream

    def write(self, text: str) -> int:
        # Into the buffer first: if the original stream is broken (closed pipe) the run still has it.
        if self._active and type(text) is str:
            self._sink(text)
        if self._wrapped is None:  # pythonw and daemons: sys.stdout is None, print() drops output
            return len(text)
        return self._wrapped.write(text)  # type: ignore[no-any-return]

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if self._wrapped is not None:
            self._wrapped.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._wrapped, name)

    def __repr__(self) -> str:
        return f"<sacredx tee of {self._wrapped!r}>"


def _unwrap_finished(stream: Any) -> Any:
    while type(stream) is _TeeStream and not stream._active:
        stream = stream._wrapped
    return stream


def _stream_fd(stream: Any) -> int | None:
    try:
        return int(stream.fileno())
    except (AttributeError, ValueError, OSError, TypeError):  # io.UnsupportedOperation is both
        return None


_libc: Any = None


def _flush_all() -> None:
    """Flush Python's and C's stdio buffers so that what was printed reaches the fds now."""
    global _libc
    streams = (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__)
    for stream in {id(s): s for s in streams if s is not None}.values():
        try:
            stream.flush()
        except Exception:  # closed, broken pipe, a user stream without flush: nothing to flush
            pass
    if _libc is None:
        try:
            import ctypes

            _libc = ctypes.CDLL(None)
            _libc.fflush  # noqa: B018 - look it up once; a libc without it means no C flush
        except Exception:
            _libc = False
    if _libc:
        try:
            _libc.fflush(None)
        except Exception:
            pass


_fd_owner_lock = threading.Lock()
_fd_owners: list[int] = []  # thread ids of the fd captures now active, innermost last


class OutputCapture:
    """Capture a run's output while it still reaches the terminal (or pytest); a one-shot context manager.

    ``get()`` may be called at any time from any thread (the heartbeat does) and returns the whole text
    so far with ``filter`` applied; after the ``with`` block it returns the complete final text.
    ``mode`` is the mode in effect: ``fd`` falls back to ``sys`` where fds cannot be redirected (Windows,
    closed fds) and for a run started while another thread's run holds the fds.

    >>> import sys
    >>> with OutputCapture("sys", filter=str.upper) as capture:
    ...     print("progress", file=sys.stderr)
    >>> capture.get()
    'PROGRESS\\n'
    """

    #: How long ``__exit__`` waits for EOF on the pipes before assuming a live child holds them.
    drain_timeout: float = 0.25

    def __init__(self, mode: str, filter: Callable[[str], str] | None = None) -> None:
        _check_mode(mode)
        self.requested_mode: str = mode
        self.mode: str = mode
        self._buffer = _Buffer(filter)
        self._proxies: list[tuple[str, _TeeStream]] = []
        self._saved_streams: dict[str, Any] = {}
        self._fd: FdTee | None = None
        self._fd_owner = 0
        self._state = "new"

    def __enter__(self) -> OutputCapture:
        if self._state != "new":
            raise RuntimeError("an OutputCapture can be entered only once; make a new one per run")
        self._state = "active"
        if self.mode == "sys":
            self._tee_streams("stdout", "stderr")
        elif self.mode == "fd":
            self._start_fd()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._state != "active":
            return
        self._state = "done"
        # SIGTERM/SIGINT wait until the streams are restored and the output collected (signals.held);
        # nested finally blocks run every step even after an interrupt raised elsewhere (a thread).
        with signals.held():
            try:
                if self._fd is not None:
                    _flush_all()
            finally:
                try:
                    self._untee_streams()
                finally:
                    if self._fd is not None:
                        try:
                            self._fd.stop()
                        finally:
                            with _fd_owner_lock:
                                _fd_owners.remove(self._fd_owner)

    def get(self) -> str:
        """The captured text so far (all of it, filtered); thread-safe and cheap when nothing is new."""
        return self._buffer.get()

    def __repr__(self) -> str:
        return f"<OutputCapture mode={self.mode!r} {self._state}>"

    def _start_fd(self) -> None:
        me = self._fd_owner = threading.get_ident()
        with _fd_owner_lock:
            # fds are process-wide: two threads' runs would restore each other's fds out of order.
            usable = HAS_POLL and all(owner == me for owner in _fd_owners)
            nested = bool(_fd_owners)
            if usable:
                _fd_owners.append(me)
        if not usable:
            self.mode = "sys"
            self._tee_streams("stdout", "stderr")
            return
        _flush_all()
        fd_tee = FdTee(self._buffer.append, self.drain_timeout, nested=nested)
        try:
            fd_tee.start()
        except (OSError, RuntimeError):
            # fd 1 or 2 closed, out of fds, or no thread to be had: sys mode still works.
            with _fd_owner_lock:
                _fd_owners.remove(me)
            self.mode = "sys"
            self._tee_streams("stdout", "stderr")
            return
        self._fd = fd_tee
        # A Python stream that does not write to its fd (pytest's capture, redirect_stdout) bypasses the
        # pipes; tee it at the sys level too.
        bypassing = [
            n for n, fd in (("stdout", 1), ("stderr", 2)) if _stream_fd(getattr(sys, n)) != fd
        ]
        self._tee_streams(*bypassing)

    def _tee_streams(self, *names: str) -> None:
        for name in names:
            proxy = _TeeStream(getattr(sys, name), self._buffer.append)
            self._proxies.append((name, proxy))
            setattr(sys, name, proxy)

    def _untee_streams(self) -> None:
        for name, proxy in reversed(self._proxies):
            proxy._active = False
            if getattr(sys, name) is proxy:
                try:
                    proxy.flush()
                except Exception:
                    pass
                setattr(sys, name, _unwrap_finished(proxy._wrapped))
            # Otherwise someone replaced it after us and will put our proxy back; it only forwards now.


_CONTROL = re.compile("([\r\b])")


def apply_backspaces_and_linefeeds(text: str) -> str:
    """Interpret ``\\b`` and ``\\r`` as a terminal would, so a progress bar keeps only its last frame.

    ``\\r`` returns to the start of the line and ``\\b`` moves one character left; what follows
    overwrites. A ``\\r`` at the very end is kept, so that the next chunk still overwrites that line
    (Sacred's behaviour).

    >>> apply_backspaces_and_linefeeds("epoch 1: 10%\\repoch 1: 99%\\repoch 1: done\\n")
    'epoch 1: done\\n'
    >>> apply_backspaces_and_linefeeds("abc\\b\\bX")
    'aXc'
    >>> apply_backspaces_and_linefeeds("50%\\r")
    '50%\\r'
    """
    if "\r" not in text and "\b" not in text:
        return text
    lines = text.split("\n")
    last = len(lines) - 1
    for index, line in enumerate(lines):
        if "\r" not in line and "\b" not in line:
            continue
        keep_cr = index == last and line.endswith("\r")
        if keep_cr:
            line = line[:-1]
        if "\b" in line:
            line = _render_line(line)
        else:  # only carriage returns: overlay the frames
            frames = line.split("\r")
            line = frames[0]
            for frame in frames[1:]:
                line = frame + line[len(frame) :]
        lines[index] = line + "\r" if keep_cr else line
    return "\n".join(lines)


def _render_line(line: str) -> str:
    chars: list[str] = []
    cursor = 0
    for token in _CONTROL.split(line):
        if token == "\r":
            cursor = 0
        elif token == "\b":
            if cursor:
                cursor -= 1
        elif token:
            chars[cursor : cursor + len(token)] = token
            cursor += len(token)
    return "".join(chars)
