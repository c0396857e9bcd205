"""Sacred 0.8.7's own TinyDB format: what ``TinyDbObserver.create(path)``, ``TinyDbObserver(path=...)``
and ``TinyDbObserver.create_from(tinydb, hashfs)`` write, so that Sacred's ``TinyDbReader`` and programs
written for Sacred read the store as before.

The folder is Sacred's: ``metadata.json`` is a stock TinyDB JSON file (table ``runs``) rewritten on every
event, ``hashfs/`` holds files by md5 (depth 3, width 2). Values that JSON cannot hold are tagged strings,
as Sacred's serializers write them: ``"{TinyDate}:1999-05-04T03:02:01.000000"``, ``"{TinyFile}:\\"<md5>\\""``
(an open file of the hash store), ``"{TinyArray}:[[1.0, 0.0], …]"``, ``"{TinyDataFrame}:…"`` and
``"{TinySeries}:…"`` (pandas' JSON). Run documents have Sacred's shape: sources ``[name, id, file]``,
resources ``[filename, id, file]``, artifacts ``[name, filename, id, file]``, the trace as it was given.

Reading is safe: a tag decodes only into a ``datetime``, a NumPy array or a pandas object parsed from JSON
text, or a file *of the hash store* opened for reading (an id that is not an md5 hex digest stays text,
so a crafted store cannot open other files). Nothing is unpickled or imported.

Differences from Sacred's observer, each for a reason: metrics are kept (``metrics: {name: {steps,
values, timestamps}}``; Sacred drops them); a value JSON cannot hold is stored in the run document's safe
form (Sacred's observer fails the run); secrets in ``meta`` are redacted as in every store; a file that is
gone by the time the run starts is listed without a file (Sacred fails the run). Queued runs raise
``NotImplementedError``, as in Sacred: queue them in the append-log store, ``TinyDbObserver(folder)``.

>>> import datetime as dt, os, tempfile
>>> root = tempfile.mkdtemp()
>>> db, fs = get_db_file_manager(root)
>>> when = dt.datetime(1999, 5, 4, 3, 2, 1)
>>> doc_id = db.table("runs").insert(encode({"start_time": when}, fs))
>>> db.table("runs").get(doc_id=doc_id)["start_time"] == when
True
>>> open(os.path.join(root, "metadata.json")).read()
'{"runs": {"1": {"start_time": "{TinyDate}:1999-05-04T03:02:01.000000"}}}'
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import os
import re
import sys
import uuid
from collections.abc import Mapping
from typing import IO, Any

from tinydb import TinyDB
from tinydb.middlewares import Middleware
from tinydb.storages import JSONStorage

from ..redact import redact_meta
from ..serialize import to_jsonable
from .sacred_formats import is_sacred_tinydb
from .tinydb_bases import HashStore

__all__ = [
    "BufferedReaderWrapper",
    "DataFrameSerializer",
    "DateTimeSerializer",
    "FileSerializer",
    "NdArraySerializer",
    "SacredHashFS",
    "SeriesSerializer",
    "SerializationMiddleware",
    "encode",
    "get_db_file_manager",
    "is_sacred_store",
    "plain",
]

DATE_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"
_MD5 = re.compile(r"[0-9a-f]{32}")


class _Never:
    """Stands for a class whose package is not loaded: no value is an instance of it."""


def _loaded_class(module: str, name: str) -> type:
    """``module.name`` if ``module`` is already imported (a value of it can only exist then), else
    :class:`_Never` — so checking a value never imports NumPy or pandas."""
    mod = sys.modules.get(module)
    return getattr(mod, name, _Never) if mod is not None else _Never


# -- file handles ---------------------------------------------------------------------------------------


class BufferedReaderWrapper(io.BufferedReader):
    """A binary file opened again by name, that can be copied (each copy is a new handle on the file).

    Sacred's run documents hold open files; TinyDB's serialization copies documents, and plain file
    objects cannot be copied. The file given is not used after its name is read.

    >>> import copy, tempfile
    >>> path = tempfile.mktemp(); _ = open(path, "w").write("abc")
    >>> with open(path, "rb") as f:
    ...     handle = BufferedReaderWrapper(f)
    >>> copy.copy(handle).read(), handle.closed
    (b'abc', False)
    """

    def __init__(self, f_obj: Any) -> None:
        super().__init__(io.FileIO(f_obj.name))

    def __copy__(self) -> BufferedReaderWrapper:
        return BufferedReaderWrapper(self)

    def __deepcopy__(self, memo: Any) -> BufferedReaderWrapper:
        return BufferedReaderWrapper(self)


class _Address:
    """What ``hashfs.HashFS.put``/``get`` return: the file's ``id`` (md5) and where it lives."""

    def __init__(self, file_id: str, abspath: str, root: str, is_duplicate: bool = False) -> None:
        self.id = file_id
        self.abspath = abspath
        self.relpath = os.path.relpath(abspath, root)
        self.is_duplicate = is_duplicate

    def __repr__(self) -> str:
        return f"HashAddress(id={self.id!r}, relpath={self.relpath!r})"


