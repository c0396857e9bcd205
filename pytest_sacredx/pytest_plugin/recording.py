"""Every case is a recorded run: the session's observers, and pytest metadata in each run.

- ``--exp-observer URI`` (repeatable) or ini ``sacredx_observers`` choose the stores (URIs of
  ``pytest_sacredx.observers.from_uri``: ``file:DIR``, ``tinydb:DIR``, ``sqlite:///F``,
  ``postgresql+psycopg://…``, ``mongodb://…``, ``s3://bucket/prefix``, ``memory:``); the default is
  ``tinydb:<rootdir>/.sacredx``, the embedded store, beside ``.pytest_cache``. Observers given on the
  command line replace the default; ``--exp-observer none`` records nothing. Observers attached to the
  experiment in its module (``ex.observers.append(…)``) record too.
- Each run's ``meta_info["pytest"]`` holds the node id, case id, session and case seeds, the sweep id
  shared by all workers of one session and the xdist worker id; ``info["pytest"]["outcome"]`` says how
  the case ended.
- Output is captured in ``sys`` mode: it tees into whatever ``sys.stdout`` is, which under pytest is
  pytest's own capture — no second fd capture fights pytest's, and ``-s`` still shows everything.
"""

from __future__ import annotations

import os
import time
import uuid
from typing import TYPE_CHECKING, Any

import pytest

from ..errors import SacredxError
from .keys import (
    CASE_ID,
    CASE_RESULT,
    CASE_RUNS,
    LAST_SCRATCH,
    OBSERVERS,
    SCRATCH_RUNS,
    SESSION_SEED,
    SWEEP_ID,
    CaseResult,
    CaseRun,
)

if TYPE_CHECKING:
    from ..experiment import Experiment
    from ..run.run import Run
    from .sweep import Variant

