"""From an experiment, updates and named configs to a ready :class:`Run` (Sacred's ``create_run``).

Order of evaluation — later steps cannot override what earlier ones *fix*:

1. **Updates** (``config_updates`` / ``with a.b=1``) are split among the ingredients by the longest
   ingredient path that prefixes each key, and are fixed.
2. **Named configs**, in the order given. Each is evaluated with the updates fixed and the results of
   the earlier named configs as presets, so a later one overrides an earlier one and explicit updates
   beat both (``with variant a=23`` keeps ``a == 23``). A name that is an existing file loads that file.
3. **Config scopes and dicts** of each ingredient, sub-ingredients first (each sees its sub-ingredients'
   configs as read-only names), with everything from steps 1–2 fixed; entries computed from fixed ones
   follow them. Then the ingredient's config hooks.
4. **Seed**: the experiment's ``seed`` entry, drawn at random (or the ``--seed`` option) when absent;
   then the ingredients' seeds, as ``SETTINGS.CONFIG.SEED_DERIVATION`` says (``run/seeding.py``). The
   global RNGs are seeded before steps 2 and 3 already, with the seed known by then.
5. **Checks**: an update that adds a key no captured function uses is a ``ConfigAddedError`` (unless
   ``force``); added keys that are used, and type changes, are logged as warnings.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..config.config_dict import ConfigDict
from ..config.config_scope import ConfigScope, evaluate_config_chain
from ..config.config_summary import ConfigSummary
from ..config.paths import (
    convert_to_nested_dict,
    is_prefix,
    iter_prefixes,
    iterate_flattened,
    join_paths,
    set_by_dotted_path,
)
from ..config.values import check_int_sizes
from ..errors import (
    CommandNotFoundError,
    ConfigAddedError,
    ConfigKeyError,
    NamedConfigNotFoundError,
    did_you_mean,
)
from ..settings import SETTINGS
from .run import Run
from .seeding import (
    SEED_DOC,
    RunSeeds,
    check_seed,
    derivation,
    ingredient_seeds,
    random_seed,
    set_global_seed,
)

if TYPE_CHECKING:
    from ..experiment import Experiment
    from ..ingredient import Ingredient

__all__ = ["create_run", "get_command"]


class Scaffold:
    """One ingredient's part of the config while a run is assembled."""

    def __init__(self, ingredient: Ingredient, path: str) -> None:
        self.ingredient = ingredient
        self.path = path  # "" for the experiment itself
        self.fixed: dict[str, Any] = {}  # flat dotted keys from updates
        self.named: dict[str, Any] = {}  # flat dotted keys from named configs
        self.subs: list[Scaffold] = []
        self.config: dict[str, Any] = {}
        self.fallback_config: dict[str, Any] = {}  # what fallback() gave when the config was evaluated
        self.summary = ConfigSummary()

    def rel(self, path: str) -> str:
        return path if not self.path else path[len(self.path) + 1:]

    def descendants(self) -> list[Scaffold]:
        """Sub-ingredients at any depth, each once."""
        found: dict[int, Scaffold] = {}
        stack = list(self.subs)
        while stack:
            sub = stack.pop()
            if id(sub) not in found:
                found[id(sub)] = sub
                stack.extend(sub.subs)
        return list(found.values())

    def fallback(self) -> dict[str, Any]:
        """Sub-ingredient configs at any depth, by their path relative to this one (``a.b`` is ``b``
        inside ``a``); a dotted sub-path (``dataset.paths``) is nested into its parent's config."""
        entries = []
        for sub in self.descendants():
            rel = sub.path[len(self.path) + 1:] if self.path and is_prefix(self.path, sub.path) else sub.path
            entries.append((rel, sub.config or {**_nested(sub.named), **_nested(sub.fixed)}))
        return _nest(entries)


def _nest(entries: list[tuple[str, dict[str, Any]]], into: dict[str, Any] | None = None) -> dict[str, Any]:
    """Set each config at its dotted path, parents before the children nested into them (shallow
    copies, so a child never lands inside the parent ingredient's own config dict)."""
    result = {} if into is None else into
    for path, cfg in sorted(entries, key=lambda e: e[0].count(".")):
        set_by_dotted_path(result, path, dict(cfg))
    return result


def _nested(flat: dict[str, Any]) -> dict[str, Any]:
    return convert_to_nested_dict(flat) if flat else {}


