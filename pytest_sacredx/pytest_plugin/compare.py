"""Comparisons between sweeps: ``--exp-compare`` and ``--exp-compare-fail``.

``--exp-compare=REF`` compares this session's cases with the same cases (same case id, i.e. node id)
of an earlier sweep and prints a table "experiment comparison": per case and key (the result when it
is a number, and each final metric), old, new and change. ``REF`` is

- ``last``: the most recent sweep in the session's first store (``--exp-observer`` or the default
  ``tinydb:.sacredx``) other than this session's;
- a sweep id (or an unambiguous prefix of one) from that store — the header of every session prints
  its own (``sacredx: … (sweep 1a2b3c…)``);
- a store URI (``tinydb:../main/.sacredx``, ``file:runs``, ``sqlite:///runs.db`` …): the most recent
  sweep in that store.

``--exp-compare-fail=KEY:CHANGE`` (repeatable; ini ``sacredx_compare_fail`` lines) fails a case whose
``KEY`` (``result`` or a metric) changed beyond ``CHANGE``, relative (``%``) or absolute. The sign says
which direction is worse: ``accuracy:-2%`` fails when accuracy dropped by more than 2 %;
``loss:+5%`` fails when loss rose by more than 5 %; ``accuracy:-0.01`` when it dropped by more than
0.01. Cases without a counterpart in the earlier sweep are shown as new and never fail; with
``last`` and no earlier sweep, nothing is compared (the first CI run passes).

Example::

    $ pytest examples/iris_svm.py --exp-config gamma=0.1,0.7 --exp-compare=last \\
          --exp-compare-fail=accuracy:-2%
"""

from __future__ import annotations

import math
import re
from collections.abc import Generator, Iterable
from typing import Any

import attrs
import pytest

from .keys import CASE_ID, CASE_RUNS, SWEEP_ID, CaseResult

__all__ = ["FailRule", "parse_fail_rule", "Reference", "load_reference", "worse"]

_REF = pytest.StashKey["Reference | None"]()
_RULES = pytest.StashKey[list["FailRule"]]()
_RULE = re.compile(r"(?P<key>.+):(?P<sign>[+-])(?P<amount>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+)(?P<pct>%?)\Z")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sacredx", "experiments (pytest-sacredx)")
    group.addoption(
        "--exp-compare",
        dest="sacredx_compare",
        default=None,
        metavar="last|SWEEP_ID|STORE_URI",
        help="Compare this session's cases with the same cases of an earlier sweep (table of old, new, "
        "change).",
    )
    group.addoption(
        "--exp-compare-fail",
        dest="sacredx_compare_fail",
        action="append",
        default=[],
        metavar="KEY:CHANGE",
        help="Fail cases whose KEY (result or a metric) got worse than CHANGE: accuracy:-2%% (dropped by "
        "more than 2%%), loss:+5%% (rose by more than 5%%), accuracy:-0.01 (absolute). Repeatable.",
    )
    parser.addini("sacredx_compare", "Default of --exp-compare.", default=None)
    parser.addini("sacredx_compare_fail", "Default --exp-compare-fail rules, one per line.",
                  type="linelist", default=[])


@attrs.frozen
class FailRule:
    """``KEY:±AMOUNT[%]``: a negative amount means lower is worse, a positive one higher is worse."""

    key: str
    amount: float
    relative: bool
    text: str

    def violated(self, old: float, new: float) -> bool:
        change = relative_change(old, new) if self.relative else new - old
        if change is None or math.isnan(change):
            return False
        return change < self.amount if self.amount < 0 else change > self.amount


def parse_fail_rule(text: str) -> FailRule:
    """``accuracy:-2%`` → FailRule("accuracy", -0.02, relative=True)."""
    m = _RULE.match(text.strip())
    if m is None:
        hint = ""
        key, colon, amount = text.partition(":")
        if colon and amount and amount[0] not in "+-":
            hint = f" Give a sign: {key}:-{amount} fails when it drops, {key}:+{amount} when it rises."
        raise pytest.UsageError(
            f"--exp-compare-fail={text!r}: expected KEY:-N% or KEY:+N% (relative) or KEY:-X / KEY:+X "
            f"(absolute), e.g. accuracy:-2%.{hint}"
        )
    value = float(m.group("amount")) * (-1 if m.group("sign") == "-" else 1)
    relative = bool(m.group("pct"))
    return FailRule(m.group("key"), value / 100 if relative else value, relative, text.strip())


