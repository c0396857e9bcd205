"""Stash keys and small records shared by the plugin modules (one place, so no module imports another
just for a key)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs
import pytest

if TYPE_CHECKING:
    from ..experiment import Experiment
    from ..run.run import Run
    from .sweep import Variant

__all__ = [
    "CASE_EXECUTOR",
    "CASE_ID",
    "CASE_RESULT",
    "SESSION_SEED",
    "SWEEP_ID",
    "OBSERVERS",
    "VARIANT",
    "EXPERIMENT",
    "CASE_RUNS",
    "ACTIVE",
    "SCRATCH_RUNS",
    "LAST_SCRATCH",
    "SEED_COUNT",
    "CaseResult",
    "CaseRun",
]

#: the item's node id at collection time: xdist's ``--dist loadgroup`` appends ``@group`` later
CASE_ID = pytest.StashKey[str]()
#: what the case's run gave, for the report and the summary
CASE_RESULT = pytest.StashKey["CaseResult"]()
SESSION_SEED = pytest.StashKey[int]()
SWEEP_ID = pytest.StashKey[str]()
OBSERVERS = pytest.StashKey[list[Any]]()
#: the case's variant and experiment (experiment items, and tests marked ``@pytest.mark.experiment``)
VARIANT = pytest.StashKey["Variant"]()
EXPERIMENT = pytest.StashKey["Experiment"]()
#: True once this session has experiment cases: collected here, or reported by xdist workers. Until
#: then the plugin stays out of the way (no header line, no remembered seed).
ACTIVE = pytest.StashKey[bool]()
#: the recorded runs of this case, in order (a test may call ``exp_run`` more than once)
CASE_RUNS = pytest.StashKey[list["CaseRun"]]()
#: True while the runs of this item are scratch runs: not recorded, no summary row (hypothesis examples)
SCRATCH_RUNS = pytest.StashKey[bool]()
#: N of ``--exp-seeds N`` (0 without a seed sweep): each variant becomes N cases
SEED_COUNT = pytest.StashKey[int]()
#: the last scratch run of this item and what it was asked for (to record a falsifying example)
LAST_SCRATCH = pytest.StashKey["CaseRun"]()
#: ``--exp-executor``: ``execute(item, experiment, request, run)`` runs a recorded case's run elsewhere
#: and replays its events into ``run.observers`` (in place of calling ``run()``)
CASE_EXECUTOR = pytest.StashKey[Callable[..., None]]()


@attrs.define
class CaseResult:
    """The summary of one case's run, as it travels on the report (JSON-safe)."""

    case_id: str
    status: str
    seed: int
    run_id: str | None = None
    result: Any = None
    metrics: dict[str, Any] = attrs.field(factory=dict)
    duration: float = 0.0
    #: the first store that recorded the run (``run_id`` is that store's id), or "not recorded"
    store: str = ""
    config_changes: dict[str, Any] = attrs.field(factory=dict)
    #: every store that recorded the run to its end: [[store URI, run id in that store], …]
    stores: list[list[str]] = attrs.field(factory=list)
    #: one line per session store that did not record this run in full ("tinydb:.sacredx: disk full")
    store_problems: list[str] = attrs.field(factory=list)

    def to_json(self) -> dict[str, Any]:
        from ..serialize import to_jsonable

        return to_jsonable(attrs.asdict(self))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CaseResult:
        names = {f.name for f in attrs.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@attrs.frozen
class CaseRun:
    """One recorded run of a case and what it was asked for, so a check can run the same case again."""

    experiment: Experiment
    variant: Variant
    extra_updates: dict[str, Any] | None
    run: Run
