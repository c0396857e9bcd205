"""fd-level teeing for ``--capture fd``: fds 1 and 2 point at pipes, one reader thread copies each pipe to
the original fd (the user still sees the output as it comes) and into the run's capture.

One reader thread serves every run of the process: starting a thread and joining it per run cost more
than a whole trivial run (~1–3 ms on a loaded machine). The reader only has to keep the output moving
while the run is going; at the end of a run the thread that ends it takes the pipes off the reader's
list (before closing the write ends, so their EOF wakes nobody), reads what is still in them itself,
under the session's lock (so the order of the chunks is kept), and returns without a handshake. It does
so only where no signal can raise between a read and its capture (``signals.deferred()``); otherwise
the reader reads and the ending thread waits, as it does when a child process still holds a pipe.

A run's end reads to EOF: once fds 1 and 2 are restored and our write ends are closed, nothing else
holds the pipes — unless a child process that inherited them is still alive. Then ``stop`` waits
``drain_timeout`` for EOF, collects what is already in the pipes (all that was written before ``stop``)
and leaves the session forwarding, without capturing, until the child exits — so the child is never cut
off mid-write and its later lines never land in the next run's capture (every run has its own pipes).

A capture nested in another one (a run inside a run, same thread) forwards into the outer run's pipe,
which the shared reader itself drains: it gets a reader of its own, or a full outer pipe would block
the one thread that empties it.

>>> chunks = []
>>> tee = FdTee(chunks.append, drain_timeout=0.25, nested=False)
>>> tee.start()
>>> _ = os.write(1, b"to the pipe\\n")  # still reaches the original fd 1 as well
>>> tee.stop()
>>> "".join(chunks)
'to the pipe\\n'
"""

from __future__ import annotations

import atexit
import codecs
import os
import select
import threading
import time
from collections.abc import Callable
from typing import Any

from ..atomic import write_all
from . import signals

__all__ = ["FdTee", "HAS_POLL"]

# fd mode needs poll() to wait on its pipes and a wake-up pipe at once; Windows has none and uses sys mode.
HAS_POLL = hasattr(select, "poll")
_READ_SIZE = 65536
_SMALL_READ = 4096
_BATCH_DELAY = 0.001


class _Session:
    """One capture's two pipes as the reader sees them: where each is forwarded, how it is decoded.

    ``pump`` and ``drain`` run under ``lock``, taken by the reader and by the thread that ends the run,
    so a chunk is forwarded and captured whole before the next one is read.
    """

    __slots__ = (
        "sink",
        "readers",
        "forward",
        "targets",
        "decoders",
        "open",
        "capturing",
        "lock",
        "ended",
        "collected",
        "live",
    )

    def __init__(self, sink: Callable[[str], None], readers: list[int], forward: list[int]) -> None:
        self.sink = sink
        self.readers = readers
        self.forward = forward
        self.targets: list[int | None] = list(forward)
        self.decoders = [codecs.getincrementaldecoder("utf-8")("replace") for _ in readers]
        self.open = {fd: i for i, fd in enumerate(readers)}  # read ends not at EOF yet
        self.capturing = True
        self.lock = threading.Lock()
        self.ended = threading.Event()  # both pipes at EOF: everything written was read
        self.collected = threading.Event()  # capturing is over (ended, or given up on a live child)
        self.live = set(readers)  # read ends not closed yet

    def pump(self, fd: int) -> int:
        """Read one chunk from ``fd`` (non-blocking), forward it, capture it; the bytes read (0: none)."""
        i = self.open.get(fd)
        if i is None:
            return 0
        try:
            data = os.read(fd, _READ_SIZE)
        except BlockingIOError:
            return 0
        except OSError:
            data = b""
        if not data:  # EOF: every write end is closed
            del self.open[fd]
            if not self.open:
                self.stop_capturing()
                self.ended.set()
            return 0
        target = self.targets[i]
        if target is not None:
            try:
                write_all(target, data)
            except OSError:  # the original stream went away; keep capturing regardless
                self.targets[i] = None
        if self.capturing:
            text = self.decoders[i].decode(data)
            if text:
                self.sink(text)
        return len(data)

    def drain(self) -> bool:
        """Read all that the pipes hold now; whether both reached EOF."""
        for fd in list(self.open):
            while self.pump(fd):
                pass
        return not self.open

    def stop_capturing(self) -> None:
        if self.capturing:
            self.capturing = False
            for decoder in self.decoders:
                tail = decoder.decode(b"", final=True)
                if tail:
                    self.sink(tail)
        self.collected.set()


