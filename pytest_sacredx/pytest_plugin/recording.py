"""Every case is a recorded run: the session's observers, and pytest metadata in each run.

- ``--exp-observer URI`` (repeatable) or ini ``sacredx_observers`` (URIs split on whitespace and
  lines, as pytest's ``args`` ini values are; quote a path with spaces) choose the stores (URIs of
  ``pytest_sacredx.observers.from_uri``: ``file:DIR``, ``tinydb:DIR``, ``sqlite:///F``,
  ``postgresql+psycopg://…``, ``mongodb://…``, ``s3://bucket/prefix``, ``memory:``); the default is
  ``tinydb:<rootdir>/.sacredx``, the embedded store, beside ``.pytest_cache``. Observers given on the
  command line replace the default; ``--exp-observer none`` records nothing (the pytest spelling of a
  script's ``-u``). Observers attached to the experiment in its module (``ex.observers.append(…)``)
  record too.
- Before the first case runs, each local store is checked once (see ``stores``): a store that cannot
  be written is one usage error naming the URI and the fix. A store that fails later (a full disk) is
  given no more runs; the summary says so once, with the number of runs it missed.
- Each case's row names every store that recorded its run with the id *that* store gave it.
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

import attrs
import pytest

from ..errors import ObserverError, SacredxError
from ..redact import shown_value
from ..run.signals import Terminated
from .keys import (
    CASE_EXECUTOR,
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

__all__ = [
    "run_case",
    "case_request",
    "CaseRequest",
    "session_observers",
    "store_names",
    "observer_uris",
    "StoreFailedError",
]

#: (URI as given, observer) of each session store built from a URI
_STORES = pytest.StashKey[list[tuple[str, Any]]]()
#: id(observer) -> what went wrong with that session store during this session
_WATCH = pytest.StashKey[dict[int, Any]]()
_CHECKED = pytest.StashKey[bool]()


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
    parser.addini("sacredx_observers", "Observer URIs recording every case (whitespace or lines "
                  "between them).", type="args", default=[])
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


def _uri_origin(config: pytest.Config) -> str:
    if config.getoption("sacredx_observers"):
        return "--exp-observer"
    if config.getini("sacredx_observers"):
        from .ini import ini_origin

        return f"sacredx_observers in {ini_origin(config, 'sacredx_observers')}:"
    return "the default store"


def pytest_configure(config: pytest.Config) -> None:
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and "sacredx_sweep_id" in workerinput:
        config.stash[SWEEP_ID] = workerinput["sacredx_sweep_id"]
    elif SWEEP_ID not in config.stash:  # shard.py sets it first from --exp-sweep-id or the CI's run id
        config.stash[SWEEP_ID] = uuid.uuid4().hex[:12]
    from ..observers.uri import from_uri
    from .stores import StoreWatch

    observers: list[Any] = []
    stores: list[tuple[str, Any]] = []
    for uri in observer_uris(config):
        if uri.strip().lower() == "none":
            continue
        try:
            observer = from_uri(uri)
        except (SacredxError, ImportError, ValueError) as e:
            raise pytest.UsageError(f"{_uri_origin(config)} {uri!r}: {e}") from None
        if observer is not None:
            observers.append(observer)
            stores.append((uri, observer))
    for extra in config.hook.pytest_sacredx_make_observers(config=config):
        observers.extend(extra or ())
    config.stash[OBSERVERS] = observers
    config.stash[_STORES] = stores
    config.stash[_WATCH] = {id(o): StoreWatch(_display_name(config, uri)) for uri, o in stores}


def check_session_stores(config: pytest.Config) -> None:
    """Check the session's stores once, before the first case runs: a store that cannot be written is
    one usage error naming the URI and the fix."""
    if config.stash.get(_CHECKED, False):
        return
    config.stash[_CHECKED] = True
    from .stores import check_stores

    problems = check_stores(config.stash.get(_STORES, []))
    if not problems:
        return
    problem = problems[0]
    origin = _uri_origin(config)
    shown = _display_name(config, problem.uri)
    where = f"{origin} {shown!r}" if origin != "the default store" else f"the default store {shown}"
    raise pytest.UsageError(
        f"{where} cannot record runs: {problem.reason}. Fix the folder, choose a writable store "
        "(--exp-observer tinydb:DIR, or ini sacredx_observers), or record nothing with --exp-observer none."
    )


@pytest.hookimpl(trylast=True)  # after the sweep's own checks, so a wrong sweep is reported first
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    from .keys import EXPERIMENT

    if not any(EXPERIMENT in item.stash or "exp_run" in getattr(item, "fixturenames", ()) for item in items):
        return  # no case will run: a store nobody uses is nobody's problem
    try:
        check_session_stores(config)
    except pytest.UsageError as e:
        if not hasattr(config, "workerinput"):
            raise
        from .collect import SweepErrorItem

        items[:] = [SweepErrorItem.from_parent(session, name="sacredx-usage-error", message=str(e))]


def session_observers(config: pytest.Config) -> list[Any]:
    return config.stash[OBSERVERS]


_STORE_NAMES = pytest.StashKey[str]()


def store_names(config: pytest.Config) -> str:
    """The session's stores, for the header (passwords hidden, paths relative)."""
    names = config.stash.get(_STORE_NAMES, None)
    if names is None:
        uris = [u for u in observer_uris(config) if u.strip().lower() != "none"]
        names = ", ".join(_display_name(config, u) for u in uris) or "not recorded"
        config.stash[_STORE_NAMES] = names
    return names


