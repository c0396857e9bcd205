"""The SQL schema of :class:`~pytest_sacredx.observers.sql.SqlObserver`: Sacred's tables, made sound.

Imported only when a SQL observer or reader is used (it imports SQLAlchemy 2). The tables and column
names are Sacred's (``run``, ``host``, ``experiment``, ``source``, ``repository``, ``dependency``,
``artifact``, ``resource`` and the join tables ``experiments_sources``, ``experiments_repositories``,
``experiments_dependencies``, ``runs_resources``), so queries written against a Sacred database keep
working. Where Sacred's schema loses data, we add columns instead of changing meanings:

- ``run.id`` is the database's autoincrement key, so the **first run is 1** (Sacred computes
  ``max(id)+1`` and starts at 0, which also races between processes); ``run.run_id`` (unique string)
  is the id the run is known by — ``str(id)``, or the ``_id`` the user asked for;
- ``run.result`` stays a Float, filled only when the result is a real number; ``run.result_json``
  always holds the JSON text of the result, whatever its type (Sacred's Float column breaks on a dict);
- ``run.meta`` (JSON text) keeps the whole ``meta_info``; ``run.fail_trace`` holds the trace as text,
  as in Sacred (lines joined by newlines; a line that ends with one gets no second); rows of earlier
  versions, which held a JSON list of lines, still read as that list;
- a ``metrics`` table (``run_id``, ``name``, ``step``, ``value``, ``timestamp``) keeps the logged metrics,
  which Sacred's SQL observer drops;
- ``host.host_info`` and ``experiment.mainfile`` keep what Sacred's narrow columns cannot; string columns
  are wide enough for real paths and names;
- ``run.status`` is a plain string column (no native enum type, whose creation races on PostgreSQL, and
  custom ``SacredInterrupt.STATUS`` values fit).

>>> import sqlalchemy as sa
>>> engine = sa.create_engine("sqlite://")
>>> Base.metadata.create_all(engine)
>>> sorted(sa.inspect(engine).get_table_names())[:4]
['artifact', 'dependency', 'experiment', 'experiments_dependencies']
"""

from __future__ import annotations

import datetime as _dt
import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, deferred, mapped_column, relationship

__all__ = [
    "json_or",
    "stored_trace",
    "Base",
    "Host",
    "Experiment",
    "Run",
    "Source",
    "Resource",
    "Artifact",
    "Repository",
    "Dependency",
    "Metric",
    "experiments_sources",
    "experiments_repositories",
    "experiments_dependencies",
    "runs_resources",
]


class Base(DeclarativeBase):
    """Declarative base; ``Base.metadata.create_all(engine)`` makes every table."""


def json_or(text: str | None, default: Any = None) -> Any:
    """A JSON text column's value (``default`` for NULL).

    >>> json_or('{"lr": 0.1}'), json_or(None, {})
    ({'lr': 0.1}, {})
    """
    return default if text is None else json.loads(text)


def stored_trace(text: str | None) -> str | list[str] | None:
    """The stored trace: text (Sacred's form), or the JSON list of lines earlier versions stored."""
    if text is not None and text.startswith('["'):
        try:
            lines = json.loads(text)
        except ValueError:
            return text
        if isinstance(lines, list) and all(isinstance(line, str) for line in lines):
            return lines
    return text


experiments_sources = sa.Table(
    "experiments_sources",
    Base.metadata,
    sa.Column(
        "experiment_id", sa.Integer, sa.ForeignKey("experiment.experiment_id"), primary_key=True
    ),
    sa.Column("source_id", sa.Integer, sa.ForeignKey("source.source_id"), primary_key=True),
)
experiments_repositories = sa.Table(
    "experiments_repositories",
    Base.metadata,
    sa.Column(
        "experiment_id", sa.Integer, sa.ForeignKey("experiment.experiment_id"), primary_key=True
    ),
    sa.Column(
        "repository_id", sa.Integer, sa.ForeignKey("repository.repository_id"), primary_key=True
    ),
)
experiments_dependencies = sa.Table(
    "experiments_dependencies",
    Base.metadata,
    sa.Column(
        "experiment_id", sa.Integer, sa.ForeignKey("experiment.experiment_id"), primary_key=True
    ),
    sa.Column(
        "dependency_id", sa.Integer, sa.ForeignKey("dependency.dependency_id"), primary_key=True
    ),
)
runs_resources = sa.Table(
    "runs_resources",
    Base.metadata,
    sa.Column("run_id", sa.String(24), sa.ForeignKey("run.run_id"), primary_key=True),
    sa.Column("resource_id", sa.Integer, sa.ForeignKey("resource.resource_id"), primary_key=True),
)


