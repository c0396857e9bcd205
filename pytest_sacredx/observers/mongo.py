"""MongoObserver: runs in MongoDB, in Sacred's schema, so Omniboard and Incense read them.

>>> from pytest_sacredx.observers import MongoObserver  # doctest: +SKIP
>>> ex.observers.append(MongoObserver(url="mongodb://127.0.0.1:27017", db_name="sacred"))  # doctest: +SKIP

Layout (Sacred 0.8.7's): a ``runs`` collection (``<prefix>_runs`` with ``collection_prefix``) with one
document per run and an integer ``_id``; a ``metrics`` collection with one document per (run, metric):
``{_id, run_id, name, steps, values, timestamps}``, listed on the run as ``info.metrics = [{name, id}]``;
and GridFS (``fs.files``/``fs.chunks``) holding sources (de-duplicated by filename and md5), resources and
artifacts (``artifact://<runs collection>/<run id>/<name>``).

Where we differ from Sacred, and why:

- **Whole-document writes.** The run document and each metric document live in memory and every event
  writes them whole (``insert_one``/``replace_one``). No ``$set``/``$push`` partial updates: a write that
  fails loses nothing, because the next one carries the full state, and MongoDB-compatible servers that
  mistype partial updates (the nx-27017 wire server) still get BSON dates and numbers.
- **Fast, clear connection errors.** The client uses ``serverSelectionTimeoutMS=5000`` unless given, and
  the first event pings the server: an unreachable server is one line naming the URL (password hidden)
  and the fix, after 5 s — not a 30 s hang (Sacred issue #276).
- **Outages.** A connection error during a run logs *one* warning and the observer carries on: the state
  stays in memory and the next successful write stores all of it. Terminal events retry (completed 10,
  interrupted 3, failed 1 attempts, ``retry_delay`` apart) and then dump the run as **JSON** (not pickle)
  into ``failure_dir``. Inside a :class:`~pytest_sacredx.observers.queue.QueueObserver` errors are raised
  instead, so the queue retries the event in order (``on_error = "raise"``).
- **captured_out is capped**: the document keeps the last ``captured_out_limit`` bytes (1 MB) of the
  output, behind a one-line marker, so a chatty run never hits MongoDB's 16 MB document limit.
- **Resources are uploaded to GridFS**, as Sacred's documentation promises (0.8.7 only records them).
- Values go through :func:`~pytest_sacredx.serialize.to_jsonable` (datetimes kept). A document that is
  still refused is written again, converted only as far as needed, with one warning per run: what BSON
  cannot encode as strings (NUL in keys as U+FFFD); then NaN/±inf as ``"nan"``/``"inf"``/``"-inf"``;
  then Sacred's :func:`force_bson_encodeable` key mangling. A real MongoDB stores NaN and ±inf as
  doubles, so there nothing changes. JSON-backed wire servers (nx-27017) cannot hold them: they refuse
  them on insert but store them on a replace as text that breaks every later query on the collection.
  The observer learns which kind it talks to by storing NaN and reading it back at connection
  (:mod:`.mongo_probe`), never by the server's name, and then converts before writing.
- Ids: a requested ``_id`` that exists raises :class:`~pytest_sacredx.errors.RunIdExistsError` (a
  ``FileExistsError``, as in the other stores); an allocated one steps on to the next free integer.
- Reading back, records hold plain values (ObjectIds as strings, BSON ``Int64`` as ``int``) and the
  run's own ``info``: the ``info.metrics`` index Sacred adds stays in the document, for Omniboard.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import logging
import mimetypes
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal

from ..errors import ObserverError, RunIdExistsError, missing_extra
from ..redact import redact_url
from ..serialize import to_jsonable
from . import document
from .base import RunObserver, deprecated_create
from .mongo_bson import STAGE_REASON, force_bson_encodeable, sanitise, stage
from .mongo_probe import keeps_nonfinite
from .mongo_reader import MongoReader, plain_values
from .mongo_url import parse_mongo_db_arg, validate_url
from .queue import QueueObserver
from .record import RunRecord

if TYPE_CHECKING:  # pragma: no cover
    import pymongo

__all__ = [
    "DEFAULT_MONGO_PRIORITY",
    "MongoObserver",
    "QueuedMongoObserver",
    "MongoConfigError",
    "MongoCollectionNameError",
    "MongoConnectionError",
    "force_bson_encodeable",
    "parse_mongo_db_arg",
]

logger = logging.getLogger("sacredx.observers.mongo")

DEFAULT_MONGO_PRIORITY = 30
DEFAULT_URL = "localhost:27017"
#: how long pymongo looks for a server before an operation fails (pymongo's own default is 30 s)
DEFAULT_SERVER_SELECTION_TIMEOUT_MS = 5000
_RESERVED_COLLECTIONS = frozenset(
    {"fs.files", "fs.chunks", "_properties", "system.indexes", "search_space", "search_spaces"}
)
_FINAL_ATTEMPTS = {"COMPLETED": 10, "INTERRUPTED": 3, "FAILED": 1}


class MongoConfigError(ObserverError, ValueError):
    """MongoObserver arguments that do not fit together (``client`` and ``url``, a non-client ``client``)."""


class MongoCollectionNameError(ObserverError, KeyError):
    """A runs/metrics collection name that MongoDB or Sacred's tools reserve (``fs.files``…)."""


