"""--exp-check-determinism: a second run with the same seed must give the same result and metrics."""

from __future__ import annotations

import pytest
from plugin_helpers import MODES, TOY, run_pytest, stored_runs

LEAKY = TOY.replace(
    '@ex.main\ndef main(',
    'CALLS = []\n\n@ex.main\ndef main(',
).replace(
    '_run.log_scalar("score", gamma * C)',
    'CALLS.append(1)\n    _run.log_scalar("score", gamma * C * (len(CALLS) if C == 2 else 1))',
)


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.mark.parametrize("mode", ["serial"])  # -n 2: test_deterministic_cases_pass_in_another_process_too
def test_deterministic_cases_pass_and_are_recorded_once(pytester: pytest.Pytester, mode: str) -> None:
    pytester.makepyfile(exp_toy=TOY)
    result = run_pytest(pytester, mode, "--exp-config", "C=1,2", "--exp-check-determinism")
    result.assert_outcomes(passed=2)
    assert len(stored_runs(pytester)) == 2


def test_hidden_state_is_found_and_the_key_named(pytester: pytest.Pytester, mode: str) -> None:
    pytester.makepyfile(exp_toy=LEAKY)
    result = run_pytest(pytester, mode, "--exp-config", "C=1,2", "--exp-check-determinism", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "nondeterministic: a second run with the same seed (*) in the same process gave other values:",
            "  key *first run *second run *abs diff *rel diff *tolerance",
            "  score *",
            "FAILED exp_toy.py::toy[[]C=2] - nondeterministic*",
        ]
    )
    assert "result.draw" not in result.stdout.str()  # the global RNG is reseeded: draws repeat
    if mode == "serial":  # without the flag the same sweep passes (nothing here depends on -n 2)
        run_pytest(pytester, mode, "--exp-config", "C=1,2").assert_outcomes(passed=2)


@pytest.mark.parametrize("mode", ["serial"])  # no -n 2 variant: the second process of -n 2 is covered by the experiment-item tests
def test_marker_tests_are_checked_too(pytester: pytest.Pytester, mode: str) -> None:
    pytester.makepyfile(
        exp_toy=LEAKY,
        test_toy="""
import pytest
from exp_toy import ex

@pytest.mark.experiment(ex, C=[2])
def test_run(exp_run):
    exp_run()
""",
    )
    result = run_pytest(pytester, mode, "test_toy.py", "--exp-check-determinism")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["FAILED test_toy.py::test_run[[]C=2] - Failed: nondeterministic*"])


def test_ini_switch(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(exp_toy=LEAKY)
    pytester.makeini("[pytest]\nsacredx_check_determinism = true\n")
    run_pytest(pytester, "serial", "--exp-config", "C=2").assert_outcomes(failed=1)


HASHY = '''
from pytest_sacredx import Experiment

ex = Experiment("hashy")

@ex.config
def cfg():
    salt = "sacredx"

@ex.main
def main(salt):
    return hash(salt) % 100_000  # differs between processes (hash randomization), same within one
'''


def test_differences_between_processes_are_found_under_xdist(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PYTHONHASHSEED", raising=False)
    pytester.makepyfile(exp_hashy=HASHY)
    serial = run_pytest(pytester, "serial", "--exp-check-determinism")
    serial.assert_outcomes(passed=1)  # in one process the value is stable
    parallel = run_pytest(pytester, "xdist", "--exp-check-determinism", "--exp-config", "salt=a,b")
    parallel.assert_outcomes(failed=2)
    parallel.stdout.fnmatch_lines(["*nondeterministic across processes*"])
    assert len(stored_runs(pytester)) == 3  # the checks' extra runs are not recorded


def test_deterministic_cases_pass_in_another_process_too(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(exp_toy=TOY)
    result = run_pytest(pytester, "xdist", "--exp-check-determinism", "--exp-config", "C=1,2", "--exp-seed=5")
    result.assert_outcomes(passed=2)
    assert len(stored_runs(pytester)) == 2  # the checks' second runs are not recorded