class Source(Base):
    """A source file of an experiment, with its text (``filename`` is relative to ``base_dir``)."""

    __tablename__ = "source"
    source_id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(sa.String(1024))
    md5sum: Mapped[str] = mapped_column(sa.String(32), index=True)
    content: Mapped[str | None] = deferred(mapped_column(sa.Text, nullable=True))

    def to_json(self) -> list[str]:
        return [self.filename, self.md5sum]


class Repository(Base):
    """A version-control state (``url``, ``commit``, ``dirty``) an experiment ran from."""

    __tablename__ = "repository"
    repository_id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str | None] = mapped_column(sa.String(2048), nullable=True)
    commit: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    dirty: Mapped[bool | None] = mapped_column(sa.Boolean, nullable=True)

    def to_json(self) -> dict[str, Any]:
        return {"url": self.url, "commit": self.commit, "dirty": self.dirty}


class Dependency(Base):
    """A package the experiment depends on; ``to_json`` gives Sacred's ``"pkg==version"``."""

    __tablename__ = "dependency"
    dependency_id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(256))
    version: Mapped[str] = mapped_column(sa.String(128))

    def to_json(self) -> str:
        return f"{self.name}=={self.version}"


class Resource(Base):
    """A file the run read (``resource_event``), stored once per (filename, md5)."""

    __tablename__ = "resource"
    resource_id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(sa.String(1024))
    md5sum: Mapped[str] = mapped_column(sa.String(32), index=True)
    content: Mapped[bytes | None] = deferred(mapped_column(sa.LargeBinary, nullable=True))

    def to_json(self) -> list[str]:
        return [self.filename, self.md5sum]


class Host(Base):
    """A machine runs ran on; ``host_info`` keeps the whole host-info dict Sacred's columns cut down."""

    __tablename__ = "host"
    host_id: Mapped[int] = mapped_column(primary_key=True)
    md5sum: Mapped[str | None] = mapped_column(sa.String(32), index=True, nullable=True)
    cpu: Mapped[str | None] = mapped_column(sa.String(256), nullable=True)
    hostname: Mapped[str | None] = mapped_column(sa.String(256), nullable=True)
    os: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    os_info: Mapped[str | None] = mapped_column(sa.String(512), nullable=True)
    python_version: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    host_info: Mapped[str | None] = mapped_column(sa.Text, nullable=True)

    def to_json(self) -> dict[str, Any]:
        stored = json_or(self.host_info)
        if isinstance(stored, dict):
            return stored
        return {
            "cpu": self.cpu,
            "hostname": self.hostname,
            "os": [self.os, self.os_info],
            "python_version": self.python_version,
        }


class Experiment(Base):
    """An experiment's identity: name, base dir, sources, dependencies, repositories (md5 of them all)."""

    __tablename__ = "experiment"
    experiment_id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(256))
    md5sum: Mapped[str] = mapped_column(sa.String(32), index=True)
    base_dir: Mapped[str | None] = mapped_column(sa.String(2048), nullable=True)
    mainfile: Mapped[str | None] = mapped_column(sa.String(2048), nullable=True)
    sources: Mapped[list[Source]] = relationship(secondary=experiments_sources, lazy="selectin")
    repositories: Mapped[list[Repository]] = relationship(
        secondary=experiments_repositories, lazy="selectin"
    )
    dependencies: Mapped[list[Dependency]] = relationship(
        secondary=experiments_dependencies, lazy="selectin"
    )

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "base_dir": self.base_dir,
            "sources": sorted(s.to_json() for s in self.sources),
            "dependencies": sorted(d.to_json() for d in self.dependencies),
            "repositories": [r.to_json() for r in self.repositories],
            **({"mainfile": self.mainfile} if self.mainfile is not None else {}),
        }


class Artifact(Base):
    """A file the run saved, with its bytes, content type and metadata."""

    __tablename__ = "artifact"
    __table_args__ = (sa.UniqueConstraint("run_id", "filename", name="uq_artifact_run_filename"),)
    artifact_id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(sa.String(1024))
    content: Mapped[bytes | None] = deferred(mapped_column(sa.LargeBinary, nullable=True))
    content_type: Mapped[str | None] = mapped_column(sa.String(256), nullable=True)
    metadata_json: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    run_id: Mapped[str] = mapped_column(sa.String(24), sa.ForeignKey("run.run_id"), index=True)

    def to_json(self) -> dict[str, Any]:
        return {
            "_id": self.artifact_id,
            "filename": self.filename,
            "content_type": self.content_type,
            "metadata": json_or(self.metadata_json),
        }