class SacredHashFS:
    """The ``hashfs.HashFS`` calls Sacred's observer makes (``put``, ``get``, ``exists``, ``open``,
    ``root``), over :class:`~pytest_sacredx.observers.tinydb_bases.HashStore`: the same layout (md5,
    depth 3, width 2, no extension), so ``hashfs`` reads what this writes and the other way round.
    As in ``hashfs``, ``exists``/``get`` accept an id or the path of an existing file.

    >>> import tempfile, os
    >>> fs = SacredHashFS(tempfile.mkdtemp())
    >>> path = os.path.join(fs.root, "..", "x.txt"); _ = open(path, "w").write("hi")
    >>> address = fs.put(path)
    >>> address.id, fs.exists(address.id), fs.open(address.id).read()
    ('49f68a5c8493ec2c0bf489821c21fc3b', True, b'hi')
    """

    def __init__(self, root: str | os.PathLike[str], depth: int = 3, width: int = 2) -> None:
        self._store = HashStore(root, depth=depth, width=width)
        self.root = self._store.root
        self.depth, self.width, self.algorithm = depth, width, "md5"

    def path(self, file_id: str) -> str:
        """Where the file with this id lives (the layout is :class:`HashStore`'s)."""
        return self._store.path(file_id)

    def put(self, file: str | os.PathLike[str] | IO[bytes], extension: str | None = None) -> _Address:
        if isinstance(file, (str, os.PathLike)):
            file_id = self._store.put(file)
        else:  # a file object: read it from the start, as hashfs does
            if hasattr(file, "seek"):
                file.seek(0)
            file_id = self._store.put(file)
        return _Address(file_id, self._store.path(file_id), self.root)

    def _realpath(self, file: Any) -> str | None:
        text = os.fspath(file)
        if os.path.isfile(text):
            return text
        if _MD5.fullmatch(text) and self._store.exists(text):
            return self._store.path(text)
        return None

    def get(self, file: Any) -> _Address | None:
        path = self._realpath(file)
        if path is None:
            return None
        if not _MD5.fullmatch(os.fspath(file)):  # a path: its id is its content's digest
            return self.put(path)
        return _Address(os.fspath(file), path, self.root)

    def exists(self, file: Any) -> bool:
        return self._realpath(file) is not None

    def open(self, file_id: str, mode: str = "rb") -> IO[bytes]:
        if not _MD5.fullmatch(file_id):
            raise FileNotFoundError(f"not a file id of this hash store: {file_id!r}")
        return open(self._store.path(file_id), "rb")  # noqa: SIM115 - the caller closes it


# -- serializers (Sacred's names and tags; usable with the tinydb_serialization package too) ------------


