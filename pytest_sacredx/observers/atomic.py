"""Crash-safe file helpers shared by the embedded stores: atomic writes, atomic copies, a process lock.

A store must never leave a half-written file behind, even when the process is SIGKILLed mid-write, and
several processes (xdist workers, parallel launches) write into one folder at once. So:

- every whole-file write goes to a temporary file in the *same* directory and is then ``os.replace``-d
  over the target (a rename within one file system is atomic: readers see the old or the new file, never
  a mix). We skip ``fsync``: the guarantee is against killed processes, not power loss;
- content-addressed copies (sources, resources, hashfs blobs) are made the same way, so two processes
  storing the same content race harmlessly;
- :class:`FileLock` is an ``fcntl.flock`` lock on a separate lock file that is never replaced, re-entrant
  within one process and safe across threads.

>>> import tempfile, os
>>> d = tempfile.mkdtemp()
>>> write_json_atomic(os.path.join(d, "run.json"), {"b": 1, "a": (2, 3)})
>>> print(open(os.path.join(d, "run.json")).read())
{
  "a": [
    2,
    3
  ],
  "b": 1
}
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import threading
from collections.abc import Iterator
from typing import Any

from ..atomic import atomic_file

__all__ = [
    "FileLock",
    "copy_atomic",
    "dumps_json",
    "file_md5",
    "write_bytes_atomic",
    "write_json_atomic",
]

_CHUNK = 1 << 20


def dumps_json(obj: Any) -> str:
    """Our on-disk JSON style for whole files: sorted keys, indent 2 (Sacred's), NaN allowed as Python writes it."""
    return json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False)


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace ``path`` with ``data`` in one rename, so no reader ever sees a partial file."""
    with atomic_file(path) as fh:
        fh.write(data)


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` (already JSON-representable) as sorted, indented JSON, atomically.

    Text that is not UTF-8 (lone surrogates from ``os.fsdecode``) is written as ``\\udcxx`` escapes, so
    it reads back exactly.
    """
    text = dumps_json(obj)
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        data = json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=True).encode("ascii")
    write_bytes_atomic(path, data)


def copy_atomic(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """Copy ``src`` to ``dst`` through a temporary file and a rename (``dst`` is complete or absent)."""
    with atomic_file(dst) as out, open(src, "rb") as inp:
        shutil.copyfileobj(inp, out, _CHUNK)


def file_md5(path: str | os.PathLike[str]) -> str:
    """The hex md5 of a file's content (Sacred's source and resource digest)."""
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


class FileLock:
    """An exclusive, re-entrant ``flock`` on ``path`` (created on first use), shared by threads of a process.

    ``flock`` locks belong to an open file description, so two ``FileLock`` objects on one path exclude each
    other even inside one process, and the kernel drops the lock when a holder dies (SIGKILL included).

    >>> lock = FileLock("/tmp/doctest-sacredx.lock")
    >>> with lock, lock:  # re-entrant
    ...     pass
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._fd: int | None = None
        self._depth = 0
        self._thread_lock = threading.RLock()

    def acquire(self) -> None:
        import fcntl

        self._thread_lock.acquire()
        try:
            if self._depth == 0:
                if self._fd is None:
                    self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            self._depth += 1
        except BaseException:
            self._thread_lock.release()
            raise

    def release(self) -> None:
        import fcntl

        try:
            self._depth -= 1
            if self._depth == 0 and self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()

    @property
    def held(self) -> bool:
        """Whether this process holds the lock (through this object)."""
        return self._depth > 0

    def close(self) -> None:
        with self._thread_lock:
            if self._fd is not None and self._depth == 0:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        with self:
            yield