def _display_name(config: pytest.Config, uri: str) -> str:
    """A store URI as the summary prints it: password hidden, paths under the rootdir relative (so
    ``sacredx show ID --store NAME`` run from the rootdir finds it)."""
    try:
        from ..redact import redact_url
    except ImportError:  # pragma: no cover
        return uri
    root = str(config.rootpath) + os.sep
    return redact_url(uri.strip()).replace(root, "")


def _run_stores(config: pytest.Config, run: Run, session: list[Any]) -> list[list[str]]:
    """[[store name, run id in that store], …]: the session's stores in their order, then the
    experiment's own; only stores that recorded the run to its end."""
    from .stores import store_uri

    names = {id(o): _display_name(config, uri) for uri, o in config.stash.get(_STORES, [])}
    failed = {id(o) for o in run._failed_observers}
    order = {id(o): i for i, o in enumerate(session)}
    recorded = [(o, i) for o, i in run.observer_ids if id(o) not in failed and i is not None]
    recorded.sort(key=lambda oi: order.get(id(oi[0]), len(order)))
    return [[names.get(id(o)) or _display_name(config, store_uri(o)), str(i)] for o, i in recorded]


@attrs.frozen
class CaseRequest:
    """What one run of a case is asked for: computed the same way for a local run and for a run an
    executor sends elsewhere (``--exp-executor``), possibly ahead of the item's turn."""

    updates: dict[str, Any]
    named: tuple[str, ...]
    seed: int
    case_id: str
    meta: dict[str, Any]
    options: dict[str, Any]