class MongoConnectionError(ObserverError, ConnectionError):
    """The MongoDB server did not answer within ``serverSelectionTimeoutMS``."""


def _pymongo() -> Any:
    try:
        import pymongo
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise missing_extra("mongo", "pymongo") from exc
    return pymongo


def _connection_errors() -> tuple[type[BaseException], ...]:
    from pymongo.errors import ConnectionFailure

    return (ConnectionFailure,)


def _encoding_errors() -> tuple[type[BaseException], ...]:
    from bson.errors import InvalidDocument

    return (InvalidDocument, OverflowError)


# ---------------------------------------------------------------------------------------------------------
# the observer
# ---------------------------------------------------------------------------------------------------------


class MongoObserver(RunObserver):
    """Stores each run as a document in MongoDB (Sacred's schema); also reads runs back as RunRecords.

    >>> obs = MongoObserver(url="mongodb://127.0.0.1:27017", db_name="sacred")  # doctest: +SKIP
    >>> obs.load_run(1).status  # doctest: +SKIP
    'COMPLETED'

    Extra keyword arguments go to :class:`pymongo.MongoClient`. The client is created on first use, so an
    observer built at import time opens no connection.
    """

    COLLECTION_NAME_BLACKLIST = _RESERVED_COLLECTIONS
    VERSION = "MongoObserver-0.7.0"
    priority = DEFAULT_MONGO_PRIORITY

    #: bytes of captured output kept in the run document (the tail; MongoDB documents are capped at 16 MB)
    captured_out_limit: int = 1_000_000
    #: seconds between the attempts of a final save
    retry_delay: float = 1.0
    #: ``"warn"``: log a connection error once and keep going; ``"raise"``: let it propagate (QueueObserver)
    on_error: Literal["warn", "raise"] = "warn"

    @classmethod
    def create(cls, *args: Any, **kwargs: Any) -> MongoObserver:
        """Deprecated alias of the constructor (Sacred < 0.8)."""
        return deprecated_create(cls, *args, **kwargs)

    def __init__(
        self,
        url: str | None = None,
        db_name: str = "sacred",
        collection: str = "runs",
        collection_prefix: str = "",
        overwrite: Any = None,
        priority: int = DEFAULT_MONGO_PRIORITY,
        client: pymongo.MongoClient[Any] | None = None,
        failure_dir: str | os.PathLike[str] | None = None,
        **client_kwargs: Any,
    ) -> None:
        pymongo = _pymongo()
        if client is not None:
            if not isinstance(client, pymongo.MongoClient):
                raise MongoConfigError(
                    f"client must be a pymongo.MongoClient, got {type(client).__name__}; "
                    "pass url=... instead, or use MongoObserver.create_from(collection, fs)."
                )
            if url is not None:
                raise MongoConfigError(
                    "Cannot pass both a client and a url to MongoObserver; pass one of them."
                )
            if client_kwargs:
                raise MongoConfigError(
                    f"MongoClient arguments {sorted(client_kwargs)} have no effect with client=...; "
                    "set them on the client you pass."
                )
        if collection != "runs":
            if collection_prefix:
                raise MongoConfigError(
                    "Cannot pass both collection and collection_prefix to MongoObserver; "
                    "use collection_prefix only."
                )
            warnings.warn(
                "MongoObserver(collection=...) is deprecated; use collection_prefix=... "
                f"(collection={collection!r} keeps writing runs to {collection!r}).",
                DeprecationWarning,
                stacklevel=2,
            )
            runs_name, metrics_name = collection, "metrics"
        else:
            sep = "_" if collection_prefix else ""
            runs_name = f"{collection_prefix}{sep}runs"
            metrics_name = f"{collection_prefix}{sep}metrics"
        for name in (runs_name, metrics_name):
            if name in _RESERVED_COLLECTIONS:
                raise MongoCollectionNameError(
                    f"Collection name {name!r} is reserved (reserved: "
                    f"{', '.join(sorted(_RESERVED_COLLECTIONS))}); choose another collection_prefix."
                )
        self._url = url if url is not None else (None if client is not None else DEFAULT_URL)
        if self._url is not None:
            validate_url(self._url)
        client_kwargs.setdefault("serverSelectionTimeoutMS", DEFAULT_SERVER_SELECTION_TIMEOUT_MS)
        self._client_kwargs = client_kwargs
        self._client = client
        self._db_name = db_name
        self._runs_name = runs_name
        self._metrics_name = metrics_name
        self._runs: Any = None  # pymongo (or compatible) collections, created on first use
        self._metrics: Any = None
        self._fs: Any = None
        self._init_state(overwrite, priority, failure_dir)

    @classmethod
    def create_from(
        cls,
        runs_collection: Any,
        fs: Any,
        overwrite: Any = None,
        metrics_collection: Any = None,
        failure_dir: str | os.PathLike[str] | None = None,
        priority: int = DEFAULT_MONGO_PRIORITY,
    ) -> MongoObserver:
        """Build an observer on existing collections (any pymongo-compatible ones, e.g. mongomock's).

        >>> obs = MongoObserver.create_from(db.runs, gridfs.GridFS(db))  # doctest: +SKIP
        """
        self = cls.__new__(cls)
        self._url = None
        self._client_kwargs = {}
        self._client = None
        self._runs = runs_collection
        self._runs_name = runs_collection.name
        self._db_name = runs_collection.database.name
        if metrics_collection is None:
            metrics_collection = runs_collection.database["metrics"]
        self._metrics = metrics_collection
        self._metrics_name = metrics_collection.name
        self._fs = fs
        self._init_state(overwrite, priority, failure_dir)
        return self

    def _init_state(self, overwrite: Any, priority: int, failure_dir: Any) -> None:
        self.overwrite = overwrite
        self.priority = priority
        self.failure_dir = os.fspath(failure_dir) if failure_dir is not None else None
        self.run_entry: dict[str, Any] | None = None
        self._metric_docs: dict[str, dict[str, Any]] = {}
        self._dirty_metrics: set[str] = set()
        self._pending_files: list[dict[str, Any]] = []
        self._connected = False
        self._last_id: int | None = None
        self._outage = False
        #: the server cannot hold NaN/inf: probed at connection (:mod:`.mongo_probe`) or learnt from a
        #: refusal; documents holding them are then converted before they are written
        self._refuses_nonfinite = False
        self._converted_warned: set[int] = set()  # ladder stages already logged for this run
        self._lock = threading.RLock()

    # -- connection ---------------------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        """The MongoClient (created on first access)."""
        if self._client is None:
            if self._runs is not None:
                return self._runs.database.client
            self._client = _pymongo().MongoClient(self._url, **self._client_kwargs)
        return self._client

    @property
    def runs(self) -> Any:
        """The runs collection."""
        if self._runs is None:
            self._runs = self.client[self._db_name][self._runs_name]
        return self._runs

    @property
    def metrics(self) -> Any:
        """The metrics collection."""
        if self._metrics is None:
            self._metrics = self.client[self._db_name][self._metrics_name]
        return self._metrics

    @property
    def fs(self) -> Any:
        """The GridFS holding sources, resources and artifacts."""
        if self._fs is None:
            import gridfs

            self._fs = gridfs.GridFS(self.client[self._db_name])
        return self._fs

    @property
    def url(self) -> str:
        """Where runs go, password hidden: ``mongodb://host:port/<db>.<runs collection>``."""
        if self._url is not None:
            base = self._url if "://" in self._url else f"mongodb://{self._url}"
            base = base.split("?", 1)[0]
            head, _, path = base.partition("://")
            hosts = path.split("/", 1)[0]
            return redact_url(f"{head}://{hosts}/{self._db_name}.{self._runs_name}")
        return f"mongodb://<client>/{self._db_name}.{self._runs_name}"

    @property
    def transient_errors(self) -> tuple[type[BaseException], ...]:
        """Errors that a later attempt may not meet (a lost connection; not "cannot reach at all",
        which :meth:`check_connection` reports as :class:`MongoConnectionError`). QueueObserver retries
        a start that failed with one of these."""
        return _connection_errors()

    def check_connection(self) -> None:
        """Ping the server; :class:`MongoConnectionError` (one line, with the fix) when it does not answer."""
        if self._connected:
            return
        client = self.client
        if type(client).__module__.startswith("mongomock"):
            self._connected = True
            return
        try:
            client.admin.command("ping")
        except _connection_errors() as exc:
            timeout = self._client_kwargs.get(
                "serverSelectionTimeoutMS", DEFAULT_SERVER_SELECTION_TIMEOUT_MS
            )
            raise MongoConnectionError(
                f"Cannot reach MongoDB at {self.url} within {int(timeout) / 1000:g} s "
                f"({type(exc).__name__}). Start the server or fix the URL (for this project's tests: "
                "`source .ci/services.sh && services_start`); pass serverSelectionTimeoutMS=... "
                "to wait longer."
            ) from exc
        self._connected = True
        if not keeps_nonfinite(self.metrics):
            self._refuses_nonfinite = True

    # -- writing ------------------------------------------------------------------------------------------

    def queued_event(
        self,
        ex_info: dict[str, Any],
        command: str,
        host_info: dict[str, Any],
        queue_time: _dt.datetime,
        config: dict[str, Any],
        meta_info: dict[str, Any],
        _id: Any,
    ) -> Any:
        doc = document.queued(
            ex_info, command, host_info, queue_time, config, meta_info, native_times=True
        )
        return self._begin(doc, ex_info, _id)

    def started_event(
        self,
        ex_info: dict[str, Any],
        command: str,
        host_info: dict[str, Any],
        start_time: _dt.datetime,
        config: dict[str, Any],
        meta_info: dict[str, Any],
        _id: Any,
    ) -> Any:
        doc = document.started(
            ex_info, command, host_info, start_time, config, meta_info, native_times=True
        )
        return self._begin(doc, ex_info, _id)

    def _begin(self, doc: dict[str, Any], ex_info: Mapping[str, Any], _id: Any) -> Any:
        with self._lock:
            self.check_connection()
            self._metric_docs = {}
            self._dirty_metrics = set()
            self._pending_files = []
            self._outage = False
            self._converted_warned = set()
            entry: dict[str, Any] = {}
            if self.overwrite is not None:
                if _id is not None:
                    raise MongoConfigError(
                        f"Cannot overwrite run {self.overwrite!r} and also store under _id={_id!r}; "
                        "drop one of them."
                    )
                old = self._find_overwrite()
                entry.update(old)
                _id = old["_id"]
            doc["experiment"] = {**doc["experiment"], "sources": self._save_sources(ex_info)}
            entry.update(doc)
            entry["format"] = self.VERSION
            if self.overwrite is not None:
                entry["_id"] = _id
                entry = self._replace(entry)
            elif _id is not None:
                entry["_id"] = _id
                entry = self._insert_requested(entry)
            else:
                entry = self._insert_with_new_id(entry)
            self.run_entry = entry
            return entry["_id"]

    def _find_overwrite(self) -> dict[str, Any]:
        if isinstance(self.overwrite, Mapping):
            return dict(self.overwrite)
        doc = self.runs.find_one({"_id": self.overwrite})
        if doc is None:
            raise ObserverError(
                f"Cannot overwrite run {self.overwrite!r}: no such run in {self.url}."
            )
        return doc

    def _insert_requested(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Insert under the ``_id`` asked for; :class:`RunIdExistsError` when a run holds it already."""
        from pymongo.errors import DuplicateKeyError

        try:
            return self._write_doc(self.runs.insert_one, entry)
        except DuplicateKeyError as exc:
            raise RunIdExistsError(
                f"Run id {entry['_id']!r} already exists in {self.url}; pass another _id or none "
                "to get the next free one."
            ) from exc

    def _insert_with_new_id(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Insert with ``_id = max + 1``; on a clash with another writer, take the next id and retry."""
        from pymongo.errors import DuplicateKeyError

        candidate = self._guess_next_id()
        for attempt in range(200):
            try:
                doc = self._write_doc(self.runs.insert_one, {**entry, "_id": candidate})
            except DuplicateKeyError:
                # every few clashes, look again: many writers may have moved far ahead of us
                previous = candidate
                candidate = self._next_id() if attempt % 8 == 7 else candidate + 1
                candidate = max(candidate, previous + 1)
                continue
            self._last_id = candidate
            return doc
        raise ObserverError(
            f"Could not allocate a run id in {self.url} after 200 attempts (too many concurrent writers?)."
        )

    def _write_doc(
        self, write: Callable[[dict[str, Any]], Any], doc: dict[str, Any]
    ) -> dict[str, Any]:
        """``write(doc)``; when BSON or the server refuses ``doc``, write a converted copy instead.

        The ladder (see ``STAGE_REASON``): the document as it is; then, only as far as needed, what
        BSON cannot encode as strings; non-finite floats as strings (the nx-27017 wire server refuses
        them, a real MongoDB never does, so there nothing changes); Sacred's key mangling. A stage
        that would not change ``doc`` is skipped. Each conversion logs one warning per run. Returns
        the document stored; duplicate keys and connection errors propagate, and a document refused
        in every form raises :class:`ObserverError`.
        """
        from pymongo.errors import DuplicateKeyError, WriteError

        refused: tuple[type[BaseException], ...] = (WriteError, *_encoding_errors())
        reasons = sanitise(doc, finite=True, legacy_keys=True)[1]
        stages = [0] if "bson" not in reasons else []
        stages += [step for step, reason in STAGE_REASON.items() if reason in reasons]
        if self._refuses_nonfinite and "nonfinite" in reasons:
            stages = [step for step in stages if step >= 2]  # this server said so already
        last: BaseException | None = None
        for step in stages:
            candidate = stage(doc, step)
            try:
                write(candidate)
            except DuplicateKeyError:
                raise
            except refused as exc:
                last = exc
                continue
            if step == 2 and isinstance(last, WriteError):
                self._refuses_nonfinite = True
            if step:
                self._note_converted(step, doc, last, reasons)
            return candidate
        raise ObserverError(
            f"MongoObserver could not store {self._doc_name(doc)} in {self.url}: {last}"
        ) from last

    def _doc_name(self, doc: Mapping[str, Any]) -> str:
        if "run_id" in doc and "name" in doc:
            return f"metric {doc['name']!r} of run {doc['run_id']!r}"
        return f"run {doc.get('_id')!r}"

    def _note_converted(
        self, stage: int, doc: Mapping[str, Any], refusal: BaseException | None, reasons: set[str]
    ) -> None:
        """One warning per run and stage: what was converted, and why."""
        if stage in self._converted_warned:
            return
        self._converted_warned.add(stage)
        described = {
            "bson": "values BSON cannot encode as strings (NUL in keys as U+FFFD)",
            "nonfinite": "NaN and infinite floats as strings ('nan', 'inf', '-inf')",
            "keys": "'.' and '$' in keys as ',' and '@' (Sacred's force_bson_encodeable)",
        }
        what = "; ".join(
            described[reason] for st, reason in STAGE_REASON.items() if st <= stage and reason in reasons
        )
        name = self._doc_name(doc)
        if refusal is not None and not isinstance(refusal, _encoding_errors()):
            why = f"{self.url} refused it ({str(refusal).splitlines()[0]})"
        elif stage >= 2:  # converted up front: the server is known to refuse or corrupt NaN/inf
            why = f"{self.url} cannot hold NaN or infinite floats"
        else:
            why = "BSON cannot encode some of its values"
        logger.warning("MongoObserver: %s; stored %s with %s", why, name, what)

    def _guess_next_id(self) -> int:
        # After our first run, "our last id + 1" while our last run is still there: the maximum query
        # scans every id on some servers (nx-27017), a point lookup does not. A clash with another
        # writer steps on; runs deleted under us (a dropped database) send us back to the maximum.
        last = self._last_id
        if last is not None and self.runs.find_one({"_id": last}, projection={"_id": 1}) is not None:
            return last + 1
        return self._next_id()

    def _next_id(self) -> int:
        # ``$type: number`` keeps string ids (from _id=... or other tools) out of the maximum.
        last = self.runs.find_one(
            {"_id": {"$type": "number"}}, projection={"_id": 1}, sort=[("_id", -1)]
        )
        return int(last["_id"]) + 1 if last is not None else 1

    def _save_sources(self, ex_info: Mapping[str, Any]) -> list[list[Any]]:
        base_dir = ex_info.get("base_dir") or ""
        out: list[list[Any]] = []
        for item in ex_info.get("sources", ()) or ():
            name, md5 = item[0], item[1]
            path = os.path.join(base_dir, name)
            file_id = self._find_file(path, md5)
            if file_id is None:
                try:
                    with open(path, "rb") as fh:
                        data = fh.read()
                except OSError:
                    logger.warning("MongoObserver: source file %s is missing; not stored", path)
                    continue
                file_id = self.fs.put(data, filename=os.path.abspath(path), md5=md5)
            out.append([name, file_id])
        return out

    def _find_file(self, filename: str, md5: str) -> Any:
        found = self.fs.find_one({"filename": os.path.abspath(filename), "md5": md5})
        return found._id if found is not None else None

    def heartbeat_event(
        self, info: dict[str, Any], captured_out: str, beat_time: _dt.datetime, result: Any
    ) -> None:
        fields = document.heartbeat(
            info, captured_out, beat_time, result, native_times=True,
            output_limit=self.captured_out_limit, store="MongoObserver",
        )
        with self._lock:
            fields["info"] = self._info(fields["info"])
            self._update(fields)

    def _info(self, info: Mapping[str, Any] | None) -> dict[str, Any]:
        stored = dict(info or {})
        if self._metric_docs:
            stored["metrics"] = [
                {"name": name, "id": str(doc["_id"])} for name, doc in self._metric_docs.items()
            ]
        return stored

    def completed_event(self, stop_time: _dt.datetime, result: Any) -> None:
        with self._lock:
            self._final(document.completed(stop_time, result, native_times=True))

    def interrupted_event(self, interrupt_time: _dt.datetime, status: str) -> None:
        with self._lock:
            self._final(document.interrupted(interrupt_time, status, native_times=True))

    def failed_event(self, fail_time: _dt.datetime, fail_trace: list[str]) -> None:
        with self._lock:
            self._final(document.failed(fail_time, fail_trace, native_times=True))

    def resource_event(self, filename: str) -> None:
        with self._lock:
            entry = self._require_run()
            data = _read(filename)
            md5 = hashlib.md5(data).hexdigest()
            item = [os.fspath(filename), md5]
            if item in entry["resources"]:
                return
            upload = {"kind": "resource", "data": data, "filename": os.path.abspath(filename),
                      "md5": md5}
            self._with_upload(upload, {"resources": entry["resources"] + [item]})

    def artifact_event(
        self,
        name: str,
        filename: str,
        metadata: dict[str, Any] | None = None,
        content_type: str | None = None,
    ) -> None:
        with self._lock:
            entry = self._require_run()
            if content_type is None:
                content_type = mimetypes.guess_type(os.fspath(filename))[0]
            upload = {
                "kind": "artifact",
                "name": name,
                "data": _read(filename),
                "filename": document.utf8_text(f"artifact://{self._runs_name}/{entry['_id']}/{name}"),
                "metadata": document.encode(metadata, native_times=True) if metadata is not None else None,
                "contentType": content_type,
            }
            self._with_upload(upload, {})

    def log_metrics(self, metrics_by_name: dict[str, dict[str, Any]], info: dict[str, Any]) -> None:
        """Append the new values to each metric's document and write the changed documents whole."""
        with self._lock:
            entry = self._require_run()
            from bson import ObjectId

            updated: dict[str, dict[str, Any]] = {}
            for name, series in document.metrics_delta(metrics_by_name, native_times=True).items():
                old = self._metric_docs.get(name) or {
                    "_id": ObjectId(), "run_id": entry["_id"], "name": name,
                    "steps": [], "values": [], "timestamps": [],
                }
                doc = dict(old)
                for key in ("steps", "values", "timestamps"):
                    doc[key] = list(old[key]) + series[key]
                updated[name] = doc
            names = list(updated)
            try:
                for name in names + sorted(self._dirty_metrics - set(names)):
                    doc = updated.get(name) or self._metric_docs[name]
                    self._write_metric(doc)
            except _connection_errors() as exc:
                if self.on_error == "raise":
                    raise
                self._metric_docs.update(updated)
                self._dirty_metrics.update(names)
                self._note_outage(exc)
            else:
                self._metric_docs.update(updated)
                self._dirty_metrics.clear()
            # Sacred's contract: the run's info dict (passed by reference) lists the metric documents
            info["metrics"] = [
                {"name": n, "id": str(d["_id"])} for n, d in self._metric_docs.items()
            ]

    def _write_metric(self, doc: dict[str, Any]) -> None:
        self._write_doc(
            lambda d: self.metrics.replace_one({"_id": d["_id"]}, d, upsert=True), doc
        )

    # -- the write path -----------------------------------------------------------------------------------

    def _require_run(self) -> dict[str, Any]:
        if self.run_entry is None:
            raise ObserverError("MongoObserver got a run event before started_event/queued_event.")
        return self.run_entry

    def _with_upload(self, upload: dict[str, Any], changes: dict[str, Any]) -> None:
        """Store a file in GridFS and then the run; on an outage keep both for the next write."""
        try:
            self._flush_pending()
            changes = {**changes, **self._upload(upload)}
        except _connection_errors() as exc:
            if self.on_error == "raise":
                raise
            self._pending_files.append(upload)
            self.run_entry = {**self._require_run(), **changes}
            self._note_outage(exc)
            return
        self._update(changes)

    def _upload(self, upload: dict[str, Any]) -> dict[str, Any]:
        """Put one pending file into GridFS; return the run fields it changes."""
        entry = self._require_run()
        if upload["kind"] == "resource":
            if self._find_file(upload["filename"], upload["md5"]) is None:
                self.fs.put(upload["data"], filename=upload["filename"], md5=upload["md5"])
            return {}
        kwargs: dict[str, Any] = {"filename": upload["filename"]}
        if upload["metadata"] is not None:
            kwargs["metadata"] = stage(upload["metadata"], 2 if self._refuses_nonfinite else 0)
        if upload["contentType"] is not None:
            kwargs["contentType"] = upload["contentType"]
        file_id = self.fs.put(upload["data"], **kwargs)
        artifacts = [a for a in entry["artifacts"] if a["name"] != upload["name"]]
        return {"artifacts": artifacts + [{"name": upload["name"], "file_id": file_id}]}

    def _flush_pending(self) -> None:
        """Write what an outage held back: files first, then stale metric documents."""
        while self._pending_files:
            changes = self._upload(self._pending_files[0])
            self.run_entry = {**self._require_run(), **changes}
            self._pending_files.pop(0)
        for name in sorted(self._dirty_metrics):
            self._write_metric(self._metric_docs[name])
            self._dirty_metrics.discard(name)

    def _merged(self, changes: dict[str, Any]) -> dict[str, Any]:
        doc = {**self._require_run(), **changes}
        doc["info"] = self._info(doc.get("info"))
        return doc

    def _update(self, changes: dict[str, Any]) -> None:
        """Apply ``changes`` to the run document and write it whole."""
        try:
            self._flush_pending()
            self.run_entry = self._replace(self._merged(changes))
        except _connection_errors() as exc:
            if self.on_error == "raise":
                raise
            self.run_entry = self._merged(changes)  # the next successful write carries it
            self._note_outage(exc)
            return
        self._note_recovery()

    def _replace(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Write the run document whole; returns the document stored (see :meth:`_write_doc`)."""
        return self._write_doc(
            lambda d: self.runs.replace_one({"_id": d["_id"]}, d, upsert=True), doc
        )

    def _note_outage(self, exc: BaseException) -> None:
        if not self._outage:
            self._outage = True
            logger.warning(
                "MongoObserver: lost the connection to %s (%s); run %s is kept in memory and "
                "written when the server answers again",
                self.url, type(exc).__name__, (self.run_entry or {}).get("_id"),
            )

    def _note_recovery(self) -> None:
        if self._outage:
            self._outage = False
            logger.info("MongoObserver: %s answers again; run %s is up to date",
                        self.url, (self.run_entry or {}).get("_id"))

    def _final(self, changes: dict[str, Any]) -> None:
        """The terminal write: retried (completed 10, interrupted 3, failed 1), then dumped as JSON."""
        if self.on_error == "raise":
            self._flush_pending()
            self.run_entry = self._replace(self._merged(changes))
            return
        from pymongo.errors import PyMongoError

        attempts = _FINAL_ATTEMPTS.get(str(changes.get("status")), 3)
        last: BaseException | None = None
        for attempt in range(attempts):
            try:
                self._flush_pending()
                self.run_entry = self._replace(self._merged(changes))
            except _connection_errors() as exc:
                last = exc
                if attempt + 1 < attempts:
                    time.sleep(self.retry_delay)
                continue
            except (PyMongoError, ObserverError) as exc:  # not transient: retrying cannot help
                last = exc
                break
            self._note_recovery()
            return
        self.run_entry = self._merged(changes)
        path = self._dump_failure(self.run_entry)
        where = f"saved it as JSON to {path}" if path else "pass failure_dir=... to keep a JSON copy"
        logger.error(
            "MongoObserver: could not store the end of run %s in %s after %d attempt(s) (%s); %s",
            self.run_entry.get("_id"), self.url, attempt + 1, type(last).__name__, where,
        )

    def _dump_failure(self, doc: dict[str, Any]) -> str | None:
        if not self.failure_dir:
            return None
        from .atomic import write_json_atomic

        os.makedirs(self.failure_dir, exist_ok=True)
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        path = os.path.join(self.failure_dir, f"sacred_mongo_fail_{doc.get('_id')}_{stamp}.json")
        metrics = [_plain(d) for d in self._metric_docs.values()]
        write_json_atomic(path, {"run": _plain(doc), "metrics": metrics})
        return path

    # -- reading back ---------------------------------------------------------------------------------------

    @property
    def reader(self) -> MongoReader:
        """The reader over this observer's collections."""
        return MongoReader(self.runs, self.metrics, self.url)

    def list_runs(self) -> Iterator[RunRecord]:
        """All runs in the collection, by id (integers first, in numeric order)."""
        return self.reader.list_runs()

    def load_run(self, run_id: Any) -> RunRecord:
        """The run stored under ``run_id`` (``"3"`` finds the integer id 3); ``RunNotFoundError`` if none."""
        return self.reader.load_run(run_id)

    def load_artifact(self, run_id: Any, name: str) -> bytes:
        """The bytes of one artifact of a run (from GridFS); ``KeyError`` when there is none."""
        return self.reader.load_artifact(run_id, name, self.fs)

    # -- identity -----------------------------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if isinstance(other, MongoObserver):
            return self.runs == other.runs
        return NotImplemented

    def __hash__(self) -> int:
        return hash((MongoObserver, self._db_name, self._runs_name))

    def __repr__(self) -> str:
        return f"MongoObserver({self.url!r})"


def _read(filename: str | os.PathLike[str]) -> bytes:
    with open(filename, "rb") as fh:
        return fh.read()


def _plain(doc: Any) -> Any:
    """A JSON-ready copy of a stored document (ObjectIds as strings, datetimes as ISO strings)."""
    return to_jsonable(plain_values(doc))


class QueuedMongoObserver(QueueObserver):
    """A :class:`MongoObserver` behind a :class:`QueueObserver`: events are written by a background
    thread, and a failed write is retried in order until MongoDB answers again.

    >>> ex.observers.append(QueuedMongoObserver(url="mongodb://127.0.0.1:27017"))  # doctest: +SKIP
    """

    def __init__(
        self,
        interval: float = 20.0,
        retry_interval: float = 10.0,
        url: str | None = None,
        db_name: str = "sacred",
        collection: str = "runs",
        overwrite: Any = None,
        priority: int = DEFAULT_MONGO_PRIORITY,
        client: Any = None,
        max_retries: int | None = None,
        **kwargs: Any,
    ) -> None:
        covered = MongoObserver(
            url=url, db_name=db_name, collection=collection, overwrite=overwrite,
            priority=priority, client=client, **kwargs,
        )
        super().__init__(covered, interval=interval, retry_interval=retry_interval,
                         max_retries=max_retries)
