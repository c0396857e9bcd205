"""Shards: one sweep split over N pytest processes (the CI matrix is the cluster).

- ``--exp-shard I/N`` (ini ``sacredx_shard``, environment ``PYTEST_SACREDX_SHARD``; shards are numbered
  1…N): this process runs the items of shard I and deselects the others, as ``-k`` does. An item belongs
  to shard ``blake2b(case id) mod N`` — the case id is the node id taken at collection, so the split is
  the same on every machine, Python version and collection order, and every item is in exactly one
  shard. ``--exp-shard-by duration`` (ini ``sacredx_shard_by``) balances the shards by each case's
  duration in earlier sweeps of the session's first store (no durations file to keep); cases the store
  has not seen keep their hash shard.
- One sweep across shards: every shard must draw the seeds one machine would draw, and the store must
  know which runs form the sweep. ``--exp-sweep-id ID`` (environment ``PYTEST_SACREDX_SWEEP_ID``) names
  the sweep; the session seed then derives from it unless ``--exp-seed`` gives one. Sharded without a
  sweep id, the id comes from the CI's run id (``GITHUB_RUN_ID`` → ``gh-<id>``, ``CI_PIPELINE_ID`` →
  ``gl-<id>``, …); with none of these a sharded session is a usage error, because its shards would
  record unrelated sweeps.
- Each run records ``meta.pytest.session`` (one id per pytest invocation, shared by its xdist workers)
  and, when sharded, ``meta.pytest.shard``: ``{"index", "count", "by", "plan"}``, where ``plan`` is a
  fingerprint of the whole split — shards that disagree about it split different case lists.
- ``--exp-list-cases FILE`` writes the case ids this session selected, one per line (with
  ``--collect-only``, the list ``sacredx check-sweep --expect-cases FILE`` expects).

Example (two CI jobs and a check)::

    $ pytest exp_train.py --exp-shard 1/2 --exp-sweep-id nightly-7 --exp-observer postgresql+psycopg://…
    $ pytest exp_train.py --exp-shard 2/2 --exp-sweep-id nightly-7 --exp-observer postgresql+psycopg://…
    $ pytest exp_train.py --collect-only -q --exp-list-cases cases.txt
    $ sacredx check-sweep nightly-7 --expect-cases cases.txt --store postgresql+psycopg://…
"""

from __future__ import annotations

import hashlib
import os
import re
import statistics
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import attrs
import pytest

from ..run.seeding import derive_seed
from .keys import CASE_ID, EXPERIMENT, SWEEP_ID

__all__ = [
    "Shard",
    "parse_shard",
    "shard_of",
    "assign_shards",
    "plan_fingerprint",
    "case_durations",
    "ci_sweep_id",
    "seed_from_sweep_id",
]

ShardBy = Literal["hash", "duration"]

SHARD_ENV = "PYTEST_SACREDX_SHARD"
SWEEP_ENV = "PYTEST_SACREDX_SWEEP_ID"

#: CI run ids that name one sweep across the jobs of one pipeline run (a re-run keeps them)
CI_RUN_IDS: tuple[tuple[str, str], ...] = (
    ("GITHUB_RUN_ID", "gh"),
    ("CI_PIPELINE_ID", "gl"),
    ("BUILDKITE_BUILD_ID", "bk"),
    ("CIRCLE_WORKFLOW_ID", "circle"),
    ("BUILD_BUILDID", "azure"),
)

SHARD = pytest.StashKey["Shard | None"]()
SESSION_ID = pytest.StashKey[str]()
_DURATIONS = pytest.StashKey[dict[str, float]]()
_PLAN = pytest.StashKey[str]()
_COUNTS = pytest.StashKey[tuple[int, int]]()


@attrs.frozen
class Shard:
    """Shard ``index`` (1-based) of ``count``.

    >>> parse_shard("2/3")
    Shard(index=2, count=3)
    """

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


_SHARD_RE = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*\Z")