def relative_change(old: float, new: float) -> float | None:
    if old == 0:
        return None if new == 0 else math.copysign(math.inf, new)
    return (new - old) / abs(old)


def worse(rules: Iterable[FailRule], old: dict[str, float], new: dict[str, float]) -> list[tuple[FailRule, float, float]]:
    """The rules a case breaks: (rule, old, new) for each key present on both sides."""
    return [(r, old[r.key], new[r.key]) for r in rules if r.key in old and r.key in new and r.violated(old[r.key], new[r.key])]


def numeric_values(result: Any, metrics: dict[str, Any]) -> dict[str, float]:
    """``result`` (when a number) and each numeric final metric."""
    values: dict[str, float] = {}
    if isinstance(result, (int, float)) and not isinstance(result, bool):
        values["result"] = float(result)
    for name, value in metrics.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            values[name] = float(value)
    return values


@attrs.frozen
class Reference:
    """The earlier sweep: its id, its store and each case's numeric values."""

    sweep: str
    store: str
    cases: dict[str, dict[str, float]]

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


def load_reference(ref: str, session_stores: list[str], own_sweep: str) -> Reference | None:
    """Find the sweep ``ref`` names (see the module docstring); None for ``last`` without one."""
    from ..errors import SacredxError, did_you_mean
    from ..observers.readers import open_reader

    is_uri = ":" in ref or "/" in ref
    if is_uri:
        uri = ref
    else:
        readable = [u for u in session_stores if u.strip().lower() not in ("none", "memory:")]
        if not readable:
            raise pytest.UsageError(f"--exp-compare={ref}: this session records to no store to compare with; "
                                    "give a store URI, e.g. --exp-compare=tinydb:.sacredx.")
        uri = readable[0]
    try:
        reader = open_reader(uri)
    except (SacredxError, OSError, ValueError, ImportError) as e:
        if ref == "last":  # the session's own store does not exist yet: the first sweep
            return None
        raise pytest.UsageError(f"--exp-compare={ref}: cannot read {uri}: {e}") from None
    try:
        records = list(reader.list_runs())
    except (SacredxError, OSError, ValueError) as e:
        raise pytest.UsageError(f"--exp-compare={ref}: cannot read {uri}: {e}") from None
    finally:
        close = getattr(reader, "close", None)
        if close is not None:
            close()
    sweeps: dict[str, list[Any]] = {}
    for rec in records:
        sweep = (rec.meta.get("pytest") or {}).get("sweep_id")
        if sweep and sweep != own_sweep:
            sweeps.setdefault(sweep, []).append(rec)
    if is_uri or ref == "last":
        if not sweeps:
            if is_uri:
                raise pytest.UsageError(f"--exp-compare={ref}: the store holds no earlier pytest sweep.")
            return None
        chosen = max(sweeps, key=lambda s: max(_when(r) for r in sweeps[s]))
    else:
        matches = [s for s in sweeps if s.startswith(ref)]
        if len(matches) != 1:
            recent = sorted(sweeps, key=lambda s: max(_when(r) for r in sweeps[s]), reverse=True)[:5]
            what = "is ambiguous" if matches else "is not in the store"
            raise pytest.UsageError(
                f"--exp-compare={ref}: sweep {ref!r} {what} ({uri}).{did_you_mean(ref, recent)} "
                f"Recent sweeps: {', '.join(recent) or 'none'}."
            )
        chosen = matches[0]
    cases: dict[str, dict[str, float]] = {}
    for rec in sorted(sweeps[chosen], key=_when):  # the last run of a case wins
        case_id = rec.meta["pytest"].get("case_id")
        if case_id and rec.status == "COMPLETED":
            cases[case_id] = numeric_values(rec.result, rec.final_metrics())
    return Reference(chosen, uri, cases)


def _when(rec: Any) -> str:
    when = rec.start_time or rec.heartbeat
    return when.isoformat() if when is not None else ""


