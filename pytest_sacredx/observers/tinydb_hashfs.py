"""TinyDbObserver and TinyDbReader: the embedded default store (a folder; no server, no extra package).

The folder holds ``metadata.json`` (a TinyDB database whose table ``runs`` has one document per run) and
``hashfs/`` (sources, resources and artifacts by content, md5, depth 3, width 2) — Sacred's layout and
document shape, with three deliberate differences:

- **Scale and concurrency.** Every pytest case is recorded here, by several xdist workers at once.
  Sacred's observer rewrote the whole JSON file on every event (10x slower after 200 runs) and two
  processes lost each other's runs. ``metadata.json`` is instead an append-only log written through
  :class:`~pytest_sacredx.observers.tinydb_bases.LogStorage`: an event appends one short line under a
  file lock (a heartbeat appends the new output, not the document), each process replays only what
  others appended, torn lines from killed processes are ignored, and the log compacts itself now and
  then. The cost of an event does not depend on how many runs the store holds. (A folder of one file
  per run would also scale, but TinyDB queries over it would mean opening every file; the log keeps
  ``observer.runs`` a real TinyDB table, so ``runs.search(Query()...)`` works as in Sacred.)
- **Plain JSON values.** Values take the run document's form (:mod:`~pytest_sacredx.observers.document`:
  Sacred's jsonpickle JSON for NumPy values and tuples, which Sacred's own TinyDB observer cannot store
  at all); times are ``%Y-%m-%dT%H:%M:%S.%f`` strings (Sacred's ``TinyDate`` text without the tag); file entries are
  ``[name, id]`` (sources), ``[filename, id]`` (resources) and ``[name, filename, id]`` (artifacts) —
  Sacred's entries without the file handle, which the reader opens on demand.
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
import os
import re
import uuid
from collections.abc import Iterator, Mapping
from typing import IO, Any

from tinydb import Query, TinyDB
from tinydb.table import Document, Table

from ..errors import ArtifactNameError, RunIdExistsError, run_not_found
from . import document
from .base import RunObserver
from .record import RunRecord
from .sacred_formats import SacredTinyDB, SacredTinyStorage, is_sacred_tinydb
from .tinydb_bases import HashStore, LogStorage, LogTinyDB, apply_patch

__all__ = ["TinyDbObserver", "TinyDbReader", "HashStore", "LogStorage"]

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
        """Sacred's constructor: a store in folder ``path``; ``overwrite`` is the ``_id`` of a run to replace."""
        return cls(path, overwrite=overwrite)

    @classmethod
    def create_from(
        cls, db: TinyDB, fs: HashStore, overwrite: Any = None, root: str | None = None
    ) -> TinyDbObserver:
        """Use an existing TinyDB and file store (with any storage; ours keeps writes O(1))."""
        self = cls(root or os.path.dirname(getattr(fs, "root", ".")), overwrite=overwrite)
        self._db, self._fs = db, fs
        self._runs = db.table(_TABLE)
        return self

    def __init__(
        self,
        root_dir: str | os.PathLike[str] = "./runs_db",
        overwrite: Any = None,
        priority: int = 20,
        *,
        path: str | os.PathLike[str] | None = None,
    ) -> None:
        # ``path=`` is the name Sacred's constructor uses
        self.root = os.path.abspath(os.fspath(path if path is not None else root_dir))
        self.overwrite = overwrite
        self.priority = priority
        self._db: TinyDB | None = None
        self._fs: HashStore | None = None
        self._runs: Table | None = None
        self.db_run_id: int | None = None
        self._local: dict[str, Any] | None = None  # the run document when the storage is not ours
        self._cout = ""
        self._put_cache: dict[tuple[str, int, int], str] = {}
        #: the last beat of the running run, written with its terminal event
        self._pending: tuple[dict[str, Any], dict[str, str] | None] | None = None
        self._ex_info_cache: tuple[dict[str, Any], dict[str, Any]] | None = None
        self._overwrite_used = False

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
            doc_id = log.insert_doc(_TABLE, entry, unique_run_id=True)
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
    ) -> None:
        if self.db_run_id is None:
            raise RuntimeError("TinyDbObserver got a run event before started_event/queued_event")
        log = self._log
        if log is not None:
            log.patch(_TABLE, self.db_run_id, set=set, ext=ext, cat=cat)
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
        fields, cat = self._beat_patch(info, captured_out, beat_time, result)
        self._patch(set=fields, cat=cat)

    def final_heartbeat_event(
        self, info: dict[str, Any], captured_out: str, beat_time: _dt.datetime, result: Any
    ) -> None:
        """The last beat of a run: kept and appended together with the terminal event (one append
        instead of two; a process killed in between loses only this beat)."""
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
        if pending is None:
            self._patch(set=fields)
        else:
            self._patch(set={**pending[0], **fields}, cat=pending[1])

    def completed_event(self, stop_time: _dt.datetime, result: Any) -> None:
        self._finish(document.completed(stop_time, result))

    def interrupted_event(self, interrupt_time: _dt.datetime, status: str) -> None:
        self._finish(document.interrupted(interrupt_time, status))

    def failed_event(self, fail_time: _dt.datetime, fail_trace: list[str]) -> None:
        self._finish(document.failed(fail_time, fail_trace))

    def resource_event(self, filename: str) -> None:
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
        self._patch(ext=[(["artifacts"], [[name, os.fspath(filename), self.fs.put(filename)]])])

    def log_metrics(self, metrics_by_name: dict[str, dict[str, Any]], info: dict[str, Any]) -> None:
        ext: list[tuple[list[str], list[Any]]] = []
        for name, part in document.metrics_delta(metrics_by_name).items():
            ext += [(["metrics", name, key], part[key]) for key in ("steps", "values", "timestamps")]
        if ext:
            self._patch(ext=ext)