def parse_shard(text: str, source: str = "--exp-shard") -> Shard:
    """``"I/N"`` → :class:`Shard`; a ``ValueError`` naming the mistake otherwise.

    >>> parse_shard("0/2")
    Traceback (most recent call last):
    ...
    ValueError: --exp-shard 0/2: shards are numbered 1…N; give I/N with 1 <= I <= N, e.g. 1/2.
    """
    m = _SHARD_RE.match(text)
    if m is None:
        raise ValueError(f"{source} {text!r}: expected I/N (shard I of N, numbered from 1), e.g. 1/2.")
    index, count = int(m.group(1)), int(m.group(2))
    if count < 1:
        raise ValueError(f"{source} {text}: N must be at least 1, e.g. 1/2.")
    if not 1 <= index <= count:
        raise ValueError(f"{source} {text}: shards are numbered 1…N; give I/N with 1 <= I <= N, e.g. 1/{count}.")
    return Shard(index, count)


def shard_of(key: str, count: int) -> int:
    """The 1-based hash shard of a case id: BLAKE2b, so it is the same in every process and version.

    >>> shard_of("exp_train.py::train[lr=0.1]", 4) == shard_of("exp_train.py::train[lr=0.1]", 4)
    True
    """
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count + 1


def assign_shards(
    keys: Iterable[str], count: int, durations: Mapping[str, float] | None = None
) -> dict[str, int]:
    """Each case id's shard (1…count). Without ``durations``: the hash shard. With them: cases of unknown
    duration keep their hash shard (counted at the median known duration), then the known cases go,
    longest first, to the least loaded shard (lowest index on ties) — the same answer for the same keys
    and durations in any order.

    >>> assign_shards(["a", "b", "c"], 2, {"a": 5.0, "b": 3.0, "c": 2.0})
    {'a': 1, 'b': 2, 'c': 2}
    """
    unique = sorted(set(keys))
    if not durations:
        return {k: shard_of(k, count) for k in unique}
    known = {k: float(durations[k]) for k in unique if k in durations}
    estimate = statistics.median(known.values()) if known else 0.0
    loads = [0.0] * (count + 1)
    plan: dict[str, int] = {}
    for k in unique:
        if k not in known:
            plan[k] = shard_of(k, count)
            loads[plan[k]] += estimate
    for k in sorted(known, key=lambda k: (-known[k], k)):
        target = min(range(1, count + 1), key=lambda i: (loads[i], i))
        plan[k] = target
        loads[target] += known[k]
    return {k: plan[k] for k in unique}


def plan_fingerprint(plan: Mapping[str, int]) -> str:
    """Eight hex digits naming a split: equal on every shard that split the same cases the same way."""
    text = "\n".join(f"{k}\t{plan[k]}" for k in sorted(plan))
    return hashlib.blake2b(text.encode("utf-8"), digest_size=4).hexdigest()


def case_durations(records: Iterable[Any], exclude_sweep: str | None = None, last: int = 3) -> dict[str, float]:
    """Seconds per case id: the median of its last ``last`` COMPLETED runs (oldest first in ``records``)
    outside the sweep ``exclude_sweep``, rounded to milliseconds so that every shard computes the same
    table from the same runs."""
    seen: dict[str, list[float]] = {}
    for rec in records:
        meta = (rec.meta or {}).get("pytest") or {}
        case_id = meta.get("case_id")
        if not case_id or rec.status != "COMPLETED" or meta.get("sweep_id") == exclude_sweep:
            continue
        if rec.start_time is None or rec.stop_time is None:
            continue
        seen.setdefault(case_id, []).append((rec.stop_time - rec.start_time).total_seconds())
    return {k: round(statistics.median(v[-last:]), 3) for k, v in seen.items()}


def ci_sweep_id(environ: Mapping[str, str]) -> str | None:
    """The sweep id a CI run gives all its jobs, or None outside CI.

    >>> ci_sweep_id({"GITHUB_RUN_ID": "123"})
    'gh-123'
    """
    for var, prefix in CI_RUN_IDS:
        value = environ.get(var, "").strip()
        if value:
            return f"{prefix}-{value}"
    return None


def seed_from_sweep_id(sweep_id: str) -> int:
    """The session seed of a sweep whose seed was not given: the same on every shard."""
    return derive_seed(0, f"sweep/{sweep_id}")


