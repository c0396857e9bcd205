"""Whole-file writes that never leave a half-written file: a temporary file in the same folder, then
one ``os.replace`` (atomic within a file system — readers see the old file or the new one).

Used by every layer that writes a file users read back: config files, baselines, the stores. We skip
``fsync``: the guarantee is against killed processes, not power loss.

>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "config.json")
>>> with atomic_file(path, "w", encoding="utf-8") as fh:
...     _ = fh.write("{}")
>>> open(path).read()
'{}'
>>> write_atomic(path, b"[]")  # the same for bytes already in hand, with no file object
>>> open(path).read()
'[]'
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
from collections.abc import Iterator
from typing import IO, Any

__all__ = ["atomic_file", "write_all", "write_atomic"]

_counter = itertools.count()


def _temp_in(directory: str, name: str) -> tuple[int, str]:
    # A dot prefix and a .tmp suffix: readers and directory scans can recognise (and skip) leftovers.
    # pid + thread + counter is unique without mkstemp's random names and retries (a measurable share
    # of a short run's cost); O_EXCL still refuses a leftover. Mode 0644 (through the umask) rather than
    # mkstemp's 0600, which would stick to the renamed file.
    while True:
        tmp = os.path.join(
            directory or ".", f".{name}.{os.getpid()}.{threading.get_ident()}.{next(_counter)}.tmp"
        )
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644), tmp
        except FileExistsError:
            continue


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str], mode: str = "wb", **open_kwargs: Any) -> Iterator[IO[Any]]:
    """Write ``path`` through the yielded file; it replaces ``path`` only if the block succeeds."""
    target = os.fspath(path)
    directory, name = os.path.split(target)
    fd, tmp = _temp_in(directory, name)
    try:
        with os.fdopen(fd, mode, **open_kwargs) as fh:
            yield fh
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace ``path`` with ``data`` as :func:`atomic_file` does, through the bare fd: no file object
    (its ``fstat``, ``ioctl`` and ``lseek`` calls) for a store that writes several small files per run."""
    target = os.fspath(path)
    directory, name = os.path.split(target)
    fd, tmp = _temp_in(directory, name)
    try:
        try:
            write_all(fd, data)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd``: ``os.write`` may take less than it is given (a pipe, a signal).

    >>> r, w = os.pipe()
    >>> write_all(w, b"whole"); os.close(w); os.read(r, 10)
    b'whole'
    """
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