class DateTimeSerializer:
    """``datetime`` <-> ``"%Y-%m-%dT%H:%M:%S.%f"`` (tag ``TinyDate``)."""

    OBJ_CLASS = _dt.datetime

    def encode(self, obj: _dt.datetime) -> str:
        return obj.strftime(DATE_FORMAT)

    def decode(self, s: str) -> Any:
        try:
            return _dt.datetime.strptime(s, DATE_FORMAT)
        except ValueError:
            return s


class NdArraySerializer:
    """NumPy arrays as the JSON text of their nested lists (tag ``TinyArray``)."""

    @property
    def OBJ_CLASS(self) -> type:  # noqa: N802 - the serializer protocol's name
        return _loaded_class("numpy", "ndarray")

    def encode(self, obj: Any) -> str:
        return json.dumps(obj.tolist(), check_circular=True)

    def decode(self, s: str) -> Any:
        values = json.loads(s)
        try:
            import numpy
        except ImportError:  # read without NumPy: the lists
            return values
        return numpy.array(values)


class _PandasSerializer:
    _class = ""
    _typ = "frame"

    @property
    def OBJ_CLASS(self) -> type:  # noqa: N802 - the serializer protocol's name
        return _loaded_class("pandas", self._class)

    def encode(self, obj: Any) -> str:
        return str(obj.to_json())

    def decode(self, s: str) -> Any:
        try:
            import pandas
        except ImportError:
            return json.loads(s)
        # text in a StringIO: pandas treats a bare string as a path or URL
        return pandas.read_json(io.StringIO(s), typ=self._typ)


class DataFrameSerializer(_PandasSerializer):
    """pandas DataFrames as their JSON (tag ``TinyDataFrame``)."""

    _class, _typ = "DataFrame", "frame"


class SeriesSerializer(_PandasSerializer):
    """pandas Series as their JSON (tag ``TinySeries``)."""

    _class, _typ = "Series", "series"


class FileSerializer:
    """Files of the hash store as their id (tag ``TinyFile``); read back as an open file."""

    OBJ_CLASS = BufferedReaderWrapper

    def __init__(self, fs: Any) -> None:
        self.fs = fs

    def encode(self, obj: Any) -> str:
        # by name when it names a file: the store hashes each version of a file once
        name = getattr(obj, "name", None)
        source = name if isinstance(name, str) and os.path.isfile(name) else obj
        return json.dumps(_file_id(self.fs.put(source)))

    def decode(self, s: str) -> Any:
        try:
            file_id = json.loads(s)
        except ValueError:
            return s
        if not isinstance(file_id, str) or not _MD5.fullmatch(file_id):
            return s  # not an id of the store: never opened
        try:
            handle = BufferedReaderWrapper(self.fs.open(file_id))
        except OSError:
            return file_id  # listed, but no longer in the store
        handle.hash = file_id  # type: ignore[attr-defined]
        return handle


def _file_id(address: Any) -> str:
    return address if isinstance(address, str) else str(address.id)


def _serializers(fs: Any) -> dict[str, Any]:
    return {
        "TinyDate": DateTimeSerializer(),
        "TinyFile": FileSerializer(fs),
        "TinyArray": NdArraySerializer(),
        "TinyDataFrame": DataFrameSerializer(),
        "TinySeries": SeriesSerializer(),
    }


def _encode(value: Any, serializers: Mapping[str, Any]) -> Any:
    for tag, serializer in serializers.items():
        if isinstance(value, serializer.OBJ_CLASS):
            return f"{{{tag}}}:{serializer.encode(value)}"
    if isinstance(value, Mapping):
        return {k: _encode(v, serializers) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v, serializers) for v in value]
    return value


def _decode(value: Any, serializers: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        if value.startswith("{Tiny"):
            tag, sep, text = value[1:].partition("}:")
            serializer = serializers.get(tag) if sep else None
            if serializer is not None:
                return serializer.decode(text)
        return value
    if isinstance(value, dict):
        return {k: _decode(v, serializers) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v, serializers) for v in value]
    return value