# ----------------------------------------------------------------------------------------- hooks
def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sacredx", "experiments (pytest-sacredx)")
    group.addoption(
        "--exp-shard",
        dest="sacredx_shard",
        default=None,
        metavar="I/N",
        help=f"Run shard I of N (numbered from 1) and deselect the other items; also ${SHARD_ENV}.",
    )
    group.addoption(
        "--exp-shard-by",
        dest="sacredx_shard_by",
        default=None,
        choices=("hash", "duration"),
        help="hash (default): a case's shard is a hash of its id; duration: balance the shards by the "
        "cases' durations in earlier sweeps of the store.",
    )
    group.addoption(
        "--exp-sweep-id",
        dest="sacredx_sweep_id",
        default=None,
        metavar="ID",
        help=f"Name this session's sweep (shared by shards; the session seed derives from it unless "
        f"--exp-seed gives one); also ${SWEEP_ENV}. Sharded CI runs default to the CI's run id.",
    )
    group.addoption(
        "--exp-list-cases",
        dest="sacredx_list_cases",
        default=None,
        metavar="FILE",
        help="Write the selected experiment cases' ids to FILE, one per line (with --collect-only: the "
        "list sacredx check-sweep --expect-cases reads).",
    )
    parser.addini("sacredx_shard", "Default of --exp-shard (I/N).", default=None)
    parser.addini("sacredx_shard_by", "Default of --exp-shard-by (hash or duration).", default=None)


def _shard_setting(config: pytest.Config) -> Shard | None:
    for source, value in (
        ("--exp-shard", config.getoption("sacredx_shard")),
        (f"${SHARD_ENV}", os.environ.get(SHARD_ENV)),
        ("sacredx_shard", config.getini("sacredx_shard")),
    ):
        if value not in (None, ""):
            try:
                return parse_shard(str(value), source)
            except ValueError as e:
                raise pytest.UsageError(str(e)) from None
    return None


def _shard_by(config: pytest.Config) -> ShardBy:
    value = config.getoption("sacredx_shard_by") or config.getini("sacredx_shard_by") or "hash"
    if value not in ("hash", "duration"):
        raise pytest.UsageError(f"sacredx_shard_by = {value!r}: use 'hash' or 'duration'.")
    return value  # type: ignore[return-value]


def _seed_given(config: pytest.Config) -> bool:
    return config.getoption("sacredx_seed") not in (None, "") or config.getini("sacredx_seed") not in (None, "")


@pytest.hookimpl(tryfirst=True)  # before seeding and recording choose the seed and the sweep id
def pytest_configure(config: pytest.Config) -> None:
    shard = _shard_setting(config)
    config.stash[SHARD] = shard
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        config.stash[SESSION_ID] = workerinput.get("sacredx_session", uuid.uuid4().hex[:12])
        config.stash[_DURATIONS] = workerinput.get("sacredx_shard_durations", {})
        return
    config.stash[SESSION_ID] = uuid.uuid4().hex[:12]
    sweep_id = config.getoption("sacredx_sweep_id") or os.environ.get(SWEEP_ENV) or None
    if sweep_id is None and shard is not None and shard.count > 1:
        sweep_id = ci_sweep_id(os.environ)
        if sweep_id is None and not _seed_given(config):
            raise pytest.UsageError(
                f"--exp-shard {shard}: the shards of one sweep need one session seed and one sweep id; give "
                "every shard the same --exp-sweep-id ID (the seed derives from it), or run under a CI that "
                f"sets a run id ({', '.join(v for v, _ in CI_RUN_IDS)})."
            )
        if sweep_id is None:
            raise pytest.UsageError(
                f"--exp-shard {shard}: give every shard the same --exp-sweep-id ID as well, so the store "
                "knows which runs form the sweep."
            )
    if sweep_id is not None:
        sweep_id = str(sweep_id).strip()
        if not sweep_id or any(c.isspace() for c in sweep_id):
            raise pytest.UsageError(f"--exp-sweep-id {sweep_id!r}: give a non-empty id without spaces.")
        config.stash[SWEEP_ID] = sweep_id
        if not _seed_given(config):
            config.option.sacredx_seed = str(seed_from_sweep_id(sweep_id))
    config.stash[_DURATIONS] = {}
    if shard is not None and shard.count > 1 and _shard_by(config) == "duration":
        config.stash[_DURATIONS] = _load_durations(config, sweep_id)
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_XdistShardHooks(config), "sacredx-shard-xdist")


