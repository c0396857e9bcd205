"""--exp-seeds N: seed variants …-seed0, shared seeds across variants, the per-variant summary."""

from __future__ import annotations

import pytest
from plugin_helpers import MODES, TOY, results_by_case, run_pytest

from pytest_sacredx.pytest_plugin.multiseed import seed_for_index, summarize, variant_label
from pytest_sacredx.run.seeding import derive_seed

NOISY = TOY.replace('_run.log_scalar("score", gamma * C)', '_run.log_scalar("score", gamma * C + _seed % 10)')


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


def test_each_variant_runs_with_n_shared_seeds(pytester: pytest.Pytester, mode: str) -> None:
    pytester.makepyfile(exp_toy=NOISY)
    result = run_pytest(pytester, mode, "--exp-config", "C=1,2", "--exp-seeds", "3", "--exp-seed=5", "-v")
    result.assert_outcomes(passed=6)
    runs = results_by_case(pytester)
    assert sorted(runs) == [f"toy[C={c}-seed{i}]" for c in (1, 2) for i in range(3)]
    for i in range(3):
        seed = derive_seed(5, f"seed{i}")
        assert seed == seed_for_index(5, i)
        assert runs[f"toy[C=1-seed{i}]"].config["seed"] == runs[f"toy[C=2-seed{i}]"].config["seed"] == seed
    # the toy's result is a dict, so only its metric is summarized
    result.stdout.fnmatch_lines(
        ["*experiment seeds*", "variant *key *n *mean ± std *min *max", "toy[[]C=1] *score *3 *", "toy[[]C=2] *score *3 *"]
    )
    assert "toy[C=1]  result" not in result.stdout.str()


@pytest.mark.parametrize("mode", ["serial"])  # no -n 2 variant: ids are computed alike on every worker; the other -n 2 test covers seeds
def test_default_variant_ids_and_marker_tests(pytester: pytest.Pytester, mode: str) -> None:
    pytester.makepyfile(
        exp_toy=TOY,
        test_toy="""
import pytest
from exp_toy import ex

@pytest.mark.experiment(ex)
def test_run(exp_run, exp_seed):
    assert exp_run().config["seed"] == exp_seed
""",
    )
    result = run_pytest(pytester, mode, "--exp-seeds", "2", "--collect-only", "-q")
    result.stdout.fnmatch_lines(
        ["exp_toy.py::toy[[]seed0]", "exp_toy.py::toy[[]seed1]", "test_toy.py::test_run[[]seed0]", "test_toy.py::test_run[[]seed1]"]
    )
    run_pytest(pytester, mode, "--exp-seeds", "2", "--exp-seed=3").assert_outcomes(passed=4)
    runs = results_by_case(pytester)
    assert runs["toy[seed1]"].config["seed"] == runs["test_run[seed1]"].config["seed"] == derive_seed(3, "seed1")


def test_bad_count_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(exp_toy=TOY)
    result = run_pytest(pytester, "serial", "--exp-seeds", "many")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --exp-seeds='many': give a number of seeds, e.g. --exp-seeds 5."])


def test_summary_helpers() -> None:
    assert variant_label("f.py::toy[C=1-seed2]") == "toy[C=1]"
    assert variant_label("f.py::toy[seed0]") == "toy"
    assert variant_label("f.py::toy[C=1]") is None
    n, mean, std, lo, hi = summarize([1.0, 2.0, 3.0])
    assert (n, mean, std, lo, hi) == (3, 2.0, 1.0, 1.0, 3.0)
    assert summarize([4.0])[2] == 0.0
