"""Reproducible-seed regression baselines: pin what each case gives, fail the day it moves.

``pytest --exp-regression`` (ini ``sacredx_regression = true``) compares every executed case's result
and the final value of each metric with a baseline file stored next to the file that defines the case::

    <dir of the file>/baselines/<experiment name | test name>/<case id>.json
    examples/baselines/iris_rbf_svm/C=1-gamma=0.1.json      # experiment item iris_rbf_svm[C=1-gamma=0.1]
    examples/baselines/test_beats_chance/default.json       # a marker test's default variant

(ini ``sacredx_baseline_dir`` changes ``baselines``; an absolute path gathers all baselines in one
folder). The case id is the variant id, ``default`` for the default variant. Names that would leave the
folder (``Experiment("..")``, a leading dot, ``/``) are made safe: a baseline is never written outside
it. Baselines are JSON with
sorted keys, indent 2 and a trailing newline, holding only ``case``, ``config``, ``seed``, ``result``
and ``metrics`` — no times, no host — so they review well in git.

- A baseline pins its seed: with ``--exp-regression`` (or ``--exp-regen``) and an existing baseline,
  the case runs with the baseline's seed whatever the session seed, so results reproduce on any
  machine and in any order. An explicit ``seed=`` in the variant still wins.
- A missing baseline fails the case, writes the file and says so; the next run compares against it.
- A baseline edited by hand is checked before the case runs (valid JSON, an object, ``seed`` an
  integer, ``metrics`` and ``config`` objects, ``series`` of ``{"steps": […], "values": […]}``): a bad
  one is an error of that case naming the file, the key and the fix, and the experiment does not run —
  so a baseline problem never records a FAILED run. ``--exp-regen`` rewrites a bad baseline.
- ``--exp-regen`` rewrites the baseline of every case that ran and whose run completed — whether its
  comparison or the test around it passed or not — and passes those cases; it never touches the
  baselines of cases that did not run (``-k`` and node ids select what is regenerated).
- Tolerances: exact by default; ini ``sacredx_tolerance`` lines ``KEY rtol=R atol=A`` and
  ``@pytest.mark.experiment(ex, tolerance={"accuracy": 1e-3})`` (a float is an rtol, a dict gives
  ``rtol``/``atol``), see ``tolerance``. A mismatch shows, per key, expected, got, absolute and
  relative difference and the command that regenerates this one baseline.

Example::

    $ pytest examples/iris_svm.py --exp-config gamma=0.1,0.7 --exp-regression   # first time: writes
    $ pytest examples/iris_svm.py --exp-config gamma=0.1,0.7 --exp-regression   # compares
    $ pytest examples/iris_svm.py --exp-config gamma=0.1,0.7 --exp-regen        # intended change
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Generator
from pathlib import Path
from typing import Any

import attrs
import pytest

from .keys import CASE_ID, CASE_RUNS, EXPERIMENT, VARIANT
from .tolerance import Tolerances, compare_run, format_differences

__all__ = ["Baselines", "BaselineError", "baseline_path", "baseline_content", "dumps_baseline", "case_command",
           "read_baseline", "safe_name"]

SETTINGS = pytest.StashKey["Baselines"]()
#: the baseline read for this case (pinned seed and expected values), once per item
_LOADED = pytest.StashKey["dict[str, Any] | None"]()
#: what happened to the case's baseline, for the summary: checked, mismatch, written, rewritten, unchanged
_STATUS = pytest.StashKey[str]()
_PATH = pytest.StashKey[Path]()  # the case's baseline_path, worked out once (setup, claim, check)
_COUNTS = pytest.StashKey[dict[str, int]]()
#: baseline file -> the case that used it in this process (two cases must never share one)
_CLAIMS = pytest.StashKey[dict[Path, str]]()
_PROP = "sacredx_baseline"
_UNSAFE = str.maketrans({c: "_" for c in '/\\:*?"<>|'})


class BaselineError(ValueError):
    """A baseline file that cannot be used as it is (the message names the file, the key and the fix)."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sacredx", "experiments (pytest-sacredx)")
    group.addoption(
        "--exp-regression",
        dest="sacredx_regression",
        action="store_true",
        default=None,
        help="Compare each case's result and final metrics with its baseline file (written when "
        "missing); a baseline pins the case's seed.",
    )
    group.addoption(
        "--exp-regen",
        dest="sacredx_regen",
        action="store_true",
        default=False,
        help="Rewrite the baselines of every case that runs (and only those).",
    )
    parser.addini("sacredx_regression", "Compare cases with their baselines (as --exp-regression).",
                  type="bool", default=False)
    parser.addini("sacredx_baseline_dir", "Folder of the baselines, relative to the file that defines "
                  "the case (default: baselines).", default="baselines")
    parser.addini("sacredx_baseline_series", "Also pin every logged point of each metric, not only "
                  "the final values.", type="bool", default=False)
    parser.addini("sacredx_tolerance", "Tolerances, one 'KEY rtol=R atol=A' per line; KEY is a metric, "
                  "a key of a dict result, 'result' or '*'.", type="linelist", default=[])


@attrs.frozen
class Baselines:
    """The session's baseline settings."""

    compare: bool
    regen: bool
    folder: str
    tolerances: Tolerances
    series: bool = False

    @property
    def enabled(self) -> bool:
        return self.compare or self.regen

    @classmethod
    def from_config(cls, config: pytest.Config) -> Baselines:
        regression = config.getoption("sacredx_regression")
        if regression is None:
            regression = bool(config.getini("sacredx_regression"))
        try:
            tolerances = Tolerances.from_ini(config.getini("sacredx_tolerance"))
        except ValueError as e:
            raise pytest.UsageError(str(e)) from None
        return cls(bool(regression), bool(config.getoption("sacredx_regen")),
                   config.getini("sacredx_baseline_dir") or "baselines", tolerances,
                   bool(config.getini("sacredx_baseline_series")))


def pytest_configure(config: pytest.Config) -> None:
    config.stash[SETTINGS] = Baselines.from_config(config)
    config.stash[_COUNTS] = {}
    config.stash[_CLAIMS] = {}
    if config.stash[SETTINGS].enabled:
        config.pluginmanager.register(_StatusCollector(config), "sacredx-baselines-status")


# ----------------------------------------------------------------------------------- paths and files
def _case_parts(item: pytest.Item) -> tuple[str, str]:
    """(experiment or test name, case id) of an item; the case id is ``default`` without variant."""
    nodeid = item.stash.get(CASE_ID, item.nodeid).split("@", 1)[0]
    name = ".".join(nodeid.split("::")[1:]) or item.name
    base, bracket, rest = name.partition("[")
    case = rest[:-1] if bracket and rest.endswith("]") else ""
    experiment = item.stash.get(EXPERIMENT, None)
    if experiment is not None and case == experiment.path:  # a marker test's default-variant id
        case = ""
    return base, case or "default"


def safe_name(text: str) -> str:
    """One path component that stays inside its folder: no separators, no ``.``/``..``, no leading dot.

    >>> safe_name(".."), safe_name("a/b"), safe_name("C=1-gamma=0.1")
    ('_..', 'a_b', 'C=1-gamma=0.1')
    """
    text = "".join(c if c.isprintable() else "_" for c in text.translate(_UNSAFE))
    return "_" + text if not text or text.startswith(".") else text


def baseline_path(item: pytest.Item) -> Path:
    """Where the baseline of ``item`` lives (see the module docstring); always inside the folder."""
    path = item.stash.get(_PATH, None)
    if path is None:
        folder = Path(item.config.stash[SETTINGS].folder)
        if not folder.is_absolute():
            folder = Path(item.path).parent / folder
        name, case = _case_parts(item)
        path = item.stash[_PATH] = folder / safe_name(name) / f"{safe_name(case)}.json"
    return path


def baseline_content(item: pytest.Item, run: Any) -> dict[str, Any]:
    """What a baseline stores for ``run``: deterministic, JSON-safe, no times or host data."""
    from ..serialize import to_jsonable

    config = to_jsonable(run.config)
    seed = config.pop("seed", run.seed)
    content = {
        "case": _case_parts(item)[1],
        "config": config,
        "seed": seed,
        "result": to_jsonable(run.result),
        "metrics": to_jsonable(dict(run.final_metrics)),
    }
    if item.config.stash[SETTINGS].series:  # ini sacredx_baseline_series: every point, not only the last
        content["series"] = to_jsonable(run.metric_series)
    return content


def dumps_baseline(content: dict[str, Any]) -> str:
    """Stable text: sorted keys, indent 2, trailing newline (NaN and inf as JSON's ``NaN``/``Infinity``)."""
    return json.dumps(content, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def _write(path: Path, text: str) -> None:
    from ..atomic import atomic_file

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)


def _load(item: pytest.Item) -> dict[str, Any] | None:
    """The case's baseline, checked (once per item); ``BaselineError`` when it cannot be used."""
    if _LOADED in item.stash:
        return item.stash[_LOADED]
    path = baseline_path(item)
    data: dict[str, Any] | None = None
    if path.is_file():
        data = read_baseline(path, _rel(path, item.config), case_command(item, "--exp-regen"))
    item.stash[_LOADED] = data
    return data


def read_baseline(path: Path, shown: str | None = None, regen: str = "pytest … --exp-regen") -> dict[str, Any]:
    """Read and check one baseline file; ``BaselineError`` names the file, the key and the fix.

    >>> import json, pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "default.json"
    >>> _ = path.write_text(json.dumps({"seed": "x", "result": 1}))
    >>> read_baseline(path, "baselines/toy/default.json", "pytest exp_toy.py::toy --exp-regen")
    Traceback (most recent call last):
    ...
    pytest_sacredx.pytest_plugin.baselines.BaselineError: baseline baselines/toy/default.json: "seed" is 'x', not an integer; fix it by hand or rewrite the file with: pytest exp_toy.py::toy --exp-regen
    """
    shown = shown or str(path)
    fix = f"fix it by hand or rewrite the file with: {regen}"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise BaselineError(f"baseline {shown}: unreadable ({e}); {fix}") from None
    try:
        data = json.loads(text)
    except ValueError as e:
        raise BaselineError(f"baseline {shown}: not valid JSON ({e}); {fix}") from None
    if not isinstance(data, dict):
        raise BaselineError(f"baseline {shown}: holds {type(data).__name__}, not a JSON object; {fix}")
    problem = _baseline_problem(data)
    if problem:
        raise BaselineError(f"baseline {shown}: {problem}; {fix}")
    return data


def _baseline_problem(data: dict[str, Any]) -> str | None:
    seed = data.get("seed")
    if "seed" in data and (isinstance(seed, bool) or not isinstance(seed, int)):
        return f'"seed" is {seed!r}, not an integer'
    for key in ("metrics", "config", "series"):
        if key in data and not isinstance(data[key], dict):
            return f'"{key}" is {json.dumps(data[key])[:40]}, not an object of {"names" if key != "config" else "keys"}'
    for name, series in (data.get("series") or {}).items():
        if not isinstance(series, dict) or not all(isinstance(series.get(k), list) for k in ("steps", "values")):
            return f'"series"."{name}" is not {{"steps": [...], "values": [...]}}'
        if len(series["steps"]) != len(series["values"]):
            return f'"series"."{name}" has {len(series["steps"])} steps but {len(series["values"])} values'
    if "case" in data and not isinstance(data["case"], str):
        return f'"case" is {data["case"]!r}, not the case id (a string)'
    return None


def _rel(path: Path, config: pytest.Config) -> str:
    try:
        return str(path.relative_to(config.rootpath))
    except ValueError:
        return str(path)


def _literal(value: Any) -> str:
    return value if isinstance(value, str) and value.isidentifier() else repr(value)


def case_command(item: pytest.Item, *extra: str) -> str:
    """``pytest <node id> <the sweep options that make this case exist> <extra>``."""
    args = ["pytest", item.stash.get(CASE_ID, item.nodeid).split("@", 1)[0]]
    variant = item.stash.get(VARIANT, None)
    if variant is not None:
        args += [f"--exp-config={k}={_literal(v)}" for k, v in variant.updates]
        if variant.named:
            args.append(f"--exp-named-config={'+'.join(variant.named)}")
        if variant.seed_index is not None:
            args.append(f"--exp-seeds={item.config.getoption('sacredx_seeds', None) or variant.seed_index + 1}")
    return shlex.join([*args, *extra])


# ----------------------------------------------------------------------------------- hooks
def _is_case(item: pytest.Item) -> bool:
    return EXPERIMENT in item.stash or "exp_run" in getattr(item, "fixturenames", ())


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Check the case's baseline before anything runs: a bad one is this case's error, never a run
    recorded FAILED. ``--exp-regen`` rewrites a bad baseline instead (it is not read)."""
    settings = item.config.stash[SETTINGS]
    if not settings.enabled or not _is_case(item):
        return
    problem = None
    try:
        _load(item)
    except BaselineError as e:
        item.stash[_LOADED] = None
        problem = str(e)
    if problem is not None and not settings.regen:
        pytest.fail(problem, pytrace=False)


@pytest.hookimpl(tryfirst=True)
def pytest_sacredx_case_seed(item: pytest.Item, session_seed: int) -> int | None:
    """A baseline pins its seed."""
    if not item.config.stash[SETTINGS].enabled:
        return None
    try:
        data = _load(item)
    except BaselineError:
        return None  # reported by pytest_runtest_setup (a case run outside setup: no pin)
    seed = data.get("seed") if data else None
    return int(seed) if isinstance(seed, int) else None


def _tolerances(item: pytest.Item) -> Tolerances:
    tols = item.config.stash[SETTINGS].tolerances
    marker = item.get_closest_marker("experiment")
    if marker is not None and "tolerance" in marker.kwargs:
        try:
            tols = tols.merged(Tolerances.from_marker(marker.kwargs["tolerance"]))
        except ValueError as e:
            raise pytest.UsageError(f"@pytest.mark.experiment(…, tolerance=…): {e}") from None
    return tols


def _completed_run(item: pytest.Item) -> Any | None:
    runs = item.stash.get(CASE_RUNS, None)
    if not runs:
        return None
    run = runs[-1].run
    return run if run.status == "COMPLETED" else None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    settings = item.config.stash[SETTINGS]
    if not settings.enabled:
        return (yield)
    try:
        outcome = yield
    except BaseException:
        if settings.regen:  # honest force: a completed run is pinned even when its test failed
            _regenerate(item)
        raise
    _claim(item)
    if settings.regen:
        _regenerate(item)
    else:
        _check(item, settings)
    return outcome


def _claim(item: pytest.Item) -> None:
    """Two cases mapping to one baseline file (same test name in two modules of a folder, two
    experiments with one name) would overwrite each other's pins: refuse it."""
    path = baseline_path(item)
    case = item.stash.get(CASE_ID, item.nodeid).split("@", 1)[0]
    owner = item.config.stash[_CLAIMS].setdefault(path, case)
    if owner != case:
        pytest.fail(
            f"{case} and {owner} would share the baseline {_rel(path, item.config)}: rename one of "
            "the tests (or experiments), or give one its own sacredx_baseline_dir.",
            pytrace=False,
        )


def _regenerate(item: pytest.Item) -> None:
    run = _completed_run(item)
    if run is None:
        return
    path = baseline_path(item)
    text = dumps_baseline(baseline_content(item, run))
    old = path.read_text(encoding="utf-8") if path.is_file() else None
    if old == text:
        item.stash[_STATUS] = "unchanged"
        return
    _write(path, text)
    item.stash[_STATUS] = "rewritten" if old is not None else "written"


def _check(item: pytest.Item, settings: Baselines) -> None:
    __tracebackhide__ = True
    run = _completed_run(item)
    if run is None:
        return
    path = baseline_path(item)
    new = baseline_content(item, run)
    expected = _load(item)  # checked in setup
    if expected is None:
        _write(path, dumps_baseline(new))
        item.stash[_STATUS] = "written"
        pytest.fail(
            f"no baseline for this case yet: wrote {_rel(path, item.config)} (seed {new['seed']}). "
            "Review and commit it; the next --exp-regression run compares against it.",
            pytrace=False,
        )
    diffs = compare_run(expected, json.loads(dumps_baseline(new)), _tolerances(item))
    if not diffs:
        item.stash[_STATUS] = "checked"
        return
    item.stash[_STATUS] = "mismatch"
    lines = [f"baseline mismatch: {_rel(path, item.config)} (seed {new['seed']})", format_differences(diffs)]
    changed = _config_changes(expected.get("config"), new["config"])
    if changed:
        lines.append("config differs from the baseline's: " + ", ".join(changed))
    if expected.get("seed") != new["seed"]:
        lines.append(f"seed differs from the baseline's: {expected.get('seed')} → {new['seed']} "
                     "(an explicit seed= in the variant wins over the pinned one)")
    lines.append("regenerate this baseline: " + case_command(item, "--exp-regen"))
    pytest.fail("\n".join(lines), pytrace=False)


def _config_changes(old: Any, new: Any) -> list[str]:
    from ..config.paths import iterate_flattened

    if not isinstance(old, dict):
        return []
    before, after = dict(iterate_flattened(old)), dict(iterate_flattened(new))
    keys = sorted(k for k in set(before) | set(after) if before.get(k, ...) != after.get(k, ...))
    return [f"{k} {json.dumps(before.get(k))} → {json.dumps(after.get(k))}" for k in keys[:10]]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    status = item.stash.get(_STATUS, None)
    if status is not None and call.when == "call":
        report.user_properties.append((_PROP, status))
    return report


class _StatusCollector:
    """Counts baseline outcomes from reports (local, or brought by xdist from the workers)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call":
            return
        counts = self.config.stash[_COUNTS]
        for name, value in report.user_properties:
            if name == _PROP:
                counts[str(value)] = counts.get(str(value), 0) + 1


@pytest.hookimpl(trylast=True)  # after the runs table
def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    settings = config.stash.get(SETTINGS, None)
    if settings is None or not settings.enabled:
        return
    counts = config.stash[_COUNTS]
    order = ("checked", "mismatch", "written", "rewritten", "unchanged")
    said = ", ".join(f"{counts[k]} {k}" for k in order if counts.get(k))
    mode = "regenerated" if settings.regen else "compared"
    terminalreporter.write_line(f"sacredx baselines ({mode}): {said or 'no completed case runs'}")
