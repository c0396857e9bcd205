"""The session's stores: checked once at session start, named as ``sacredx show`` reads them, watched.

- **At session start** every store the session records to is checked once (:func:`check_stores`): a
  file where the folder should be, a folder that cannot be written (``/proc/x``, no permission, a
  read-only or full disk) is one usage error that names the URI and the fix, instead of a traceback
  in every case. Nothing is created by the check (a session that collects no experiment leaves no
  store behind). Stores reached over the network are not contacted here.
- **Names**: :func:`store_uri` gives the URI of any observer — the session's, or one the experiment
  attached itself (``ex.observers.append(MongoObserver(…))``) — so the summary can print each store
  with the id *that* store gave the run: ``sacredx show ID --store URI`` finds it.
- **Watch**: a store that fails while the session runs (the disk fills up) is reported once, at the
  end, with how many runs it did not record; the runs it holds stay readable.

>>> problem_with_folder("/proc/sacredx-test/runs") is not None
True
"""

from __future__ import annotations

import errno
import os
import tempfile
from typing import Any

import attrs

__all__ = ["StoreProblem", "check_stores", "problem_with_folder", "store_uri", "StoreWatch"]

#: bytes the start-of-session probe writes (and removes): a full disk fails it
_PROBE_BYTES = 4096


@attrs.frozen
class StoreProblem:
    """Why a store cannot be written: the URI as given and the reason."""

    uri: str
    reason: str


def problem_with_folder(path: str) -> str | None:
    """Why runs cannot be written into folder ``path`` (None when they can); creates nothing that stays.

    >>> import tempfile; problem_with_folder(tempfile.gettempdir()) is None
    True
    """
    path = os.path.abspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        return f"{path} is a file, not a folder"
    existing = path
    while not os.path.exists(existing):
        parent = os.path.dirname(existing)
        if parent == existing:
            break
        existing = parent
    if not os.path.isdir(existing):
        return f"{existing} is a file, so the folder {path} cannot be made"
    try:
        fd, probe = tempfile.mkstemp(prefix=".sacredx-probe-", dir=existing)
    except OSError as e:
        return f"cannot write in {existing}: {e.strerror or e}"
    try:
        try:
            os.write(fd, b"\0" * _PROBE_BYTES)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as e:
        return f"cannot write in {existing}: {e.strerror or e}"
    finally:
        try:
            os.unlink(probe)
        except OSError:
            pass
    return None


def folder_of(observer: Any) -> str | None:
    """The local folder a store writes to, when it is one."""
    inner = getattr(observer, "_covered_observer", None)  # QueueObserver
    if inner is not None:
        return folder_of(inner)
    from ..observers.file_storage import FileStorageObserver
    from ..observers.tinydb_hashfs import TinyDbObserver

    if isinstance(observer, FileStorageObserver):
        return observer.basedir
    if isinstance(observer, TinyDbObserver):
        return observer.root
    return None


def check_store(uri: str, observer: Any) -> StoreProblem | None:
    """One store's check: the store's own ``check_writable()`` when it has one, else a probe of its
    folder (local stores only)."""
    own = getattr(observer, "check_writable", None)
    if callable(own):
        try:
            own()
        except OSError as e:
            return StoreProblem(uri, str(e))
        return None
    folder = folder_of(observer)
    if folder is None:
        return None
    reason = problem_with_folder(folder)
    return None if reason is None else StoreProblem(uri, reason)


def check_stores(stores: list[tuple[str, Any]]) -> list[StoreProblem]:
    """Check every (URI, observer) once; the problems, in order."""
    return [p for uri, observer in stores if (p := check_store(uri, observer)) is not None]


def store_uri(observer: Any) -> str:
    """A URI naming the store ``observer`` writes to (passwords hidden), as ``--exp-observer`` and
    ``sacredx --store`` take it; the class name for an observer that is not a store we know.

    >>> from pytest_sacredx.observers.memory import MemoryObserver
    >>> store_uri(MemoryObserver())
    'memory:'
    """
    inner = getattr(observer, "_covered_observer", None)
    if inner is not None:
        return store_uri(inner)
    name = type(observer).__name__
    folder = folder_of(observer)
    if folder is not None:
        return f"{'file' if name == 'FileStorageObserver' else 'tinydb'}:{folder}"
    if name == "MemoryObserver":
        return "memory:"
    if name == "S3Observer":
        return str(observer.store)
    if name == "SqlObserver":
        return str(observer.url)
    if name == "MongoObserver":
        url = str(observer.url)
        runs = getattr(observer, "_runs_name", "runs")
        return url[: -len(f".{runs}")] if runs == "runs" and url.endswith(".runs") else url
    return name


def is_lasting(error: BaseException) -> bool:
    """Errors after which a store will not take the next run either (full, read-only, no permission)."""
    while error is not None:
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS,
                                                          errno.EACCES, errno.EPERM):
            return True
        error = error.__cause__ or error.__context__  # type: ignore[assignment]
    return False


@attrs.define
class StoreWatch:
    """What went wrong with one session store while the session ran (reported once, at the end)."""

    name: str
    reason: str = ""
    first_case: str = ""
    #: runs this store did not record, or recorded only in part
    missed: int = 0
    #: True once the store is given no more runs this session
    stopped: bool = False