def _load_durations(config: pytest.Config, own_sweep: str | None) -> dict[str, float]:
    from ..errors import SacredxError
    from ..observers.readers import open_reader
    from .recording import observer_uris

    uris = [u for u in observer_uris(config) if u.strip().lower() not in ("none", "memory:")]
    if not uris:
        raise pytest.UsageError(
            "--exp-shard-by duration reads the durations of earlier runs from the session's store, but "
            "this session records to none; give --exp-observer URI (the store the shards share)."
        )
    try:
        reader = open_reader(uris[0])
    except FileNotFoundError:
        return {}  # no store yet: the first sweep splits by hash
    except (SacredxError, OSError, ValueError, ImportError) as e:
        raise pytest.UsageError(f"--exp-shard-by duration: cannot read {uris[0]}: {e}") from None
    try:
        return case_durations(reader.list_runs(), exclude_sweep=own_sweep)
    except (SacredxError, OSError, ValueError) as e:
        raise pytest.UsageError(f"--exp-shard-by duration: cannot read {uris[0]}: {e}") from None
    finally:
        close = getattr(reader, "close", None)
        if close is not None:
            close()


class _XdistShardHooks:
    """The controller's session id and duration table, sent to every worker (they must split alike)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput["sacredx_session"] = self.config.stash[SESSION_ID]
        node.workerinput["sacredx_shard_durations"] = self.config.stash[_DURATIONS]


def _key(item: pytest.Item) -> str:
    return item.stash.get(CASE_ID, item.nodeid)


@pytest.hookimpl(trylast=True)  # after -k/-m and --lf chose what runs: split what is left
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    shard = config.stash.get(SHARD, None)
    if shard is None:
        return
    durations = config.stash.get(_DURATIONS, {}) if _shard_by(config) == "duration" else None
    plan = assign_shards((_key(i) for i in items), shard.count, durations)
    config.stash[_PLAN] = plan_fingerprint(plan)
    keep = [i for i in items if plan[_key(i)] == shard.index]
    drop = [i for i in items if plan[_key(i)] != shard.index]
    config.stash[_COUNTS] = (len(keep), len(items))
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_report_collectionfinish(config: pytest.Config, items: Sequence[pytest.Item]) -> str | None:
    shard = config.stash.get(SHARD, None)
    if shard is None or _COUNTS not in config.stash:
        return None
    kept, total = config.stash[_COUNTS]
    return (f"sacredx: shard {shard} by {_shard_by(config)}: {kept} of {total} items "
            f"(plan {config.stash[_PLAN]}, sweep {config.stash[SWEEP_ID]})")


def pytest_collection_finish(session: pytest.Session) -> None:
    config = session.config
    path = config.getoption("sacredx_list_cases")
    if not path:
        return
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and workerinput.get("workerid") != "gw0":
        return  # every xdist worker collects the same items; one writes them
    cases = sorted({_key(i) for i in session.items if EXPERIMENT in i.stash})
    target = Path(path)
    if not target.is_absolute():
        target = config.invocation_params.dir / target
    from ..atomic import atomic_file

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(target, "w") as f:
            f.write("".join(f"{c}\n" for c in cases))
    except OSError as e:
        raise pytest.UsageError(f"--exp-list-cases {path}: cannot write the case list: {e}") from None


def pytest_sacredx_run_started(item: pytest.Item, run: Any) -> None:
    meta = run.meta_info.setdefault("pytest", {})
    config = item.config
    meta["session"] = config.stash[SESSION_ID]
    shard = config.stash.get(SHARD, None)
    if shard is not None:
        meta["shard"] = {
            "index": shard.index,
            "count": shard.count,
            "by": _shard_by(config),
            "plan": config.stash.get(_PLAN, None),
        }