class Metric(Base):
    """One logged metric value (Sacred's SQL observer has no such table and drops metrics)."""

    __tablename__ = "metrics"
    __table_args__ = (sa.Index("ix_metrics_run_name_step", "run_id", "name", "step"),)
    metric_id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[str] = mapped_column(sa.String(24), sa.ForeignKey("run.run_id"))
    name: Mapped[str] = mapped_column(sa.String(256))
    #: Float so any numeric step fits; integral steps are read back as ``int``
    step: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    #: NULL for a value that is not a real number (and for NaN on SQLite); read back as NaN
    value: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    timestamp: Mapped[_dt.datetime | None] = mapped_column(sa.DateTime, nullable=True)


class MetricFinals(Base):
    """The last value of each metric of a finished run, as JSON ``{name: value}`` (NaN for a value that
    is not a real number, as the metrics table reads back): written with the run's final status, so
    that a listing of thousands of runs reads one row per run instead of every metric row."""

    __tablename__ = "metric_finals"
    run_id: Mapped[str] = mapped_column(sa.String(24), primary_key=True)
    finals: Mapped[str] = mapped_column(sa.Text)


class Run(Base):
    """One run. ``id`` is the autoincrement key (first run 1); ``run_id`` the id users see."""

    __tablename__ = "run"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    run_id: Mapped[str | None] = mapped_column(sa.String(24), unique=True, nullable=True)
    command: Mapped[str | None] = mapped_column(sa.String(256), nullable=True)
    captured_out: Mapped[str | None] = deferred(mapped_column(sa.Text, nullable=True))
    heartbeat: Mapped[_dt.datetime | None] = mapped_column(sa.DateTime, nullable=True)
    start_time: Mapped[_dt.datetime | None] = mapped_column(sa.DateTime, nullable=True)
    stop_time: Mapped[_dt.datetime | None] = mapped_column(sa.DateTime, nullable=True)
    queue_time: Mapped[_dt.datetime | None] = mapped_column(sa.DateTime, nullable=True)
    priority: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    comment: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    fail_trace: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    config: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    info: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    meta: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    status: Mapped[str] = mapped_column(sa.String(32))
    result: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    result_json: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    host_id: Mapped[int | None] = mapped_column(sa.ForeignKey("host.host_id"), nullable=True)
    host: Mapped[Host | None] = relationship(lazy="joined")
    experiment_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("experiment.experiment_id"), nullable=True
    )
    experiment: Mapped[Experiment | None] = relationship(lazy="joined")
    resources: Mapped[list[Resource]] = relationship(secondary=runs_resources, lazy="selectin")
    artifacts: Mapped[list[Artifact]] = relationship(
        primaryjoin="Run.run_id == Artifact.run_id",
        foreign_keys="Artifact.run_id",
        lazy="selectin",
        order_by="Artifact.artifact_id",
    )

    def result_value(self) -> Any:
        """The stored result: from ``result_json`` when present, else the numeric column."""
        if self.result_json is not None:
            return json.loads(self.result_json)
        return self.result

    def to_json(self, captured_out: bool = True) -> dict[str, Any]:
        """Sacred's ``Run.to_json()`` shape; ``meta`` holds the whole meta_info. Without
        ``captured_out`` the output (a deferred column) is left unread, as ``""``."""
        meta = json_or(self.meta, {}) or {}
        meta.setdefault("comment", self.comment)
        meta.setdefault("priority", self.priority)
        return {
            "_id": self.run_id,
            "command": self.command,
            "start_time": self.start_time,
            "heartbeat": self.heartbeat,
            "stop_time": self.stop_time,
            "queue_time": self.queue_time,
            "status": self.status,
            "result": self.result_value(),
            "meta": meta,
            "resources": [r.to_json() for r in self.resources],
            "artifacts": [a.to_json() for a in self.artifacts],
            "host": self.host.to_json() if self.host is not None else {},
            "experiment": self.experiment.to_json() if self.experiment is not None else {},
            "config": json_or(self.config, {}),
            "captured_out": self.captured_out if captured_out else "",
            "fail_trace": stored_trace(self.fail_trace),
        }