class SerializationMiddleware(Middleware):
    """A TinyDB middleware that stores the values above as Sacred's tagged strings and decodes them on
    reading (safely: see the module docstring)."""

    def __init__(self, storage_cls: Any = JSONStorage, fs: Any = None) -> None:
        super().__init__(storage_cls)
        self.serializers = _serializers(fs)

    def read(self) -> Any:
        data = self.storage.read()
        return None if data is None else _decode(data, self.serializers)

    def write(self, data: Any) -> None:
        self.storage.write(_encode(data, self.serializers))

    def close(self) -> None:
        self.storage.close()


def encode(value: Any, fs: Any = None) -> Any:
    """``value`` with datetimes, arrays, pandas objects and store files as Sacred's tagged strings, and
    anything else JSON cannot hold in the run document's safe form (Sacred's observer failed there)."""
    return _storable(_encode(value, _serializers(fs)))


def _storable(value: Any) -> Any:
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, Mapping):
        return {str(k) if not isinstance(k, str) else k: _storable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_storable(v) for v in value]
    return to_jsonable(value)


def get_db_file_manager(root_dir: str | os.PathLike[str], read_only: bool = False) -> tuple[TinyDB, Any]:
    """Sacred's pair for a store folder: the TinyDB over ``metadata.json`` and the hash store."""
    root = os.fspath(root_dir)
    fs = SacredHashFS(os.path.join(root, "hashfs"))
    middleware = SerializationMiddleware(JSONStorage, fs)
    path = os.path.join(root, "metadata.json")
    if read_only:
        return TinyDB(path, storage=middleware, access_mode="r"), fs
    return TinyDB(path, storage=middleware), fs


def is_sacred_store(root: str | os.PathLike[str]) -> bool:
    """Whether the folder's ``metadata.json`` is a stock TinyDB file (Sacred's), not our append log."""
    return is_sacred_tinydb(os.path.join(os.fspath(root), "metadata.json"))


def plain(value: Any) -> Any:
    """A decoded document with plain values, for :class:`~pytest_sacredx.observers.record.RunRecord`:
    files as their id, datetimes as text, arrays and pandas objects as lists and dicts."""
    if isinstance(value, BufferedReaderWrapper):
        return getattr(value, "hash", None)
    if isinstance(value, _dt.datetime):
        return value.strftime(DATE_FORMAT)
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "to_dict"):
        return plain(value.to_dict())
    return value


# -- the observer's events, in Sacred's format ----------------------------------------------------------
# ``obs`` is a TinyDbObserver in Sacred mode: ``obs.runs`` a TinyDB table, ``obs.fs`` a hash store with
# hashfs' API, ``obs._local`` the run document in memory (``run_entry``), ``obs.db_run_id`` its doc id.


def _open_file(obs: Any, filename: str) -> BufferedReaderWrapper | None:
    try:
        with open(filename, "rb") as fh:
            return BufferedReaderWrapper(fh)
    except OSError:
        return None


def _save_sources(obs: Any, ex_info: Mapping[str, Any]) -> list[list[Any]]:
    sources = []
    for source_name, md5 in ex_info.get("sources") or []:
        path = os.path.join(ex_info.get("base_dir") or "", source_name)
        path = os.path.expandvars(os.path.expanduser(path))
        found = obs.fs.get(md5) if md5 and _MD5.fullmatch(str(md5)) else None
        if found is not None:
            file_id = _file_id(found)
        elif os.path.isfile(path):
            file_id = _file_id(obs.fs.put(path))
        else:
            file_id = md5
        handle = _open_file(obs, path)
        sources.append([source_name, file_id] + ([handle] if handle is not None else []))
    return sources


def save(obs: Any) -> None:
    """Insert the run document, or update it (Sacred rewrites the whole document on every event)."""
    doc = encode(obs._local, obs.fs)
    if obs.db_run_id:
        obs.runs.update(doc, doc_ids=[obs.db_run_id])
    else:
        obs.db_run_id = obs.runs.insert(doc)


