"""--exp-compare / --exp-compare-fail: this sweep against an earlier one in the store."""

from __future__ import annotations

import pytest
from plugin_helpers import MODES, TOY, run_pytest, stored_runs

from pytest_sacredx.pytest_plugin.compare import parse_fail_rule, worse

WORSE = TOY.replace('_run.log_scalar("score", gamma * C)', '_run.log_scalar("score", gamma * C * (0.8 if C == 2 else 1))')


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


def test_compare_last_prints_the_table_and_fails_worse_cases(pytester: pytest.Pytester, mode: str) -> None:
    pytester.makepyfile(exp_toy=TOY)
    run_pytest(pytester, mode, "--exp-config", "C=1,2").assert_outcomes(passed=2)
    old_sweep = stored_runs(pytester)[0].meta["pytest"]["sweep_id"]
    pytester.makepyfile(exp_toy=WORSE)
    result = run_pytest(
        pytester, mode, "--exp-config", "C=1,2,3", "--exp-compare=last", "--exp-compare-fail=score:-10%"
    )
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            f"worse than sweep {old_sweep} (tinydb:*.sacredx):",
            "  score: 1 → 0.8 (-0.2 = -20%), allowed -10%",
            "*experiment comparison*",
            f"against sweep {old_sweep} (*): 2 of 3 cases matched",
            "case *key *old *new *change",
            "toy[[]C=1] *score *0.5 *0.5 *+0 = +0%",
            "toy[[]C=2] *score *1 *0.8 *-0.2 = -20%",
            "toy[[]C=3] *score *— *1.5 *new",
            "FAILED exp_toy.py::toy[[]C=2] - worse than sweep*",
        ]
    )
    # a looser threshold, an absolute one, and "higher is worse" all pass (the rules are parsed and
    # applied alike in every process: -n 2 runs the first)
    rules = ("score:-25%", "score:-0.3", "score:+1%")
    for rule in rules if mode == "serial" else rules[:1]:
        again = run_pytest(pytester, mode, "--exp-config", "C=1,2", f"--exp-compare={old_sweep[:6]}",
                           f"--exp-compare-fail={rule}")
        again.assert_outcomes(passed=2)


@pytest.mark.parametrize("mode", ["serial"])  # no -n 2 variant: the reference reaches workers as in the -n 2 compare test
def test_first_sweep_compares_nothing_and_passes(pytester: pytest.Pytester, mode: str) -> None:
    pytester.makepyfile(exp_toy=TOY)
    result = run_pytest(pytester, mode, "--exp-compare=last", "--exp-compare-fail=score:-1%")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["sacredx compare: no earlier sweep in the store; nothing compared"])


@pytest.mark.parametrize("mode", ["serial"])  # no -n 2 variant: the reference reaches workers as in the -n 2 compare test
def test_store_uri_reference(pytester: pytest.Pytester, mode: str) -> None:
    pytester.makepyfile(exp_toy=TOY)
    run_pytest(pytester, mode, "--exp-observer", "file:.old_runs").assert_outcomes(passed=1)
    result = run_pytest(pytester, mode, "--exp-compare=file:.old_runs")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["against sweep * (file:.old_runs): 1 of 1 cases matched"])


@pytest.mark.parametrize(
    "args, message",
    [
        (["--exp-compare=last", "--exp-compare-fail=score:2%"],
         "*expected KEY:-N% or KEY:+N%*Give a sign: score:-2% fails when it drops, score:+2% when it rises."),
        (["--exp-compare-fail=score:-2%"], "*--exp-compare-fail needs --exp-compare=last|SWEEP_ID|STORE_URI."),
        (["--exp-compare=abcdef"], "*sweep 'abcdef' is not in the store*Recent sweeps: *"),
    ],
)
def test_usage_errors(pytester: pytest.Pytester, args: list[str], message: str) -> None:
    pytester.makepyfile(exp_toy=TOY)
    run_pytest(pytester, "serial")
    result = run_pytest(pytester, "serial", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_fail_rules() -> None:
    drop = parse_fail_rule("accuracy:-2%")
    assert (drop.key, drop.amount, drop.relative) == ("accuracy", -0.02, True)
    assert drop.violated(1.0, 0.97) and not drop.violated(1.0, 0.99) and not drop.violated(1.0, 2.0)
    rise = parse_fail_rule("loss:+5%")
    assert rise.violated(1.0, 1.06) and not rise.violated(1.0, 0.5)
    absolute = parse_fail_rule("accuracy:-0.01")
    assert not absolute.relative and absolute.violated(0.9, 0.88) and not absolute.violated(0.9, 0.895)
    assert parse_fail_rule("val:acc:-1e-3").key == "val:acc"
    rules = [drop, rise]
    assert [r.key for r, _, _ in worse(rules, {"accuracy": 1.0, "loss": 1.0}, {"accuracy": 0.9, "loss": 1.0})] == ["accuracy"]
    assert worse(rules, {"accuracy": 1.0}, {"loss": 9.0}) == []
