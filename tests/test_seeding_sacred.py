"""Bit-identical to Sacred 0.8.7: the same seed gives the same ``_seed``, ``_rnd`` and global RNG draws.

``sacred_0_8_7_seeds.json`` holds what real Sacred 0.8.7 gave for every run of ``seed_shapes.py`` (main,
commands, captured functions in different registration orders, ingredients and sub-ingredients with and
without their own seed, hooks, repeated calls, a passed ``_seed``, seeds given, from a named config,
from the config, and drawn), once with NumPy's ``Generator``, once with the legacy ``RandomState`` API
and once without NumPy; ``seed_shapes.py`` says how it was recorded. Here every run is made again with
pytest_sacredx and must give exactly those numbers. A drawn seed is arranged to come out as the one
Sacred drew, so the test checks how a drawn seed fans out.
"""

from __future__ import annotations

import contextlib
import json
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import seed_shapes

import pytest_sacredx
from pytest_sacredx.settings import SETTINGS

HERE = Path(__file__).parent
TABLE = json.loads((HERE / "sacred_0_8_7_seeds.json").read_text())
API = SimpleNamespace(Experiment=pytest_sacredx.Experiment, Ingredient=pytest_sacredx.Ingredient)


def _id(row: dict[str, Any]) -> str:
    updates = ",".join(f"{k}={v}" for k, v in (row["updates"] or {}).items()) or "drawn"
    return "-".join([row["shape"], row["command"], updates, *row["named"]])


@contextlib.contextmanager
def drawn_as(seed: int) -> Iterator[None]:
    """A seed drawn by the run comes out as ``seed`` (what Sacred drew when it was recorded)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("pytest_sacredx.run.assemble.random_seed", lambda: seed)
        yield


def _rows(variant: str) -> list[Any]:
    return [pytest.param(row, id=_id(row)) for row in TABLE["figures"][variant]]


def _assert_same(ours: dict[str, Any], sacred: dict[str, Any]) -> None:
    for key in ("config_seed", "result", "info"):
        assert ours[key] == sacred[key], f"{key} differs from Sacred 0.8.7's"


@pytest.fixture(params=["generator", "legacy"])
def variant(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(SETTINGS.CONFIG, "NUMPY_RANDOM_LEGACY_API", request.param == "legacy")
    return str(request.param)


def test_the_table_covers_every_shape_in_every_variant() -> None:
    assert set(TABLE["figures"]) == {"generator", "legacy", "no-numpy"}
    for rows in TABLE["figures"].values():
        assert {r["shape"] for r in rows} == set(seed_shapes.SHAPES)
    assert all(v["sacred"] == "0.8.7" for v in TABLE["recorded_with"].values())


@pytest.mark.parametrize("index", range(len(TABLE["figures"]["generator"])))
def test_every_run_matches_sacred(variant: str, index: int) -> None:
    recorded = TABLE["figures"][variant][index]
    (ours,) = seed_shapes.replay(API, SETTINGS, [recorded], drawn_as)
    _assert_same(ours, recorded)


def test_captured_functions_outside_a_run_match_sacred(variant: str) -> None:
    state = random.getstate()
    try:
        assert seed_shapes.outside_runs(API) == TABLE["outside_runs"][variant]
    finally:
        random.setstate(state)


def test_the_name_derivation_is_not_sacreds(monkeypatch: pytest.MonkeyPatch) -> None:
    """The opt-in setting changes the fan-out (so the figures above do test the default)."""
    monkeypatch.setattr(SETTINGS.CONFIG, "SEED_DERIVATION", "name")
    monkeypatch.setattr(SETTINGS.CONFIG, "NUMPY_RANDOM_LEGACY_API", False)
    recorded = next(r for r in TABLE["figures"]["generator"] if r["shape"] == "main")
    (ours,) = seed_shapes.replay(API, SETTINGS, [recorded], drawn_as)
    assert ours["result"]["seed"] != recorded["result"]["seed"]
    assert ours["result"]["globals"] == recorded["result"]["globals"]  # the root seed is the same


# --------------------------------------------------------------------------- without numpy
_WITHOUT_NUMPY = """
import contextlib, json, sys
sys.modules["numpy"] = None  # as if NumPy were not installed
sys.path.insert(0, {tests!r})
from types import SimpleNamespace
import pytest_sacredx, seed_shapes
from pytest_sacredx.settings import SETTINGS
from pytest_sacredx.run import assemble

@contextlib.contextmanager
def drawn_as(seed):
    saved = assemble.random_seed
    assemble.random_seed = lambda: seed
    try:
        yield
    finally:
        assemble.random_seed = saved

api = SimpleNamespace(Experiment=pytest_sacredx.Experiment, Ingredient=pytest_sacredx.Ingredient)
table = json.load(open({table!r}))
rows = seed_shapes.replay(api, SETTINGS, table["figures"]["no-numpy"], drawn_as)
json.dump({{"rows": rows, "outside": seed_shapes.outside_runs(api)}}, sys.stdout)
"""


@pytest.fixture(scope="module")
def without_numpy() -> dict[str, Any]:
    code = _WITHOUT_NUMPY.format(tests=str(HERE), table=str(HERE / "sacred_0_8_7_seeds.json"))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("index", range(len(TABLE["figures"]["no-numpy"])))
def test_every_run_matches_sacred_without_numpy(without_numpy: dict[str, Any], index: int) -> None:
    _assert_same(without_numpy["rows"][index], TABLE["figures"]["no-numpy"][index])


def test_outside_a_run_matches_sacred_without_numpy(without_numpy: dict[str, Any]) -> None:
    assert without_numpy["outside"] == TABLE["outside_runs"]["no-numpy"]