def _scaffolds(experiment: Experiment) -> tuple[dict[str, Scaffold], list[Scaffold]]:
    """Scaffolds by path, and the order to evaluate them in (sub-ingredients before their users)."""
    by_ing: dict[int, Scaffold] = {}
    order: list[Scaffold] = []

    def visit(ing: Ingredient, is_root: bool) -> Scaffold:
        known = by_ing.get(id(ing))
        if known is not None:
            return known
        sc = Scaffold(ing, "" if is_root else ing.path)
        by_ing[id(ing)] = sc
        sc.subs = [visit(sub, False) for sub in ing.ingredients]
        order.append(sc)  # post-order: children first
        return sc

    list(experiment.traverse_ingredients())  # raises CircularDependencyError on cycles
    visit(experiment, True)
    return {sc.path: sc for sc in order}, order


def _best_scaffold(path: str, scaffolds: dict[str, Scaffold]) -> Scaffold:
    best = scaffolds[""]
    for p, sc in scaffolds.items():
        if p and is_prefix(p, path) and len(p) > len(best.path):
            best = sc
    return best


def get_command(experiment: Experiment, command_name: str) -> Any:
    commands = dict(experiment.gather_commands())
    if command_name not in commands:
        raise CommandNotFoundError(
            f'Command "{command_name}" not found.{did_you_mean(command_name, commands)} '
            f"Available commands are: {', '.join(commands)}"
        )
    return commands[command_name]


def _named_config(name: str, scaffolds: dict[str, Scaffold], experiment: Experiment) -> tuple[Scaffold, Any]:
    if os.path.isfile(name):
        from ..config.config_files import load_config_file

        return scaffolds[""], ConfigDict(load_config_file(name))
    root = scaffolds[""]
    if name in root.ingredient.named_configs:
        return root, root.ingredient.named_configs[name]
    for path, sc in sorted(scaffolds.items(), key=lambda kv: -len(kv[0])):
        if path and name.startswith(path + "."):
            cfg = sc.ingredient.named_configs.get(name[len(path) + 1:])
            if cfg is not None:
                return sc, cfg
    available = tuple(n for n, _ in experiment.gather_named_configs())
    raise NamedConfigNotFoundError(
        f'Named config not found: "{name}". Available config values are: {available}.'
        f"{did_you_mean(name, available)} A config file path also works."
    )


def create_run(
    experiment: Experiment,
    command_name: str,
    config_updates: dict[str, Any] | None = None,
    named_configs: Sequence[str] = (),
    force: bool = False,
    log_level: str | int | None = None,
    default_seed: int | None = None,
) -> Run:
    from ..logs import get_run_loggers, set_log_level

    root_logger, run_logger = get_run_loggers(experiment)
    # -l/--loglevel holds while the run is assembled and again while it executes (Run.__call__), never
    # longer: a run created and never started leaves no level behind.
    restore_level = set_log_level(root_logger, log_level)
    try:
        run = _assemble(
            experiment, command_name, config_updates, named_configs, force, default_seed,
            root_logger, run_logger,
        )
    finally:
        restore_level()
    run.log_level = log_level
    return run


def _assemble(
    experiment: Experiment,
    command_name: str,
    config_updates: dict[str, Any] | None,
    named_configs: Sequence[str],
    force: bool,
    default_seed: int | None,
    root_logger: logging.Logger,
    run_logger: logging.Logger,
) -> Run:
    how = derivation()
    scaffolds, order = _scaffolds(experiment)
    root = scaffolds[""]
    main_function = get_command(experiment, command_name)

    # 1. updates, split among ingredients
    updates = convert_to_nested_dict(config_updates or {})
    dotted = [k for k in (config_updates or {}) if "." in k]
    for key, value in iterate_flattened(updates):
        sc = _best_scaffold(key, scaffolds)
        if sc.path and key == sc.path:
            run_logger.warning('Ignored attempt to set value of "%s", because it is an ingredient.', key)
            continue
        sc.fixed[sc.rel(key)] = value

    seed = root.fixed.get("seed", default_seed)
    seed = random_seed() if seed is None else check_seed(seed)
    set_global_seed(seed)  # config scopes draw reproducibly too

    # 2. named configs
    for name in named_configs:
        sc, cfg = _named_config(name, scaffolds, experiment)
        # As in Sacred, a named config sees a sub-ingredient's config only when it names it as a
        # parameter: `dataset = {...}` in the experiment's named config sets the ingredient's entries.
        declared = set(getattr(cfg, "parameters", ()))
        fallback = {k: v for k, v in sc.fallback().items() if k in declared}
        fallback["_log"] = _scope_logger(sc, root_logger)
        result = cfg(fixed=_nested(sc.fixed), preset=_nested(sc.named), fallback=fallback)
        _check_dotted_updates(sc.path, result.typechanged, dotted)
        for key, value in iterate_flattened(dict(result)):
            target = _best_scaffold(join_paths(sc.path, key), scaffolds)
            target.named[target.rel(join_paths(sc.path, key))] = value
    if "seed" not in root.fixed and root.named.get("seed", seed) != seed:
        seed = check_seed(root.named["seed"])  # a named config fixed it: the scopes below use it
        set_global_seed(seed)

    # 3. config scopes, sub-ingredients first
    config: dict[str, Any] = {}
    for sc in order:
        fixed = {**sc.named, **sc.fixed}
        nested_fixed = _nested(fixed)
        fallback = sc.fallback_config = sc.fallback()
        # A scope may also declare _log (Sacred's: the ingredient's logger), never part of the config.
        scope_fallback = {"_log": _scope_logger(sc, root_logger), **fallback}
        summary = evaluate_config_chain(sc.ingredient.configurations, nested_fixed, None, scope_fallback)
        current = dict(summary)
        _check_dotted_updates(sc.path, summary.typechanged, dotted)
        if sc is root:
            if current.get("seed") is None:  # absent, or ``seed = None``: drawn, as in Sacred
                current["seed"] = seed
            if any(isinstance(c, ConfigScope) for c in sc.ingredient.configurations):
                # Sacred documents the seed through its config scopes: with none, print_config
                # shows the seed without a comment.
                summary.docs.setdefault("seed", SEED_DOC)
            if "seed" in summary.added:
                summary.added.discard("seed")
                summary.modified.add("seed")
        sc.config = current
        sc.summary = summary
        config = _combine(order)
        for hook in sc.ingredient.config_hooks:
            hook_updates = hook(config=config, command_name=command_name, logger=run_logger)
            if hook_updates:
                from ..config.paths import recursive_update

                recursive_update(sc.config, hook_updates)
                config = _combine(order)

    # 4. seeds
    root_seed = check_seed(config["seed"])
    seeds = _ingredient_seeds(experiment, scaffolds, root_seed, how)

    # 5. checks and the summary of modifications
    modifications = ConfigSummary(config)
    for sc in order:
        modifications.update_add(sc.summary, sc.path)
        _check_added(sc, force, run_logger, config)
    check_int_sizes(config)  # one no store could write: refused here, not blamed on a store
    for key, (old, new) in sorted(modifications.typechanged.items()):
        if old in (int, float) and new in (int, float):
            continue  # recorded, but no warning (Sacred's rule)
        run_logger.warning(
            'Changed type of config entry "%s" from %s to %s', key, old.__name__, new.__name__
        )

    ex_info = experiment.get_experiment_info()
    from ..provenance import get_host_info

    host_info = get_host_info(experiment.additional_host_info)
    run = Run(
        config=config,
        config_modifications=modifications,
        main_function=main_function,
        observers=list(experiment.observers),
        root_logger=root_logger,
        run_logger=run_logger,
        experiment_info=ex_info,
        host_info=host_info,
        pre_run_hooks=[h for ing, _ in experiment.traverse_ingredients() for h in ing.pre_run_hooks],
        post_run_hooks=[h for ing, _ in experiment.traverse_ingredients() for h in ing.post_run_hooks],
        captured_out_filter=experiment.captured_out_filter,
    )
    run.seed = root_seed
    run._seeds = RunSeeds(root_seed, seeds, how)
    run.force = force
    read_only = SETTINGS.CONFIG.READ_ONLY_CONFIG
    if read_only:
        from ..config.custom_containers import make_read_only
    for sc in order:
        fixture = {**sc.fallback_config, **sc.config}  # sub-ingredient configs by their names
        run._ingredient_configs[sc.ingredient] = make_read_only(fixture) if read_only else fixture
        # As in Sacred: a captured function logs to <root>.<function> for the experiment's own,
        # <root>.<ingredient>.<function> for an ingredient's (the run logger is <root>.<experiment>).
        run._ingredient_loggers[sc.ingredient] = _scope_logger(sc, root_logger)
    return run