class _Reader:
    """A thread that pumps the pipes of fd captures. The shared one lives as long as the process; a
    dedicated one (a nested capture) ends with its session.

    Sessions are registered and retired by the thread that starts or ends a run, under the reader's
    lock. With ``epoll`` (Linux) the waiting reader sees a new pipe at once, so a run costs the reader
    no wake-up at all unless it prints; with ``poll`` it is woken through its wake-up pipe. Read ends
    are closed only after EOF, so an event that was already on its way for a closed fd number, now
    reused by another run's pipe, at worst makes the reader try a non-blocking read of that pipe.
    """

    def __init__(self, shared: bool) -> None:
        self.shared = shared
        self.pid = os.getpid()
        self._lock = threading.Lock()
        self._by_fd: dict[int, _Session] = {}
        self._collect: list[_Session] = []
        self._epoll = hasattr(select, "epoll")
        self._poller: Any = select.epoll() if self._epoll else select.poll()
        self._wake_r, self._wake_w = os.pipe()
        try:
            os.set_blocking(self._wake_r, False)
            os.set_blocking(self._wake_w, False)
            self._poller.register(self._wake_r, select.POLLIN)
            self._thread = threading.Thread(target=self._loop, name="sacredx-output-capture", daemon=True)
        except BaseException:
            self._close_own()
            raise

    def start(self) -> None:
        """Start the thread (after the first session of a dedicated reader is added)."""
        try:
            self._thread.start()
        except BaseException:
            self._close_own()
            raise

    def alive(self) -> bool:
        return self.pid == os.getpid() and self._thread.is_alive()

    def add(self, session: _Session) -> None:
        """Watch ``session``'s read ends that are still open."""
        with self._lock:
            for fd in session.readers:
                if fd in session.live and fd not in self._by_fd:
                    self._by_fd[fd] = session
                    self._poller.register(fd, select.POLLIN)
        if not self._epoll:
            self._wake()

    def detach(self, session: _Session) -> None:
        """Stop watching ``session``: the run's end reads the rest itself. Done before the write ends
        close, so their EOF does not wake the reader only to find that the run's end took it all."""
        with self._lock:
            for fd in session.readers:
                if self._by_fd.get(fd) is session:
                    del self._by_fd[fd]
                    self._poller.unregister(fd)

    def retire(self, session: _Session, fd: int) -> None:
        """Close a read end at EOF (called under ``session.lock``); the forward fds go with the last."""
        if fd not in session.live:
            return
        session.live.discard(fd)
        with self._lock:
            if self._by_fd.get(fd) is session:
                del self._by_fd[fd]
                self._poller.unregister(fd)
            _close(fd)
        if not session.live:
            for target in session.forward:
                _close(target)
            _forwarders.discard(session)
            if not self.shared:
                self._wake()  # a dedicated reader ends with its session

    def request_collect(self, session: _Session) -> None:
        """Ask the reader to take what is in ``session``'s pipes now and stop capturing it."""
        with self._lock:
            self._collect.append(session)
        self._wake()

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except OSError:  # full (the reader is awake anyway) or gone
            pass

    def _close_own(self) -> None:
        _close(self._wake_r)
        _close(self._wake_w)
        if self._epoll:
            self._poller.close()

    def _loop(self) -> None:
        by_fd = self._by_fd
        while True:
            got = 0
            for fd, _event in self._poller.poll():
                if fd == self._wake_r:
                    try:
                        os.read(fd, _READ_SIZE)
                    except OSError:
                        pass
                    with self._lock:
                        collect, self._collect = self._collect, []
                    for given_up in collect:
                        with given_up.lock:
                            # Everything written before stop() is in the pipes now.
                            given_up.drain()
                            if not given_up.ended.is_set():
                                _forwarding(given_up)  # before collected: the interpreter may exit
                            given_up.stop_capturing()
                            for reader in [r for r in given_up.readers if r not in given_up.open]:
                                self.retire(given_up, reader)
                    continue
                with self._lock:
                    owner = by_fd.get(fd)
                if owner is None:  # retired meanwhile
                    continue
                with owner.lock:
                    got += owner.pump(fd)
                    if fd not in owner.open:  # EOF
                        self.retire(owner, fd)
            if not self.shared:
                with self._lock:
                    if not by_fd:
                        self._close_own()
                        return
            if 0 < got < _SMALL_READ:
                # A trickle (unbuffered prints): let it pile up for a moment instead of taking the GIL
                # from the writing thread once per write. Nobody sees a 1 ms delay.
                time.sleep(_BATCH_DELAY)


