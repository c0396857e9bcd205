"""SqlObserver: runs in any SQLAlchemy 2 database (SQLite, PostgreSQL, …), with a reader.

Sacred's ``SqlObserver`` API and tables (see :mod:`.sql_bases` for the schema and where it differs:
first run id 1, results of any type in ``run.result_json``, a ``metrics`` table). SQLAlchemy is imported
only when an observer is built, so ``import pytest_sacredx.observers`` stays cheap; without it the
constructor raises :class:`~pytest_sacredx.errors.MissingExtraError` naming the ``sql`` extra.

Why it is safe with many writers (xdist workers, several machines on one PostgreSQL):

- run ids come from the database's autoincrement key, never from ``max(id)+1``; they are returned as
  strings (``"1"``, ``"2"``…) like FileStorage's, and a requested ``_id`` is used as given;
- each event is one short transaction (heartbeats update only the run row, metrics are one bulk insert);
  transient lock errors (SQLite's ``database is locked``, PostgreSQL serialization failures) are retried;
- tables are created on the first started/queued event under a PostgreSQL advisory lock, and a creation
  race on any other database is caught and retried;
- a SQLite file is switched to WAL with ``synchronous=NORMAL``: writers wait for each other (30 s busy
  timeout) instead of failing, readers never block them, and a run costs a few fsyncs, not one per event.

>>> from pytest_sacredx import Experiment  # doctest: +SKIP
>>> ex = Experiment("demo")  # doctest: +SKIP
>>> ex.observers.append(SqlObserver("sqlite:///runs.db"))  # doctest: +SKIP
>>> obs = SqlObserver("postgresql+psycopg://me:pw@127.0.0.1/runs")  # doctest: +SKIP
>>> [r.id for r in obs.list_runs()], obs.load_run("1").result  # doctest: +SKIP
(['1', '2'], 0.93)

Passwords in the URL never reach a record, ``repr`` or log line: :attr:`SqlObserver.url` is redacted.
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import json
import math
import mimetypes
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from ..errors import RunIdExistsError, missing_extra, run_not_found
from ..fast_json import loads as json_loads
from ..redact import redact_url
from . import document
from .base import RunObserver, check_artifact_name, deprecated_create
from .lazy_record import FINAL_METRICS, HEAVY_FIELDS, NOT_PEEKED, LazyRunRecord, gc_paused
from .record import RunRecord

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

__all__ = ["SqlObserver"]

T = TypeVar("T")

DEFAULT_SQL_PRIORITY = 40
#: attempts for one event when the database reports a transient conflict (lock, serialization)
_TX_ATTEMPTS = 20
# PostgreSQL advisory lock key taken while creating tables ("sacredx" in ASCII).
_PG_DDL_LOCK = 0x73616372656478


def _import_sqlalchemy() -> Any:
    try:
        import sqlalchemy
    except ImportError as exc:
        raise missing_extra("sql", "SQLAlchemy") from exc
    return sqlalchemy


def _bases() -> Any:
    _import_sqlalchemy()
    from . import sql_bases

    return sql_bases


def _compat() -> Any:
    _import_sqlalchemy()
    from . import sql_compat

    return sql_compat


def _dumps(value: Any) -> str:
    """JSON text of a value already in the document's form (what ``document`` built: encoding it again
    would escape a ``json://`` key twice); ASCII-escaped, so text that is not UTF-8 (lone surrogates
    from ``os.fsdecode``) is kept exactly as ``\\udcxx`` escapes in any database."""
    return json.dumps(value, sort_keys=True, default=document.encode)  # native datetimes become text


def _naive_utc(value: _dt.datetime | None) -> _dt.datetime | None:
    # "timestamp without time zone" columns: store naive UTC as Sacred's events give it.
    if value is not None and value.tzinfo is not None:
        return value.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    return value


def _numeric(value: Any) -> float | None:
    """The value as a float for a Float column, or None when it is not a real number."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if isinstance(value, (int, float)) or hasattr(value, "dtype"):
        return number
    return None


def _result_columns(result: Any) -> dict[str, Any]:
    """Sacred's Float ``result`` column (when the result is a real number) and our ``result_json``;
    ``result`` is already in the document's form (a NumPy scalar is ``{"py/object": …, "value": x}``)."""
    number = _numeric(document.decode(result))
    return {
        "result": number if number is not None and math.isfinite(number) else None,
        "result_json": None if result is None else _dumps(result),
    }



def _md5_file(filename: str) -> tuple[str, bytes]:
    with open(filename, "rb") as fh:
        data = fh.read()
    return hashlib.md5(data).hexdigest(), data


def _is_transient(exc: BaseException) -> bool:
    text = str(getattr(exc, "orig", exc)).lower()
    code = getattr(getattr(exc, "orig", None), "sqlstate", None)
    return (
        "database is locked" in text
        or "database table is locked" in text
        or "busy" in text
        or code in ("40001", "40P01")  # serialization failure, deadlock detected
    )


def _step(value: float | None) -> Any:
    if value is not None and float(value).is_integer():
        return int(value)
    return value


