"""Opening stores for reading, strictly read-only, and finding runs by id or id prefix.

Every read goes through the store's reader (``observers.readers.open_reader``: ``list_runs``,
``load_run``, ``load_artifact`` where the store has one). Opening never creates anything: a missing
folder, SQLite file or TinyDB store is a :class:`StoreReadError` rather than a new empty store, and
``memory:`` (which holds runs only inside the process that recorded them) is refused with the fix.

>>> import tempfile
>>> read_runs("file:" + tempfile.mkdtemp())
[]
>>> read_runs("file:/no/such/folder")
Traceback (most recent call last):
...
pytest_sacredx.query.errors.StoreReadError: cannot read file:/no/such/folder: no such folder; give the folder a FileStorageObserver wrote (file:DIR)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ..errors import SacredxError
from ..observers.record import RunReader, RunRecord, RunTail
from ..observers.redact import redact_url
from .errors import QueryUsageError, RunNotFoundError, StoreReadError

__all__ = ["DEFAULT_STORE", "open_store", "read_runs", "read_last_runs", "find_run", "close", "short_id"]

#: the pytest plugin's default store, relative to where the command runs
DEFAULT_STORE = "tinydb:.sacredx"
SHORT_ID = 12
_T = TypeVar("_T")


def _local_path(uri: str) -> tuple[str, str] | None:
    """(kind, path) for the stores that live in a local file or folder."""
    scheme, _, rest = uri.partition(":")
    scheme = scheme.lower()
    if scheme == "file":
        if rest.startswith("//"):
            rest = "/" + rest[2:].partition("/")[2]
        return "folder", rest.split("?", 1)[0]
    if scheme == "tinydb":
        return "tinydb", rest.split("?", 1)[0]
    if scheme == "sqlite" or scheme.startswith("sqlite+"):
        path = rest[3:] if rest.startswith("///") else ""
        return ("sqlite", path.split("?", 1)[0]) if path and path != ":memory:" else None
    return None


def open_store(store: str | RunReader) -> RunReader:
    """A reader for ``store`` (a URI, or a reader already open, which is returned as it is)."""
    if not isinstance(store, str):
        if not isinstance(store, RunReader):
            raise StoreReadError(f"{store!r} is not a store: give a URI or an object with list_runs()")
        return store
    uri = store.strip()
    shown = redact_url(uri)
    if uri.lower().rstrip(":") in ("memory", "none"):
        raise StoreReadError(
            f"cannot read {shown}: it holds runs only inside the process that recorded them; "
            "record to a store that lasts (tinydb:DIR, file:DIR, sqlite:///F, …)"
        )
    local = _local_path(uri)
    if local is not None:
        kind, path = local
        if kind == "folder" and not os.path.isdir(path):
            raise StoreReadError(
                f"cannot read {shown}: no such folder; give the folder a FileStorageObserver wrote "
                "(file:DIR)"
            )
        if kind == "tinydb" and not os.path.isdir(path):
            raise StoreReadError(
                f"cannot read {shown}: no such folder; give the folder of a TinyDB store "
                "(tinydb:DIR, the pytest plugin's default is tinydb:.sacredx)"
            )
        if kind == "sqlite" and not os.path.isfile(path):
            raise StoreReadError(f"cannot read {shown}: no such SQLite file {path!r}")
    from ..observers.readers import open_reader

    try:
        return open_reader(uri)
    except (SacredxError, OSError, ValueError, ImportError) as e:
        raise StoreReadError(f"cannot read {shown}: {_one_line(e)}") from None


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    message = text[0] if text else type(error).__name__
    if isinstance(error, KeyError) and message.startswith(("'", '"')):
        message = message[1:-1]
    return redact_url(message)


def close(reader: Any) -> None:
    closer = getattr(reader, "close", None)
    if callable(closer):
        try:
            closer()
        except Exception:  # closing a reader must not hide what was read
            pass


def read_runs(store: str | RunReader) -> list[RunRecord]:
    """Every run of ``store``, oldest first; any failure to read is one :class:`StoreReadError` line."""
    return _reading(store, lambda reader: list(reader.list_runs()))


def read_last_runs(store: str | RunReader, n: int) -> RunTail:
    """The last ``n`` runs of ``store`` and how many it holds. A reader with ``last_runs(n)`` (folder
    and TinyDB stores) reads only those runs; any other gives the tail of its full listing.

    >>> import tempfile
    >>> read_last_runs("file:" + tempfile.mkdtemp(), 10)
    RunTail(records=[], total=0)
    """
    if n < 0:
        raise QueryUsageError(f"--last {n}: give a number of runs, 0 or more")

    def tail(reader: Any) -> RunTail:
        last = getattr(reader, "last_runs", None)
        if callable(last):
            return last(n)
        return RunTail.of(list(reader.list_runs()), n)

    return _reading(store, tail)


def _reading(store: str | RunReader, read: Callable[[Any], _T]) -> _T:
    reader = open_store(store)
    name = redact_url(store) if isinstance(store, str) else repr(store)
    try:
        return read(reader)
    except SacredxError as e:
        raise StoreReadError(f"cannot read {name}: {_one_line(e)}") from None
    except Exception as e:  # a corrupt file, a server that went away, a foreign database
        raise StoreReadError(
            f"cannot read {name}: {type(e).__name__}: {_one_line(e)} (is it a store pytest-sacredx "
            "or Sacred wrote?)"
        ) from None
    finally:
        if isinstance(store, str):
            close(reader)


def short_id(run_id: Any) -> str:
    """Run ids as the pytest summary shows them: the first 12 characters."""
    text = str(run_id)
    return text if len(text) <= SHORT_ID else text[:SHORT_ID]


def find_run(records: Sequence[RunRecord], run_id: str) -> RunRecord:
    """The run whose id is ``run_id``, or the only one it is a prefix of.

    >>> runs = [RunRecord(id=i, status="COMPLETED") for i in ("1a2b", "1a3c", "9")]
    >>> find_run(runs, "1a3").id
    '1a3c'
    >>> find_run(runs, "1a")
    Traceback (most recent call last):
    ...
    pytest_sacredx.query.errors.RunNotFoundError: run id '1a' is ambiguous: 1a2b, 1a3c; give more characters
    """
    wanted = str(run_id).strip()
    for rec in records:
        if str(rec.id) == wanted:
            return rec
    matches = [rec for rec in records if str(rec.id).startswith(wanted)] if wanted else []
    if len(matches) == 1:
        return matches[0]
    if matches:
        ids = ", ".join(str(r.id) for r in matches[:10]) + (", …" if len(matches) > 10 else "")
        raise RunNotFoundError(f"run id {wanted!r} is ambiguous: {ids}; give more characters")
    from difflib import get_close_matches

    close_ids = get_close_matches(wanted, [str(r.id) for r in records], n=3, cutoff=0.5)
    recent = [str(r.id) for r in records[-5:]]
    hint = f" Did you mean {', '.join(close_ids)}?" if close_ids else ""
    raise RunNotFoundError(
        f"no run {wanted!r} in the store ({len(records)} runs; newest: {', '.join(recent) or 'none'})."
        + hint
    )
