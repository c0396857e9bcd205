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
from collections.abc import Iterator
from typing import Any, Protocol, runtime_checkable

import attrs

__all__ = ["RunRecord", "RunReader", "STATUSES", "DEAD_AFTER"]

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

    @property
    def experiment_name(self) -> str:
        return str(self.experiment.get("name", ""))

    def final_metrics(self) -> dict[str, Any]:
        """The last logged value of each metric."""
        return {name: m["values"][-1] for name, m in self.metrics.items() if m.get("values")}

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
