"""One shape for reading runs back from any store: :class:`RunRecord`.

Every backend module holds its writer (an observer) and its reader; the reader lists and loads runs as
``RunRecord`` so the ``sacredx`` tool, the pytest summary and the regression baselines need not know
which store they read. A run killed hard keeps status RUNNING in the store; ``effective_status`` reports
it as ``DEAD`` once its heartbeat is stale.

>>> rec = RunRecord(id="1", status="COMPLETED", result=0.9)
>>> rec.final_metrics()
{}
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol, runtime_checkable

import attrs

__all__ = ["RunRecord", "RunReader", "RunTail", "STATUSES", "DEAD_AFTER", "metric_series", "parse_timestamps"]

STATUSES = ("QUEUED", "RUNNING", "COMPLETED", "FAILED", "INTERRUPTED", "TIMEOUT")
#: a RUNNING run whose last heartbeat is older than this is reported as DEAD (Sacred's beat is 10 s)
DEAD_AFTER = _dt.timedelta(seconds=120)


@attrs.frozen(kw_only=True)
class RunRecord:
    """A stored run, as any reader returns it.

    ``metrics`` maps a metric name to ``{"steps": [...], "values": [...], "timestamps": [...]}``;
    ``artifacts`` lists artifact names; ``store`` names where the record came from (a URI).
    """

    id: str
    status: str
    experiment: dict[str, Any] = attrs.field(factory=dict)
    command: str = "main"
    config: dict[str, Any] = attrs.field(factory=dict)
    meta: dict[str, Any] = attrs.field(factory=dict)
    host: dict[str, Any] = attrs.field(factory=dict)
    start_time: _dt.datetime | None = None
    stop_time: _dt.datetime | None = None
    heartbeat: _dt.datetime | None = None
    queue_time: _dt.datetime | None = None
    result: Any = None
    fail_trace: list[str] | None = None
    info: dict[str, Any] = attrs.field(factory=dict)
    captured_out: str = ""
    metrics: dict[str, dict[str, list[Any]]] = attrs.field(factory=dict)
    artifacts: list[str] = attrs.field(factory=list)
    resources: list[Any] = attrs.field(factory=list)
    store: str = ""

    @classmethod
    def from_document(
        cls,
        doc: Mapping[str, Any],
        *,
        store: str,
        parse_time: Callable[[Any], _dt.datetime | None],
        **fields: Any,
    ) -> RunRecord:
        """A record from a Sacred-shaped run document (``run.json``, a TinyDB or Mongo document).

        ``parse_time`` turns the store's time values into datetimes; ``fields`` give what the
        document does not hold (``config`` in its own file, ``metrics`` in another collection…) or
        holds in a store-specific form (``id``, ``artifacts``).
        """
        meta = doc.get("meta") or {}
        queue_time = doc.get("queue_time")
        if queue_time is None and isinstance(meta, Mapping):
            queue_time = meta.get("queue_time")
        values: dict[str, Any] = {
            "id": str(doc.get("_id")),
            "status": str(doc.get("status") or "UNKNOWN"),
            "experiment": doc.get("experiment") or {},
            "command": doc.get("command") or "main",
            "config": doc.get("config") or {},
            "meta": meta,
            "host": doc.get("host") or {},
            "start_time": parse_time(doc.get("start_time")),
            "stop_time": parse_time(doc.get("stop_time")),
            "heartbeat": parse_time(doc.get("heartbeat")),
            "queue_time": parse_time(queue_time),
            "result": doc.get("result"),
            "fail_trace": doc.get("fail_trace"),
            "info": doc.get("info") or {},
            "captured_out": doc.get("captured_out") or "",
            "artifacts": list(doc.get("artifacts") or []),
            "resources": [list(r) for r in doc.get("resources") or []],
            "store": store,
        }
        values.update(fields)
        return cls(**values)

    @property
    def experiment_name(self) -> str:
        return str(self.experiment.get("name", ""))

    def final_metrics(self) -> dict[str, Any]:
        """The last logged value of each metric."""
        return {name: m["values"][-1] for name, m in self.metrics.items() if m.get("values")}

    def metric_names(self) -> list[str]:
        """The names of the run's metrics (a lazy record may tell them without loading the series)."""
        return list(self.metrics)

    def effective_status(
        self, now: _dt.datetime | None = None, dead_after: _dt.timedelta = DEAD_AFTER
    ) -> str:
        """The stored status, or ``DEAD`` for a RUNNING run whose heartbeat is stale."""
        if self.status != "RUNNING":
            return self.status
        last = self.heartbeat or self.start_time
        if last is None:
            return self.status
        now = now or _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)
        return "DEAD" if now - last > dead_after else self.status


@runtime_checkable
class RunReader(Protocol):
    """What every store offers for reading back (observers implement it, or a reader class does)."""

    def list_runs(self) -> Iterator[RunRecord]:
        """All runs in the store, oldest first."""
        ...

    def load_run(self, run_id: Any) -> RunRecord:
        """One run by id; ``KeyError`` when there is none."""
        ...


@attrs.frozen
class RunTail:
    """The newest runs of a store and how many runs it holds: what a reader's optional
    ``last_runs(n)`` returns, so that ``sacredx runs --last N`` reads N runs, not the whole store.

    ``records`` are the last ``n`` runs in ``list_runs`` order (oldest first); ``total`` is the number
    of runs in the store, as well as the reader can tell without opening each one (a folder store
    counts its run folders).

    >>> RunTail([RunRecord(id="9", status="COMPLETED")], total=9).total
    9
    """

    records: list[RunRecord]
    total: int

    @classmethod
    def of(cls, records: list[RunRecord], n: int) -> RunTail:
        """The tail of a full listing (for a store that cannot read its last runs alone)."""
        return cls(records[-n:] if n else [], len(records))


def metric_series(
    metrics: Mapping[str, Mapping[str, Any]], parse_time: Callable[[Any], _dt.datetime | None]
) -> dict[str, dict[str, list[Any]]]:
    """Stored metrics as RunRecord holds them: lists, timestamps as datetimes where they parse."""
    return {
        str(name): {
            "steps": list(m.get("steps", [])),
            "values": list(m.get("values", [])),
            "timestamps": parse_timestamps(m.get("timestamps", []), parse_time),
        }
        for name, m in metrics.items()
    }


def parse_timestamps(values: Any, parse_time: Callable[[Any], _dt.datetime | None]) -> list[Any]:
    """A metric's stored timestamps as datetimes where they parse (``parse_time`` for the forms
    ``fromisoformat`` does not read), the others as they are.

    >>> parse_timestamps(["2024-01-02T03:04:05", "later"], lambda t: None)
    [datetime.datetime(2024, 1, 2, 3, 4, 5), 'later']
    """
    # Every store's parse_time reads a string with fromisoformat; calling it here directly saves a
    # Python call per point, which is most of the cost of listing runs with long metric series.
    fromiso = _dt.datetime.fromisoformat
    out: list[Any] = []
    append = out.append
    for t in values:
        if t.__class__ is str:
            try:
                append(fromiso(t))
                continue
            except ValueError:
                pass
        append(parse_time(t) or t)
    return out