def queued_event(obs: Any, *args: Any, **kwargs: Any) -> Any:
    raise NotImplementedError(
        "queued_event is not implemented for a TinyDbObserver in Sacred's format (as in Sacred); "
        "queue runs in the append-log store, TinyDbObserver(folder), which can."
    )


def started_event(
    obs: Any,
    ex_info: Mapping[str, Any],
    command: str,
    host_info: Mapping[str, Any],
    start_time: _dt.datetime,
    config: Mapping[str, Any],
    meta_info: Mapping[str, Any],
    _id: Any,
) -> Any:
    obs.db_run_id = None
    if obs.overwrite is not None:  # take the place of the document with that _id
        from tinydb import Query

        found = obs.runs.get(Query()["_id"] == obs.overwrite)
        if found is not None:
            obs.db_run_id, _id = found.doc_id, obs.overwrite
    experiment = dict(ex_info)
    experiment["sources"] = _save_sources(obs, ex_info)
    obs._local = {
        "experiment": experiment,
        "format": obs.VERSION,
        "command": command,
        "host": dict(host_info),
        "start_time": start_time,
        "config": config,
        "meta": redact_meta(dict(meta_info or {})),
        "status": "RUNNING",
        "resources": [],
        "artifacts": [],
        "captured_out": "",
        "info": {},
        "heartbeat": None,
        "_id": uuid.uuid4().hex if _id is None else _id,
    }
    save(obs)
    return obs._local["_id"]


def _entry(obs: Any) -> dict[str, Any]:
    if obs._local is None:
        raise RuntimeError("TinyDbObserver got a run event before started_event")
    return obs._local  # type: ignore[no-any-return]


def heartbeat_event(obs: Any, info: Any, captured_out: str, beat_time: Any, result: Any) -> None:
    entry = _entry(obs)
    entry.update(info=info, captured_out=captured_out, heartbeat=beat_time, result=result)
    save(obs)


def completed_event(obs: Any, stop_time: Any, result: Any) -> None:
    _entry(obs).update(stop_time=stop_time, result=result, status="COMPLETED")
    save(obs)


def interrupted_event(obs: Any, interrupt_time: Any, status: str) -> None:
    _entry(obs).update(stop_time=interrupt_time, status=status)
    save(obs)


def failed_event(obs: Any, fail_time: Any, fail_trace: Any) -> None:
    _entry(obs).update(stop_time=fail_time, status="FAILED", fail_trace=fail_trace)
    save(obs)


def resource_event(obs: Any, filename: str) -> None:
    entry = _entry(obs)
    file_id = _file_id(obs.fs.put(filename))
    if any(r[:2] == [filename, file_id] for r in entry["resources"]):
        return
    handle = _open_file(obs, filename)
    entry["resources"].append([filename, file_id] + ([handle] if handle is not None else []))
    save(obs)


def artifact_event(obs: Any, name: str, filename: str, metadata: Any = None, content_type: Any = None) -> None:
    entry = _entry(obs)
    file_id = _file_id(obs.fs.put(filename))
    if any(a[:3] == [name, filename, file_id] for a in entry["artifacts"]):
        return
    handle = _open_file(obs, filename)
    entry["artifacts"].append([name, filename, file_id] + ([handle] if handle is not None else []))
    save(obs)


def log_metrics(obs: Any, metrics_by_name: Mapping[str, Mapping[str, Any]], info: Any) -> None:
    """Kept under ``metrics`` (Sacred's TinyDB observer dropped metrics)."""
    entry = _entry(obs)
    metrics = entry.setdefault("metrics", {})
    changed = False
    for name, part in metrics_by_name.items():
        series = metrics.setdefault(name, {"steps": [], "values": [], "timestamps": []})
        for key in ("steps", "values", "timestamps"):
            new = list(part.get(key) or [])
            series[key].extend(new)
            changed = changed or bool(new)
    if changed:
        save(obs)
