"""The observer interface: Sacred's event methods, every one optional.

A run calls these in this order: ``started_event`` (or ``queued_event`` for ``--queue``), then any number
of ``heartbeat_event`` / ``log_metrics`` / ``artifact_event`` / ``resource_event``, then one final
heartbeat, then exactly one of ``completed_event``, ``interrupted_event``, ``failed_event``, then ``join``.

Payloads (all times are naive UTC ``datetime``):

- ``ex_info``: ``{name, base_dir, sources: [(relative path, md5)], dependencies: ["pkg==1.0"],
  repositories: [{url, commit, dirty}], mainfile}``
- ``host_info``: ``{hostname, os: [system, platform], python_version, cpu, gpus?, ENV}``
- ``meta_info``: ``{command, options, named_configs, config_updates?, comment?, priority?, ...}``
- ``config``: the final config dict; ``result``: the main function's return value (any type)
- ``metrics_by_name``: ``{name: {"name", "steps": [...], "values": [...], "timestamps": [datetime]}}``,
  only the entries logged since the previous call
- ``captured_out``: the whole (filtered) output so far, not a delta; ``fail_trace``: list of strings

An observer may also define ``final_heartbeat_event`` (same arguments as ``heartbeat_event``): the run
then calls it instead of ``heartbeat_event`` for its last beat, which the terminal event follows at
once — so a store can skip a write the terminal event repeats. Observers without it get a normal beat.

``started_event``/``queued_event`` receive ``_id`` (None, or an id the user asked for) and return the id
they stored the run under; the first non-None answer becomes ``run._id``. An exception there stops the run;
later events are isolated (a failing observer is warned about once and skipped from then on).

>>> class Printer(RunObserver):
...     def completed_event(self, stop_time, result):
...         print("done:", result)
"""

from __future__ import annotations

import datetime as _dt
import warnings
from typing import Any

from ..artifacts import RESERVED_ARTIFACT_NAMES, check_artifact_name
from ..logs import td_format

__all__ = ["RunObserver", "td_format", "check_artifact_name", "RESERVED_ARTIFACT_NAMES", "deprecated_create"]


class RunObserver:
    """Base class for observers; subclass it and override the events you need."""

    priority: int = 0

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
        pass

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
        pass

    def heartbeat_event(
        self, info: dict[str, Any], captured_out: str, beat_time: _dt.datetime, result: Any
    ) -> None:
        pass

    def completed_event(self, stop_time: _dt.datetime, result: Any) -> None:
        pass

    def interrupted_event(self, interrupt_time: _dt.datetime, status: str) -> None:
        pass

    def failed_event(self, fail_time: _dt.datetime, fail_trace: list[str]) -> None:
        pass

    def resource_event(self, filename: str) -> None:
        pass

    def artifact_event(
        self,
        name: str,
        filename: str,
        metadata: dict[str, Any] | None = None,
        content_type: str | None = None,
    ) -> None:
        pass

    def log_metrics(self, metrics_by_name: dict[str, dict[str, Any]], info: dict[str, Any]) -> None:
        pass

    def join(self) -> None:
        pass


def deprecated_create(cls: type[Any], *args: Any, **kwargs: Any) -> Any:
    """Sacred's deprecated ``Observer.create(...)``: warns at the caller's line, then constructs."""
    warnings.warn(
        f"{cls.__name__}.create(...) is deprecated; use {cls.__name__}(...) instead.",
        DeprecationWarning,
        stacklevel=3,
    )
    return cls(*args, **kwargs)
