"""Experiments become items, config variants become cases.

- Collection is opt-in: installing the plugin changes nothing in a project without experiments.
  Experiments are collected from the modules pytest collects anyway (test modules, and files named on
  the command line: ``pytest exp_train.py``), and from files matching the ini patterns
  ``sacredx_files`` (none by default; e.g. ``sacredx_files = exp_*.py *_exp.py``) — no other file is
  imported. Each module-level ``Experiment`` defined in such a module gives one item per variant,
  named ``<experiment>[<variant id>]``, e.g. ``examples/iris_svm.py::iris_rbf_svm[C=1-gamma=0.1]``.
  An item passes when its run COMPLETED. Importing the module never triggers ``@ex.automain``.
- Ordinary tests join sweeps with ``@pytest.mark.experiment(ex, gamma=[0.1, 0.7])`` and the ``exp_run``
  fixture, which runs ``ex`` with the case's variant and seed, records it, and returns the ``Run``.
- Selecting cases with ``-k``: ids contain ``=``, which ``-k`` expressions cannot hold, so match the
  parts: ``-k "gamma and 0.1"``, ``-k "iris_rbf_svm and not 10"``; or give node ids directly.
- A key can be swept when the experiment's config has it, or when the variant's named configs or config
  files (``--exp-named-config config_svm.json``) provide it.
- Sweeps are counted before any case is built: more than ini ``sacredx_max_cases`` (default 100,000)
  cases in a session is one usage error that names the count and the limit.
- Items carry pytest's structured node ids (name and parameters apart, as parametrized tests have), so
  ``--lf``, ``--ff``, ``--nf`` and ``--sw`` select and order cases as they do ordinary tests.
"""

from __future__ import annotations

import fnmatch
import os
import weakref
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from ..config.paths import iter_prefixes, iterate_flattened
from ..errors import SacredxError, UpdateSyntaxError, did_you_mean
from ..experiment import Experiment
from .keys import ACTIVE, CASE_ID, EXPERIMENT, SEED_COUNT, VARIANT
from .sweep import (
    Axis,
    Variant,
    check_repeated_keys,
    count_cases,
    expand,
    merge_axes,
    parse_axis,
    parse_named_sets,
)

__all__ = ["ExperimentItem", "SweepPlan"]

PLAN = pytest.StashKey["SweepPlan"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sacredx", "experiments (pytest-sacredx)")
    group.addoption(
        "--exp-config",
        dest="sacredx_config",
        action="append",
        default=[],
        metavar="KEY=VALUES",
        help="Sweep a config entry: gamma=0.1,0.7 | lr=range(0,1,0.25) | k=choice(a,b) (repeatable; "
        "several keys give the Cartesian product).",
    )
    group.addoption(
        "--exp-named-config",
        dest="sacredx_named_config",
        action="append",
        default=[],
        metavar="NAMES",
        help="Named configs as variants: fast,accurate (one case each) or fast+big (applied together).",
    )
    parser.addini("sacredx_files", "Glob patterns of experiment files to collect besides test modules "
                  "(none by default), e.g. exp_*.py *_exp.py.", type="args", default=[])
    parser.addini("sacredx_config", "Default sweeps, one KEY=VALUES per line (the command line overrides "
                  "them key by key).", type="linelist", default=[])
    parser.addini("sacredx_named_config", "Default named-config variants, one per line.", type="linelist",
                  default=[])
    parser.addini("sacredx_max_cases", "Most cases the sweeps of one session may give (default 100000); "
                  "more is a usage error, counted before any case is built.", default=None)


#: ini ``sacredx_max_cases`` when not set
DEFAULT_MAX_CASES = 100_000


class SweepPlan:
    """The session's sweep: axes from ini and command line, parsed once."""

    def __init__(self, config: pytest.Config) -> None:
        from .ini import ini_origin

        self.config = config
        ini_where = f"sacredx_config in {ini_origin(config, 'sacredx_config')}"
        try:
            self.ini_axes = [parse_axis(i, origin=ini_where) for i in config.getini("sacredx_config")]
            check_repeated_keys(self.ini_axes, origin=ini_where)
            self.cli_axes = [parse_axis(i) for i in config.getoption("sacredx_config")]
            check_repeated_keys(self.cli_axes)
            named = config.getoption("sacredx_named_config") or config.getini("sacredx_named_config")
            self.named_sets = parse_named_sets(named)
        except SacredxError as e:
            raise pytest.UsageError(str(e)) from None
        raw_max = config.getini("sacredx_max_cases")
        self.max_cases = int(raw_max) if raw_max not in (None, "") else DEFAULT_MAX_CASES
        self.used_keys: set[str] = set()
        self.used_named: set[str] = set()
        self.known_keys: set[str] = set()
        self.known_named: set[str] = set()
        self.collected_any = False
        self.total_cases = 0
        #: a usage error found while collecting, raised once collection is over
        self.error: str | None = None

    def variants(
        self, experiment: Experiment, marker_axes: Iterable[Axis] = (), strict_marker: bool = False
    ) -> list[Variant]:
        keys = experiment_keys(experiment)
        named = {name for name, _ in experiment.gather_named_configs()}
        self.collected_any = True
        self.known_keys |= keys
        self.known_named |= named
        marker_axes = list(marker_axes)
        sets = [s for s in self.named_sets if all(n in named or os.path.isfile(n) for n in s)]
        keys_by_set = {s: keys | named_config_keys(experiment, s) for s in sets or [()]}
        if strict_marker:
            swept = set().union(*keys_by_set.values())
            for axis in marker_axes:
                if axis.key not in swept:
                    raise pytest.UsageError(
                        f"@pytest.mark.experiment({experiment.path}, {axis.key}=…): the experiment has no "
                        f"config entry {axis.key!r}.{did_you_mean(axis.key, keys)}"
                    )
        merged = merge_axes(self.ini_axes, marker_axes, self.cli_axes)
        plan = [(s, [a for a in merged if a.key in set_keys]) for s, set_keys in keys_by_set.items()]
        seeds = max(1, self.config.stash.get(SEED_COUNT, 0))
        count = sum(count_cases(axes) for _, axes in plan) * seeds
        self.total_cases += count
        if count > self.max_cases or self.total_cases > self.max_cases:
            self._too_many(experiment, count, plan, seeds)
            return []
        self.used_named |= {n for s in sets for n in s}
        variants: list[Variant] = []
        for named_set, axes in plan:
            self.used_keys |= {a.key for a in axes}
            self.known_keys |= keys_by_set[named_set]
            variants += expand(axes, [named_set] if named_set else [])
        return variants

    def _too_many(self, experiment: Experiment, count: int, plan: list[tuple[tuple[str, ...], list[Axis]]],
                  seeds: int) -> None:
        if self.error is not None:
            return
        sizes = {a.key: len(a.values) for _, axes in plan for a in axes}
        parts = [f"{k}: {n:,} values" for k, n in sizes.items()]
        if len(plan) > 1:
            parts.append(f"{len(plan)} named-config variants")
        if seeds > 1:
            parts.append(f"{seeds} seeds each")
        what = f"the sweep of {experiment.path!r} gives {count:,} cases ({', '.join(parts) or 'no axes'})"
        if count <= self.max_cases:
            what = f"the sweeps of this session give {self.total_cases:,} cases (the last, {experiment.path!r}, {count:,})"
        from .ini import ini_origin

        where = ini_origin(self.config, "sacredx_max_cases") if self.config.getini("sacredx_max_cases") else "default"
        self.error = (
            f"{what}, more than sacredx_max_cases = {self.max_cases:,} ({where}); narrow the sweep "
            "(fewer values, a larger range step) or raise the limit, e.g. -o sacredx_max_cases="
            f"{count if count > self.max_cases else self.total_cases}."
        )

    def check_unused(self) -> None:
        """A swept key or named config that no collected experiment has is a usage error (and so is a
        sweep too large to build, found while collecting)."""
        if self.error is not None:
            raise pytest.UsageError(self.error)
        if not self.collected_any and not (self.cli_axes or self.named_sets):
            return
        for axis in self.cli_axes:
            if axis.key not in self.used_keys:
                raise pytest.UsageError(
                    f"--exp-config {axis.key}=…: no collected experiment has the config entry "
                    f"{axis.key!r} (nor do the named configs or config files given)."
                    f"{did_you_mean(axis.key, self.known_keys)}"
                )
        for names in self.named_sets:
            for name in names:
                if name not in self.used_named and not os.path.isfile(name):
                    raise pytest.UsageError(
                        f"--exp-named-config {name!r}: no collected experiment has this named config."
                        f"{did_you_mean(name, self.known_named)}"
                    )


_KEYS_CACHE: weakref.WeakKeyDictionary[Experiment, set[str]] = weakref.WeakKeyDictionary()


def experiment_keys(experiment: Experiment) -> set[str]:
    """Every config key of the experiment's default config, with its dict prefixes (``optimizer``,
    ``optimizer.lr``)."""
    cached = _KEYS_CACHE.get(experiment)
    if cached is None:
        cached = _KEYS_CACHE[experiment] = _config_keys(experiment, ())
    return cached


_NAMED_KEYS_CACHE: weakref.WeakKeyDictionary[Experiment, dict[tuple[str, ...], set[str]]] = (
    weakref.WeakKeyDictionary()
)


def named_config_keys(experiment: Experiment, named: tuple[str, ...]) -> set[str]:
    """The config keys with named configs (or config files) ``named`` applied: what a variant of
    that named set can sweep."""
    if not named:
        return set()
    cache = _NAMED_KEYS_CACHE.setdefault(experiment, {})
    if named not in cache:
        cache[named] = _config_keys(experiment, named)
    return cache[named]


def _config_keys(experiment: Experiment, named: tuple[str, ...]) -> set[str]:
    from .seeding import RNGState

    state = RNGState()
    try:
        run = experiment._create_run(named_configs=named, options={"--unobserved": True, "--seed": 1})
    except SacredxError as e:
        with_named = f" with {'+'.join(named)}" if named else ""
        raise pytest.UsageError(f"Experiment {experiment.path!r}{with_named}: {e}") from None
    finally:
        state.restore()
    return {p for k, _ in iterate_flattened(run.config) for p in iter_prefixes(k)}


def pytest_configure(config: pytest.Config) -> None:
    config.stash[PLAN] = SweepPlan(config)
    config.addinivalue_line(
        "markers",
        "experiment(ex, **sweeps): run this test once per config variant of ex (e.g. gamma=[0.1, 0.7]); "
        "use the exp_run fixture to run it",
    )


def pytest_collect_file(file_path: Any, parent: pytest.Collector) -> pytest.Module | None:
    """Experiment files (ini ``sacredx_files``) that pytest's own patterns would skip."""
    if file_path.suffix != ".py":
        return None
    config = parent.config
    patterns = config.getini("sacredx_files")
    if not patterns or parent.session.isinitpath(file_path):
        return None  # opt-in; and pytest's python plugin collects files named on the command line
    name = file_path.name
    if any(fnmatch.fnmatch(name, p) for p in config.getini("python_files")):
        return None
    if any(fnmatch.fnmatch(name, p) for p in patterns):
        return pytest.Module.from_parent(parent, path=file_path)
    return None


def pytest_ignore_collect(collection_path: Any, config: pytest.Config) -> bool | None:
    """Never collect a store: the default one, or the source snapshots inside any FileStorage or
    TinyDB folder (``_sources/exp_train_<md5>.py`` would otherwise look like an experiment file)."""
    name = collection_path.name
    if name == ".sacredx":
        return True
    if name in ("_sources", "_resources", "hashfs") and collection_path.is_dir():
        parent = collection_path.parent
        if name == "hashfs":
            return (parent / "metadata.json").exists() or None
        try:
            return any((p / "run.json").exists() for p in parent.iterdir() if p.is_dir()) or None
        except OSError:
            return None
    return None


def _defined_here(experiment: Experiment, module_path: Any) -> bool:
    if not experiment.mainfile:
        return False
    try:
        return os.path.samefile(experiment.mainfile, str(module_path))
    except OSError:
        return False


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: Any) -> list[pytest.Item] | None:
    if not isinstance(obj, Experiment) or not isinstance(collector, pytest.Module):
        return None
    if not _defined_here(obj, collector.path) or obj.default_command is None:
        return None
    seen = collector.stash.setdefault(_SEEN, set())
    if id(obj) in seen:
        return []
    seen.add(id(obj))
    return [
        ExperimentItem.from_parent(
            collector, name=f"{obj.path}[{v.id}]" if v.id else obj.path, experiment=obj, variant=v,
            **_structured_id(collector, obj.path, v.id),
        )
        for v in _variants(collector.config, obj)
    ]


def _structured_id(collector: pytest.Collector, name: str, params: str) -> dict[str, Any]:
    """pytest >= 9.2 keeps node ids structured (path, names, parameters) and matches ``--lf``/``--ff``/
    ``--nf``/``--sw`` entries by that structure; an item named ``toy[C=1]`` without parameters would
    never match the cached ``exp.py::toy[C=1]``. Build the id the way parametrized tests get theirs
    (older pytest compares the strings, which are the same either way)."""
    parent_id: Any = getattr(collector, "id", None)
    if not params or not hasattr(parent_id, "child"):
        return {}
    return {"nodeid": parent_id.child(name).with_params(params)}


_SEEN = pytest.StashKey[set[int]]()


def _variants(config: pytest.Config, experiment: Experiment) -> list[Variant]:
    lists = config.hook.pytest_sacredx_variants(config=config, experiment=experiment)
    variants: list[Variant] = []
    ids: set[str] = set()
    for lst in lists:
        for v in lst or ():
            if v.id not in ids:
                ids.add(v.id)
                variants.append(v)
    return _modified(config, experiment, variants or [Variant()])


def _modified(config: pytest.Config, experiment: Experiment, variants: list[Variant]) -> list[Variant]:
    config.hook.pytest_sacredx_modify_variants(config=config, experiment=experiment, variants=variants)
    return variants


