"""An observer that keeps runs in memory: for tests, notebooks and the ``memory:`` observer URI.

Every event is kept twice: verbatim in ``events`` (name and keyword arguments, for assertions about what
the engine sent) and folded into one run document per run in ``runs`` — the document every store builds
(:mod:`~pytest_sacredx.observers.document`, datetimes kept), so the memory store answers the store
contract exactly as the on-disk stores do; the raw payloads stay available in ``events``.

>>> import datetime as dt
>>> obs = MemoryObserver()
>>> t = dt.datetime(2024, 1, 1)
>>> obs.started_event({"name": "demo"}, "main", {}, t, {"lr": 0.1}, {}, None)
'1'
>>> obs.completed_event(t, result=(1, 2))
>>> rec = obs.load_run("1")
>>> rec.status, rec.result, rec.config
('COMPLETED', [1, 2], {'lr': 0.1})
>>> [name for name, _ in obs.events]
['started_event', 'completed_event']
"""

from __future__ import annotations

import datetime as _dt
import os
import threading
from collections.abc import Iterator
from typing import Any

from ..errors import RunIdExistsError, run_not_found
from . import document
from .base import RunObserver
from .record import RunRecord

__all__ = ["MemoryObserver"]


class MemoryObserver(RunObserver):
    """Keeps every run as a dict in ``runs`` (ids ``"1"``, ``"2"``, …) and every event in ``events``.

    It is also a :class:`~pytest_sacredx.observers.record.RunReader`: ``list_runs()``/``load_run(id)``.
    """

    priority = 0

    def __init__(self, priority: int = 0) -> None:
        self.priority = priority
        self.runs: list[dict[str, Any]] = []
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.current: dict[str, Any] | None = None
        self._by_id: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    # -- events ---------------------------------------------------------------------------------------

    def _new_run(self, _id: Any, doc: dict[str, Any]) -> str:
        with self._lock:
            if _id is None:
                run_id = str(len(self.runs) + 1)
                while run_id in self._by_id:  # a requested id may have taken the next number
                    run_id = str(int(run_id) + 1)
            else:
                run_id = str(_id)
                if run_id in self._by_id:
                    raise RunIdExistsError(
                        f"Run id {run_id!r} already exists in memory:; pass _id=None for a fresh id."
                    )
            run = {"_id": run_id, "metrics": {}, **doc}
            self.runs.append(run)
            self._by_id[run_id] = run
            self.current = run
        return run_id

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
        self.events.append(
            (
                "queued_event",
                dict(
                    ex_info=ex_info,
                    command=command,
                    host_info=host_info,
                    queue_time=queue_time,
                    config=config,
                    meta_info=meta_info,
                    _id=_id,
                ),
            )
        )
        doc = document.queued(
            ex_info, command, host_info, queue_time, config, meta_info, native_times=True
        )
        # meta is kept as given (as in every store); the record's queue time comes from the event
        return self._new_run(_id, {**doc, "queue_time": queue_time})

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
        self.events.append(
            (
                "started_event",
                dict(
                    ex_info=ex_info,
                    command=command,
                    host_info=host_info,
                    start_time=start_time,
                    config=config,
                    meta_info=meta_info,
                    _id=_id,
                ),
            )
        )
        doc = document.started(
            ex_info, command, host_info, start_time, config, meta_info, native_times=True
        )
        return self._new_run(_id, doc)

    def _run(self) -> dict[str, Any]:
        if self.current is None:
            raise RuntimeError("MemoryObserver got a run event before started_event/queued_event")
        return self.current

    def heartbeat_event(
        self, info: dict[str, Any], captured_out: str, beat_time: _dt.datetime, result: Any
    ) -> None:
        self.events.append(
            (
                "heartbeat_event",
                dict(info=info, captured_out=captured_out, beat_time=beat_time, result=result),
            )
        )
        self._run().update(
            document.heartbeat(info, captured_out, beat_time, result, native_times=True)
        )

    def completed_event(self, stop_time: _dt.datetime, result: Any) -> None:
        self.events.append(("completed_event", dict(stop_time=stop_time, result=result)))
        self._run().update(document.completed(stop_time, result, native_times=True))

    def interrupted_event(self, interrupt_time: _dt.datetime, status: str) -> None:
        self.events.append(
            ("interrupted_event", dict(interrupt_time=interrupt_time, status=status))
        )
        self._run().update(document.interrupted(interrupt_time, status, native_times=True))

    def failed_event(self, fail_time: _dt.datetime, fail_trace: list[str]) -> None:
        self.events.append(("failed_event", dict(fail_time=fail_time, fail_trace=fail_trace)))
        self._run().update(document.failed(fail_time, fail_trace, native_times=True))

    def resource_event(self, filename: str) -> None:
        self.events.append(("resource_event", dict(filename=filename)))
        entry = [os.fspath(filename), os.fspath(filename)]
        resources = self._run().setdefault("resources", [])
        if entry not in resources:
            resources.append(entry)

    def artifact_event(
        self,
        name: str,
        filename: str,
        metadata: dict[str, Any] | None = None,
        content_type: str | None = None,
    ) -> None:
        self.events.append(
            (
                "artifact_event",
                dict(name=name, filename=filename, metadata=metadata, content_type=content_type),
            )
        )
        artifacts = self._run().setdefault("artifacts", [])
        if name not in artifacts:
            artifacts.append(name)
        self._run().setdefault("artifact_files", {})[name] = os.fspath(filename)

    def log_metrics(self, metrics_by_name: dict[str, dict[str, Any]], info: dict[str, Any]) -> None:
        self.events.append(("log_metrics", dict(metrics_by_name=metrics_by_name, info=info)))
        metrics = self._run()["metrics"]
        for name, part in document.metrics_delta(metrics_by_name, native_times=True).items():
            stored = metrics.setdefault(name, {"steps": [], "values": [], "timestamps": []})
            for key in ("steps", "values", "timestamps"):
                stored[key].extend(part[key])

    def join(self) -> None:
        self.events.append(("join", {}))

    # -- reading back ---------------------------------------------------------------------------------

    def list_runs(self) -> Iterator[RunRecord]:
        """All runs, in the order they were started or queued."""
        for run in list(self.runs):
            yield document.to_record(run, store="memory:")

    def load_run(self, run_id: Any) -> RunRecord:
        """One run by id; :class:`~pytest_sacredx.errors.RunNotFoundError` when there is none."""
        run = self._by_id.get(str(run_id))
        if run is None:
            raise run_not_found(run_id, "memory:")
        return document.to_record(run, store="memory:")

    def load_artifact(self, run_id: Any, name: str) -> bytes:
        """The artifact's bytes as its file holds them now (memory: keeps names, not contents)."""
        filename = (self._by_id.get(str(run_id)) or {}).get("artifact_files", {}).get(name)
        if filename:
            try:
                with open(filename, "rb") as fh:
                    return fh.read()
            except OSError:
                pass
        raise KeyError((run_id, name))

    def __repr__(self) -> str:
        return f"MemoryObserver(runs={len(self.runs)})"