def _ingredient_seeds(
    experiment: Experiment, scaffolds: dict[str, Scaffold], root_seed: int, how: str
) -> dict[Any, int]:
    """Every ingredient's seed (``run/seeding.py``), visiting the ingredients in Sacred's order: by
    their greatest depth in the tree, deepest first, ties in traversal order."""
    by_ing = {id(sc.ingredient): sc for sc in scaffolds.values()}
    depth: dict[int, int] = {}
    for ing, d in experiment.traverse_ingredients():
        depth[id(ing)] = max(depth.get(id(ing), 0), d)
    root = scaffolds[""]
    order = sorted((by_ing[i] for i in depth if by_ing[i] is not root), key=lambda sc: -depth[id(sc.ingredient)])

    def own_seed(sc: Scaffold) -> int | None:
        own = sc.config.get("seed")
        return None if own is None else check_seed(own, join_paths(sc.path, "seed"))

    found = ingredient_seeds(root, root_seed, order, lambda sc: sc.path, lambda sc: sc.subs, own_seed, how)
    return {sc.ingredient: seed for sc, seed in found.items()}


def _combine(order: list[Scaffold]) -> dict[str, Any]:
    """The experiment's config with each ingredient's config under its path."""
    config: dict[str, Any] = {}
    for sc in order:
        if sc.path == "":
            config.update(sc.config)
    return _nest([(sc.path, sc.config) for sc in order if sc.path and sc.config], into=config)


def _scope_logger(sc: Scaffold, root_logger: logging.Logger) -> logging.Logger:
    return root_logger.getChild(sc.ingredient.path) if sc.path else root_logger


def _check_dotted_updates(
    sc_path: str, typechanged: dict[str, tuple[type, type]], dotted: Sequence[str]
) -> None:
    """Refuse ``with a.b=1`` when the config defines ``a`` as a value that is not a dict.

    The update writes *into* ``a``; laying it over a string or number would silently replace the
    user's value with ``{"b": 1}``. ``a=...`` itself may still change the type (with a warning); a
    ``None`` may become a dict (``type_changed`` does not count ``None``).
    """
    for key in dotted:
        parts = key.split(".")
        for i in range(1, len(parts)):
            parent = ".".join(parts[:i])
            if sc_path and not parent.startswith(sc_path + "."):
                continue
            rel = parent[len(sc_path) + 1:] if sc_path else parent
            kinds = typechanged.get(rel)
            if kinds is not None and not issubclass(kinds[0], Mapping) and issubclass(kinds[1], Mapping):
                raise ConfigKeyError(
                    f"Cannot set {key!r}: {parent!r} is not a dict in the config but of type {kinds[0].__name__}. "
                    f"Set {parent!r} itself (with {parent}=...), or choose another key."
                )


def _captured_args(ingredient: Ingredient) -> set[str]:
    """The config keys the ingredient's captured functions take (``prefix.argument``)."""
    return {
        join_paths(cf.prefix or "", arg)
        for cf in ingredient.captured_functions
        for arg in cf.signature.arguments
    }


# Keys the engine itself defines or consumes: a named config's docstring (``__doc__``), the seed and
# save_config's file name are never "not used anywhere" (Sacred's ConfigAddedError.SPECIAL_ARGS).
_NEVER_SUSPICIOUS = frozenset({"seed", "__doc__", "config_filename", "_log", "_config", "_seed", "_run"})


def _check_added(sc: Scaffold, force: bool, logger: logging.Logger, config: dict[str, Any]) -> None:
    """Sacred's rule: an added key is used when it, or a dict it lies in, is an argument of one of
    the ingredient's captured functions (``a.c`` is used by ``def main(a)``, not ``d.f`` by nobody, not
    ``b`` by ``@capture(prefix="a") def f(b)``, which takes ``a.b``)."""
    captured = _captured_args(sc.ingredient) | {"__doc__"}
    for key in sorted(sc.summary.added):
        if key in _NEVER_SUSPICIOUS:
            continue
        full = join_paths(sc.path, key)
        if force or not captured.isdisjoint(iter_prefixes(key)):
            logger.warning('Added new config entry: "%s"', full)
            continue
        known = [k for k, _ in iterate_flattened(sc.config) if k not in sc.summary.added]
        error = ConfigAddedError(
            "Added new config entry that is not used anywhere",
            conflicting_configs=(full,),
            config=config,
        )
        suggestion = did_you_mean(key, sorted((captured - _NEVER_SUSPICIOUS) | set(known)))
        error.hint = f"{suggestion} Use -f/--force (force=True) to add it anyway.".lstrip()
        raise error