def pytest_sacredx_variants(config: pytest.Config, experiment: Experiment) -> list[Variant]:
    return config.stash[PLAN].variants(experiment)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    if any(EXPERIMENT in item.stash or "exp_run" in getattr(item, "fixturenames", ()) for item in items):
        config.stash[ACTIVE] = True
    try:
        config.stash[PLAN].check_unused()
    except pytest.UsageError as e:
        if not hasattr(config, "workerinput"):
            raise
        # An xdist worker cannot end the session with a usage error (the controller reports a crash),
        # so every worker collects one failing item that carries the message instead.
        items[:] = [SweepErrorItem.from_parent(session, name="sacredx-usage-error", message=str(e))]


class SweepErrorItem(pytest.Item):
    """Stands in for all items when the sweep is wrong on an xdist worker."""

    def __init__(self, *, message: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.message = message

    def runtest(self) -> None:
        raise pytest.UsageError(self.message)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        return f"ERROR: {self.message}"

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, self.name


class ExperimentItem(pytest.Item):
    """One experiment × one config variant: runs the experiment's main command as a recorded run."""

    def __init__(self, *, experiment: Experiment, variant: Variant, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.experiment = experiment
        self.variant = variant
        self.stash[CASE_ID] = self.nodeid
        self.stash[VARIANT] = variant
        self.stash[EXPERIMENT] = experiment
        for key, _ in variant.updates:
            self.extra_keyword_matches.add(key)
        self.extra_keyword_matches.update(variant.named)

    def runtest(self) -> None:
        from .recording import run_case

        run_case(self, self.experiment, self.variant)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        from .report import format_case_failure

        return format_case_failure(self, excinfo)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, self.name


# ---------------------------------------------------------------------------- marker + exp_run
def _marker_axes(marker: pytest.Mark) -> tuple[Experiment, list[Axis], dict[str, Any]]:
    if not marker.args or not isinstance(marker.args[0], Experiment):
        raise pytest.UsageError("@pytest.mark.experiment needs the Experiment as first argument: "
                                "@pytest.mark.experiment(ex, gamma=[0.1, 0.7])")
    options = {k: marker.kwargs[k] for k in ("tolerance", "seeds", "named_configs", "resources")
               if k in marker.kwargs}
    axes = []
    for key, values in marker.kwargs.items():
        if key in options:
            continue
        key = key.replace("__", ".")
        values = list(values) if isinstance(values, (list, tuple, range)) else [values]
        if not values:
            raise pytest.UsageError(f"@pytest.mark.experiment(…, {key}=[]): give at least one value.")
        axes.append(Axis(key, tuple(values)))
    return marker.args[0], axes, options


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("experiment")
    if marker is None:
        return
    experiment, axes, _ = _marker_axes(marker)
    plan = metafunc.config.stash[PLAN]
    try:
        variants = _modified(metafunc.config, experiment, plan.variants(experiment, axes, strict_marker=True))
    except UpdateSyntaxError as e:
        raise pytest.UsageError(str(e)) from None
    for name in ("exp_run", "_sacredx_variant"):
        if name not in metafunc.fixturenames:
            metafunc.fixturenames.append(name)
    metafunc.parametrize("_sacredx_variant", variants, ids=[v.id or experiment.path for v in variants],
                         indirect=True)


def pytest_itemcollected(item: pytest.Item) -> None:
    """Marker tests: keep the case's experiment and variant in the stash, as experiment items do."""
    marker = item.get_closest_marker("experiment") if isinstance(item, pytest.Function) else None
    if marker is None or VARIANT in item.stash:
        return
    callspec = getattr(item, "callspec", None)
    params = callspec.params if callspec is not None else {}
    item.stash[VARIANT] = params.get("_sacredx_variant", Variant())
    item.stash[EXPERIMENT] = _marker_axes(marker)[0]


@pytest.fixture
def _sacredx_variant(request: pytest.FixtureRequest) -> Variant:
    return getattr(request, "param", Variant())


@pytest.fixture
def exp_run(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """Run the test's experiment (``@pytest.mark.experiment(ex, …)``) with this case's variant and
    seed, recorded like every case; returns the finished ``Run``. Keyword arguments are extra config
    updates; ``experiment=`` runs another experiment instead.

    >>> def test_accuracy(exp_run):
    ...     assert exp_run().result > 0.9
    """
    from .recording import run_case

    marker = request.node.get_closest_marker("experiment")
    variant: Variant = request.getfixturevalue("_sacredx_variant") if marker else Variant()
    default_ex = _marker_axes(marker)[0] if marker else None

    def run(experiment: Experiment | None = None, **updates: Any) -> Any:
        ex = experiment or default_ex
        if ex is None:
            raise pytest.UsageError("exp_run needs @pytest.mark.experiment(ex, …) on the test, or exp_run(ex).")
        return run_case(request.node, ex, variant, extra_updates=updates or None)

    return run
