"""Crash-safe file helpers shared by the embedded stores: atomic writes, atomic copies, a process lock.

A store must never leave a half-written file behind, even when the process is SIGKILLed mid-write, and
several processes (xdist workers, parallel launches) write into one folder at once. So:

- every whole-file write goes to a temporary file in the *same* directory and is then ``os.replace``-d
  over the target (a rename within one file system is atomic: readers see the old or the new file, never
  a mix). We skip ``fsync``: the guarantee is against killed processes, not power loss. A file that no
  reader looks at yet (one written into a run folder before its ``run.json`` exists) is written in
  place with :func:`write_bytes_new`;
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

from ..atomic import atomic_file, write_all, write_atomic

__all__ = [
    "FileLock",
    "copy_atomic",
    "dumps_json",
    "file_md5",
    "json_file_bytes",
    "write_bytes_atomic",
    "write_bytes_new",
    "write_json_atomic",
]

_CHUNK = 1 << 20

# The indented text of a top-level value, by key, with the compact text it was made from: a store
# writes the same experiment, host and options into every run.json, twice per run.
_FRAGMENTS: dict[str, tuple[str, str]] = {}
_MAX_FRAGMENTS = 256
_compact = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode


def dumps_json(obj: Any) -> str:
    """Our on-disk JSON style for whole files: sorted keys, indent 2 (Sacred's), NaN allowed as Python writes it.

    The text is exactly ``json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False)``. Indenting is
    the pure-Python part of the json module (the C encoder writes compact text only); for a dict of
    string keys each nested value's indented text is kept and reused while its compact text (C speed)
    is unchanged, which is the common case from one run to the next.

    >>> dumps_json({"b": [1, 2.0], "a": {}, "c": True}) == json.dumps(
    ...     {"b": [1, 2.0], "a": {}, "c": True}, sort_keys=True, indent=2, ensure_ascii=False)
    True
    """
    if type(obj) is not dict or not obj or not all(type(key) is str for key in obj):
        return json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False)
    parts = []
    for key in sorted(obj):
        value = obj[key]
        compact = _compact(value)
        if isinstance(value, (dict, list, tuple)) and value:
            known = _FRAGMENTS.get(key)
            if known is not None and known[0] == compact:
                text = known[1]
            else:
                text = json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False)
                text = text.replace("\n", "\n  ")  # one level deeper; strings hold no raw newline
                if len(_FRAGMENTS) >= _MAX_FRAGMENTS:
                    _FRAGMENTS.clear()
                _FRAGMENTS[key] = (compact, text)
        else:  # scalars and empty containers: the compact text is the indented text
            text = compact
        parts.append(f"  {_compact(key)}: {text}")
    return "{\n" + ",\n".join(parts) + "\n}"


def json_file_bytes(obj: Any) -> bytes:
    """``obj`` (already JSON-representable) as the bytes of a whole JSON file in our style.

    Text that is not UTF-8 (lone surrogates from ``os.fsdecode``) is written as ``\\udcxx`` escapes, so
    it reads back exactly.
    """
    try:
        return dumps_json(obj).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=True).encode("ascii")


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace ``path`` with ``data`` in one rename, so no reader ever sees a partial file."""
    write_atomic(path, data)


def write_bytes_new(path: str | os.PathLike[str], data: bytes) -> None:
    """Create ``path`` (it must not exist) holding ``data``, in place: only for a file no reader
    opens before the writer says it is complete (a run folder's files before its ``run.json``)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        write_all(fd, data)
    finally:
        os.close(fd)


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` (already JSON-representable) as sorted, indented JSON, atomically."""
    write_atomic(path, json_file_bytes(obj))


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
