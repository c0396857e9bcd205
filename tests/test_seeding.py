"""Seeding: the functions, both derivations, global RNGs, and reproducible draws in runs.

``run/seeding.py`` documents both derivations. Sacred's (the default) is checked draw for draw against
Sacred 0.8.7's own figures in ``test_seeding_sacred.py``; here are its rules one by one, and the
name-based one (``SETTINGS.CONFIG.SEED_DERIVATION = "name"``): ``derive_seed(seed, path)`` hashes
``f"{seed}/{path}"`` with BLAKE2b; ingredients without a seed get ``derive_seed(root, ingredient.path)``;
each captured function's draws come from ``random.Random(derive_seed(ingredient_seed, qualname))``.
"""

# ruff: noqa: F841, UP031 - config scopes: their local variables are the config

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator

import numpy as np
import pytest
from engine_helpers import QUIET, new_experiment

from pytest_sacredx import Ingredient
from pytest_sacredx.errors import ConfigError
from pytest_sacredx.run.seeding import (
    SEED_MAX,
    SEED_RANGE,
    create_rnd,
    derive_seed,
    get_seed,
    random_seed,
    set_global_seed,
)
from pytest_sacredx.settings import SETTINGS


@pytest.fixture
def name_mode(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(SETTINGS.CONFIG, "SEED_DERIVATION", "name")
    yield


# --------------------------------------------------------------------------- the functions
def test_derive_seed_is_the_documented_hash() -> None:
    digest = hashlib.blake2b(b"42/train", digest_size=8).digest()
    assert derive_seed(42, "train") == int.from_bytes(digest, "big") % (SEED_MAX - 1) + 1
    assert derive_seed(42, "train") != derive_seed(43, "train")
    assert derive_seed(42, "train") != derive_seed(42, "test")
    assert all(1 <= derive_seed(s, "p") <= SEED_MAX for s in range(200))


def test_random_seed_ignores_a_seeded_global_random() -> None:
    random.seed(0)
    a = random_seed()
    random.seed(0)
    b = random_seed()
    assert a != b
    assert SEED_RANGE[0] <= a <= SEED_RANGE[1]


def test_create_rnd_and_get_seed() -> None:
    rnd = create_rnd(5)
    assert isinstance(rnd, np.random.Generator)
    assert get_seed(rnd) == get_seed(create_rnd(5))
    # Sacred's calls, so the draws match: integers(1, 1e9, dtype=int), else randint(1, 1e9)
    assert get_seed(create_rnd(5)) == int(np.random.default_rng(5).integers(1, 10**9, dtype=int))
    assert get_seed(random.Random(1)) == random.Random(1).randint(1, 10**9)
    assert get_seed(np.random.RandomState(1)) == np.random.RandomState(1).randint(1, 10**9)
    assert create_rnd(5, legacy=True).randint(9) == np.random.RandomState(5).randint(9)


def test_get_seed_without_a_generator_draws_from_the_global_random() -> None:
    random.seed(3)
    first = get_seed()
    random.seed(3)
    assert get_seed() == first == random.Random(3).randint(1, 10**9)


def test_legacy_numpy_setting_gives_a_random_state(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SETTINGS.CONFIG, "NUMPY_RANDOM_LEGACY_API", True)
    assert isinstance(create_rnd(5), np.random.RandomState)


def test_set_global_seed_seeds_random_and_numpy() -> None:
    set_global_seed(11)
    first = (random.random(), np.random.rand())
    set_global_seed(11)
    assert (random.random(), np.random.rand()) == first


# --------------------------------------------------------------------------- runs
def draws_experiment(extra_function_first: bool = False, extra_function_last: bool = False):
    """An experiment whose main function returns every kind of random draw."""
    ex = new_experiment("seeds")
    if extra_function_first:

        @ex.capture
        def newcomer(_seed):  # registered before `draw`: shifts draw's seeds, unless in name mode
            return _seed

    @ex.capture
    def draw(_seed, _rnd):
        return _seed, float(_rnd.random())

    @ex.main
    def main(_seed):
        return {
            "main_seed": _seed,
            "draws": [draw() for _ in range(3)],
            "random": random.random(),
            "numpy": float(np.random.rand()),
        }

    if extra_function_last:

        @ex.capture
        def latecomer(_seed):
            return _seed

    return ex


def test_the_same_seed_reproduces_every_draw() -> None:
    ex = draws_experiment()
    a = ex.run(config_updates={"seed": 7}, options=QUIET).result
    random.random(), np.random.rand()  # disturb the global state between runs
    b = ex.run(config_updates={"seed": 7}, options=QUIET).result
    assert a == b
    c = ex.run(config_updates={"seed": 8}, options=QUIET).result
    assert c["draws"] != a["draws"] and c["random"] != a["random"] and c["numpy"] != a["numpy"]


def test_the_seed_option_is_a_default_seed() -> None:
    ex = draws_experiment()
    a = ex.run(config_updates={"seed": 7}, options=QUIET).result
    assert ex.run(options={**QUIET, "--seed": 7}).result == a


def test_without_a_seed_runs_differ() -> None:
    ex = draws_experiment()
    assert ex.run(options=QUIET).result != ex.run(options=QUIET).result


def test_a_drawn_seed_fans_out_like_the_same_seed_given() -> None:
    ex = draws_experiment()
    drawn = ex.run(options=QUIET)
    assert SEED_RANGE[0] <= drawn.config["seed"] <= SEED_RANGE[1]
    assert ex.run(config_updates={"seed": drawn.config["seed"]}, options=QUIET).result == drawn.result


# --------------------------------------------------------------------------- Sacred's derivation
def test_sacred_mode_hands_out_seeds_in_registration_order() -> None:
    """The experiment's generator gives each captured function (built-in commands first) one seed;
    main's first ``_seed`` is the first draw of a generator built from its own."""
    ex = draws_experiment()
    result = ex.run(config_updates={"seed": 7}, options=QUIET).result
    rnd = create_rnd(7)
    handed = {cf.__name__: get_seed(rnd) for cf in ex.captured_functions}
    assert [cf.__name__ for cf in ex.captured_functions][:4] == [
        "print_config", "print_dependencies", "save_config", "print_named_configs"
    ]
    assert result["main_seed"] == get_seed(create_rnd(handed["main"]))
    draw_rnd = create_rnd(handed["draw"])
    expected = []
    for _ in range(3):  # a fresh _seed per call; _rnd = create_rnd(_seed)
        seed = get_seed(draw_rnd)
        expected.append((seed, float(create_rnd(seed).random())))
    assert result["draws"] == expected


def test_sacred_mode_adding_a_function_shifts_only_those_registered_after_it() -> None:
    plain = draws_experiment().run(config_updates={"seed": 7}, options=QUIET).result
    first = draws_experiment(extra_function_first=True).run(config_updates={"seed": 7}, options=QUIET).result
    last = draws_experiment(extra_function_last=True).run(config_updates={"seed": 7}, options=QUIET).result
    assert first["draws"] != plain["draws"] and first["main_seed"] != plain["main_seed"]
    assert last == plain
    assert (first["random"], first["numpy"]) == (plain["random"], plain["numpy"])  # globals: the root seed


def _tree():
    """``ex`` lists ``a`` (no seed; holds ``a.x`` and the orphan ``o``), ``b`` (own seed 5) and ``c``."""
    orphan = Ingredient("o", interactive=True)
    ax = Ingredient("a.x", interactive=True)
    a = Ingredient("a", ingredients=[ax, orphan], interactive=True)
    b = Ingredient("b", interactive=True)
    b.add_config(seed=5)
    c = Ingredient("c", interactive=True)
    seen = {}
    for ing in (orphan, ax, a, b, c):

        @ing.capture
        def draw(_seed):
            return _seed

        seen[ing.path] = draw
    ex = new_experiment(ingredients=[a, b, c])

    @ex.main
    def main():
        return {path: fn() for path, fn in seen.items()}

    return ex


def test_sacred_mode_seeds_ingredients_down_the_tree() -> None:
    result = _tree().run(config_updates={"seed": 7}, options=QUIET).result

    def first_draw(ingredient_seed: int) -> int:  # each ingredient's only captured function
        return get_seed(create_rnd(get_seed(create_rnd(ingredient_seed))))

    rnd = create_rnd(7)  # the experiment's list backwards: c draws, b keeps its own seed, a draws
    c_seed, a_seed = get_seed(rnd), get_seed(rnd)
    assert result["c"] == first_draw(c_seed)
    assert result["b"] == first_draw(5)
    assert result["a"] == first_draw(a_seed)
    assert result["a.x"] == first_draw(get_seed(create_rnd(a_seed)))  # prefixed: seeded by a
    # not prefixed and not listed by the experiment: Sacred draws it from the unseeded global random
    assert result["o"] == first_draw(derive_seed(7, "o"))


def test_sacred_mode_a_passed_seed_still_draws() -> None:
    """Sacred draws once per call even when the caller passes ``_seed``, and seeds ``_rnd`` from the
    draw, not from the passed seed; the call after it moves on."""
    ex = new_experiment()

    @ex.capture
    def f(_seed, _rnd):
        return _seed, float(_rnd.random())

    @ex.main
    def main():
        return [f(), f(_seed=5), f()]

    result = ex.run(config_updates={"seed": 7}, options=QUIET).result
    rnd = create_rnd(7)
    handed = {cf.__name__: get_seed(rnd) for cf in ex.captured_functions}
    stream = create_rnd(handed["f"])
    drawn = [get_seed(stream) for _ in range(3)]
    assert [s for s, _ in result] == [drawn[0], 5, drawn[2]]
    assert result[1][1] == float(create_rnd(drawn[1]).random())


def test_name_mode_a_passed_seed_seeds_rnd_and_draws_nothing(name_mode: None) -> None:
    ex = new_experiment()

    @ex.capture
    def f(_seed, _rnd):
        return _seed, float(_rnd.random())

    @ex.main
    def main():
        return [f(), f(_seed=5), f()]

    result = ex.run(config_updates={"seed": 7}, options=QUIET).result
    stream = random.Random(derive_seed(7, f.__qualname__))
    first, second = stream.randint(1, SEED_MAX), stream.randint(1, SEED_MAX)
    assert [s for s, _ in result] == [first, 5, second]
    assert result[1][1] == float(create_rnd(5).random())


def test_rnd_attribute_outside_and_inside_a_run() -> None:
    ex = new_experiment()

    @ex.capture
    def f(_seed):
        return _seed

    assert f.rnd is None
    f.rnd = random.Random(1234)  # outside a run: the draws come from it
    assert f() == random.Random(1234).randint(1, 10**9)
    f.rnd = None
    random.seed(3)  # no generator: the global random, as Sacred
    assert f() == random.Random(3).randint(1, 10**9)

    @ex.main
    def main():
        inside = f.rnd
        first = f()
        f.rnd = random.Random(99)  # replaces this run's generator of f
        return type(inside).__name__, first, f()

    kind, first, replaced = ex.run(config_updates={"seed": 7}, options=QUIET).result
    assert kind == "Generator" and replaced == random.Random(99).randint(1, 10**9)
    assert f.rnd is None  # the run's generator stayed with the run


def test_an_unknown_derivation_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SETTINGS.CONFIG, "SEED_DERIVATION", "hash")
    with pytest.raises(ConfigError, match="SEED_DERIVATION = 'hash': use 'sacred'.*or 'name'"):
        draws_experiment().run(options=QUIET)