_shared: _Reader | None = None
_shared_lock = threading.Lock()


def _shared_reader() -> _Reader:
    global _shared
    with _shared_lock:
        if _shared is None or not _shared.alive():
            reader = _Reader(shared=True)
            reader.start()
            _shared = reader
        return _shared


def _forget_shared_reader() -> None:
    # A forked child has the reader's fds but not its thread.
    global _shared, _shared_lock
    _shared = None
    _shared_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_shared_reader)


class FdTee:
    """Points fds 1 and 2 at fresh pipes for one run; ``stop`` restores them and collects the output.

    ``sink`` gets the decoded text of both pipes, chunk by chunk, in the order it was read.
    """

    def __init__(self, sink: Callable[[str], None], drain_timeout: float, nested: bool) -> None:
        self._sink = sink
        self._drain_timeout = drain_timeout
        self._nested = nested
        self._saved: list[int] = []
        self._writers: list[int] = []
        self._session: _Session | None = None
        self._reader: _Reader | None = None

    def start(self) -> None:
        opened: list[int] = []
        try:
            self._saved = [os.dup(1), os.dup(2)]
            opened += self._saved
            pipes = [os.pipe(), os.pipe()]
            opened += [fd for pipe in pipes for fd in pipe]
            # The reader forwards through its own copies, which it closes when it is done.
            forward = [os.dup(fd) for fd in self._saved]
            opened += forward
            readers = [r for r, _ in pipes]
            for fd in readers:
                os.set_blocking(fd, False)  # the reader and the run's end both read them
            self._writers = [w for _, w in pipes]
            session = _Session(self._sink, readers, forward)
            if self._nested:
                reader = _Reader(shared=False)
                reader.add(session)
                reader.start()
            else:
                reader = _shared_reader()
                reader.add(session)
            self._reader, self._session = reader, session
        except BaseException:
            for fd in opened:
                _close(fd)
            raise
        os.dup2(self._writers[0], 1)
        os.dup2(self._writers[1], 2)

    def stop(self) -> None:
        reader, session = self._reader, self._session
        assert reader is not None and session is not None
        # Nothing can raise in this thread between a read and its capture (signals wait): this thread
        # reads the rest. A nested capture's reader ends when it has nothing to watch, so it keeps it.
        here = reader.shared and signals.deferred()
        if here:
            reader.detach(session)
        try:
            os.dup2(self._saved[0], 1)
            os.dup2(self._saved[1], 2)
        finally:
            for fd in (*self._saved, *self._writers):
                _close(fd)
            self._collect(reader, session, here)

    def _collect(self, reader: _Reader, session: _Session, here: bool) -> None:
        """Take everything written so far; a Ctrl-C meanwhile waits its turn."""
        if here:
            with session.lock:
                done = session.drain()
                for fd in session.readers:
                    if fd not in session.open:
                        reader.retire(session, fd)
            if done:
                return
            reader.add(session)  # a child holds a pipe: the reader forwards it again
        # A child still holds a pipe, or a KeyboardInterrupt could land between a read and its
        # capture here: the reader (no signal reaches it) reads, this thread only waits.
        interrupted: BaseException | None = None
        requested = False
        while True:
            try:
                if not requested:
                    if session.ended.wait(self._drain_timeout):
                        break
                    requested = True
                    reader.request_collect(session)
                session.collected.wait()
                break
            except KeyboardInterrupt as exc:
                # Finish collecting first: losing the last output to a Ctrl-C is Sacred issue #755.
                interrupted = exc
                if not requested:
                    requested = True
                    reader.request_collect(session)
        if interrupted is not None:
            raise interrupted


# Sessions still forwarding a live child's output after their run ended.
_forwarders: set[_Session] = set()


def _forwarding(session: _Session) -> None:
    if not _forwarders:
        atexit.unregister(_wait_for_forwarders)
        atexit.register(_wait_for_forwarders)
    _forwarders.add(session)


def _wait_for_forwarders(timeout: float = 1.0) -> None:
    """At exit, give children that outlived their run a moment, so their last lines reach the user."""
    deadline = time.monotonic() + timeout
    for session in list(_forwarders):
        session.ended.wait(max(0.0, deadline - time.monotonic()))


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass

