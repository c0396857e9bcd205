"""What the user sees: the header line, failure sections, the "experiment runs" table, JUnit properties.

- Header: ``sacredx: --exp-seed=N (sweep 1a2b…, recording to tinydb:.sacredx)`` — the one number that
  reproduces every case. Only in sessions that have experiments: at the start when an ``--exp-*``
  option was given, else after collection once experiment cases were collected (under xdist, where
  the controller collects nothing, with the summary once the workers reported cases). A project
  without experiments sees no line of ours.
- A failed case shows the changed config entries, the case seed, the exact commands that reproduce this
  one case — the pytest form, and the script form only when running the file as a script runs this
  experiment (``@ex.automain``, or ``ex.run_commandline()`` under ``if __name__ == "__main__":``) — and
  the experiment's traceback trimmed to the user's frames. The seed shown (there and in the table) is
  the seed the run used: the case seed derived from the session seed, or the one the case's config
  fixed (``--exp-config seed=5``, a named config setting ``seed``).
- ``--exp-summary=short`` (default) / ``full`` / ``no``: one row per case with status, result, the last
  value of each metric, duration, seed, run id and store. The id is the one *that* store gave the run
  (``sacredx show ID --store STORE`` finds it; short rows print the first 12 characters); a run
  recorded in several stores (the experiment's own observers too) lists the others in full mode. The
  last line counts the runs the stores actually hold, and a store that stopped recording (a full disk)
  is named once, with the number of runs it missed.
- Each case's report carries ``user_properties`` (``sacredx_run_id``, ``sacredx_seed``,
  ``sacredx_result``, ``sacredx_status``), which JUnit XML writes as properties and xdist carries from
  workers to the controller.
"""

from __future__ import annotations

import ast
import functools
import json
import shlex
from collections import Counter
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from ..errors import SacredxError
from ..redact import REDACTED, is_secret_key, shown_value
from ..run.tracebacks import format_filtered_exception
from .keys import ACTIVE, CASE_RESULT, SESSION_SEED, SWEEP_ID, CaseResult

__all__ = ["format_case_failure", "options_given"]

ROWS = pytest.StashKey[list[CaseResult]]()
_CASE_PROP = "sacredx_case"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sacredx", "experiments (pytest-sacredx)")
    group.addoption("--exp-summary", dest="sacredx_summary", default=None, choices=("no", "short", "full"),
                    help="The 'experiment runs' table at the end: short (default), full or no.")
    parser.addini("sacredx_summary", "Default of --exp-summary.", default="short")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[ROWS] = []
    config.pluginmanager.register(_RowCollector(config), "sacredx-rows")


