"""pytest_sacredx.strategies.configs and hypothesis tests with exp_run (only the falsifying run recorded)."""
# ruff: noqa: F841

from __future__ import annotations

import functools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from plugin_helpers import MODES, TOY, run_pytest, stored_runs

from pytest_sacredx import Experiment
from pytest_sacredx.errors import ConfigKeyError
from pytest_sacredx.strategies import around, configs


@functools.cache
def space() -> Experiment:
    """Built in a function: a module-level experiment would be collected as an experiment item."""
    ex = Experiment("space", interactive=True)

    @ex.config
    def cfg():
        lr = 0.01
        shift = -3.0
        layers = 4
        offset = -8
        zero = 0
        dropout = False
        kernel = "rbf"
        sizes = [64, 64]
        optimizer = {"momentum": 0.9, "name": "sgd"}

    @ex.named_config
    def poly():
        kernel = "poly"

    @ex.main
    def main():
        pass

    return ex


@settings(max_examples=200, deadline=None)
@given(configs(space()))
def test_numbers_keep_type_sign_and_scale(updates: dict) -> None:
    assert 1 <= updates["seed"] <= 2**31 - 1
    lr = updates.get("lr", 0.01)
    assert isinstance(lr, float) and 1e-4 * 0.999 <= lr <= 1.0 * 1.001
    assert -300.0 * 1.001 <= updates.get("shift", -3.0) <= -0.03 * 0.999
    layers = updates.get("layers", 4)
    assert type(layers) is int and 2 <= layers <= 8
    assert -16 <= updates.get("offset", -8) <= -4
    assert 0 <= updates.get("zero", 0) <= 10
    assert type(updates.get("dropout", False)) is bool
    assert updates.get("kernel", "rbf") in ("rbf", "poly")  # named configs give candidates
    assert "sizes" not in updates and "optimizer.name" not in updates
    assert 0.0089 <= updates.get("optimizer.momentum", 0.9) <= 90.01


@settings(max_examples=50, deadline=None)
@given(configs(space(), lr=st.floats(0.5, 0.6), optimizer__name="adam", kernel=st.sampled_from(["linear"])))
def test_overrides_replace_strategies(updates: dict) -> None:
    assert 0.5 <= updates["lr"] <= 0.6
    assert updates["optimizer.name"] == "adam" and updates["kernel"] == "linear"


def test_entries_at_their_defaults_are_left_out() -> None:
    seen: set[str] = set()

    @settings(max_examples=100, deadline=None, derandomize=True)  # a claim about coverage, not search
    @given(configs(space()))
    def collect(updates: dict) -> None:
        seen.update(k for k in updates if k != "seed")
        assert all(not (k == "layers" and v == 4) for k, v in updates.items())

    collect()
    assert {"lr", "layers", "kernel"} <= seen


def test_unknown_key_is_an_error_with_did_you_mean() -> None:
    with pytest.raises(ConfigKeyError, match="no config entry 'layer'. Did you mean 'layers'"):
        configs(space(), layer=st.just(3))


def test_around_keeps_what_it_cannot_draw() -> None:
    assert around("text") is None and around([1, 2]) is None and around(None) is None
    assert around(math.inf) is None
    assert around("rbf", ["poly"]) is not None


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


PROPERTY = """
import pytest
from hypothesis import given, strategies as st
from exp_toy import ex
from pytest_sacredx.strategies import configs, experiment_settings

@pytest.mark.experiment(ex)
@experiment_settings(max_examples=30, database=None, derandomize=True)
@given(updates=configs(ex, gamma=st.floats(0.1, 10), C=st.integers(1, 12)))
def test_small_scores(exp_run, updates):
    assert exp_run(**updates).result["score"] < 5
"""


def test_only_the_falsifying_example_is_recorded(pytester: pytest.Pytester, mode: str) -> None:
    pytester.makepyfile(exp_toy=TOY, test_prop=PROPERTY)
    result = run_pytest(pytester, mode, "test_prop.py", hypothesis=True)
    result.assert_outcomes(failed=1)
    # hypothesis headed the example it reports "Falsifying example"; newer releases say "Failing test
    # case": the claim is that it reported one, and that it is the recorded run
    result.stdout.re_match_lines([r".*(Falsifying example|Failing test case).*"])
    (run,) = stored_runs(pytester)
    falsified = run.info["hypothesis"]
    assert falsified["falsifying_example"] is True
    assert run.config["gamma"] * run.config["C"] >= 5
    reported = result.stdout.str()
    assert f"'gamma': {run.config['gamma']!r}" in reported and f"'C': {run.config['C']!r}" in reported
    # the recorded run is the example hypothesis reports, seed included (so it replays)
    assert run.config["seed"] == falsified["updates"]["seed"]
    assert "1 runs recorded" in result.stdout.str()


@pytest.mark.parametrize("mode", ["serial"])  # no -n 2 variant: the same worker-to-store path as the -n 2 falsifying-example test
def test_record_examples_records_every_example(pytester: pytest.Pytester, mode: str) -> None:
    pytester.makepyfile(exp_toy=TOY, test_prop=PROPERTY.replace("< 5", "< 1000"))
    run_pytest(pytester, mode, "test_prop.py", hypothesis=True).assert_outcomes(passed=1)
    assert not (pytester.path / ".sacredx").exists()  # nothing recorded
    run_pytest(pytester, mode, "test_prop.py", "--exp-record-examples", hypothesis=True).assert_outcomes(passed=1)
    assert len(stored_runs(pytester)) > 1


def test_strategies_module_is_the_only_hypothesis_import() -> None:
    import subprocess
    import sys

    code = "import sys, pytest_sacredx, pytest_sacredx.pytest_plugin.plugin; print('hypothesis' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_iris_property_example_passes(tmp_path) -> None:
    import subprocess
    import sys
    from pathlib import Path

    example = Path(__file__).resolve().parent.parent / "examples" / "test_iris_properties.py"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(example), "-q", "-p", "no:randomly", "-p", "no:xdist",
         "--exp-observer", "none", "-o", f"cache_dir={tmp_path / 'cache'}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "2 passed" in proc.stdout


def test_without_hypothesis_the_import_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib
    import sys

    monkeypatch.setitem(sys.modules, "hypothesis", None)  # as if it were not installed
    monkeypatch.delitem(sys.modules, "pytest_sacredx.strategies")
    with pytest.raises(ImportError, match=r"pip install 'pytest-sacredx\[hypothesis\]'"):
        importlib.import_module("pytest_sacredx.strategies")
