"""Sacred 0.8.7's own TinyDB file: telling it apart from ours, reading it, and appending to it in place.

Sacred's ``TinyDbObserver`` keeps ``metadata.json`` as one TinyDB JSON document (``{"runs": {"1": …}}``)
rewritten on every event, with ``tinydb-serialization`` tags in the text: ``"{TinyDate}:2024-…"`` for
datetimes, ``"{TinyFile}:\\"<md5>\\""`` for the open file handle it appends to every source, resource and
artifact entry, ``"{TinyArray}:[…]"`` for NumPy arrays (``{TinyDataFrame}``/``{TinySeries}`` for pandas).
Our store is an append log instead (:mod:`.tinydb_bases`); both live in a folder with ``hashfs/`` laid
out the same way (md5, depth 3, width 2).

A folder whose ``metadata.json`` is Sacred's stays Sacred's: :class:`SacredTinyStorage` is a TinyDB
storage over that file that gives TinyDB our document form (tags decoded: times as our text, file
entries without the handle, arrays in the jsonpickle form our documents use), and writes new or changed
documents back in Sacred's tagged form. Documents it did not change are written back as the exact JSON
they were read as, so the text of every old run stays byte-for-byte the same and Sacred's
``TinyDbReader`` keeps reading the file. Writes take a file lock (``metadata.json.lock``), re-read the
file under it and replace it atomically, so two processes do not lose each other's runs (Sacred's own
observer does). Each write rewrites the file, as Sacred's does: ``sacredx convert`` turns the folder
into our append log when it grows large.

>>> decode_value("{TinyDate}:2024-05-01T12:00:00.000000")
'2024-05-01T12:00:00.000000'
>>> decode_value("{TinyArray}:[1.5, 2.5]")
{'py/object': 'numpy.ndarray', 'dtype': 'float64', 'values': [1.5, 2.5]}
>>> encode_doc({"start_time": "2024-05-01T12:00:00.000000", "result": decode_value("{TinyArray}:[1, 2]"),
...             "resources": [["/d.csv", "ab12"]]})["result"]
'{TinyArray}:[1, 2]'
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from tinydb import TinyDB
from tinydb.storages import Storage

from .atomic import FileLock, write_bytes_atomic
from .tinydb_bases import LOG_HEADER, LockedInserts

__all__ = [
    "SACRED_TINYDB_TAGS",
    "SacredTinyDB",
    "SacredTinyStorage",
    "decode_doc",
    "decode_value",
    "encode_doc",
    "is_sacred_tinydb",
]

_DATE, _FILE, _ARRAY = "{TinyDate}:", "{TinyFile}:", "{TinyArray}:"
_FRAME, _SERIES = "{TinyDataFrame}:", "{TinySeries}:"
#: the tags Sacred 0.8.7 registers with tinydb-serialization
SACRED_TINYDB_TAGS = (_DATE, _FILE, _ARRAY, _FRAME, _SERIES)
#: top-level keys whose text values are times (Sacred stores datetimes there)
TIME_KEYS = ("start_time", "stop_time", "heartbeat", "queue_time")


def is_sacred_tinydb(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a TinyDB single-file JSON database (Sacred's ``metadata.json``), False for
    our append log, an empty file or no file.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "metadata.json")
    >>> is_sacred_tinydb(p)
    False
    >>> _ = open(p, "w").write('{"runs": {}}')
    >>> is_sacred_tinydb(p)
    True
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(64).lstrip()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return False
    return head.startswith(b"{") and not head.startswith(LOG_HEADER)


# -- Sacred's tags -> our document form -----------------------------------------------------------------


def _array(values: Any) -> dict[str, Any]:
    """A ``{TinyArray}`` as the jsonpickle form our documents use; the dtype is what ``numpy.array``
    infers from the values, which is what Sacred's reader rebuilds."""
    flat: list[Any] = []

    def walk(v: Any) -> None:
        if isinstance(v, list):
            for item in v:
                walk(item)
        else:
            flat.append(v)

    walk(values)
    if flat and all(isinstance(v, bool) for v in flat):
        dtype = "bool"
    elif all(isinstance(v, int) and not isinstance(v, bool) for v in flat) and flat:
        dtype = "int64"
    elif all(isinstance(v, (int, float)) for v in flat):
        dtype = "float64"
    else:
        dtype = "object"
    return {"py/object": "numpy.ndarray", "dtype": dtype, "values": values}