@pytest.mark.parametrize(
    "updates, named, entry",
    [({"seed": "abc"}, (), "seed"), ({"seed": 1.5}, (), "seed"), ({}, ("bad",), "seed"), ({"data.seed": "x"}, (), "data.seed")],
)
def test_a_seed_that_is_not_an_integer_is_one_clear_error(updates, named, entry) -> None:
    data = Ingredient("data", interactive=True)
    data.add_config(n=1)
    ex = new_experiment(ingredients=[data])
    ex.add_named_config("bad", seed="7")

    @ex.main
    def main():
        return 1

    with pytest.raises(ConfigError, match=f"^{entry} must be an integer .*got .*; set it to a whole number"):
        ex.run(config_updates=updates, named_configs=named, options=QUIET)


def test_a_named_configs_seed_also_seeds_the_config_scopes() -> None:
    """Ours: the scopes after a named config that fixes ``seed`` draw as with ``seed`` given."""
    ex = new_experiment()
    ex.add_named_config("pinned", seed=99)

    @ex.config
    def cfg():
        import random as _random

        noise = _random.random()

    @ex.main
    def main(noise):
        return noise

    by_name = ex.run(named_configs=["pinned"], options=QUIET)
    assert by_name.config["seed"] == 99
    assert by_name.result == ex.run(named_configs=["pinned"], options=QUIET).result
    assert by_name.result == ex.run(config_updates={"seed": 99}, options=QUIET).result


