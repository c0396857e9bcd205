"""Seeding: the documented derivation, global RNGs, and reproducible draws in runs.

The derivation (``run/seeding.py``): ``derive_seed(seed, path)`` hashes ``f"{seed}/{path}"`` with
BLAKE2b; ingredients without a seed get ``derive_seed(root, ingredient.path)``; each captured function's
``_seed``/``_rnd`` draws come from a generator seeded with ``derive_seed(ingredient_seed, qualname)``.
"""

# ruff: noqa: F841, UP031 - config scopes: their local variables are the config

from __future__ import annotations

import hashlib
import random

import numpy as np
import pytest
from engine_helpers import QUIET, new_experiment

from pytest_sacredx import Ingredient
from pytest_sacredx.run.seeding import (
    SEED_MAX,
    create_rnd,
    derive_seed,
    get_seed,
    random_seed,
    set_global_seed,
)
from pytest_sacredx.settings import SETTINGS


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
    assert 1 <= a <= SEED_MAX


def test_create_rnd_and_get_seed() -> None:
    rnd = create_rnd(5)
    assert isinstance(rnd, np.random.Generator)
    assert get_seed(rnd) == get_seed(create_rnd(5))
    assert 1 <= get_seed(random.Random(1)) <= SEED_MAX
    assert 1 <= get_seed(np.random.RandomState(1)) <= SEED_MAX


def test_legacy_numpy_setting_gives_a_random_state(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SETTINGS.CONFIG, "NUMPY_RANDOM_LEGACY_API", True)
    assert isinstance(create_rnd(5), np.random.RandomState)


def test_set_global_seed_seeds_random_and_numpy() -> None:
    set_global_seed(11)
    first = (random.random(), np.random.rand())
    set_global_seed(11)
    assert (random.random(), np.random.rand()) == first


# --------------------------------------------------------------------------- runs
def draws_experiment(extra_function_first: bool = False):
    """An experiment whose main function returns every kind of random draw."""
    ex = new_experiment("seeds")
    if extra_function_first:

        @ex.capture
        def newcomer(_seed):  # registered before `draw`: must not shift draw's seeds
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


def test_adding_a_captured_function_does_not_change_anothers_draws() -> None:
    """Sacred hands out seeds in registration order; ours derive from the name."""
    plain = draws_experiment().run(config_updates={"seed": 7}, options=QUIET).result
    extended = draws_experiment(extra_function_first=True).run(config_updates={"seed": 7}, options=QUIET).result
    assert extended["draws"] == plain["draws"]


def test_a_functions_seed_derives_from_the_run_seed_and_its_qualified_name() -> None:
    ex = draws_experiment()
    result = ex.run(config_updates={"seed": 7}, options=QUIET).result
    draw = next(cf for cf in ex.captured_functions if cf.__name__ == "draw")
    expected_first = random.Random(derive_seed(7, draw.__qualname__)).randint(1, SEED_MAX)
    assert result["draws"][0][0] == expected_first


def test_randomness_in_config_scopes_is_reproducible() -> None:
    """Sacred seeds the global RNGs only after the config is built."""
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


def test_ingredient_seeds_derive_from_the_root_seed_and_path() -> None:
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


def test_an_ingredient_with_its_own_seed_uses_it() -> None:
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