def _record(doc: Mapping[str, Any], root: str) -> RunRecord:
    return document.to_record(
        doc,
        store=f"tinydb:{root}",
        metrics=doc.get("metrics") or {},
        artifacts=[a[0] for a in doc.get("artifacts") or []],
    )


class TinyDbReader:
    """Read a TinyDB store (ours, or Sacred's ``metadata.json``) while writers keep writing.

    >>> reader = TinyDbReader("runs_db")  # doctest: +SKIP
    >>> print(reader.fetch_report(exp_name="mnist", indices=-1)[0])  # doctest: +SKIP
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.root = os.path.abspath(os.fspath(path))
        if not os.path.isdir(self.root):
            raise FileNotFoundError(
                f"No TinyDB store at {self.root!r} (expected a folder with metadata.json)"
            )
        self.db, self.fs = _open_db(self.root, read_only=True)
        self.runs = self.db.table(_TABLE)

    # -- RunReader -------------------------------------------------------------------------------------

    def _docs(self) -> list[Document]:
        return sorted(self.runs.all(), key=lambda d: d.doc_id)

    def list_runs(self) -> Iterator[RunRecord]:
        """All runs, oldest first (in the order they were recorded)."""
        for doc in self._docs():
            yield _record(doc, self.root)

    def _doc(self, run_id: Any) -> Mapping[str, Any]:
        storage = self.db.storage
        doc: Mapping[str, Any] | None = None
        if isinstance(storage, LogStorage):
            doc_id = storage.find_run(_TABLE, run_id)
            doc = None if doc_id is None else self.runs.get(doc_id=doc_id)
        else:
            doc = self.runs.get(Query()["_id"] == run_id)
        if doc is None:
            raise run_not_found(run_id, f"tinydb:{self.root}")
        return doc

    def load_run(self, run_id: Any) -> RunRecord:
        return _record(self._doc(run_id), self.root)

    def load_artifact(self, run_id: Any, name: str) -> bytes:
        """The bytes of one artifact of a run (from the hash store); ``KeyError`` when there is none."""
        try:
            doc: Mapping[str, Any] = self._doc(run_id)
        except KeyError:
            doc = {}
        for entry in doc.get("artifacts") or []:
            if entry and entry[0] == name:
                handle = self._open(entry[-1])
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
        self, exp_name: Any = None, query: Any = None, indices: int | list[int] | None = None
    ) -> list[dict[str, Any]]:
        """The full run documents (plain dicts) that ``search`` selects."""
        return [dict(d) for d in self.search(exp_name, query, indices)]

    def _open(self, file_id: str | None) -> IO[bytes] | None:
        if not file_id or not self.fs.exists(file_id):
            return None
        return self.fs.open(file_id)

    def fetch_files(
        self, exp_name: Any = None, query: Any = None, indices: int | list[int] | None = None
    ) -> list[dict[str, Any]]:
        """Per run: ``exp_name``, ``exp_id``, ``date`` and open binary handles (the caller closes them) for
        ``sources``, ``resources`` and ``artifacts``, each ``{name: handle}``."""
        out = []
        for doc in self.search(exp_name, query, indices):
            out.append(
                {
                    "exp_name": (doc.get("experiment") or {}).get("name"),
                    "exp_id": doc.get("_id"),
                    "date": document.parse_time(doc.get("start_time") or doc.get("queue_time")),
                    "sources": {
                        s[0]: self._open(s[1])
                        for s in (doc.get("experiment") or {}).get("sources", [])
                    },
                    "resources": {r[0]: self._open(r[1]) for r in doc.get("resources") or []},
                    "artifacts": {a[0]: self._open(a[-1]) for a in doc.get("artifacts") or []},
                }
            )
        return out

    def fetch_report(
        self, exp_name: Any = None, query: Any = None, indices: int | list[int] | None = None
    ) -> list[str]:
        """A plain-text report per selected run (config, result, dependencies, files)."""
        return [self._report(doc) for doc in self.search(exp_name, query, indices)]

    @staticmethod
    def _report(doc: Mapping[str, Any]) -> str:
        experiment = doc.get("experiment") or {}
        start, stop = document.parse_time(doc.get("start_time")), document.parse_time(doc.get("stop_time"))
        duration = str(stop - start).split(".")[0] if start and stop else "-"

        def flat(value: Any, prefix: str = "") -> list[str]:
            if isinstance(value, Mapping) and value:
                lines: list[str] = []
                for key in sorted(value):
                    lines += flat(value[key], f"{prefix}{key}.")
                return lines
            return [f"    {prefix[:-1]} = {value!r}"] if prefix else [f"    {value!r}"]

        def block(items: list[Any]) -> str:
            return "\n".join(f"    {item}" for item in items) or "    -"

        bar = "-" * 49
        return "\n".join(
            [
                bar,
                f"Experiment: {experiment.get('name', '')}",
                bar,
                f"ID: {doc.get('_id')}",
                f"Status: {doc.get('status')}",
                f"Date: {start.strftime('%m/%d/%Y %H:%M:%S') if start else '-'}    Duration: {duration}",
                "",
                "Parameters:",
                "\n".join(flat(doc.get("config") or {})) or "    -",
                "",
                "Result:",
                f"    {doc.get('result')!r}",
                "",
                "Dependencies:",
                block(list(experiment.get("dependencies", []))),
                "",
                "Resources:",
                block([r[0] for r in doc.get("resources") or []]),
                "",
                "Source Files:",
                block([s[0] for s in experiment.get("sources", [])]),
                "",
                "Outputs:",
                block([a[0] for a in doc.get("artifacts") or []]),
                "",
            ]
        )

    def close(self) -> None:
        self.db.close()