class _RowCollector:
    """Collects case summaries from reports (local ones, or those xdist brings from workers)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call":
            return
        for name, value in report.user_properties:
            if name == _CASE_PROP:
                self.config.stash[ROWS].append(CaseResult.from_json(json.loads(str(value))))
                self.config.stash[ACTIVE] = True


_HEADER_SHOWN = pytest.StashKey[bool]()


def options_given(config: pytest.Config) -> bool:
    """Whether any ``--exp-*`` option was given (every one stores into ``sacredx_*``, default falsy)."""
    return any(value for name, value in vars(config.option).items() if name.startswith("sacredx_"))


def _header_line(config: pytest.Config) -> str:
    from .recording import store_names

    config.stash[_HEADER_SHOWN] = True
    return (
        f"sacredx: --exp-seed={config.stash[SESSION_SEED]} "
        f"(sweep {config.stash[SWEEP_ID]}, recording to {store_names(config)})"
    )


def pytest_report_header(config: pytest.Config) -> str | None:
    return _header_line(config) if options_given(config) else None


def pytest_report_collectionfinish(config: pytest.Config, items: list[pytest.Item]) -> str | None:
    """The header line after "collected N items", when experiments were collected (serial runs)."""
    if config.stash.get(_HEADER_SHOWN, False) or not config.stash.get(ACTIVE, False):
        return None
    return _header_line(config)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    case = item.stash.get(CASE_RESULT, None)
    if case is not None and call.when == "call":
        props = [
            ("sacredx_run_id", case.run_id),
            ("sacredx_seed", case.seed),
            ("sacredx_status", case.status),
            ("sacredx_result", json.dumps(case.result)),
            (_CASE_PROP, json.dumps(case.to_json())),
        ]
        # JUnit XML reads the item's properties from the teardown report; the summary reads this one.
        item.user_properties.extend(props)
        if report.user_properties is not item.user_properties:
            report.user_properties.extend(props)
    return report


def summary_mode(config: pytest.Config) -> str:
    return config.getoption("sacredx_summary") or config.getini("sacredx_summary") or "short"


def _fmt(value: Any, width: int) -> str:
    text = value if isinstance(value, str) else json.dumps(value) if not isinstance(value, float) else f"{value:.4g}"
    return text if len(text) <= width else text[: width - 1] + "…"


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    collected: list[CaseResult] = config.stash.get(ROWS, [])
    rows = sorted(collected, key=lambda r: r.case_id)  # xdist reports in any order
    if rows and not config.stash.get(_HEADER_SHOWN, False):  # an xdist controller learns it only now
        terminalreporter.write_line(_header_line(config))
    mode = summary_mode(config)
    if not rows or mode == "no":
        return
    full = mode == "full"
    width = 10_000 if full else 40
    metric_names = sorted({m for r in rows for m in r.metrics})
    if not full:
        metric_names = metric_names[:4]
    header = ["case", "status", "result", *metric_names, "duration", "seed", "run", "store"]
    table = [
        [
            _fmt(r.case_id.split("::")[-1], width if full else 50),
            r.status,
            _fmt(r.result, width if full else 16),
            *[_fmt(r.metrics.get(m, ""), 12) for m in metric_names],
            f"{r.duration:.3f}s",
            str(r.seed),
            "-" if r.run_id is None else str(r.run_id) if full else str(r.run_id)[:12],
            _store_cell(r, full, width),
        ]
        for r in rows
    ]
    widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(header)]
    terminalreporter.section("experiment runs")
    terminalreporter.write_line("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
    limit = len(table) if full else 50
    for row in table[:limit]:
        terminalreporter.write_line("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    if len(table) > limit:
        terminalreporter.write_line(f"… {len(table) - limit} more cases (--exp-summary=full shows all)")
    for line in _store_problem_lines(rows):
        terminalreporter.write_line(line, yellow=True)
    seed = config.stash[SESSION_SEED]
    recorded = sum(1 for r in rows if r.stores)
    counted = f"{recorded} runs recorded" if recorded == len(rows) else f"{recorded} of {len(rows)} runs recorded"
    terminalreporter.write_line(f"{counted}; reproduce with --exp-seed={seed}")
    if recorded:
        terminalreporter.write_line("show a run: sacredx show RUN --store STORE")


def _store_cell(row: CaseResult, full: bool, width: int) -> str:
    if not row.stores or len(row.stores) == 1 or not full:
        more = f" (+{len(row.stores) - 1})" if len(row.stores) > 1 else ""
        return _fmt(row.store, width if full else 30) + more
    return row.store + "".join(f"; {name} {run_id}" for name, run_id in row.stores[1:])


def _store_problem_lines(rows: list[CaseResult]) -> list[str]:
    """One line per store that did not record some runs (however many cases that hit)."""
    missed: Counter[str] = Counter()
    reasons: dict[str, str] = {}
    for row in rows:
        for line in row.store_problems:
            name, _, reason = line.partition(": ")
            missed[name] += 1
            if reason and name not in reasons:
                reasons[name] = reason
    return [
        f"{name} did not record {n} of {len(rows)} runs"
        + (f" ({reasons[name]}); it was given no more runs after that" if name in reasons else "")
        + " — the runs it holds stay readable."
        for name, n in missed.items()
    ]


def format_case_failure(item: Any, excinfo: pytest.ExceptionInfo[BaseException]) -> str:
    """The failure section of an experiment case."""
    case = item.stash.get(CASE_RESULT, None)
    config = item.config
    session_seed = config.stash[SESSION_SEED]
    lines = []
    exc = excinfo.value
    from .recording import StoreFailedError

    if isinstance(exc, SacredxError) and (case is None or isinstance(exc, StoreFailedError)):
        return f"{item.experiment.path}: {exc}"
    status = case.status if case else "FAILED"
    where = ", ".join(f"run {run_id} in {name}" for name, run_id in case.stores) if case else ""
    lines.append(f"Experiment {item.experiment.path!r} ended {status}" + (f" ({where})" if where else ""))
    changes = item.variant.config_updates
    if item.variant.named:
        lines.append(f"named configs: {', '.join(item.variant.named)}")
    lines.append(
        "config changes: "
        + (", ".join(f"{k}={shown_value(k, v)!r}" for k, v in changes.items()) or "none")
    )
    seed = case.seed if case else None
    lines.append(f"case seed: {seed} ({_seed_origin(item, seed, session_seed)})")
    hidden = any(is_secret_key(k) for k in changes)
    lines.append(
        ("reproduce (give the secret values in place of ***): " if hidden else "reproduce: ")
        + shlex.join(["pytest", *reproduce_args(item, item.variant)])
    )
    if _runs_as_script(item):
        path = item.path.relative_to(config.rootpath) if item.path.is_relative_to(config.rootpath) else item.path
        script: list[str] = ["python", str(path), "with", *item.variant.named]
        script += [f"{k}={_shown_literal(k, v)}" for k, v in item.variant.updates]
        if seed is not None and "seed" not in changes:
            script.append(f"seed={seed}")  # the run's seed, also when a named config or scope set it
        lines.append("      or: " + shlex.join(script))
    if isinstance(exc, pytest.fail.Exception) and not exc.pytrace:
        # a check after the run (baseline, determinism, comparison) explains itself, first (it is
        # also what the short test summary shows), and the run's context follows
        return "\n".join([exc.msg or "", "", *lines])
    lines.append("")
    lines.extend(line.rstrip("\n") for line in format_filtered_exception(exc))
    return "\n".join(lines)


def _runs_as_script(item: Any) -> bool:
    """Does ``python <file>`` run this experiment's command line? Only then is the script form a
    reproduce command (a file with several experiments and no ``automain`` runs none of them)."""
    module = getattr(getattr(item, "parent", None), "obj", None)
    names = {name for name, value in vars(module).items() if value is item.experiment} if module else set()
    return bool(names & script_entry_points(str(item.path)))


@functools.lru_cache(maxsize=256)
def script_entry_points(path: str) -> frozenset[str]:
    r"""Module-level names whose command line runs when ``path`` is executed as a script: the
    experiment of an ``@NAME.automain`` function, or ``NAME.run_commandline()`` called under
    ``if __name__ == "__main__":``.

    >>> import pathlib, tempfile
    >>> script = pathlib.Path(tempfile.mkdtemp()) / "exp_two.py"
    >>> _ = script.write_text(
    ...     "ex = Experiment('one')\n"
    ...     "other = Experiment('two')\n"
    ...     "if __name__ == '__main__':\n"
    ...     "    ex.run_commandline()\n"
    ... )
    >>> sorted(script_entry_points(str(script)))
    ['ex']
    """
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return frozenset()

    def owner(node: ast.expr, attr: str) -> str | None:
        if isinstance(node, ast.Call):
            node = node.func
        if isinstance(node, ast.Attribute) and node.attr == attr and isinstance(node.value, ast.Name):
            return node.value.id
        return None

    found: set[str] = set()
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found.update(n for d in stmt.decorator_list if (n := owner(d, "automain")))
        elif isinstance(stmt, ast.If) and _is_main_guard(stmt.test):
            for node in ast.walk(stmt):
                if isinstance(node, ast.Call) and (n := owner(node.func, "run_commandline")):
                    found.add(n)
    return frozenset(found)


def _is_main_guard(test: ast.expr) -> bool:
    if not isinstance(test, ast.Compare) or len(test.comparators) != 1:
        return False
    sides = [test.left, test.comparators[0]]
    return any(isinstance(x, ast.Name) and x.id == "__name__" for x in sides) and any(
        isinstance(x, ast.Constant) and x.value == "__main__" for x in sides
    )


def _seed_origin(item: pytest.Item, seed: Any, session_seed: int) -> str:
    """Where the run's seed came from: derived from the session seed, or fixed by the case's config
    (``--exp-config seed=5``, a named config or config scope setting ``seed``)."""
    from .seeding import case_seed

    if seed is None or seed == case_seed(item):
        return f"session seed {session_seed}"
    return f"set by the case's config, not derived from session seed {session_seed}"


def reproduce_args(item: pytest.Item, variant: Any, *, show: bool = True) -> list[str]:
    """The pytest arguments that run just this case again, with the same seed.

    ``show``: for people to read, so a secret-named key's value is ``***``; ``False`` gives the real
    values (for running them).
    """
    args = [item.nodeid.split("@")[0], f"--exp-seed={item.config.stash[SESSION_SEED]}"]
    for key, value in variant.updates:
        args.append(f"--exp-config={key}={_shown_literal(key, value) if show else _literal(value)}")
    if variant.named:
        args.append(f"--exp-named-config={'+'.join(variant.named)}")
    return args


def _shown_literal(key: str, value: Any) -> str:
    return REDACTED if is_secret_key(key) else _literal(value)


def _literal(value: Any) -> str:
    return value if isinstance(value, str) and value.isidentifier() else repr(value)