def case_request(
    item: pytest.Item, variant: Variant, extra_updates: dict[str, Any] | None = None, *, record: bool = True
) -> CaseRequest:
    """The config updates, seed, meta info and run options of the case ``item`` (see :func:`run_case`)."""
    from .seeding import case_seed

    config = item.config
    updates = variant.config_updates
    if extra_updates:
        updates.update(extra_updates)
    seed = updates["seed"] if "seed" in updates else case_seed(item)  # the run checks a fixed one
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
    return CaseRequest(updates, tuple(variant.named), seed, case_id, meta, options)


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
    config = item.config
    if record is None:
        record = not item.stash.get(SCRATCH_RUNS, False)
    request = case_request(item, variant, extra_updates, record=record)
    updates, case_id = request.updates, request.case_id
    try:
        run = experiment._create_run(
            config_updates=updates or None,
            named_configs=request.named,
            meta_info=request.meta,
            options=request.options,
        )
    except SacredxError as e:
        raise CaseSetupError(str(e)) from None
    if info:
        run.info.update(info)
    if not record:
        item.stash[LAST_SCRATCH] = CaseRun(experiment, variant, extra_updates, run)
        run()
        return run
    check_session_stores(config)  # once; a no-op after collection checked them
    watch = config.stash.get(_WATCH, {})
    session = [o for o in session_observers(config) if not getattr(watch.get(id(o)), "stopped", False)]
    skipped = [watch[id(o)] for o in session_observers(config) if getattr(watch.get(id(o)), "stopped", False)]
    run.observers = [*session, *run.observers]
    run._finish_callbacks.append(_record_outcome)
    item.stash.setdefault(CASE_RUNS, []).append(CaseRun(experiment, variant, extra_updates, run))
    item.ihook.pytest_sacredx_run_started(item=item, run=run)
    start = time.perf_counter()
    start_error: ObserverError | None = None
    execute = config.stash.get(CASE_EXECUTOR, None)
    try:
        if execute is None:
            run()
        else:  # --exp-executor: the run executes elsewhere and its events are replayed here
            execute(item, experiment, request, run)
    except ObserverError as e:
        if len(run.observer_ids) == len(run.observers):
            raise  # every store took the start: not a store's refusal
        start_error = e  # a store refused the start: nothing ran
    except Terminated as e:
        # SIGTERM: the run is recorded INTERRUPTED. Stop the session as pytest stops on Ctrl-C (its
        # summary, its hooks), keeping the exit status a SIGTERM gives (143); Ctrl-C itself raises
        # KeyboardInterrupt, which pytest handles as always.
        pytest.exit(f"{e}: the run of {case_id} ended {run.status}", returncode=143)
    finally:
        duration = time.perf_counter() - start
        problems = _watch_stores(config, run, session, skipped, case_id, start_error)
        stores = _run_stores(config, run, session)
        item.stash[CASE_RESULT] = CaseResult(
            case_id=case_id,
            status=run.status or "FAILED",
            seed=run.seed,  # what the run used: a named config or config scope may fix the seed too
            run_id=stores[0][1] if stores else None,
            result=_short(run.result),
            metrics=dict(run.final_metrics),
            duration=duration,
            store=stores[0][0] if stores else "not recorded",
            config_changes={k: shown_value(k, v) for k, v in updates.items()},  # for reports
            stores=stores,
            store_problems=problems,
        )
        item.ihook.pytest_sacredx_run_finished(item=item, run=run)
    if start_error is not None:
        from .stores import store_uri

        refused = _refused(run)
        name = _display_name(config, store_uri(refused)) if refused is not None else "a store"
        raise StoreFailedError(
            f"{name} could not record the start of this case's run ({start_error.__cause__ or start_error}), "
            "so the case did not run. Fix the store, choose another with --exp-observer URI, or record "
            "nothing with --exp-observer none."
        ) from None
    return run


def _refused(run: Run) -> Any:
    started = {id(o) for o, _ in run.observer_ids}
    return next((o for o in run.observers if id(o) not in started), None)


class StoreFailedError(SacredxError, OSError):
    """A store refused the start of a case's run."""


def _watch_stores(
    config: pytest.Config, run: Run, session: list[Any], skipped: list[Any], case_id: str,
    start_error: BaseException | None,
) -> list[str]:
    """Note session stores that failed during this run (once per store: later runs skip a store that
    will not take them), and return one line per store that did not record this run in full."""
    from .stores import folder_of, is_lasting, problem_with_folder

    watch = config.stash.get(_WATCH, {})
    failed = [o for o in session if o in run._failed_observers]
    if start_error is not None:
        refused = _refused(run)
        failed += [o for o in session if o is refused and o not in failed]
    for observer in failed:
        state = watch.get(id(observer))
        if state is None:
            continue
        state.missed += 1
        if state.stopped:
            continue
        folder = folder_of(observer)
        reason = problem_with_folder(folder) if folder is not None else None
        cause = start_error.__cause__ if start_error is not None else None
        if reason is None and cause is not None and is_lasting(cause):
            reason = f"{type(cause).__name__}: {cause}"
        if reason is not None:  # a store that cannot take the next run either
            state.stopped = True
            state.reason = reason
            state.first_case = case_id
    for state in skipped:
        state.missed += 1
    return [
        f"{state.name}: {state.reason}" if state.reason else state.name
        for state in (*(watch[id(o)] for o in failed if id(o) in watch), *skipped)
    ]


class CaseSetupError(SacredxError):
    """A case's run could not be created (bad config for this variant)."""


def _record_outcome(run: Run, status: str) -> None:
    run.info.setdefault("pytest", {})["outcome"] = "passed" if status == "COMPLETED" else "failed"


def _short(value: Any, limit: int = 60) -> Any:
    from ..serialize import to_jsonable

    value = to_jsonable(value)
    text = repr(value)
    return value if len(text) <= limit else text[: limit - 1] + "…"