__all__ = ["run_case", "session_observers", "store_names", "observer_uris"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sacredx", "experiments (pytest-sacredx)")
    group.addoption(
        "--exp-observer",
        dest="sacredx_observers",
        action="append",
        default=[],
        metavar="URI",
        help="Record every case here (repeatable): file:DIR, tinydb:DIR, sqlite:///F, mongodb://…, "
        "s3://bucket/prefix, memory:, or none. Default: tinydb:<rootdir>/.sacredx.",
    )
    group.addoption(
        "--exp-capture",
        dest="sacredx_capture",
        default=None,
        choices=("no", "sys", "fd"),
        help="How a case's output is captured into its run (default: sys, which cooperates with "
        "pytest's capture).",
    )
    parser.addini("sacredx_observers", "Observer URIs recording every case, one per line.",
                  type="linelist", default=[])
    group.addoption(
        "--exp-beat-interval",
        dest="sacredx_beat_interval",
        default=None,
        metavar="SECONDS",
        help="Seconds between a running case's heartbeats (default 10; 0 sends only the last one).",
    )
    parser.addini("sacredx_capture", "Default of --exp-capture.", default="sys")
    parser.addini("sacredx_beat_interval", "Default of --exp-beat-interval.", default=None)


def observer_uris(config: pytest.Config) -> list[str]:
    """The session's store URIs as given (the default store when none is), including 'none'."""
    uris = config.getoption("sacredx_observers") or config.getini("sacredx_observers")
    if not uris:
        return [f"tinydb:{config.rootpath / '.sacredx'}"]
    return list(uris)


def pytest_configure(config: pytest.Config) -> None:
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and "sacredx_sweep_id" in workerinput:
        config.stash[SWEEP_ID] = workerinput["sacredx_sweep_id"]
    else:
        config.stash[SWEEP_ID] = uuid.uuid4().hex[:12]
    from ..observers.uri import from_uri

    observers: list[Any] = []
    for uri in observer_uris(config):
        if uri.strip().lower() == "none":
            continue
        try:
            observer = from_uri(uri)
        except (SacredxError, ImportError, ValueError) as e:
            raise pytest.UsageError(f"--exp-observer {uri!r}: {e}") from None
        if observer is not None:
            observers.append(observer)
    for extra in config.hook.pytest_sacredx_make_observers(config=config):
        observers.extend(extra or ())
    config.stash[OBSERVERS] = observers


def session_observers(config: pytest.Config) -> list[Any]:
    return config.stash[OBSERVERS]


_STORE_NAMES = pytest.StashKey[str]()


def store_names(config: pytest.Config) -> str:
    """The session's stores, for the header and the summary (passwords hidden, paths relative)."""
    names = config.stash.get(_STORE_NAMES, None)
    if names is None:
        names = config.stash[_STORE_NAMES] = _store_names(config)
    return names


def _store_names(config: pytest.Config) -> str:
    uris = [u for u in observer_uris(config) if u.strip().lower() != "none"]
    if not uris:
        return "not recorded"
    try:
        from ..observers.redact import redact_url
    except ImportError:  # pragma: no cover
        return ", ".join(uris)
    root = str(config.rootpath) + os.sep
    return ", ".join(redact_url(u).replace(root, "") for u in uris)


def run_case(
    item: pytest.Item,
    experiment: Experiment,
    variant: Variant,
    extra_updates: dict[str, Any] | None = None,
    *,
    record: bool | None = None,
    info: dict[str, Any] | None = None,
) -> Run:
    """Run ``experiment`` as the case ``item``: its variant, its seed, the session's observers.

    ``record=False`` makes a scratch run: same config and seed, but unobserved, no hooks, no summary
    row (a determinism check's second run, a hypothesis example); ``None`` means recorded unless the
    item's stash says its runs are scratch runs (``SCRATCH_RUNS``). ``info`` is merged into
    ``run.info`` before the run starts.
    """
    from .seeding import case_seed

    config = item.config
    if record is None:
        record = not item.stash.get(SCRATCH_RUNS, False)
    updates = variant.config_updates
    if extra_updates:
        updates.update(extra_updates)
    seed = int(updates["seed"]) if "seed" in updates else case_seed(item)
    case_id = item.stash.get(CASE_ID, item.nodeid)
    meta = {
        "pytest": {
            "nodeid": item.nodeid,  # as pytest shows it now (xdist's loadgroup appends @group)
            "case_id": case_id,  # as collected: what the case seed derives from
            "session_seed": config.stash[SESSION_SEED],
            "case_seed": seed,
            "sweep_id": config.stash[SWEEP_ID],
            "worker": getattr(config, "workerinput", {}).get("workerid", "master"),
        }
    }
    capture = config.getoption("sacredx_capture") or config.getini("sacredx_capture") or "sys"
    options: dict[str, Any] = {"--seed": seed, "--capture": capture}
    beat = config.getoption("sacredx_beat_interval") or config.getini("sacredx_beat_interval")
    if beat is not None and beat != "":
        options["--beat-interval"] = str(beat)  # a string, so "0" still counts (Sacred's rule)
    if not record:
        options["--unobserved"] = True
    try:
        run = experiment._create_run(
            config_updates=updates or None,
            named_configs=variant.named,
            meta_info=meta,
            options=options,
        )
    except SacredxError as e:
        raise CaseSetupError(str(e)) from None
    if info:
        run.info.update(info)
    if not record:
        item.stash[LAST_SCRATCH] = CaseRun(experiment, variant, extra_updates, run)
        run()
        return run
    run.observers = [*session_observers(config), *run.observers]
    run._finish_callbacks.append(_record_outcome)
    item.stash.setdefault(CASE_RUNS, []).append(CaseRun(experiment, variant, extra_updates, run))
    item.ihook.pytest_sacredx_run_started(item=item, run=run)
    start = time.perf_counter()
    try:
        run()
    finally:
        duration = time.perf_counter() - start
        item.stash[CASE_RESULT] = CaseResult(
            case_id=case_id,
            status=run.status or "FAILED",
            seed=seed,
            run_id=None if run._id is None else str(run._id),
            result=_short(run.result),
            metrics=dict(run.final_metrics),
            duration=duration,
            store=store_names(config),
            config_changes=updates,
        )
        item.ihook.pytest_sacredx_run_finished(item=item, run=run)
    return run


class CaseSetupError(SacredxError):
    """A case's run could not be created (bad config for this variant)."""


def _record_outcome(run: Run, status: str) -> None:
    run.info.setdefault("pytest", {})["outcome"] = "passed" if status == "COMPLETED" else "failed"


def _short(value: Any, limit: int = 60) -> Any:
    from ..serialize import to_jsonable

    value = to_jsonable(value)
    text = repr(value)
    return value if len(text) <= limit else text[: limit - 1] + "…"
