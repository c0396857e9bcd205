"""Experiment shapes whose random draws must be bit-identical under Sacred 0.8.7 and under us.

Each shape builds an experiment from an ``api`` namespace (``Experiment``, ``Ingredient``) — Sacred's or
ours — and lists the runs to make. Every main function, command and hook returns or records what its
``_seed``/``_rnd`` gave and what the global ``random``/``numpy.random`` give once the run started, so
one JSON table holds the whole fan-out of a seed.

``tests/sacred_0_8_7_seeds.json`` holds what Sacred 0.8.7 gave, recorded once in a throw-away
environment (never installed with the project)::

    python -m venv /tmp/sacred-venv && /tmp/sacred-venv/bin/pip install sacred==0.8.7 numpy
    python -m venv /tmp/sacred-venv-nonp && /tmp/sacred-venv-nonp/bin/pip install sacred==0.8.7
    /tmp/sacred-venv/bin/python tests/seed_shapes.py record generator legacy > /tmp/np.json
    /tmp/sacred-venv-nonp/bin/python tests/seed_shapes.py record no-numpy > /tmp/nonp.json
    python tests/seed_shapes.py merge /tmp/np.json /tmp/nonp.json > tests/sacred_0_8_7_seeds.json

``tests/test_seeding_sacred.py`` replays every run with pytest_sacredx and compares. The orphan ingredient
(a sub-ingredient whose path does not start with its parent's and that the experiment does not list)
is not here: Sacred seeds it from the unseeded global ``random``, so it has no figure to compare.
"""

# ruff: noqa: ANN001, ANN201, ANN202 - the shapes run unchanged under Sacred, whose API has no hints

from __future__ import annotations

import json
import random
import sys
from types import SimpleNamespace
from typing import Any

try:
    import numpy as np
except ImportError:  # the no-numpy recording (and its replay) blocks numpy
    np = None  # type: ignore[assignment]

#: how a run is made: (command, config updates, named configs); None updates = a drawn seed
Call = tuple[str, "dict[str, Any] | None", "tuple[str, ...]"]


def draws(rnd) -> list[float]:
    """Two uniform draws: ``random()`` exists on Generator, RandomState and random.Random."""
    return [float(rnd.random()), float(rnd.random())]


def global_state() -> dict[str, Any]:
    state: dict[str, Any] = {"random": random.random(), "randint": random.randint(0, 10**6)}
    if np is not None:
        state["numpy"] = float(np.random.rand())
        state["numpy_int"] = int(np.random.randint(0, 10**6))
    return state


def kind(rnd) -> str:
    return type(rnd).__name__


# --------------------------------------------------------------------------- the shapes
def shape_main(api) -> tuple[Any, list[Call]]:
    """Only a main function with both special arguments."""
    ex = api.Experiment("seeds_main", save_git_info=False)

    @ex.main
    def main(_seed, _rnd):
        return {"globals": global_state(), "seed": _seed, "rnd": kind(_rnd), "draws": draws(_rnd)}

    return ex, [("main", {"seed": 42}, ()), ("main", {"seed": 12345}, ()), ("main", {"seed": 1}, ())]


def _captured(ex, order: str) -> dict[str, Any]:
    """Four captured functions registered in ``order`` (letters a, p, b, c)."""
    fns: dict[str, Any] = {}

    def a(_seed):
        return _seed

    def p(x=1):  # no randomness: Sacred still hands it a seed, in registration order
        return x

    def b(_rnd):
        return [kind(_rnd), *draws(_rnd)]

    def c(_seed, _rnd):
        return [_seed, *draws(_rnd)]

    for letter in order:
        fns[letter] = ex.capture({"a": a, "p": p, "b": b, "c": c}[letter])
    return fns


def _calls(fns) -> dict[str, Any]:
    """Repeated and interleaved calls: each call draws a fresh ``_seed``."""
    return {
        "a": [fns["a"](), fns["a"]()],
        "b": [fns["b"](), fns["b"]()],
        "c": [fns["c"](), fns["a"](), fns["c"](), fns["c"]()],
        "p": fns["p"](),
    }


def shape_order_apbc(api) -> tuple[Any, list[Call]]:
    """Captured functions registered before main, in one order."""
    ex = api.Experiment("seeds_apbc", save_git_info=False)
    fns = _captured(ex, "apbc")

    @ex.main
    def main(_seed):
        return {"globals": global_state(), "seed": _seed, "calls": _calls(fns)}

    return ex, [("main", {"seed": 42}, ())]


def shape_order_main_cbpa(api) -> tuple[Any, list[Call]]:
    """Main registered first, then the same functions in the reverse order."""
    ex = api.Experiment("seeds_cbpa", save_git_info=False)
    fns: dict[str, Any] = {}

    @ex.main
    def main(_rnd):
        return {"globals": global_state(), "rnd": draws(_rnd), "calls": _calls(fns)}

    fns.update(_captured(ex, "cbpa"))
    return ex, [("main", {"seed": 42}, ())]


def shape_command(api) -> tuple[Any, list[Call]]:
    """A command next to main; both call one captured helper."""
    ex = api.Experiment("seeds_command", save_git_info=False)

    @ex.capture
    def helper(_seed, _rnd):
        return [_seed, *draws(_rnd)]

    @ex.main
    def main(_seed):
        return {"globals": global_state(), "seed": _seed, "helper": [helper(), helper()]}

    @ex.command
    def train(_seed, _rnd, steps=2):
        return {
            "globals": global_state(), "seed": _seed, "draws": draws(_rnd),
            "helper": [helper() for _ in range(steps)],
        }

    return ex, [("main", {"seed": 42}, ()), ("train", {"seed": 42}, ()), ("train", {"seed": 7, "steps": 3}, ())]


def shape_ingredients(api) -> tuple[Any, list[Call]]:
    """Ingredients and sub-ingredients, with and without their own ``seed`` entry.

    ``data`` (no seed) holds ``data.aug`` (a prefixed sub-ingredient: seeded from ``data``'s seed) and
    ``shared`` (not prefixed, but also listed by the experiment, which seeds it); ``model`` has its own
    ``seed`` and holds ``model.layer`` (own seed) and ``model.head`` (none). Hooks record their draws in
    ``run.info``.
    """
    shared = api.Ingredient("shared", save_git_info=False)
    aug = api.Ingredient("data.aug", save_git_info=False)
    data = api.Ingredient("data", ingredients=[aug, shared], save_git_info=False)
    layer = api.Ingredient("model.layer", save_git_info=False)
    head = api.Ingredient("model.head", save_git_info=False)
    model = api.Ingredient("model", ingredients=[layer, head], save_git_info=False)
    model.add_config(seed=123, width=4)
    layer.add_config(seed=7)
    data.add_config(path="x.npy")

    @shared.capture
    def shared_draw(_seed):
        return _seed

    @aug.capture
    def jitter(_seed, _rnd):
        return [_seed, *draws(_rnd)]

    @data.capture
    def load(path, _seed):
        return [path, _seed]

    @data.capture
    def shuffle(_rnd):
        return draws(_rnd)

    @data.command
    def show(_seed, _rnd):
        return {"globals": global_state(), "seed": _seed, "draws": draws(_rnd), "load": load()}

    @layer.capture
    def layer_init(_seed):
        return _seed

    @head.capture
    def head_init(_seed, _rnd):
        return [_seed, *draws(_rnd)]

    @model.capture
    def build(width, _seed):
        return [width, _seed]

    @model.pre_run_hook
    def model_pre(_run, _seed):
        _run.info["model_pre"] = _seed

    ex = api.Experiment("seeds_ingredients", ingredients=[data, model, shared], save_git_info=False)

    @ex.pre_run_hook
    def pre(_run, _seed, _rnd):
        _run.info["pre"] = [_seed, *draws(_rnd)]

    @ex.post_run_hook
    def post(_run, _seed):
        _run.info["post"] = _seed

    @ex.main
    def main(_seed, _rnd):
        return {
            "globals": global_state(), "seed": _seed, "draws": draws(_rnd),
            "shared": [shared_draw(), shared_draw()], "jitter": [jitter(), jitter()],
            "load": [load(), load()], "shuffle": shuffle(), "layer": layer_init(),
            "head": [head_init(), head_init()], "build": [build(), build()],
        }

    return ex, [
        ("main", {"seed": 42}, ()),
        ("main", {"seed": 42, "model.seed": 5}, ()),
        ("main", {"seed": 42, "data.seed": 8}, ()),
        ("data.show", {"seed": 42}, ()),
    ]


def shape_seed_sources(api) -> tuple[Any, list[Call]]:
    """The root seed from an update, from a named config, and drawn (no seed given)."""
    ex = api.Experiment("seeds_sources", save_git_info=False)
    ex.add_config(lr=0.1)
    ex.add_named_config("pinned", seed=99)

    @ex.capture
    def step(lr, _seed):
        return [lr, _seed]

    @ex.main
    def main(_seed, _rnd):
        return {"globals": global_state(), "seed": _seed, "draws": draws(_rnd), "step": step()}

    return ex, [("main", {"seed": 99}, ()), ("main", None, ("pinned",)), ("main", None, ()), ("main", None, ())]


def shape_seed_in_config(api) -> tuple[Any, list[Call]]:
    """The experiment's own config sets the seed; an update still wins."""
    ex = api.Experiment("seeds_in_config", save_git_info=False)
    ex.add_config(seed=2024)

    @ex.main
    def main(_seed, _rnd):
        return {"globals": global_state(), "seed": _seed, "draws": draws(_rnd)}

    return ex, [("main", None, ()), ("main", {"seed": 3}, ())]


def shape_explicit_seed(api) -> tuple[Any, list[Call]]:
    """A caller passes ``_seed`` or ``_rnd``: Sacred still draws once per call, and seeds ``_rnd`` from
    the drawn seed, not the passed one."""
    ex = api.Experiment("seeds_explicit", save_git_info=False)

    @ex.capture
    def f(_seed, _rnd):
        return [_seed, *(draws(_rnd) if _rnd is not None else [None])]

    @ex.capture
    def g(_seed):
        return _seed

    @ex.main
    def main():
        return {"f": [f(), f(_seed=5), f(), f(_rnd=None), f(7, None), f()], "g": [g(_seed=1), g()]}

    return ex, [("main", {"seed": 42}, ())]


SHAPES = {
    "main": shape_main,
    "order_apbc": shape_order_apbc,
    "order_main_cbpa": shape_order_main_cbpa,
    "command": shape_command,
    "ingredients": shape_ingredients,
    "seed_sources": shape_seed_sources,
    "seed_in_config": shape_seed_in_config,
    "explicit_seed": shape_explicit_seed,
}


def outside_runs(api) -> dict[str, Any]:
    """Captured functions called with no run: their ``rnd`` attribute when set, else the global
    ``random``."""
    ex = api.Experiment("seeds_outside", save_git_info=False)

    @ex.capture
    def f(_seed, _rnd):
        return [_seed, *draws(_rnd)]

    f.rnd = random.Random(1234)
    by_attribute = [f(), f()]
    f.rnd = None
    random.seed(3)
    by_global = [f(), f()]
    return {"by_attribute": by_attribute, "by_global": by_global, "global_after": random.random()}


# --------------------------------------------------------------------------- running
def run_all(api, settings) -> list[dict[str, Any]]:
    """Every run of every shape; the experiments are built afresh for each run."""
    rows = []
    for name, build in SHAPES.items():
        _, calls = build(api)
        for command, updates, named in calls:
            ex, _ = build(api)
            run = ex.run(command, config_updates=updates, named_configs=named, options={"--loglevel": "ERROR"})
            rows.append({
                "shape": name, "command": command, "updates": updates, "named": list(named),
                "config_seed": run.config["seed"], "result": run.result, "info": dict(run.info),
            })
    return rows


def replay(api, settings, recorded: list[dict[str, Any]], draw_seed) -> list[dict[str, Any]]:
    """Make the recorded runs again; ``draw_seed(seed)`` arranges for a drawn seed to come out as
    the recorded one (a context manager)."""
    rows = []
    for row in recorded:
        ex, _ = SHAPES[row["shape"]](api)
        with draw_seed(row["config_seed"]):
            run = ex.run(row["command"], config_updates=row["updates"], named_configs=tuple(row["named"]),
                         options={"--loglevel": "ERROR"})
        rows.append({**row, "config_seed": run.config["seed"], "result": _jsonable(run.result),
                     "info": _jsonable(dict(run.info))})
    return rows


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _record(variants: list[str]) -> dict[str, Any]:
    import sacred
    from sacred import SETTINGS

    api = SimpleNamespace(Experiment=sacred.Experiment, Ingredient=sacred.Ingredient)
    figures, outside = {}, {}
    for variant in variants:
        if variant == "no-numpy":
            assert np is None, "record no-numpy where numpy is not installed"
        else:
            SETTINGS.CONFIG.NUMPY_RANDOM_LEGACY_API = variant == "legacy"
        figures[variant] = _jsonable(run_all(api, SETTINGS))
        outside[variant] = _jsonable(outside_runs(api))
    versions = {"sacred": sacred.__version__, "python": sys.version.split()[0]}
    if np is not None:
        versions["numpy"] = np.__version__
    return {"recorded_with": {v: versions for v in variants}, "figures": figures, "outside_runs": outside}


def dumps(table: dict[str, Any]) -> str:
    """The table with one run per line: diffs of a re-recording stay readable."""
    lines = ["{", f' "recorded_with": {json.dumps(table["recorded_with"], sort_keys=True)},', ' "figures": {']
    variants = sorted(table["figures"])
    for i, variant in enumerate(variants):
        rows = table["figures"][variant]
        lines.append(f"  {json.dumps(variant)}: [")
        lines += [f"   {json.dumps(r, sort_keys=True)}" + ("," if j < len(rows) - 1 else "") for j, r in enumerate(rows)]
        lines.append("  ]" + ("," if i < len(variants) - 1 else ""))
    lines += [" },", f' "outside_runs": {json.dumps(table["outside_runs"], sort_keys=True)}', "}"]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> None:
    if argv[:1] == ["record"]:
        sys.stdout.write(dumps(_record(argv[1:])))
    elif argv[:1] == ["merge"]:
        merged: dict[str, Any] = {"recorded_with": {}, "figures": {}, "outside_runs": {}}
        for path in argv[1:]:
            with open(path) as f:
                part = json.load(f)
            merged["recorded_with"].update(part["recorded_with"])
            merged["figures"].update(part["figures"])
            merged["outside_runs"].update(part["outside_runs"])
        sys.stdout.write(dumps(merged))
    else:
        raise SystemExit("usage: seed_shapes.py record VARIANT... | merge FILE...")


if __name__ == "__main__":
    main(sys.argv[1:])