def test_name_mode_adding_a_captured_function_does_not_change_anothers_draws(name_mode: None) -> None:
    """Sacred hands out seeds in registration order; the name mode does not."""
    plain = draws_experiment().run(config_updates={"seed": 7}, options=QUIET).result
    extended = draws_experiment(extra_function_first=True).run(config_updates={"seed": 7}, options=QUIET).result
    assert extended["draws"] == plain["draws"]


def test_name_mode_a_functions_seed_derives_from_the_run_seed_and_its_qualified_name(name_mode: None) -> None:
    ex = draws_experiment()
    result = ex.run(config_updates={"seed": 7}, options=QUIET).result
    draw = next(cf for cf in ex.captured_functions if cf.__name__ == "draw")
    expected_first = random.Random(derive_seed(7, draw.__qualname__)).randint(1, SEED_MAX)
    assert result["draws"][0][0] == expected_first


def test_randomness_in_config_scopes_is_reproducible() -> None:
    """Sacred seeds the global RNGs only after the config is built; we also seed them before."""
    ex = new_experiment()

    @ex.config
    def cfg():
        import random as _random

        noise = _random.random()

    @ex.main
    def main(noise):
        return noise

    assert ex.run(config_updates={"seed": 3}, options=QUIET).result == ex.run(
        config_updates={"seed": 3}, options=QUIET
    ).result


def test_name_mode_ingredient_seeds_derive_from_the_root_seed_and_path(name_mode: None) -> None:
    data = Ingredient("data", interactive=True)

    @data.capture
    def draw(_seed):
        return _seed

    ex = new_experiment(ingredients=[data])

    @ex.main
    def main():
        return draw()

    result = ex.run(config_updates={"seed": 7}, options=QUIET).result
    ingredient_seed = derive_seed(7, "data")
    assert result == random.Random(derive_seed(ingredient_seed, draw.__qualname__)).randint(1, SEED_MAX)


def test_name_mode_an_ingredient_with_its_own_seed_uses_it(name_mode: None) -> None:
    data = Ingredient("data", interactive=True)
    data.add_config(seed=99)

    @data.capture
    def draw(_seed):
        return _seed

    ex = new_experiment(ingredients=[data])

    @ex.main
    def main():
        return draw()

    result = ex.run(config_updates={"seed": 7}, options=QUIET).result
    assert result == random.Random(derive_seed(99, draw.__qualname__)).randint(1, SEED_MAX)


def test_a_seed_of_none_in_the_config_is_drawn() -> None:
    ex = new_experiment()
    ex.add_config(seed=None)

    @ex.main
    def main(_seed):
        return _seed

    run = ex.run(options={**QUIET, "--seed": 7})
    assert run.config["seed"] == 7
    assert run.result == ex.run(config_updates={"seed": 7}, options=QUIET).result
