"""TinyDbObserver and TinyDbReader: the embedded default store (a folder; no server, no extra package).

The folder holds ``metadata.json`` (a TinyDB database whose table ``runs`` has one document per run) and
``hashfs/`` (sources, resources and artifacts by content, md5, depth 3, width 2) — Sacred's layout and
document shape, with three deliberate differences:

- **Scale and concurrency.** Every pytest case is recorded here, by several xdist workers at once.
  Sacred's observer rewrote the whole JSON file on every event (10x slower after 200 runs) and two
  processes lost each other's runs. ``metadata.json`` is instead an append-only log written through
  :class:`~pytest_sacredx.observers.tinydb_bases.LogStorage`: an event appends one short line under a
  file lock (a heartbeat appends the new output, not the document), torn lines from killed processes are
  ignored, and the log compacts itself now and then. Neither the cost nor the memory of an event depends
  on how many runs the store holds: writers load no run, and :class:`TinyDbReader` lists runs from the
  run index (``metadata.json.idx``) as lazy records that read a run's lines when a field is first read
  (its output and metrics only when those are). (A folder of one file
  per run would also scale, but TinyDB queries over it would mean opening every file; the log keeps
  ``observer.runs`` a real TinyDB table, so ``runs.search(Query()...)`` works as in Sacred.)
- **Plain JSON values.** Values take the run document's form (:mod:`~pytest_sacredx.observers.document`:
  Sacred's jsonpickle JSON for NumPy values and tuples, which Sacred's own TinyDB observer cannot store
  at all); times are ``%Y-%m-%dT%H:%M:%S.%f`` strings (Sacred's ``TinyDate`` text without the tag); file entries are
  ``[name, id]`` (sources), ``[filename, id]`` (resources) and ``[name, filename, id]`` (artifacts) —
  Sacred's entries without the file handle, which the reader opens on demand.
- **Sacred's own format on request.** ``TinyDbObserver.create(path)``, ``TinyDbObserver(path=...)``
  (Sacred's spellings) and ``TinyDbObserver.create_from(tinydb, hashfs)`` with a ``hashfs.HashFS`` write
  Sacred's file format and documents instead (:mod:`~pytest_sacredx.observers.tinydb_sacred`), unless the
  folder already holds our log, which keeps its format; ``TinyDbReader`` reads both.
- **More kept.** Metrics are stored (``metrics: {name: {steps, values, timestamps}}``; Sacred's TinyDB
  dropped them) and queued runs are stored with status ``QUEUED`` (Sacred raised NotImplementedError).

>>> import datetime as dt, tempfile
>>> root = tempfile.mkdtemp()
>>> obs = TinyDbObserver(root)
>>> now = dt.datetime(2024, 5, 1, 12, 0)
>>> run_id = obs.started_event({"name": "demo", "base_dir": "/", "sources": []}, "main", {}, now,
...                            {"lr": 0.1}, {}, None)
>>> obs.completed_event(now, 0.93)
>>> reader = TinyDbReader(root)
>>> [(r.experiment_name, r.status, r.result) for r in reader.list_runs()]
[('demo', 'COMPLETED', 0.93)]
>>> reader.search(exp_name="de.*")[0]["config"]
{'lr': 0.1}
"""

from __future__ import annotations

import datetime as _dt
import functools
import os
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import IO, Any

from tinydb import Query, TinyDB
from tinydb.table import Document, Table

from ...errors import ArtifactNameError, RunIdExistsError, SacredxError, run_not_found
from .. import document
from .. import tinydb_sacred as _sacred
from ..base import RunObserver
from ..lazy_record import FINAL_METRICS, HEAVY_FIELDS, LazyRunRecord, gc_paused
from ..record import RunRecord, RunTail
from ..sacred_formats import SacredTinyDB, SacredTinyStorage, is_sacred_tinydb
from ..tinydb_bases import LOG_HEADER, HashStore, LogStorage, LogTinyDB, apply_patch, dumps_line
from ..tinydb_finals import effects_of, final_values
from ..tinydb_index import (
    DOC,
    HEAVY,
    RunIndex,
    StaleIndexError,
    check_line_bytes,
    find_run_lines,
    fold,
    read_doc,
    read_lines,
)

__all__ = ["TinyDbObserver", "TinyDbReader", "HashStore", "LogStorage", "tiny_db_option"]

DATE_FORMAT = document.TIME_FORMAT
_TABLE = "runs"
#: the format tag of our documents (Sacred writes ``TinyDbObserver-<sacred version>``)
FORMAT_VERSION = "TinyDbObserver-0.8.7+sacredx"


def _open_db(root: str, read_only: bool = False) -> tuple[TinyDB, HashStore]:
    path = os.path.join(root, "metadata.json")
    db: TinyDB
    if is_sacred_tinydb(path):  # a store Sacred wrote stays in Sacred's format (sacred_formats)
        db = SacredTinyDB(path, storage=SacredTinyStorage, read_only=read_only)
    else:
        db = LogTinyDB(path, storage=LogStorage, read_only=read_only)
    return db, HashStore(os.path.join(root, "hashfs"))