def decode_value(value: Any) -> Any:
    """One stored value with Sacred's tags turned into our document form (recursively)."""
    if isinstance(value, str):
        if value.startswith(_DATE):
            return value[len(_DATE) :]
        if value.startswith(_FILE):
            try:
                return str(json.loads(value[len(_FILE) :]))
            except ValueError:
                return value[len(_FILE) :]
        for tag in (_ARRAY, _FRAME, _SERIES):
            if value.startswith(tag):
                try:
                    loaded = json.loads(value[len(tag) :])
                except ValueError:
                    return value
                return _array(loaded) if tag == _ARRAY else loaded
        return value
    if isinstance(value, dict):
        return {k: decode_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_value(v) for v in value]
    return value


def _drop_handle(entries: Any) -> Any:
    """Sacred's ``[name, id, <file handle>]`` entries as ours: ``[name, id]`` (the reader opens files)."""
    if not isinstance(entries, list):
        return entries
    out = []
    for entry in entries:
        if (
            isinstance(entry, list)
            and len(entry) >= 3
            and isinstance(entry[-1], str)
            and entry[-1].startswith(_FILE)
        ):
            entry = entry[:-1]
        out.append(decode_value(entry))
    return out


def decode_doc(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A run document of Sacred's TinyDB file in our form (see the module docstring)."""
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if key in ("resources", "artifacts"):
            out[key] = _drop_handle(value)
        elif key == "experiment" and isinstance(value, dict):
            out[key] = {
                k: _drop_handle(v) if k == "sources" else decode_value(v) for k, v in value.items()
            }
        else:
            out[key] = decode_value(value)
    return out


# -- our document form -> Sacred's tags ------------------------------------------------------------------


def _encode_value(value: Any) -> Any:
    if isinstance(value, dict):
        obj = value.get("py/object")
        if obj == "numpy.ndarray" and "values" in value:
            return _ARRAY + json.dumps(value["values"])
        if isinstance(obj, str) and obj.startswith("numpy.") and "value" in value:
            return value["value"]  # a NumPy scalar: Sacred's TinyDB holds it as the plain number
        if set(value) == {"py/tuple"}:
            return [_encode_value(v) for v in value["py/tuple"]]
        return {k: _encode_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_encode_value(v) for v in value]
    return value


def _with_handle(entries: Any) -> Any:
    if not isinstance(entries, list):
        return entries
    out = []
    for entry in entries:
        if isinstance(entry, list) and entry:
            file_id = entry[-1]
            handle = _FILE + json.dumps(file_id) if isinstance(file_id, str) else None
            entry = [*entry, handle]
        out.append(entry)
    return out


def encode_doc(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A run document in our form written the way Sacred's TinyDB observer writes it: tagged times, a
    file handle after every file entry, NumPy arrays as ``{TinyArray}``."""
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if key in TIME_KEYS and isinstance(value, str):
            out[key] = _DATE + value
        elif key in ("resources", "artifacts"):
            out[key] = _with_handle(value)
        elif key == "experiment" and isinstance(value, dict):
            out[key] = {
                k: _with_handle(v) if k == "sources" else _encode_value(v) for k, v in value.items()
            }
        else:
            out[key] = _encode_value(value)
    return out


# -- the storage ------------------------------------------------------------------------------------------


class SacredTinyStorage(Storage):
    """TinyDB storage over Sacred's single-file ``metadata.json`` (see the module docstring).

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "metadata.json")
    >>> _ = open(p, "w").write('{"runs": {"1": {"_id": "a", "start_time": "{TinyDate}:2024-05-01T12:00:00.000000"}}}')
    >>> db = SacredTinyDB(p, storage=SacredTinyStorage)
    >>> db.table("runs").get(doc_id=1)["start_time"]
    '2024-05-01T12:00:00.000000'
    >>> _ = db.table("runs").insert({"_id": "b", "start_time": "2024-05-02T12:00:00.000000"})
    >>> open(p).read().startswith('{"runs": {"1": {"_id": "a", "start_time": "{TinyDate}:2024-05-01')
    True
    >>> '"start_time": "{TinyDate}:2024-05-02T12:00:00.000000"' in open(p).read()
    True
    """

    def __init__(self, path: str | os.PathLike[str], read_only: bool = False, **_ignored: Any) -> None:
        super().__init__()
        self.path = os.fspath(path)
        self.read_only = read_only
        self.lock = FileLock(self.path + ".lock")
        #: table -> doc id -> (raw document as stored, its decoded form)
        self._raw: dict[str, dict[str, tuple[Any, dict[str, Any]]]] = {}

    def locked(self) -> FileLock:
        """The cross-process lock writers hold from reading the file to replacing it."""
        if self.read_only:
            raise PermissionError(f"{self.path} was opened read-only")
        return self.lock

    def read(self) -> dict[str, dict[str, Any]] | None:
        try:
            with open(self.path, encoding="utf-8") as fh:
                text = fh.read()
        except FileNotFoundError:
            return None
        if not text.strip():
            return None
        try:
            tables = json.loads(text)
        except ValueError:
            raise ValueError(
                f"{self.path} is not a TinyDB JSON file (it may have been cut short); move it away "
                "to start a fresh store."
            ) from None
        self._raw = {}
        out: dict[str, dict[str, Any]] = {}
        for name, docs in (tables or {}).items():
            self._raw[name] = {}
            out[name] = {}
            for doc_id, raw in (docs or {}).items():
                decoded = decode_doc(raw) if isinstance(raw, dict) else raw
                self._raw[name][str(doc_id)] = (raw, decoded)
                out[name][str(doc_id)] = json.loads(json.dumps(decoded))
        return out

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        with self.locked():
            tables: dict[str, dict[str, Any]] = {}
            for name, docs in data.items():
                known = self._raw.get(name, {})
                tables[name] = {}
                for doc_id, doc in docs.items():
                    seen = known.get(str(doc_id))
                    if seen is not None and seen[1] == doc:
                        tables[name][str(doc_id)] = seen[0]  # untouched: the exact stored JSON
                    else:
                        tables[name][str(doc_id)] = encode_doc(doc) if isinstance(doc, dict) else doc
            # TinyDB's JSONStorage writes json.dumps(data) with the default separators: so do we
            write_bytes_atomic(self.path, json.dumps(tables).encode("utf-8"))
            for name, docs in tables.items():
                self._raw[name] = {
                    i: (raw, decode_doc(raw) if isinstance(raw, dict) else raw) for i, raw in docs.items()
                }

    def close(self) -> None:
        self.lock.close()


class SacredTable(LockedInserts):
    """A TinyDB table whose writes hold the storage's lock from reading the file to replacing it, and
    take the next document id from the file as it is then (another process may have added runs)."""

    _storage: SacredTinyStorage

    def _update_table(self, updater: Any) -> None:
        with self._storage.locked():
            super()._update_table(updater)

    def search(self, cond: Any) -> list[Any]:
        self.clear_cache()  # other processes may have written since the cached result
        return super().search(cond)


class SacredTinyDB(TinyDB):
    """``TinyDB`` over :class:`SacredTinyStorage` with locked writes."""

    table_class = SacredTable  # type: ignore[assignment]
