"""Databases Sacred 0.8.7's ``SqlObserver`` created: read them as they are, append to them additively.

Our schema (:mod:`.sql_bases`) is Sacred's plus a few nullable columns and the ``metrics`` table. A
database Sacred created lacks them, so:

- **reading** (never writes, never creates): the columns the database does not have are left out of the
  query and read as NULL (:func:`load_options`, :func:`fill_missing`); no ``metrics`` table means no
  metrics; Sacred's ``fail_trace`` text is read as one trace string;
- **appending**: the first event of a :class:`~.sql.SqlObserver` adds what is missing — ``ALTER TABLE …
  ADD COLUMN`` of nullable columns and ``CREATE TABLE metrics`` (:func:`upgrade`). Rows already there
  are not changed, and Sacred's models ignore the extra columns, so Sacred keeps reading and writing the
  database. On PostgreSQL, Sacred chose ``run.id`` itself, so the id sequence never moved; it is set past
  the largest id, so new runs continue the numbering instead of colliding with old ones.

>>> import sqlalchemy as sa
>>> engine = sa.create_engine("sqlite://")
>>> with engine.begin() as conn:
...     _ = conn.execute(sa.text("CREATE TABLE run (id INTEGER PRIMARY KEY, run_id VARCHAR(24))"))
>>> schema_gaps(engine).columns["run"]
('meta', 'result_json')
"""

from __future__ import annotations

from typing import Any

import attrs
import sqlalchemy as sa

__all__ = ["SACREDX_COLUMNS", "SchemaGaps", "schema_gaps", "load_options", "fill_missing", "upgrade",
           "add_statuses", "sync_sequences"]

#: the columns our schema adds to Sacred's tables
SACREDX_COLUMNS: dict[str, tuple[str, ...]] = {
    "run": ("meta", "result_json"),
    "host": ("md5sum", "host_info"),
    "experiment": ("mainfile",),
    "artifact": ("content_type", "metadata_json"),
}


@attrs.frozen
class SchemaGaps:
    """What a database lacks of our schema: columns per table, and whether ``metrics`` is missing."""

    columns: dict[str, tuple[str, ...]] = attrs.field(factory=dict)
    metrics_table: bool = False
    #: ``metric_finals`` is missing (a database of Sacred or of an older version, opened to read)
    finals_table: bool = False
    #: the PostgreSQL enum type of ``run.status`` (Sacred's ``status_enum``), None for a text column
    status_enum: str | None = None

    @property
    def any(self) -> bool:
        return bool(self.columns) or self.metrics_table


def schema_gaps(bind: Any) -> SchemaGaps:
    """Inspect the database (an engine or connection) for what our schema adds; empty for a database
    that has no tables yet (``create_all`` makes everything) or one we created."""
    inspector = sa.inspect(bind)
    tables = set(inspector.get_table_names())
    if "run" not in tables:
        return SchemaGaps()
    columns: dict[str, tuple[str, ...]] = {}
    for table, ours in SACREDX_COLUMNS.items():
        if table not in tables:
            continue
        have = {c["name"] for c in inspector.get_columns(table)}
        lacking = tuple(c for c in ours if c not in have)
        if lacking:
            columns[table] = lacking
    enum = None
    for column in inspector.get_columns("run"):
        if column["name"] == "status" and isinstance(column["type"], sa.Enum):
            enum = column["type"].name
    return SchemaGaps(columns=columns, metrics_table="metrics" not in tables,
                      finals_table="metric_finals" not in tables, status_enum=enum)


def load_options(gaps: SchemaGaps) -> list[Any]:
    """Loader options that keep the missing columns out of the ``SELECT`` of runs."""
    from sqlalchemy.orm import defer, joinedload, selectinload

    from . import sql_bases as b

    options: list[Any] = []
    for name in gaps.columns.get("run", ()):
        options.append(defer(getattr(b.Run, name)))
    for name in gaps.columns.get("host", ()):
        options.append(joinedload(b.Run.host).defer(getattr(b.Host, name)))
    for name in gaps.columns.get("experiment", ()):
        options.append(joinedload(b.Run.experiment).defer(getattr(b.Experiment, name)))
    for name in gaps.columns.get("artifact", ()):
        options.append(selectinload(b.Run.artifacts).defer(getattr(b.Artifact, name)))
    return options


def fill_missing(run: Any, gaps: SchemaGaps) -> None:
    """Set the columns the database lacks to None on a loaded run (and its host, experiment,
    artifacts), so reading them does not query a column that is not there."""
    from sqlalchemy.orm.attributes import set_committed_value

    targets = {
        "run": [run],
        "host": [run.host] if run.host is not None else [],
        "experiment": [run.experiment] if run.experiment is not None else [],
        "artifact": list(run.artifacts),
    }
    for table, names in gaps.columns.items():
        for obj in targets.get(table, []):
            for name in names:
                set_committed_value(obj, name, None)


def upgrade(conn: Any, gaps: SchemaGaps) -> None:
    """Add the nullable columns a Sacred-made database lacks (``metrics`` is made by ``create_all``)."""
    from . import sql_bases as b

    preparer = conn.dialect.identifier_preparer
    for table, names in gaps.columns.items():
        model = b.Base.metadata.tables[table]
        for name in names:
            column_type = model.c[name].type.compile(dialect=conn.dialect)
            conn.execute(
                sa.text(
                    f"ALTER TABLE {preparer.quote(table)} ADD COLUMN {preparer.quote(name)} {column_type}"
                )
            )


def add_statuses(conn: Any, gaps: SchemaGaps) -> None:
    """Let Sacred's PostgreSQL ``status_enum`` hold every status we write (it lacks ``QUEUED``)."""
    if gaps.status_enum is None or conn.dialect.name != "postgresql":
        return
    from .record import STATUSES

    name = conn.dialect.identifier_preparer.quote(gaps.status_enum)
    for status in STATUSES:
        conn.execute(sa.text(f"ALTER TYPE {name} ADD VALUE IF NOT EXISTS '{status}'"))


def sync_sequences(conn: Any) -> None:
    """On PostgreSQL, move each table's id sequence past the largest id stored, where rows were
    written with explicit ids (Sacred picks ``run.id`` itself, so its sequence never moves); a sequence
    already ahead is left alone."""
    if conn.dialect.name != "postgresql":
        return
    from . import sql_bases as b

    for table in b.Base.metadata.sorted_tables:
        keys = list(table.primary_key.columns)
        if len(keys) != 1 or not isinstance(keys[0].type, sa.Integer):
            continue
        column = keys[0].name
        seq = conn.scalar(sa.text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": column})
        if seq is None:
            continue
        largest = conn.scalar(sa.select(sa.func.max(table.c[column])))
        if largest is None:
            continue
        last, called = conn.execute(sa.text(f"SELECT last_value, is_called FROM {seq}")).one()
        if (last + 1 if called else last) <= largest:
            conn.execute(sa.text("SELECT setval(:s, :v)"), {"s": seq, "v": largest})