class SqlObserver(RunObserver):
    """Record runs in a SQL database; also reads them back (:meth:`list_runs`, :meth:`load_run`).

    ``url`` is any SQLAlchemy URL (``sqlite:///runs.db``, ``postgresql+psycopg://user:pw@host/db``; a
    bare ``postgresql://`` uses psycopg 3 when psycopg2 is absent).

    >>> obs = SqlObserver("sqlite:///runs.db")  # doctest: +SKIP
    """

    VERSION = "SqlObserver-0.7.0"

    def __init__(self, url: str, echo: bool = False, priority: int = DEFAULT_SQL_PRIORITY) -> None:
        sa = _import_sqlalchemy()
        from sqlalchemy.orm import scoped_session, sessionmaker

        engine = _create_engine(sa, url, echo)
        self._setup(engine, scoped_session(sessionmaker(bind=engine)), priority)

    @classmethod
    def create(
        cls, url: str, echo: bool = False, priority: int = DEFAULT_SQL_PRIORITY
    ) -> SqlObserver:
        """Deprecated alias of ``SqlObserver(url, echo, priority)`` (as in Sacred)."""
        return deprecated_create(cls, url, echo=echo, priority=priority)

    @classmethod
    def create_from(
        cls, engine: Engine, session: Any, priority: int = DEFAULT_SQL_PRIORITY
    ) -> SqlObserver:
        """An observer over an existing engine (``session`` is kept as ``.session``, as in Sacred).

        Events run in their own short sessions on ``engine``, so the caller's session is never
        committed or rolled back behind its back.
        """
        _import_sqlalchemy()
        self = cls.__new__(cls)
        self._setup(engine, session, priority)
        return self

    def _setup(self, engine: Engine, session: Any, priority: int) -> None:
        from sqlalchemy.orm import sessionmaker

        self.engine = engine
        self.session = session
        self.priority = priority
        #: the database URL with its password replaced by ``***`` (safe to print and store)
        self.url = redact_url(engine.url.render_as_string(hide_password=False))
        self._sessions = sessionmaker(bind=engine, expire_on_commit=False)
        self._lock = threading.RLock()
        self._tables_ready = False
        self._schema_gaps: Any = None
        self._experiment_ids: dict[str, int] = {}
        self._host_ids: dict[str, int] = {}
        self.run_pk: int | None = None
        self.run_id: str | None = None
        #: the last value written of each metric of the running run (as the metrics table reads it
        #: back), stored in ``metric_finals`` with its final status; None once a write of metric rows
        #: failed (nobody can tell then: no row is stored)
        self._finals: dict[str, float] | None = {}

    def __repr__(self) -> str:
        return f"SqlObserver({self.url!r}, priority={self.priority})"

    def __eq__(self, other: object) -> bool:
        """As in Sacred: observers over the same engine and session are equal.

        >>> import sqlalchemy as sa
        >>> engine, session = sa.create_engine("sqlite://"), object()
        >>> SqlObserver.create_from(engine, session) == SqlObserver.create_from(engine, session)
        True
        """
        if not isinstance(other, SqlObserver):
            return NotImplemented
        return self.engine is other.engine and self.session is other.session

    def __hash__(self) -> int:
        return hash((id(self.engine), id(self.session)))

    # -- plumbing ---------------------------------------------------------------------------------

    def _text(self, value: str | None) -> str | None:
        """Text any driver accepts: text that is not UTF-8 as ``\\xNN`` escapes
        (:func:`~pytest_sacredx.observers.document.utf8_text`), and NUL as U+FFFD on PostgreSQL."""
        if not value:
            return value
        value = document.utf8_text(value)
        if "\x00" in value and self.engine.dialect.name == "postgresql":
            value = value.replace("\x00", "\ufffd")  # TEXT cannot hold NUL bytes
        return value

    def _transaction(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in one transaction, retrying transient lock/serialization conflicts."""
        from sqlalchemy import exc as sa_exc

        for attempt in range(_TX_ATTEMPTS):
            try:
                with self._sessions.begin() as session:
                    return work(session)
            except sa_exc.OperationalError as error:
                if not _is_transient(error) or attempt == _TX_ATTEMPTS - 1:
                    raise
                time.sleep(min(0.01 * 2**attempt, 0.5))
        raise AssertionError("unreachable")  # pragma: no cover

    def _ensure_tables(self) -> None:
        if self._tables_ready:
            return
        import sqlalchemy as sa
        from sqlalchemy import exc as sa_exc

        metadata = _bases().Base.metadata
        _sqlite_wal(self.engine)
        for attempt in range(10):
            try:
                with self.engine.begin() as conn:
                    if conn.dialect.name == "postgresql":
                        # Two processes creating tables at once collide on the catalog; serialize them.
                        conn.execute(
                            sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_DDL_LOCK}
                        )
                    metadata.create_all(conn, checkfirst=True)
                    # a database Sacred created: add our columns, continue its id numbering
                    gaps = _compat().schema_gaps(conn)
                    if gaps.any:
                        _compat().upgrade(conn, gaps)
                    _compat().add_statuses(conn, gaps)
                    _compat().sync_sequences(conn)
                break
            except (sa_exc.IntegrityError, sa_exc.ProgrammingError, sa_exc.OperationalError):
                # Another writer created a table between our check and our CREATE: check again.
                if attempt == 9:
                    raise
                time.sleep(0.02 * (attempt + 1))
        self._tables_ready = True
        self._schema_gaps = None

    def _gaps(self) -> Any:
        """What of our schema the database lacks (a database Sacred created), checked once."""
        gaps = self._schema_gaps
        if gaps is None:
            gaps = self._schema_gaps = _compat().schema_gaps(self.engine)
        return gaps

    def _status(self, status: str) -> Any:
        """The status to write: as it is, or cast to the enum type of a database Sacred made on
        PostgreSQL (its ``run.status`` is ``status_enum``, which a text parameter does not fit)."""
        enum = self._gaps().status_enum
        if enum is None:
            return status
        import sqlalchemy as sa
        from sqlalchemy.dialects.postgresql import ENUM

        return sa.cast(status, ENUM(name=enum, create_type=False))

    def _tables_exist(self) -> bool:
        import sqlalchemy as sa

        if self._tables_ready:
            return True
        return bool(sa.inspect(self.engine).has_table("run"))

    # -- writing ----------------------------------------------------------------------------------

    def _experiment_id(self, session: Session, ex_info: dict[str, Any]) -> int:
        import sqlalchemy as sa

        b = _bases()
        info = ex_info
        md5 = hashlib.md5(json.dumps(info, sort_keys=True).encode()).hexdigest()
        if md5 in self._experiment_ids:
            return self._experiment_ids[md5]
        found = session.scalar(
            sa.select(b.Experiment.experiment_id).where(b.Experiment.md5sum == md5).limit(1)
        )
        if found is not None:
            return int(found)
        base_dir = info.get("base_dir") or ""
        experiment = b.Experiment(
            name=str(info.get("name", "")),
            md5sum=md5,
            base_dir=base_dir,
            mainfile=info.get("mainfile"),
        )
        for entry in info.get("sources", []):
            filename, source_md5 = str(entry[0]), str(entry[1])
            source = session.scalars(
                sa.select(b.Source).where(
                    b.Source.filename == filename, b.Source.md5sum == source_md5
                )
            ).first()
            if source is None:
                source = b.Source(
                    filename=filename,
                    md5sum=source_md5,
                    content=self._text(_read_text(base_dir, filename)),
                )
            experiment.sources.append(source)
        for dep in sorted(set(info.get("dependencies", []))):
            name, _, version = str(dep).partition("==")
            dependency = session.scalars(
                sa.select(b.Dependency).where(
                    b.Dependency.name == name, b.Dependency.version == version
                )
            ).first()
            experiment.dependencies.append(dependency or b.Dependency(name=name, version=version))
        for repo in info.get("repositories", []):
            url, commit, dirty = repo.get("url"), repo.get("commit"), repo.get("dirty")
            repository = session.scalars(
                sa.select(b.Repository).where(
                    b.Repository.url == url,
                    b.Repository.commit == commit,
                    b.Repository.dirty == dirty,
                )
            ).first()
            experiment.repositories.append(
                repository or b.Repository(url=url, commit=commit, dirty=dirty)
            )
        session.add(experiment)
        session.flush()
        return int(experiment.experiment_id)

    def _host_id(self, session: Session, host_info: dict[str, Any]) -> int:
        import sqlalchemy as sa

        b = _bases()
        info = host_info
        text = json.dumps(info, sort_keys=True)
        md5 = hashlib.md5(text.encode()).hexdigest()
        if md5 in self._host_ids:
            return self._host_ids[md5]
        found = session.scalar(sa.select(b.Host.host_id).where(b.Host.md5sum == md5).limit(1))
        if found is not None:
            return int(found)
        os_field = info.get("os") or [None, None]
        if not isinstance(os_field, list):
            os_field = [os_field, None]
        host = b.Host(
            md5sum=md5,
            cpu=_clip(info.get("cpu"), 256),
            hostname=_clip(info.get("hostname"), 256),
            os=_clip(os_field[0] if os_field else None, 64),
            os_info=_clip(os_field[1] if len(os_field) > 1 else None, 512),
            python_version=_clip(info.get("python_version"), 64),
            host_info=text,
        )
        session.add(host)
        session.flush()
        return int(host.host_id)

    def _insert_run(self, doc: dict[str, Any], _id: Any) -> Any:
        import sqlalchemy as sa
        from sqlalchemy import exc as sa_exc

        b = _bases()
        self._ensure_tables()
        meta = doc["meta"]
        ex_info, host_info = doc["experiment"], doc["host"]
        priority = _numeric(meta.get("priority"))
        comment = meta.get("comment")
        row: dict[str, Any] = {
            "command": self._text(_clip(doc["command"], 256)),
            "status": self._status(doc["status"]),
            "config": _dumps(doc["config"]),
            "info": "{}",
            "meta": _dumps(meta),
            "priority": priority if priority is not None else 0.0,
            "comment": None if comment is None else self._text(str(comment)),
            "start_time": _naive_utc(doc.get("start_time")),
            "queue_time": _naive_utc(document.parse_time(meta.get("queue_time")) or doc.get("queue_time"))
            if doc["status"] == "QUEUED"
            else None,
        }
        table = b.Run.__table__
        ids: dict[str, int] = {}

        def work(session: Session) -> tuple[int, str]:
            pk, run_id = allocate(session)
            if not self._gaps().finals_table:  # a row left by a deleted run of the same id is not ours
                finals = b.MetricFinals.__table__
                session.execute(sa.delete(finals).where(finals.c.run_id == run_id))
            return pk, run_id

        def allocate(session: Session) -> tuple[int, str]:
            row["experiment_id"] = self._experiment_id(session, ex_info)
            row["host_id"] = self._host_id(session, host_info)
            ids["experiment"], ids["host"] = row["experiment_id"], row["host_id"]
            if _id is not None:
                pk = _inserted_pk(session.execute(sa.insert(table).values(run_id=str(_id), **row)))
                return pk, str(_id)
            # The autoincrement key is the id. A user-chosen ``_id`` may already hold that text: then
            # keep the row as a placeholder, take the next key, and delete the placeholders at the end.
            placeholders: list[int] = []
            for _ in range(1000):
                pk = _inserted_pk(session.execute(sa.insert(table).values(run_id=None, **row)))
                taken = session.scalar(
                    sa.select(table.c.id).where(table.c.run_id == str(pk)).limit(1)
                )
                if taken is None:
                    session.execute(sa.update(table).where(table.c.id == pk).values(run_id=str(pk)))
                    break
                placeholders.append(pk)
            else:  # pragma: no cover - needs 1000 user-chosen ids in a row
                raise RuntimeError("could not allocate a run id after 1000 attempts")
            if placeholders:
                session.execute(sa.delete(table).where(table.c.id.in_(placeholders)))
            return pk, str(pk)

        for attempt in range(5):
            try:
                pk, run_id = self._transaction(work)
                break
            except sa_exc.IntegrityError as error:
                if _id is not None:
                    raise RunIdExistsError(
                        f"Run id {_id!r} already exists in {self.url}; pass another _id or none "
                        f"to get the next free one"
                    ) from error
                # Another writer committed a requested id equal to our key's text meanwhile: the
                # transaction rolled back, and the next attempt gets a new key.
                if attempt == 4:
                    raise
        # Cache only committed rows: a rolled-back experiment id would point at nothing.
        self._experiment_ids.setdefault(_md5_of(ex_info), ids["experiment"])
        self._host_ids.setdefault(_md5_of(host_info), ids["host"])
        self.run_pk, self.run_id = pk, run_id
        self._finals = {}
        # A string like FileStorage's ("1"): RunRecord ids are strings, and Sacred's SQL observer
        # already mixed int and str (its first run came back as "0").
        return _id if _id is not None else run_id

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
        with self._lock:
            doc = document.started(
                ex_info, command, host_info, start_time, config, meta_info, native_times=True
            )
            return self._insert_run(doc, _id)

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
        with self._lock:
            doc = document.queued(
                ex_info, command, host_info, queue_time, config, meta_info, native_times=True
            )
            return self._insert_run({**doc, "queue_time": queue_time}, _id)

    def _update_run(self, *, final: bool = False, **values: Any) -> None:
        """Change the run's row; ``final``: the run ends, and its final metric values are stored in
        the same transaction."""
        import sqlalchemy as sa

        with self._lock:
            if self.run_pk is None:
                return
            table = _bases().Run.__table__
            stmt = sa.update(table).where(table.c.id == self.run_pk).values(**values)
            if not final or self.run_id is None or self._finals is None or self._gaps().finals_table:
                self._transaction(lambda session: session.execute(stmt))
                return
            finals = _bases().MetricFinals.__table__
            row = {"run_id": self.run_id, "finals": json.dumps(self._finals)}

            def work(session: Session) -> None:
                session.execute(stmt)
                session.execute(sa.delete(finals).where(finals.c.run_id == row["run_id"]))
                session.execute(sa.insert(finals).values(**row))

            self._transaction(work)

    def heartbeat_event(
        self, info: dict[str, Any], captured_out: str, beat_time: _dt.datetime, result: Any
    ) -> None:
        fields = document.heartbeat(info, captured_out, beat_time, result, native_times=True)
        self._update_run(
            heartbeat=_naive_utc(fields["heartbeat"]),
            captured_out=self._text(fields["captured_out"]),
            info=_dumps(fields["info"]),
            **_result_columns(fields["result"]),
        )

    def completed_event(self, stop_time: _dt.datetime, result: Any) -> None:
        fields = document.completed(stop_time, result, native_times=True)
        self._update_run(
            final=True,
            stop_time=_naive_utc(fields["stop_time"]),
            status=self._status(fields["status"]),
            **_result_columns(fields["result"]),
        )

    def interrupted_event(self, interrupt_time: _dt.datetime, status: str) -> None:
        fields = document.interrupted(interrupt_time, status, native_times=True)
        self._update_run(
            final=True, stop_time=_naive_utc(fields["stop_time"]), status=self._status(fields["status"][:32])
        )

    def failed_event(self, fail_time: _dt.datetime, fail_trace: list[str] | str) -> None:
        fields = document.failed(fail_time, fail_trace, native_times=True)
        self._update_run(
            final=True,
            stop_time=_naive_utc(fields["stop_time"]),
            status=self._status(fields["status"]),
            fail_trace=self._text(_trace_text(fields["fail_trace"])),
        )

    def resource_event(self, filename: str) -> None:
        import sqlalchemy as sa

        b = _bases()
        md5, data = _md5_file(filename)

        def work(session: Session) -> None:
            resource_id = session.scalar(
                sa.select(b.Resource.resource_id)
                .where(b.Resource.filename == filename, b.Resource.md5sum == md5)
                .limit(1)
            )
            if resource_id is None:
                resource = b.Resource(filename=filename, md5sum=md5, content=data)
                session.add(resource)
                session.flush()
                resource_id = resource.resource_id
            link = b.runs_resources
            exists = session.scalar(
                sa.select(sa.func.count())
                .select_from(link)
                .where(link.c.run_id == self.run_id, link.c.resource_id == resource_id)
            )
            if not exists:
                session.execute(sa.insert(link).values(run_id=self.run_id, resource_id=resource_id))

        with self._lock:
            if self.run_id is not None:
                self._transaction(work)

    def artifact_event(
        self,
        name: str,
        filename: str,
        metadata: dict[str, Any] | None = None,
        content_type: str | None = None,
    ) -> None:
        import sqlalchemy as sa

        check_artifact_name(name, reserved=frozenset())  # a table: no file names to protect
        table = _bases().Artifact.__table__
        with open(filename, "rb") as fh:
            content = fh.read()
        if content_type is None:
            content_type = mimetypes.guess_type(name)[0]
        stored_name = self._text(name)

        def work(session: Session) -> None:
            # Saving an artifact name again replaces it, as FileStorage overwrites the file.
            session.execute(
                sa.delete(table).where(table.c.run_id == self.run_id, table.c.filename == stored_name)
            )
            session.execute(
                sa.insert(table).values(
                    run_id=self.run_id,
                    filename=stored_name,
                    content=content,
                    content_type=content_type,
                    metadata_json=None if metadata is None else _dumps(document.encode(metadata)),
                )
            )

        with self._lock:
            if self.run_id is not None:
                self._transaction(work)

    def log_metrics(self, metrics_by_name: dict[str, dict[str, Any]], info: dict[str, Any]) -> None:
        import sqlalchemy as sa

        with self._lock:
            if self.run_id is None:
                return
            rows = []
            last: dict[str, float] = {}  # this call's last value of each metric, as read back
            for name, metric in document.metrics_delta(metrics_by_name, native_times=True).items():
                steps = metric["steps"]
                values = metric["values"]
                stamps = metric["timestamps"] or [None] * len(steps)
                for step, value, stamp in zip(steps, values, stamps, strict=False):
                    number = _numeric(value)
                    if number is not None and not math.isnan(number):
                        number += 0.0  # no -0.0: SQLite keeps an integral REAL as an integer, unsigned
                    else:
                        number = None
                    last[str(name)] = float("nan") if number is None else number
                    rows.append(
                        {
                            "run_id": self.run_id,
                            "name": str(name),
                            "step": _numeric(step),
                            "value": number,
                            "timestamp": _naive_utc(stamp)
                            if isinstance(stamp, _dt.datetime)
                            else None,
                        }
                    )
            if rows:
                table = _bases().Metric.__table__
                finals, self._finals = self._finals, None  # until the rows are committed
                self._transaction(lambda session: session.execute(sa.insert(table), rows))
                if finals is not None:
                    finals.update(last)
                    self._finals = finals

    # -- reading ----------------------------------------------------------------------------------

    def query(self, run_id: Any) -> dict[str, Any]:
        """The stored run as Sacred's ``Run.to_json()`` dict (plus ``info`` and ``metrics``)."""
        import sqlalchemy as sa
        from sqlalchemy.orm import undefer

        b = _bases()
        if not self._tables_exist():
            raise run_not_found(run_id, self.url)
        with self._sessions() as session:
            gaps = self._gaps()
            run = session.scalars(
                sa.select(b.Run)
                .where(b.Run.run_id == str(run_id))
                .options(undefer(b.Run.captured_out), *_compat().load_options(gaps))
            ).first()
            if run is None:
                raise run_not_found(run_id, self.url)
            _compat().fill_missing(run, gaps)
            data = run.to_json()
            data["info"] = json.loads(run.info) if run.info else {}
            data["metrics"] = self._metrics(session, [run.run_id]).get(run.run_id, {})
            return data

    def list_runs(self) -> Iterator[RunRecord]:
        """All runs, oldest first.

        The records are lazy (:class:`~pytest_sacredx.observers.lazy_record.LazyRunRecord`): listing
        reads the run rows without their output, and no metric; a run's final metric values, then
        its output and metric series, are read when asked for — one run at a time for the first few
        runs asked about, then for every run of the listing in one query (a report reads them all,
        ``sacredx show`` one)."""
        import sqlalchemy as sa

        if not self._tables_exist():
            return
        b = _bases()
        gaps = self._gaps()
        run = b.Run.__table__
        missing = set(gaps.columns.get("run", ()))
        columns = [c for c in run.c if c.name != "captured_out" and c.name not in missing]
        with self._sessions() as session:
            rows = session.execute(
                sa.select(*columns).where(run.c.run_id.is_not(None)).order_by(run.c.id)
            ).all()
            parts = _ListingParts(
                hosts=_by_key(session, b.Host, "host_id", gaps),
                experiments=_by_key(session, b.Experiment, "experiment_id", gaps),
                artifacts=_names_by_run(session, b),
                resources=_resources_by_run(session, b),
            )
        names = [c.name for c in columns]
        bulk = _Bulk(self, [str(row.run_id) for row in rows])
        store = self.url
        light = functools.partial(_row_values, parts, names, store)
        at = names.index("config")
        with gc_paused():
            records = [
                LazyRunRecord.lazy(functools.partial(bulk.values, light, row), None,
                                   functools.partial(_peek_config, row[at]), id=str(row.run_id),
                                   store=store)
                for row in rows
            ]
        yield from records

    def load_run(self, run_id: Any) -> RunRecord:
        """One run by id (``1`` or ``"1"``); ``KeyError`` when there is none."""
        for record in self._records(str(run_id)):
            return record
        raise run_not_found(run_id, self.url)

    def load_artifact(self, run_id: Any, name: str) -> bytes:
        """The stored bytes of one artifact; ``KeyError`` when there is none."""
        import sqlalchemy as sa

        table = _bases().Artifact.__table__
        if not self._tables_exist():
            raise run_not_found(run_id, self.url, f"artifact {name!r}")
        with self.engine.connect() as conn:
            content = conn.scalar(
                sa.select(table.c.content).where(
                    table.c.run_id == str(run_id), table.c.filename == self._text(name)
                )
            )
        if content is None:
            raise run_not_found(run_id, self.url, f"artifact {name!r}")
        return bytes(content)

    def _records(self, run_id: str | None) -> Iterator[RunRecord]:
        import sqlalchemy as sa
        from sqlalchemy.orm import undefer

        b = _bases()
        if not self._tables_exist():
            return
        with self._sessions() as session:
            gaps = self._gaps()
            stmt = (
                sa.select(b.Run)
                .where(b.Run.run_id.is_not(None))
                .options(undefer(b.Run.captured_out), *_compat().load_options(gaps))
            )
            if run_id is not None:
                stmt = stmt.where(b.Run.run_id == run_id)
            runs = list(session.scalars(stmt.order_by(b.Run.id)))
            for run in runs:
                _compat().fill_missing(run, gaps)
            metrics = self._metrics(
                session, [r.run_id for r in runs] if run_id is not None else None
            )
            for run in runs:
                yield self._record(run, metrics.get(run.run_id, {}))

    def _metrics(
        self, session: Session, run_ids: list[str] | None
    ) -> dict[str, dict[str, dict[str, list[Any]]]]:
        import sqlalchemy as sa

        if self._gaps().metrics_table:
            return {}
        table = _bases().Metric.__table__
        stmt = sa.select(
            table.c.run_id, table.c.name, table.c.step, table.c.value, table.c.timestamp
        )
        if run_ids is not None:
            stmt = stmt.where(table.c.run_id.in_(run_ids))
        out: dict[str, dict[str, dict[str, list[Any]]]] = {}
        rows = session.execute(stmt.order_by(table.c.metric_id)).all()
        for rid, name, step, value, stamp in rows:
            metric = out.setdefault(rid, {}).setdefault(
                name, {"steps": [], "values": [], "timestamps": []}
            )
            metric["steps"].append(_step(step))
            metric["values"].append(float("nan") if value is None else value)
            metric["timestamps"].append(stamp)
        return out

    def _final_values(
        self, run_ids: list[str] | None, listed: list[str] | None = None
    ) -> dict[str, dict[str, Any]]:
        """``{run id: {metric: last value}}``: the value of each metric's last row (by ``metric_id``,
        the order they were logged in; NaN for NULL, as :meth:`_metrics` reads it), the series unread:
        from ``metric_finals`` for the runs that finished, from the metric rows for the others (of
        ``run_ids``, or of ``listed`` when every run is asked for)."""
        import sqlalchemy as sa

        gaps = self._gaps()
        if gaps.metrics_table:
            return {}
        known: dict[str, dict[str, Any]] = {}
        if not gaps.finals_table:  # the finished runs' own row
            finals = _bases().MetricFinals.__table__
            stmt = sa.select(finals.c.run_id, finals.c.finals)
            if run_ids is not None:
                stmt = stmt.where(finals.c.run_id.in_(run_ids))
            with self.engine.connect() as conn:
                known = {rid: json_loads(text) for rid, text in conn.execute(stmt).all()}
        wanted = run_ids if run_ids is not None else listed
        missing = None if wanted is None else [rid for rid in wanted if rid not in known]
        if missing == []:
            return known
        # running runs (and runs Sacred or an older version wrote): their own rows, or every run's
        out = self._aggregate_finals(missing if missing is not None and len(missing) <= 500 else run_ids)
        out.update(known)
        return out

    def _aggregate_finals(self, run_ids: list[str] | None) -> dict[str, dict[str, Any]]:
        """:meth:`_final_values` from the metric rows themselves: every row of the runs is looked at.
        Metrics come in the order of their first row, as :meth:`_metrics` gives them."""
        import sqlalchemy as sa

        table = _bases().Metric.__table__
        groups = sa.select(
            sa.func.min(table.c.metric_id).label("first"), sa.func.max(table.c.metric_id).label("last")
        ).group_by(table.c.run_id, table.c.name)
        if run_ids is not None:
            groups = groups.where(table.c.run_id.in_(run_ids))
        ends = groups.subquery()
        stmt = sa.select(table.c.run_id, table.c.name, table.c.value, ends.c.first).join(
            ends, table.c.metric_id == ends.c.last
        )
        out: dict[str, dict[str, Any]] = {}
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        for rid, name, value, _ in sorted(rows, key=lambda row: row[3]):  # (sorted here: cheaper)
            out.setdefault(rid, {})[name] = float("nan") if value is None else value
        return out

    def _heavy(self, run_ids: list[str] | None) -> tuple[dict[str, str], dict[str, Any]]:
        """The captured output and the metric series of the runs (all of them for None)."""
        import sqlalchemy as sa

        run = _bases().Run.__table__
        stmt = sa.select(run.c.run_id, run.c.captured_out)
        if run_ids is not None:
            stmt = stmt.where(run.c.run_id.in_(run_ids))
        with self._sessions() as session:
            out = {rid: text or "" for rid, text in session.execute(stmt).all()}
            return out, self._metrics(session, run_ids)

    def _record(
        self, run: Any, metrics: dict[str, dict[str, list[Any]]], captured_out: bool = True
    ) -> RunRecord:
        data = run.to_json(captured_out=captured_out)
        data["info"] = json.loads(run.info) if run.info else {}
        data["meta"] = json.loads(run.meta) if run.meta else {}
        data["command"] = run.command or ""
        data["captured_out"] = (run.captured_out or "") if captured_out else ""
        return document.to_record(
            data,
            store=self.url,
            id=str(run.run_id),
            metrics=metrics,
            artifacts=[a.filename for a in run.artifacts],
        )


class _Bulk:
    """The parts of a listing's runs that its records read only when asked: final metric values, and
    output with metric series. The first few runs asked about are read one by one (``sacredx show``,
    ``runs --last 5``); past that, every run of the listing is read in one query (a report, a table of
    thousands of runs), which costs one pass over the metrics instead of a query per run."""

    FINALS_ONE_BY_ONE = 32
    HEAVY_ONE_BY_ONE = 8

    def __init__(self, reader: SqlObserver, run_ids: list[str]) -> None:
        self.reader = reader
        self.run_ids = run_ids
        self._finals: dict[str, dict[str, Any]] | None = None
        self._finals_asked = 0
        self._heavy: tuple[dict[str, str], dict[str, Any]] | None = None
        self._heavy_asked = 0
        self._lock = threading.Lock()

    def finals(self, run_id: str) -> dict[str, Any]:
        with self._lock:
            if self._finals is None:
                self._finals_asked += 1
                if self._finals_asked <= self.FINALS_ONE_BY_ONE:
                    return self.reader._final_values([run_id]).get(run_id, {})
                self._finals = self.reader._final_values(None, self.run_ids)
            return self._finals.get(run_id, {})

    def heavy(self, run_id: str) -> tuple[str, dict[str, Any]]:
        with self._lock:
            if self._heavy is None:
                self._heavy_asked += 1
                if self._heavy_asked <= self.HEAVY_ONE_BY_ONE:
                    outs, metrics = self.reader._heavy([run_id])
                    return outs.get(run_id, ""), metrics.get(run_id, {})
                self._heavy = self.reader._heavy(None)
            outs, metrics = self._heavy
            return outs.get(run_id, ""), metrics.get(run_id, {})

    def values(self, light: Callable[[Any], dict[str, Any]], row: Any, full: bool) -> dict[str, Any]:
        values = light(row)
        run_id = values["id"]
        if not full:
            values[FINAL_METRICS] = functools.partial(self.finals, run_id)
            return values
        values["captured_out"], values["metrics"] = self.heavy(run_id)
        return values


@attrs.frozen
class _ListingParts:
    """What a listing reads once for all its runs: hosts and experiments by key, and each run's
    artifact names and resources."""

    hosts: dict[Any, dict[str, Any]]
    experiments: dict[Any, dict[str, Any]]
    artifacts: dict[str, list[str]]
    resources: dict[str, list[list[str]]]
    #: per host and experiment, a function that gives a new copy of it decoded
    _copies: dict[tuple[str, Any], Callable[[], Any]] = attrs.field(factory=dict)

    def decoded_copy(self, kind: str, key: Any, value: Any) -> Any:
        """A new decoded copy of the listing's host or experiment ``key`` (``value``): decoded once,
        then copied by decoding its JSON text (C speed), when that gives it back exactly."""
        copy = self._copies.get((kind, key))
        if copy is None:
            decoded = document.decode(value)
            try:
                text = json.dumps(decoded, allow_nan=True)
                exact = json_loads(text) == decoded and "NaN" not in text  # (NaN equals nothing)
            except (TypeError, ValueError):
                exact = False
            copy = functools.partial(json_loads, text) if exact else functools.partial(document.decode, value)
            self._copies[(kind, key)] = copy
        return copy()


def _by_key(session: Session, model: Any, key: str, gaps: Any) -> dict[Any, dict[str, Any]]:
    """``{primary key: to_json()}`` of every row of ``model`` (hosts, experiments: few rows)."""
    import sqlalchemy as sa
    from sqlalchemy.orm import defer
    from sqlalchemy.orm.attributes import set_committed_value

    lacking = gaps.columns.get(model.__tablename__, ())
    objs = list(session.scalars(sa.select(model).options(*[defer(getattr(model, n)) for n in lacking])))
    for obj in objs:
        for name in lacking:
            set_committed_value(obj, name, None)
    return {getattr(obj, key): obj.to_json() for obj in objs}


def _names_by_run(session: Session, b: Any) -> dict[str, list[str]]:
    import sqlalchemy as sa

    table = b.Artifact.__table__
    out: dict[str, list[str]] = {}
    stmt = sa.select(table.c.run_id, table.c.filename).order_by(table.c.artifact_id)
    for rid, name in session.execute(stmt).all():
        out.setdefault(rid, []).append(name)
    return out


def _resources_by_run(session: Session, b: Any) -> dict[str, list[list[str]]]:
    import sqlalchemy as sa

    link, res = b.runs_resources, b.Resource.__table__
    out: dict[str, list[list[str]]] = {}
    stmt = (
        sa.select(link.c.run_id, res.c.filename, res.c.md5sum)
        .join(res, res.c.resource_id == link.c.resource_id)
        .order_by(res.c.resource_id)
    )
    for rid, filename, md5sum in session.execute(stmt).all():
        out.setdefault(rid, []).append([filename, md5sum])
    return out


def _peek_config(text: str | None) -> Any:
    """A listed run's config from its column alone (what :func:`_row_values` makes of it), without
    the rest of the row; NOT_PEEKED for text that is no JSON (the light load says so)."""
    if text is None:
        return {}
    try:
        value = json_loads(text)
    except ValueError:
        return NOT_PEEKED
    return value if document.plain_text(text) else document.decode(value)


def _row_values(parts: _ListingParts, names: list[str], store: str, row: Any) -> dict[str, Any]:
    """A run's light fields from its row (the same as :meth:`SqlObserver._record` makes of the
    loaded run, without output and metrics)."""
    from .sql_bases import stored_trace

    get: Callable[[str], Any] = dict(zip(names, row, strict=True)).get
    run_id = get("run_id")
    result_json, meta, config, info = get("result_json"), get("meta"), get("config"), get("info")
    data = {
        "_id": run_id,
        "command": get("command") or "",
        "start_time": get("start_time"),
        "heartbeat": get("heartbeat"),
        "stop_time": get("stop_time"),
        "queue_time": get("queue_time"),
        "status": get("status"),
        "result": json_loads(result_json) if result_json is not None else get("result"),
        "meta": json_loads(meta) if meta else {},
        "resources": parts.resources.get(run_id, []),
        "host": parts.hosts.get(get("host_id"), {}),
        "experiment": parts.experiments.get(get("experiment_id"), {}),
        "config": json_loads(config) if config is not None else {},
        "captured_out": "",
        "fail_trace": stored_trace(get("fail_trace")),
        "info": json_loads(info) if info else {},
    }
    # the run's JSON columns hold none of the forms decode changes: only its host and experiment need
    # decoding (each record gets its own copies of them, as load_run gives), as TinyDB does for plain lines
    plain = all(document.plain_text(t) for t in (result_json, meta, config, info) if t)
    if plain:
        data["host"] = parts.decoded_copy("host", get("host_id"), data["host"])
        data["experiment"] = parts.decoded_copy("experiment", get("experiment_id"), data["experiment"])
    values = document.record_values(data, store=store, id=str(run_id), metrics={}, plain=plain,
                                    artifacts=list(parts.artifacts.get(run_id, [])))
    for name in HEAVY_FIELDS:
        del values[name]
    return values


def _trace_text(trace: list[str] | str) -> str:
    """The trace as the text Sacred's SQL observer stores: the lines joined by newlines, without a
    second newline after a line that already ends with one (a real traceback's lines do).

    >>> _trace_text(["a", "b"]), _trace_text(["Traceback:\\n", "  x\\n", "E\\n"])
    ('a\\nb', 'Traceback:\\n  x\\nE\\n')
    """
    if isinstance(trace, str):
        return trace
    return "".join(
        line if i == len(trace) - 1 or line.endswith("\n") else line + "\n"
        for i, line in enumerate(trace)
    )


def _create_engine(sa: Any, url: str, echo: bool) -> Engine:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    kwargs: dict[str, Any] = {"echo": echo}
    if parsed.drivername == "postgresql":
        # A bare postgresql:// means psycopg2 to SQLAlchemy; use psycopg 3 when only it is installed.
        try:
            import psycopg2  # noqa: F401
        except ImportError:
            parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            # One shared connection, so the heartbeat thread sees the same in-memory database.
            from sqlalchemy.pool import StaticPool

            kwargs["poolclass"] = StaticPool
            kwargs["connect_args"] = {"check_same_thread": False}
        else:
            # Wait for another writer's lock instead of failing at once (xdist workers, processes).
            kwargs["connect_args"] = {"timeout": 30}
    else:
        kwargs["pool_pre_ping"] = True  # survive a restarted server between runs
    try:
        engine = sa.create_engine(parsed, **kwargs)
    except ImportError as exc:
        raise missing_extra("sql", exc.name or "the database driver") from exc
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine  # type: ignore[no-any-return]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """``synchronous=NORMAL`` on every connection to a SQLite file: with WAL (:func:`_sqlite_wal`),
    one run costs a few fsyncs, not one per event. Committed events survive a killed process (the
    guarantee the stores give); only a power loss may drop the last transactions."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _sqlite_wal(engine: Engine) -> None:
    """Switch a SQLite file to WAL (it stays so: the mode is kept in the file) before the first
    write, so readers never block writers. Done when writing, not when connecting: reading a
    database (one Sacred wrote, say) leaves its file as it was. A file system without the shared
    memory WAL needs keeps the default journal."""
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA journal_mode=WAL")
            conn.commit()
    except Exception:
        return


def _read_text(base_dir: str, filename: str) -> str | None:
    path = filename if os.path.isabs(filename) else os.path.join(base_dir or "", filename)
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return None


def _inserted_pk(result: Any) -> int:
    return int(result.inserted_primary_key[0])


def _clip(value: Any, size: int) -> str | None:
    return None if value is None else str(value)[:size]


def _md5_of(value: Any) -> str:
    return hashlib.md5(json.dumps(value, sort_keys=True).encode()).hexdigest()