# ----------------------------------------------------------------------------------- hooks
def pytest_configure(config: pytest.Config) -> None:
    rules = config.getoption("sacredx_compare_fail") or config.getini("sacredx_compare_fail")
    config.stash[_RULES] = [parse_fail_rule(r) for r in rules]
    config.stash[_REF] = None
    ref = config.getoption("sacredx_compare") or config.getini("sacredx_compare")
    if config.stash[_RULES] and not ref:
        raise pytest.UsageError("--exp-compare-fail needs --exp-compare=last|SWEEP_ID|STORE_URI.")
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        data = workerinput.get("sacredx_compare")
        config.stash[_REF] = Reference(**data) if data else None
    elif config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_XdistHooks(config), "sacredx-compare-xdist")


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Read the earlier sweep once, on the controller (workers get it through workerinput)."""
    config = session.config
    ref = config.getoption("sacredx_compare") or config.getini("sacredx_compare")
    if not ref or hasattr(config, "workerinput"):
        return
    from .recording import observer_uris

    config.stash[_REF] = load_reference(str(ref).strip(), observer_uris(config), config.stash[SWEEP_ID])


class _XdistHooks:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_configure_node(self, node: Any) -> None:
        ref = self.config.stash.get(_REF, None)
        node.workerinput["sacredx_compare"] = ref.to_json() if ref is not None else None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    outcome = yield
    rules = item.config.stash.get(_RULES, [])
    ref = item.config.stash.get(_REF, None)
    runs = item.stash.get(CASE_RUNS, None)
    if rules and ref is not None and runs and runs[-1].run.status == "COMPLETED":
        _check(item, ref, rules, runs[-1].run)
    return outcome


def _check(item: pytest.Item, ref: Reference, rules: list[FailRule], run: Any) -> None:
    old = ref.cases.get(item.stash.get(CASE_ID, item.nodeid))
    if old is None:
        return
    new = numeric_values(run.result, dict(getattr(run, "final_metrics", {}) or {}))
    broken = worse(rules, old, new)
    if broken:
        lines = [f"worse than sweep {ref.sweep} ({ref.store}):"]
        for rule, before, after in broken:
            lines.append(f"  {rule.key}: {before:.6g} → {after:.6g} ({_change(before, after)}), "
                         f"allowed {rule.text.split(':', 1)[1]}")
        pytest.fail("\n".join(lines), pytrace=False)


def _change(old: float, new: float) -> str:
    rel = relative_change(old, new)
    rel_text = "" if rel is None else (" = inf%" if math.isinf(rel) else f" = {rel * 100:+.3g}%")
    return f"{new - old:+.4g}{rel_text}"


@pytest.hookimpl(trylast=True)  # after the runs table
def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    from .report import ROWS, summary_mode

    ref = config.stash.get(_REF, None)
    if not (config.getoption("sacredx_compare") or config.getini("sacredx_compare")):
        return
    if ref is None:
        terminalreporter.write_line("sacredx compare: no earlier sweep in the store; nothing compared")
        return
    mode = summary_mode(config)
    found: list[CaseResult] = config.stash[ROWS] if ROWS in config.stash else []
    rows = sorted(found, key=lambda r: r.case_id)
    table: list[list[str]] = []
    matched = 0
    for row in rows:
        new = numeric_values(row.result, row.metrics)
        old = ref.cases.get(row.case_id)
        matched += old is not None
        name = row.case_id.split("::")[-1]
        for key in sorted(set(new) | set(old or {})):
            before = (old or {}).get(key)
            after = new.get(key)
            change = _change(before, after) if before is not None and after is not None else "new" if old is None else "—"
            table.append([name, key, _num(before), _num(after), change])
    if mode == "no":
        return
    terminalreporter.section("experiment comparison")
    terminalreporter.write_line(f"against sweep {ref.sweep} ({ref.store}): {matched} of {len(rows)} cases matched")
    if not table:
        return
    header = ["case", "key", "old", "new", "change"]
    widths = [max(len(h), *(len(r[i]) for r in table)) for i, h in enumerate(header)]
    limit = len(table) if mode == "full" else 50
    for line in [header, *table[:limit]]:
        terminalreporter.write_line("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
    if len(table) > limit:
        terminalreporter.write_line(f"… {len(table) - limit} more rows (--exp-summary=full shows all)")


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.6g}"
