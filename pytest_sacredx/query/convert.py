"""Converting a store into a new one: ``sacredx convert --from URI --to URI [--format sacred|sacredx]``.

Our TinyDB store is an append log (:mod:`pytest_sacredx.observers.tinydb_bases`); Sacred 0.8.7's is one
JSON file (:mod:`pytest_sacredx.observers.sacred_formats`). Both open in our readers, and our observer
appends to either in its own format, so the only thing a switching user cannot do by recording is
change a folder from one format to the other. ``convert`` does that by copying every run
(:func:`~pytest_sacredx.query.copy.copy_runs`: the same replay as ``sacredx copy``) into a store that
holds no runs yet, in the format asked for:

- ``--format sacredx`` (the default): a ``tinydb:`` destination becomes our append log;
- ``--format sacred``: a ``tinydb:`` destination becomes Sacred's single-file ``metadata.json``, which
  Sacred's ``TinyDbReader`` opens.

Every other store (``file:``, SQL, MongoDB, S3) has one layout, Sacred's, so ``--format`` changes
nothing there and ``convert`` is a copy into a new store. Unlike ``copy``, ``convert`` refuses a
destination that holds runs (it makes a store, it does not merge), keeps the run ids, and carries the
content of the source files where the source keeps it (TinyDB's ``hashfs/``, FileStorage's
``_sources/``), so a converted run lists its sources with their text. Each run's ``meta.copied_from``
names the store and id it came from, its original ``base_dir`` and its resources (which, as in
``copy``, are recorded by name only).

>>> import tempfile, os
>>> from pytest_sacredx.observers.tinydb_hashfs import TinyDbObserver
>>> src, dest = tempfile.mkdtemp(), os.path.join(tempfile.mkdtemp(), "sacred_db")
>>> import datetime; t = datetime.datetime(2024, 5, 1, 12, 0)
>>> obs = TinyDbObserver(src)
>>> _ = obs.started_event({"name": "demo", "base_dir": "/", "sources": []}, "main", {}, t, {"lr": 1}, {}, "r1")
>>> obs.completed_event(t, 0.5)
>>> convert_store("tinydb:" + src, "tinydb:" + dest, "sacred").copied
[('r1', 'r1')]
>>> open(os.path.join(dest, "metadata.json")).read()[:24]
'{"runs": {"1": {"_id": "'
"""

from __future__ import annotations

import os
from typing import Any, Literal

from ..errors import SacredxError
from ..observers.record import RunRecord
from ..observers.redact import redact_url
from .copy import CopyReport, copy_runs
from .errors import QueryUsageError, StoreReadError

__all__ = ["FORMATS", "Format", "convert_store", "prepare_destination", "source_files"]

Format = Literal["sacredx", "sacred"]
#: what ``--format`` takes: our layout (TinyDB as an append log) or Sacred 0.8.7's
FORMATS: tuple[Format, ...] = ("sacredx", "sacred")
_EMPTY_SACRED_TINYDB = b'{"runs": {}}'


def _tinydb_root(uri: str) -> str | None:
    scheme, _, rest = uri.strip().partition(":")
    return rest.split("?", 1)[0] if scheme.lower() == "tinydb" and rest else None


def prepare_destination(uri: str, fmt: Format) -> None:
    """Check that ``uri`` holds no runs yet, and lay out a ``tinydb:`` folder in the format asked for.

    >>> prepare_destination("tinydb:/tmp/x", "json")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    pytest_sacredx.query.errors.QueryUsageError: convert --format json: expected one of sacredx, sacred
    """
    if fmt not in FORMATS:
        raise QueryUsageError(f"convert --format {fmt}: expected one of {', '.join(FORMATS)}")
    shown = redact_url(uri)
    if uri.strip().lower().rstrip(":") in ("memory", "none"):
        raise QueryUsageError(f"convert --to {shown}: give a store that lasts (tinydb:DIR, file:DIR, …)")
    from .stores import close, open_store

    try:
        reader = open_store(uri)
    except StoreReadError:
        reader = None  # nothing there yet: the observer creates it
    if reader is not None:
        try:
            held = next(iter(reader.list_runs()), None)
        except Exception:  # a server database without our tables, a foreign folder: the copy tells
            held = None
        finally:
            close(reader)
        if held is not None:
            raise QueryUsageError(
                f"convert --to {shown}: that store holds runs already; convert into a new store, or "
                "merge with: sacredx copy --from … --to …"
            )
    root = _tinydb_root(uri)
    if root is None:
        return
    from ..observers.sacred_formats import is_sacred_tinydb

    path = os.path.join(root, "metadata.json")
    exists = os.path.isfile(path) and os.path.getsize(path) > 0
    if exists and is_sacred_tinydb(path) != (fmt == "sacred"):
        have = "Sacred's TinyDB file" if is_sacred_tinydb(path) else "a pytest-sacredx TinyDB log"
        raise QueryUsageError(
            f"convert --to {shown} --format {fmt}: {path} is {have} already; give a new folder"
        )
    if fmt == "sacred" and not exists:
        os.makedirs(root, exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(_EMPTY_SACRED_TINYDB)


def source_files(reader: Any, rec: RunRecord) -> list[tuple[str, bytes]]:
    """The stored content of a run's source files, for the stores that keep it (TinyDB's hash store,
    FileStorage's ``_sources/``); names that would leave a folder (absolute, ``..``) are left out."""
    from ..observers.file_storage import FileStorageReader
    from ..observers.tinydb_hashfs import TinyDbReader

    out: list[tuple[str, bytes]] = []
    for entry in rec.experiment.get("sources") or []:
        if not isinstance(entry, (list, tuple)) or len(entry) < 2 or not isinstance(entry[1], str):
            continue
        name = str(entry[0])
        if os.path.isabs(name) or ".." in name.replace("\\", "/").split("/"):
            continue
        if isinstance(reader, TinyDbReader):
            path = reader.fs.path(entry[1])
        elif isinstance(reader, FileStorageReader):
            path = os.path.join(reader.basedir, entry[1])
        else:
            continue
        try:
            with open(path, "rb") as fh:
                out.append((name, fh.read()))
        except OSError:
            continue
    return out


def convert_store(
    source: str, dest: str, fmt: Format = "sacredx", where: str | None = None
) -> CopyReport:
    """Copy every run of ``source`` (or those ``where`` selects) into the new store ``dest`` in
    format ``fmt`` (see the module docstring); what was copied."""
    from ..observers.uri import from_uri
    from .stores import close, open_store, read_runs
    from .table import select

    prepare_destination(dest, fmt)
    reader = open_store(source)
    try:
        records = select(read_runs(reader), where=where) if where else read_runs(reader)
        try:
            observer = from_uri(dest)
        except (SacredxError, ImportError) as e:
            raise StoreReadError(f"cannot open --to {redact_url(dest)}: {e}") from None
        return copy_runs(
            [(redact_url(source), records, reader)], observer, None, load_sources=source_files
        )
    finally:
        close(reader)