class TinyDbObserver(RunObserver):
    """Record runs into a TinyDB folder (``metadata.json`` + ``hashfs/``); see the module docstring.

    Nothing is created until the first event or the first access to ``.db``, ``.runs`` or ``.fs``.

    >>> obs = TinyDbObserver.create("runs_db")  # doctest: +SKIP
    >>> obs.runs.search(Query().status == "FAILED")  # doctest: +SKIP
    """

    VERSION = FORMAT_VERSION

    @classmethod
    def create(
        cls, path: str | os.PathLike[str] = "./runs_db", overwrite: Any = None
    ) -> TinyDbObserver:
        """Sacred's constructor: a store in Sacred's format in folder ``path`` (an existing append-log
        store there keeps its format); ``overwrite`` is the ``_id`` of a run to replace."""
        return cls(path=path, overwrite=overwrite)

    @classmethod
    def create_from(
        cls, db: TinyDB, fs: Any, overwrite: Any = None, root: str | None = None
    ) -> TinyDbObserver:
        """Use an existing TinyDB and file store: with our :class:`HashStore`, our documents (with any
        TinyDB storage; ours keeps writes O(1)); with a ``hashfs.HashFS`` (Sacred's), Sacred's documents."""
        self = cls(root or os.path.dirname(getattr(fs, "root", ".")), overwrite=overwrite)
        self._db, self._fs = db, fs
        self._runs = db.table(_TABLE)
        self._sacred = not isinstance(fs, HashStore)
        return self

    def __init__(
        self,
        root_dir: str | os.PathLike[str] = "./runs_db",
        overwrite: Any = None,
        priority: int = 20,
        *,
        path: str | os.PathLike[str] | None = None,
        format: str | None = None,  # noqa: A002 - the store's format, "log" or "sacred"
    ) -> None:
        # ``path=`` is the name Sacred's constructor uses: it asks for Sacred's format
        self.root = os.path.abspath(os.fspath(path if path is not None else root_dir))
        fmt = format if format is not None else ("sacred" if path is not None else "log")
        if fmt not in ("log", "sacred"):
            raise TinyDbFormatError(
                f"Unknown TinyDB store format {fmt!r}: give format='log' (ours, the default) or "
                "format='sacred' (Sacred 0.8.7's file)."
            )
        self.overwrite = overwrite
        self.priority = priority
        self._db: TinyDB | None = None
        self._fs: HashStore | None = None
        self._runs: Table | None = None
        self.db_run_id: int | None = None
        self._local: dict[str, Any] | None = None  # the run document when the storage is not ours
        self._cout = ""
        #: the last value stored of each metric of the running run (None once a metric line failed to
        #: be written: then nobody can tell), and the metrics stored without a value yet: the line that
        #: ends the run carries them (``fin``) when every metric has one
        self._finals: dict[str, Any] | None = {}
        self._no_value: set[str] = set()
        self._put_cache: dict[tuple[str, int, int], str] = {}
        #: the last beat of the running run, written with its terminal event
        self._pending: tuple[dict[str, Any], dict[str, str] | None] | None = None
        self._ex_info_cache: tuple[dict[str, Any], dict[str, Any]] | None = None
        self._overwrite_used = False
        #: whether runs are written in Sacred's format (module tinydb_sacred)
        self._sacred = fmt == "sacred" and not _is_log_store(self.root)
        if self._sacred:  # created at once, as Sacred does
            os.makedirs(self.root, exist_ok=True)
            self._db, self._fs = _sacred.get_db_file_manager(self.root)
            self._runs = self._db.table(_TABLE)

    # -- lazily opened store (Sacred's attribute names) -----------------------------------------------

    def _open(self) -> None:
        if self._db is None:
            os.makedirs(self.root, exist_ok=True)
            self._db, self._fs = _open_db(self.root)
            self._runs = self._db.table(_TABLE)

    @property
    def db(self) -> TinyDB:
        self._open()
        assert self._db is not None
        return self._db

    @property
    def fs(self) -> HashStore:
        self._open()
        assert self._fs is not None
        return self._fs

    @property
    def runs(self) -> Table:
        self._open()
        assert self._runs is not None
        return self._runs

    @property
    def _log(self) -> LogStorage | None:
        storage = self.db.storage
        return storage if isinstance(storage, LogStorage) else None

    @property
    def run_entry(self) -> dict[str, Any] | None:
        """The current run's document as stored."""
        log = self._log
        if log is not None and self.db_run_id is not None:
            return log.doc(_TABLE, self.db_run_id)
        return self._local

    def __eq__(self, other: object) -> bool:
        if isinstance(other, TinyDbObserver):
            return self.root == other.root
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.root)

    def __repr__(self) -> str:
        return f"TinyDbObserver({self.root!r})"

    # -- writing --------------------------------------------------------------------------------------

    def _put_file(self, filename: str) -> str | None:
        try:
            st = os.stat(filename)
        except OSError:
            return None
        # A sweep records the same sources thousands of times: hash and store each version once.
        key = (filename, st.st_mtime_ns, st.st_size)
        if key not in self._put_cache:
            try:
                self._put_cache[key] = self.fs.put(filename)
            except FileNotFoundError:
                return None
        return self._put_cache[key]

    def _sources(self, experiment: dict[str, Any]) -> dict[str, Any]:
        """The experiment record with each source as ``[name, file id]``; once per record object, since a
        sweep shares one (run events only ever patch a document's top-level keys)."""
        cached = self._ex_info_cache
        if cached is not None and cached[0] is experiment:
            return cached[1]
        base_dir = experiment.get("base_dir") or ""
        converted = {
            **experiment,
            "sources": [
                [src[0], self._put_file(os.path.join(base_dir, src[0]))]
                for src in experiment.get("sources", [])
            ],
        }
        self._ex_info_cache = (experiment, converted)
        return converted

    def _new_run(self, entry: dict[str, Any], _id: Any) -> str:
        self._cout = ""
        self._finals, self._no_value = {}, set()
        log = self._log
        if self.overwrite is not None:
            if self._overwrite_used:
                raise RuntimeError("TinyDbObserver(overwrite=...) can record only one run")
            self._overwrite_used = True
            entry = {"_id": self.overwrite, **entry}
            found = self.runs.get(Query()["_id"] == self.overwrite)
            if found is None:
                raise run_not_found(self.overwrite, f"tinydb:{self.root}", "the overwrite target")
            self.db_run_id = found.doc_id
            if log is not None:
                log.put_doc(_TABLE, found.doc_id, entry)
            else:
                self._local = entry
                self.runs.remove(doc_ids=[found.doc_id])
                self.runs.insert(Document(entry, doc_id=found.doc_id))
            return str(entry["_id"])
        entry = {"_id": uuid.uuid4().hex if _id is None else _id, **entry}
        if log is not None:
            # a fresh uuid4 cannot collide: only a given _id is looked up (the lean path streams the log)
            doc_id = log.insert_doc(_TABLE, entry, unique_run_id=_id is not None)
        elif self.runs.contains(Query()["_id"] == entry["_id"]):
            doc_id = None
        else:
            self._local = entry
            doc_id = self.runs.insert(entry)
        if doc_id is None:
            raise RunIdExistsError(
                f"Run id {entry['_id']!r} already exists in tinydb:{self.root}; pass no _id to get a "
                "fresh one, or choose another."
            )
        self.db_run_id = doc_id
        return str(entry["_id"])

    def _patch(
        self,
        set: Mapping[str, Any] | None = None,  # noqa: A002
        ext: list[tuple[list[str], list[Any]]] | None = None,
        cat: Mapping[str, str] | None = None,
        fin: Mapping[str, Any] | None = None,
    ) -> None:
        if self.db_run_id is None:
            raise RuntimeError("TinyDbObserver got a run event before started_event/queued_event")
        log = self._log
        if log is not None:
            log.patch(_TABLE, self.db_run_id, set=set, ext=ext, cat=cat, fin=fin)
            return
        assert self._local is not None
        apply_patch(self._local, set, ext, cat)
        fields = {*(set or {}), *(p[0] for p, _ in (ext or [])), *(cat or {})}
        self.runs.update({k: self._local[k] for k in fields}, doc_ids=[self.db_run_id])

    def queued_event(
        self,
        ex_info: dict[str, Any],
        command: str,
        host_info: dict[str, Any],
        queue_time: _dt.datetime,
        config: dict[str, Any],
        meta_info: dict[str, Any],
        _id: Any,
    ) -> str:
        if self._sacred:
            return _sacred.queued_event(self)  # type: ignore[no-any-return]
        doc = document.queued(ex_info, command, host_info, queue_time, config, meta_info)
        return self._begin(doc, _id)

    def started_event(
        self,
        ex_info: dict[str, Any],
        command: str,
        host_info: dict[str, Any],
        start_time: _dt.datetime,
        config: dict[str, Any],
        meta_info: dict[str, Any],
        _id: Any,
    ) -> str:
        if self._sacred:
            return str(_sacred.started_event(self, ex_info, command, host_info, start_time, config,
                                             meta_info, _id))
        doc = document.started(ex_info, command, host_info, start_time, config, meta_info)
        return self._begin(doc, _id)

    def _begin(self, doc: dict[str, Any], _id: Any) -> str:
        doc["experiment"] = self._sources(doc["experiment"])
        doc["format"] = self.VERSION
        doc["metrics"] = {}
        return self._new_run(doc, _id)

    def heartbeat_event(
        self, info: dict[str, Any], captured_out: str, beat_time: _dt.datetime, result: Any
    ) -> None:
        if self._sacred:
            return _sacred.heartbeat_event(self, info, captured_out, beat_time, result)
        fields, cat = self._beat_patch(info, captured_out, beat_time, result)
        self._patch(set=fields, cat=cat)

    def final_heartbeat_event(
        self, info: dict[str, Any], captured_out: str, beat_time: _dt.datetime, result: Any
    ) -> None:
        """The last beat of a run: kept and appended together with the terminal event (one append
        instead of two; a process killed in between loses only this beat)."""
        if self._sacred:
            return _sacred.heartbeat_event(self, info, captured_out, beat_time, result)
        self._pending = self._beat_patch(info, captured_out, beat_time, result)

    def _beat_patch(
        self, info: dict[str, Any], captured_out: str, beat_time: _dt.datetime, result: Any
    ) -> tuple[dict[str, Any], dict[str, str] | None]:
        fields = document.heartbeat(info, captured_out, beat_time, result)
        captured_out = fields.pop("captured_out")
        cat = None
        if captured_out.startswith(self._cout):  # append only the new output
            if len(captured_out) > len(self._cout):
                cat = {"captured_out": captured_out[len(self._cout) :]}
        else:
            fields["captured_out"] = captured_out
        self._cout = captured_out
        return fields, cat

    def _finish(self, fields: dict[str, Any]) -> None:
        pending, self._pending = self._pending, None
        fin = None if self._no_value or self._finals is None else self._finals
        if pending is None:
            self._patch(set=fields, fin=fin)
        else:
            self._patch(set={**pending[0], **fields}, cat=pending[1], fin=fin)

    def completed_event(self, stop_time: _dt.datetime, result: Any) -> None:
        if self._sacred:
            return _sacred.completed_event(self, stop_time, result)
        self._finish(document.completed(stop_time, result))

    def interrupted_event(self, interrupt_time: _dt.datetime, status: str) -> None:
        if self._sacred:
            return _sacred.interrupted_event(self, interrupt_time, status)
        self._finish(document.interrupted(interrupt_time, status))

    def failed_event(self, fail_time: _dt.datetime, fail_trace: list[str]) -> None:
        if self._sacred:
            return _sacred.failed_event(self, fail_time, fail_trace)
        self._finish(document.failed(fail_time, fail_trace))

    def resource_event(self, filename: str) -> None:
        if self._sacred:
            return _sacred.resource_event(self, filename)
        filename = os.path.abspath(os.fspath(filename))
        entry = [filename, self.fs.put(filename)]
        current = self.run_entry or {}
        if entry not in current.get("resources", []):
            self._patch(ext=[(["resources"], [entry])])

    def artifact_event(
        self,
        name: str,
        filename: str,
        metadata: dict[str, Any] | None = None,
        content_type: str | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ArtifactNameError(
                f"Artifact name {name!r} is empty; give a file name such as 'model.pt'."
            )
        if self._sacred:
            return _sacred.artifact_event(self, name, os.fspath(filename), metadata, content_type)
        self._patch(ext=[(["artifacts"], [[name, os.fspath(filename), self.fs.put(filename)]])])

    def log_metrics(self, metrics_by_name: dict[str, dict[str, Any]], info: dict[str, Any]) -> None:
        if self._sacred:
            return _sacred.log_metrics(self, metrics_by_name, info)
        ext: list[tuple[list[str], list[Any]]] = []
        delta = document.metrics_delta(metrics_by_name)
        for name, part in delta.items():
            ext += [(["metrics", name, key], part[key]) for key in ("steps", "values", "timestamps")]
        if not ext:
            return
        finals, self._finals = self._finals, None  # until the line is written
        self._patch(ext=ext)
        if finals is None:
            return
        for name, part in delta.items():
            if part["values"]:
                finals[name] = part["values"][-1]
                self._no_value.discard(name)
            elif name not in finals:
                self._no_value.add(name)
        self._finals = finals


class TinyDbFormatError(SacredxError, ValueError):
    """An unknown ``format=`` for a TinyDB store."""


def _is_log_store(root: str) -> bool:
    """Whether ``root`` holds our append-log ``metadata.json`` already."""
    path = os.path.join(root, "metadata.json")
    return os.path.isfile(path) and os.path.getsize(path) > 0 and not _sacred.is_sacred_store(root)


def tiny_db_option(args: Any, run: Any) -> None:
    """Sacred's ``-t/--tiny_db`` flag as a function: add a TinyDbObserver in Sacred's format for the
    folder ``args`` to ``run`` (a run or an experiment). The command line has the flag built in."""
    run.observers.append(TinyDbObserver(path=args))


def _record(doc: Mapping[str, Any], root: str, plain: bool = False) -> RunRecord:
    return RunRecord(**_values(doc, root, plain))


def _values(doc: Mapping[str, Any], root: str, plain: bool = False) -> dict[str, Any]:
    return document.record_values(
        doc,
        store=f"tinydb:{root}",
        plain=plain,
        metrics=doc.get("metrics") or {},
        artifacts=[a[0] for a in doc.get("artifacts") or []],
    )


def _span_reader(fd: int, entries: list[tuple[int, int, int]]) -> Any:
    """``read(offset, size)`` for a run's lines: one read of the span they lie in when they lie close
    together (a run's lines usually follow each other in the log), else one read per line."""
    if len(entries) > 1:
        start = min(e[0] for e in entries)
        end = max(e[0] + e[1] + 1 for e in entries)
        if end - start <= 2 * sum(e[1] + 1 for e in entries) + 4096:
            buf = os.pread(fd, end - start, start)
            return lambda off, size: buf[off - start : off - start + size]
    return lambda off, size: os.pread(fd, size, off)


def _skim_finals(
    index: Any, handle: _LogHandle, doc_id: int, entries: list[tuple[int, int, int]],
    parsed: dict[int, Any],
) -> dict[str, Any] | None:
    """The last value of each metric of a run, from its lines in log order: the light ones worked out
    already (``parsed``: their ``effects_of``, by their place in ``entries``), the metric lines read now. None when that
    cannot tell or the log changed since the listing (the caller then loads the metrics, which finds
    the run again)."""
    try:
        fd = handle.fd()
        read = _span_reader(fd, [e for e in entries if e[2] == HEAVY])
        ordered: list[Any] = []
        for i, (off, length, _) in enumerate(entries):
            line = parsed.get(i)
            if line is None:
                data = read(off, length + 1)
                if len(data) != length + 1 or data[-1:] != b"\n":
                    return None
                line = data[:-1].decode("utf-8", "surrogateescape")
            ordered.append(line)
        try:
            return final_values(ordered, doc_id, _TABLE)
        except (ValueError, TypeError):  # a line the skim does not read: decode (and check) them all
            return final_values([index.read_line(fd, e, doc_id) for e in entries], doc_id, _TABLE)
    except (ValueError, TypeError, StaleIndexError, OSError):
        return None


def _compacted_light(
    index: Any, handle: _LogHandle, doc_id: int, entries: list[tuple[int, int, int]]
) -> tuple[dict[str, Any], Callable[[], dict[str, Any] | None], bool] | None:
    """:meth:`TinyDbReader._light` of the shape a compaction leaves: one document line, then metric
    lines its ``fin`` covers. One read, one decode, no fold; None for anything else (the general path
    decides then)."""
    if any(e[2] != HEAVY for e in entries[1:]):
        return None
    off, length, _ = entries[0]
    raw, line = check_line_bytes(os.pread(handle.fd(), length + 1, off), off, length, DOC, doc_id,
                                 index.table)
    doc = line["doc"]
    if doc.__class__ is not dict or not _fin_answers(line, 0, entries, {}):
        return None
    finals = line["fin"]
    return {k: v for k, v in doc.items() if k not in HEAVY_FIELDS}, lambda: finals, document.plain_text(raw)


def _fin_answers(line: Mapping[str, Any], at: int, entries: list[tuple[int, int, int]],
                 parsed: Mapping[int, Any]) -> bool:
    """Whether the final values on ``line`` (the run's ``at``-th line) are the run's: nothing after the
    lines they cover changes the metrics (``parsed``: the light lines' effects on them, by place)."""
    fin, covers = line.get("fin"), line.get("fin_covers", 0)
    return isinstance(fin, dict) and type(covers) is int and all(
        entries[j][2] != HEAVY and parsed.get(j) == [] for j in range(at + 1 + covers, len(entries))
    )


# effects_of a line whose text names no metrics (shared, never changed): a document resets them
_NO_EFFECTS: list[Any] = []
_DOC_WITHOUT_METRICS: list[Any] = [("doc", {})]


def _light_effects(line: dict[str, Any], raw: bytes, kind: int) -> Any:
    """What :func:`_skim_finals` keeps of a decoded light line (``raw`` its text, ``kind`` its index
    kind): its ``effects_of``, without walking the line when its text cannot name metrics; the line
    itself when it is too odd to tell (the skim judges it then)."""
    if b'"metrics"' not in raw and b"\\u00" not in raw:  # (an escape could spell the key)
        return _DOC_WITHOUT_METRICS if kind == DOC else _NO_EFFECTS
    try:
        return effects_of(line)
    except (ValueError, TypeError):
        return line


class _LogHandle:
    """The log file a listing was made from, for its lazy records: reopened after the reader closed;
    a log replaced since (compacted) is refused with StaleIndexError, and the record finds its run
    in the new one."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None
        self._fd = os.open(path, os.O_RDONLY)
        st = os.fstat(self._fd)
        self.size = st.st_size
        self._ino = (st.st_dev, st.st_ino)

    def fd(self) -> int:
        if self._fd is None:
            try:
                fd = os.open(self.path, os.O_RDONLY)
            except FileNotFoundError:
                raise StaleIndexError("the log is gone") from None
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) != self._ino:
                os.close(fd)
                raise StaleIndexError("the log was replaced")
            self._fd = fd
        return self._fd

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        self.close()


class TinyDbReader:
    """Read a TinyDB store — ours (the append log) or one in Sacred's format — while writers keep writing.

    Sacred's reader API (``search``, ``fetch_metadata``, ``fetch_files``, ``fetch_report``) gives
    Sacred's documents for a store in Sacred's format (datetimes, open files); our log gives its plain
    documents. ``list_runs``/``load_run`` give :class:`RunRecord` for both.

    >>> reader = TinyDbReader("runs_db")  # doctest: +SKIP
    >>> print(reader.fetch_report(exp_name="mnist", indices=-1)[0])  # doctest: +SKIP
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.root = os.path.abspath(os.fspath(path))
        if not os.path.isdir(self.root):
            raise FileNotFoundError(
                f"No TinyDB store at {self.root!r} (expected a folder with metadata.json)"
            )
        self._sacred = _sacred.is_sacred_store(self.root)
        self.db: TinyDB
        self.fs: Any
        if self._sacred:
            self.db, self.fs = _sacred.get_db_file_manager(self.root, read_only=True)
        else:
            self.db, self.fs = _open_db(self.root, read_only=True)
        self.runs = self.db.table(_TABLE)
        self._handles: list[_LogHandle] = []

    # -- RunReader -------------------------------------------------------------------------------------

    def _docs(self) -> list[Document]:
        return sorted(self.runs.all(), key=lambda d: d.doc_id)

    def _as_record(self, doc: Mapping[str, Any]) -> RunRecord:
        return _record(_sacred.plain(doc) if self._sacred else doc, self.root)

    def list_runs(self) -> Iterator[RunRecord]:
        """All runs, oldest first (in the order they were recorded).

        The records are lazy (:class:`~pytest_sacredx.observers.lazy_record.LazyRunRecord`): listing
        reads the run index only; a run's lines are read when one of its fields is, and its output and
        metrics only when those are."""
        log = self._log()
        if log is None:  # not a log (Sacred's metadata.json) or no file yet: TinyDB reads it whole
            for doc in self._docs():
                yield self._as_record(doc)
            return
        handle, index = log
        yield from self._lazy(handle, index, index.doc_ids())

    def last_runs(self, n: int) -> RunTail:
        """The last ``n`` runs of :meth:`list_runs` and how many there are, making records for those
        ``n`` only (the run index is read as for a listing; no run's lines are)."""
        if n < 0:
            raise ValueError(f"last_runs({n}): give a number of runs, 0 or more")
        log = self._log()
        if log is None:
            return RunTail.of(list(self.list_runs()), n)
        handle, index = log
        doc_ids = index.doc_ids()
        return RunTail(self._lazy(handle, index, doc_ids[-n:] if n else []), len(doc_ids))

    def _lazy(self, handle: _LogHandle, index: RunIndex, doc_ids: list[int]) -> list[RunRecord]:
        store = f"tinydb:{self.root}"
        load = self._load_values
        with gc_paused():
            return [
                LazyRunRecord.lazy(functools.partial(load, handle, doc_id, index), store=store)
                for doc_id in doc_ids
            ]

    def _log(self) -> tuple[_LogHandle, RunIndex] | None:
        """The log opened for reading with its run index, or None when it is no log."""
        storage = self.db.storage
        if not isinstance(storage, LogStorage) or storage.loaded:
            return None
        try:
            handle = _LogHandle(storage.path)
        except FileNotFoundError:
            return None
        head = os.pread(handle.fd(), 64, 0)
        if head and not head.startswith(LOG_HEADER):
            handle.close()
            return None
        self._handles.append(handle)
        with gc_paused():
            return handle, storage.index.load(handle.fd(), handle.size)

    def _load_values(
        self, handle: _LogHandle, doc_id: int, index: RunIndex, full: bool
    ) -> dict[str, Any]:
        storage = self.db.storage
        assert isinstance(storage, LogStorage)
        doc = None
        finals = None
        plain = False
        try:
            entries = index.lines.get(doc_id, [])
            if full:
                doc = fold(read_lines(storage.index, handle.fd(), doc_id, entries, False), False)
            else:
                doc, finals, plain = self._light(storage.index, handle, doc_id, entries)
        except StaleIndexError:
            # the index lied about this run, or the log was compacted since the listing (document
            # ids survive a compaction): find the run's lines in the log as it is now
            fd = os.open(storage.path, os.O_RDONLY)
            try:
                doc = read_doc(storage.index, fd, doc_id, light=not full)
            finally:
                os.close(fd)
        if doc is None:
            raise run_not_found(doc_id, f"tinydb:{self.root}")
        values = _values(doc, self.root, plain)
        if finals is not None:
            values[FINAL_METRICS] = finals  # a function: the metric lines are read when first asked
        return values

    @staticmethod
    def _light(
        index: Any, handle: _LogHandle, doc_id: int, entries: list[tuple[int, int, int]]
    ) -> tuple[dict[str, Any] | None, Callable[[], dict[str, Any] | None], bool]:
        """The run's document without its output and metrics; a function that gives the last value of
        each metric (skimmed from the metric lines when first asked for,
        :mod:`~pytest_sacredx.observers.tinydb_finals`; None when that cannot tell); and whether its
        lines hold only plain values (nothing to decode). The metric lines are not read here: a
        ``--where`` over the config reads them only for the runs it keeps."""
        if len(entries) > 1 and entries[0][2] == DOC and entries[1][2] == HEAVY:
            compacted = _compacted_light(index, handle, doc_id, entries)
            if compacted is not None:
                return compacted
        lines: list[dict[str, Any]] = []
        parsed: dict[int, Any] = {}  # their effects on the metrics, by their place among the run's
        plain = True
        fin_at, fin_line = -1, None  # the last line carrying the run's final metric values
        light = [e for e in entries if e[2] != HEAVY]
        read = _span_reader(handle.fd(), light)
        for i, entry in enumerate(entries):
            off, length, kind = entry
            if kind == HEAVY:
                continue
            raw, line = check_line_bytes(read(off, length + 1), off, length, kind, doc_id, index.table)
            if line is None:
                raise StaleIndexError(f"no document line at {off}")
            plain = plain and document.plain_text(raw)
            lines.append(line)
            # what the skim will need of it: its effects on the metrics only (a light line may carry
            # the run's output and info, which the record must not keep alive until they are asked for)
            parsed[i] = _light_effects(line, raw, kind)
            if "fin" in line:
                fin_at, fin_line = i, line
        if fin_line is not None and _fin_answers(fin_line, fin_at, entries, parsed):
            fin = fin_line["fin"]  # no metric line is read
            return fold(lines, True), lambda: fin, plain
        if len(light) == len(entries):  # no metric lines: the document's own metrics answer
            try:
                finals = final_values(lines, doc_id, _TABLE)
            except (ValueError, TypeError):
                finals = None
            return fold(lines, True), lambda: finals, plain
        return fold(lines, True), functools.partial(_skim_finals, index, handle, doc_id, entries, parsed), plain

    def _doc(self, run_id: Any) -> Mapping[str, Any]:
        storage = self.db.storage
        doc: Mapping[str, Any] | None = None
        if isinstance(storage, LogStorage) and not storage.loaded and os.path.exists(storage.path):
            fd = os.open(storage.path, os.O_RDONLY)
            try:
                head = os.pread(fd, 64, 0)
                if not head or head.startswith(LOG_HEADER):
                    doc_id = find_run_lines(storage.index, fd, os.fstat(fd).st_size, run_id, dumps_line)
                    doc = None if doc_id is None else read_doc(storage.index, fd, doc_id)
                    if doc is None:
                        raise run_not_found(run_id, f"tinydb:{self.root}")
                    return doc
            finally:
                os.close(fd)
        if isinstance(storage, LogStorage):
            doc_id = storage.find_run(_TABLE, run_id)
            doc = None if doc_id is None else self.runs.get(doc_id=doc_id)
        else:
            doc = self.runs.get(Query()["_id"] == run_id)
        if doc is None:
            raise run_not_found(run_id, f"tinydb:{self.root}")
        return doc

    def load_run(self, run_id: Any) -> RunRecord:
        return self._as_record(self._doc(run_id))

    def load_artifact(self, run_id: Any, name: str) -> bytes:
        """The bytes of one artifact of a run (from the hash store); ``KeyError`` when there is none."""
        try:
            doc: Mapping[str, Any] = self._doc(run_id)
        except KeyError:
            doc = {}
        for entry in doc.get("artifacts") or []:
            if entry and entry[0] == name:
                handle = self._open(_file_ref(entry, 2))
                if handle is not None:
                    with handle:
                        return handle.read()
        raise KeyError((run_id, name))

    # -- Sacred's reader API --------------------------------------------------------------------------

    def search(
        self, exp_name: Any = None, query: Any = None, indices: int | list[int] | None = None
    ) -> list[Document]:
        """Run documents, oldest first, filtered by ``exp_name`` (a regex searched in the experiment
        name), a TinyDB ``query``, then picked by position (``indices``: an int or a list; negative ok).
        ``search(query)`` is Sacred's form.

        >>> reader.search(query=Query().status == "FAILED", indices=-1)  # doctest: +SKIP
        """
        if exp_name is not None and not isinstance(exp_name, str):  # Sacred's search(query)
            exp_name, query = None, exp_name
        docs = self._docs()
        if exp_name is not None:
            pattern = re.compile(exp_name)
            docs = [
                d for d in docs if pattern.search(str((d.get("experiment") or {}).get("name", "")))
            ]
        if query is not None:
            docs = [d for d in docs if query(d)]
        if indices is not None:
            picks = [indices] if isinstance(indices, int) else list(indices)
            docs = [docs[i] for i in picks if -len(docs) <= i < len(docs)]
        return docs

    def fetch_metadata(
        self, exp_name: Any = None, query: Any = None, indices: int | list[int] | tuple[int, ...] | None = None
    ) -> list[Document]:
        """The run documents chosen by experiment name (a regex), a TinyDB query, or positions
        (``indices``, an int or a list; negative ones count from the end), as in Sacred: without any of
        them, or with a position out of range, ``ValueError``."""
        if not exp_name and query is None and not indices and indices != 0:
            raise ValueError(
                "fetch_metadata needs exp_name=..., query=... or indices=...: say which runs to fetch"
            )
        if exp_name or query is not None:
            return self.search(exp_name or None, query)
        picks = [indices] if isinstance(indices, int) else list(indices or [])
        docs = self._docs()
        for index in picks:
            if not -len(docs) <= index < len(docs):
                raise ValueError(
                    f"Index value ({index}) must be less than number of records ({len(docs)})"
                )
        return [docs[i] for i in picks]

    def _open(self, file_id: Any) -> IO[bytes] | None:
        if not isinstance(file_id, str) or not file_id or not self.fs.exists(file_id):
            return None
        return self.fs.open(file_id)  # type: ignore[no-any-return]

    def _handle(self, entry: list[Any], id_index: int) -> Any:
        """The open file of a file entry: the decoded one of a Sacred store, else opened from the store."""
        if self._sacred and len(entry) > id_index + 1 and not isinstance(entry[-1], str):
            return entry[-1]
        return self._open(_file_ref(entry, id_index))

    def fetch_files(
        self, exp_name: Any = None, query: Any = None, indices: int | list[int] | None = None
    ) -> list[dict[str, Any]]:
        """Per run: ``exp_name``, ``exp_id``, ``date`` (the start) and, when the run has any, open binary
        files (the caller closes them) as ``sources``, ``resources`` and ``artifacts``, each
        ``{name: file}``; selection as in :meth:`fetch_metadata`."""
        out = []
        for doc in self.fetch_metadata(exp_name, query, indices):
            experiment = doc.get("experiment") or {}
            rec: dict[str, Any] = {
                "exp_name": experiment.get("name"),
                "exp_id": doc.get("_id"),
                "date": document.parse_time(doc.get("start_time") or doc.get("queue_time")),
            }
            groups = (
                ("sources", experiment.get("sources") or [], 1),
                ("resources", doc.get("resources") or [], 1),
                ("artifacts", doc.get("artifacts") or [], 2),
            )
            for key, entries, id_index in groups:
                files = {e[0]: self._handle(list(e), id_index) for e in entries if e}
                if files:
                    rec[key] = files
            out.append(rec)
        return out

    def fetch_report(
        self, exp_name: Any = None, query: Any = None, indices: int | list[int] | None = None
    ) -> list[str]:
        """Sacred's plain-text report per selected run (config, result, dependencies, files);
        selection as in :meth:`fetch_metadata`."""
        return [_report(doc) for doc in self.fetch_metadata(exp_name, query, indices)]

    def close(self) -> None:
        # the listing's log stays open for its lazy records (closed when the last of them goes), so a
        # record reads its run even after the reader closed or the store was removed
        self._handles.clear()
        self.db.close()


def _file_ref(entry: list[Any], id_index: int) -> Any:
    """The file id of a stored file entry: ``[name, id]``/``[name, filename, id]``, with or without
    Sacred's open file after it."""
    if len(entry) > id_index and isinstance(entry[id_index], str):
        return entry[id_index]
    return entry[-1] if entry else None


_REPORT = """
-------------------------------------------------
Experiment: {exp_name}
-------------------------------------------------
ID: {exp_id}
Date: {start_date}    Duration: {duration}

Parameters:
{parameters}

Result:
{result}

Dependencies:
{dependencies}

Resources:
{resources}

Source Files:
{sources}

Outputs:
{artifacts}
"""


def _indent(text: str, prefix: str = "    ") -> str:
    """Every line of ``text`` behind ``prefix``, wrapped at 150 columns (Sacred's report)."""
    import textwrap

    wrapper = textwrap.TextWrapper(initial_indent=prefix, width=150, subsequent_indent=prefix)
    return "\n".join(wrapper.fill(line) for line in text.splitlines())


def _report(doc: Mapping[str, Any]) -> str:
    """Sacred's report of one run: start date with weekday, duration ``HH:MM:SS.s``, top-level config
    entries sorted, ``None`` for an empty section."""
    experiment = doc.get("experiment") or {}
    start = document.parse_time(doc.get("start_time"))
    stop = document.parse_time(doc.get("stop_time"))
    start_date = start.strftime("%a %d %b %Y") if start else "-"
    if start and stop:
        hours, rest = divmod((stop - start).total_seconds(), 3600)
        minutes, seconds = divmod(rest, 60)
        duration = f"{int(hours):02d}:{int(minutes):02d}:{seconds:04.1f}"
    else:
        duration = "-"
    config = doc.get("config") or {}
    parameters = _indent("\n".join(f"{k}: {config[k]}" for k in sorted(config)))
    none = "    None"
    sections = {
        "result": _indent(repr(doc.get("result"))),
        "dependencies": _indent("\n".join(experiment.get("dependencies") or [])),
        "resources": _indent("\n".join(str(r[0]) for r in doc.get("resources") or [])),
        "sources": _indent("\n".join(str(s[0]) for s in experiment.get("sources") or [])),
        "artifacts": _indent("\n".join(str(a[0]) for a in doc.get("artifacts") or [])),
    }
    return _REPORT.format(
        exp_name=experiment.get("name", ""),
        exp_id=doc.get("_id"),
        start_date=start_date,
        duration=duration,
        parameters=parameters or none,
        **{k: v or none for k, v in sections.items()},
    )
