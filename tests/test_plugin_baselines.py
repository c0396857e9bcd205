"""--exp-regression / --exp-regen: baseline files, pinned seeds, tolerances, mismatch reports."""

from __future__ import annotations

import json
import shlex
from typing import Any

import pytest
from hypothesis import given
from plugin_helpers import MODES, TOY, results_by_case, run_pytest, stored_runs
from strategies import json_results

from pytest_sacredx.pytest_plugin.baselines import dumps_baseline
from pytest_sacredx.pytest_plugin.tolerance import compare_run

# score depends on the seed: a baseline that did not pin its seed would not reproduce
SEEDED = TOY.replace('_run.log_scalar("score", gamma * C)', '_run.log_scalar("score", gamma * C + _seed % 7)')


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


@given(json_results(), json_results())
def test_baseline_text_round_trips_any_result(result: Any, metric: Any) -> None:
    content = {"case": "C=1", "config": {"C": 1}, "seed": 5, "result": result, "metrics": {"m": metric}}
    text = dumps_baseline(content)
    assert text.endswith("}\n") and dumps_baseline(json.loads(text)) == text
    assert compare_run(content, json.loads(text)) == []


def test_missing_baselines_fail_are_written_and_then_pass_with_pinned_seeds(pytester: pytest.Pytester, mode: str) -> None:
    pytester.makepyfile(exp_toy=SEEDED)
    first = run_pytest(pytester, mode, "--exp-config", "C=1,2", "--exp-regression", "--exp-seed=1")
    first.assert_outcomes(failed=2)
    first.stdout.fnmatch_lines(["*no baseline for this case yet: wrote baselines/toy/C=1.json (seed *)*"])
    first.stdout.fnmatch_lines(["sacredx baselines (compared): 2 written"])
    path = pytester.path / "baselines" / "toy" / "C=1.json"
    text = path.read_text()
    data = json.loads(text)
    assert sorted(data) == ["case", "config", "metrics", "result", "seed"]
    assert data["case"] == "C=1" and data["config"]["C"] == 1 and "seed" not in data["config"]
    assert text == json.dumps(data, sort_keys=True, indent=2) + "\n"
    # another session seed, another order, another process layout: the pinned seeds reproduce
    again = run_pytest(pytester, mode, "--exp-config", "C=2,1", "--exp-regression", "--exp-seed=2")
    again.assert_outcomes(passed=2)
    again.stdout.fnmatch_lines(["sacredx baselines (compared): 2 checked"])
    assert results_by_case(pytester)["toy[C=1]"].config["seed"] == data["seed"]
    assert path.read_text() == text


def test_mismatch_shows_keys_diffs_and_the_regen_command(pytester: pytest.Pytester, mode: str) -> None:
    pytester.makepyfile(exp_toy=TOY)
    run_pytest(pytester, mode, "--exp-config", "C=1,2", "--exp-regression")
    path = pytester.path / "baselines" / "toy" / "C=2.json"
    data = json.loads(path.read_text())
    data["metrics"]["score"] = 1.5
    data["result"]["lr"] = 0.2
    path.write_text(json.dumps(data))
    result = run_pytest(pytester, mode, "--exp-config", "C=1,2", "--exp-regression")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "baseline mismatch: baselines/toy/C=2.json (seed *)",
            "  key *expected*got*abs diff*rel diff*tolerance",
            "  result.lr *0.2 *0.1 *0.1 *50%*exact",
            "  score *1.5 *1 *0.5 *33.33%*exact",
            "regenerate this baseline: pytest 'exp_toy.py::toy[[]C=2]' --exp-config=C=2 --exp-regen",
        ]
    )
    result.stdout.fnmatch_lines(["FAILED exp_toy.py::toy[[]C=2] - baseline mismatch*"])
    # the printed command regenerates exactly that baseline
    line = next(x for x in result.outlines if x.startswith("regenerate this baseline: pytest "))
    other = (pytester.path / "baselines" / "toy" / "C=1.json").stat().st_mtime_ns
    regen = run_pytest(pytester, mode, *shlex.split(line.split("pytest ", 1)[1]))
    regen.assert_outcomes(passed=1)
    regen.stdout.fnmatch_lines(["sacredx baselines (regenerated): 1 rewritten"])
    assert json.loads(path.read_text())["metrics"]["score"] == 1
    assert (pytester.path / "baselines" / "toy" / "C=1.json").stat().st_mtime_ns == other
    run_pytest(pytester, mode, "--exp-config", "C=1,2", "--exp-regression").assert_outcomes(passed=2)


def test_regen_rewrites_only_cases_that_ran_even_failing_ones(pytester: pytest.Pytester, mode: str) -> None:
    pytester.makepyfile(
        exp_toy=TOY,
        test_toy="""
import pytest
from exp_toy import ex

@pytest.mark.experiment(ex, C=[1, 2])
def test_small(exp_run):
    assert exp_run().result["score"] < 0.7   # fails for C=2, whose run completes
""",
    )
    run_pytest(pytester, mode, "--exp-regen", "-k", "test_small").assert_outcomes(passed=1, failed=1)
    folder = pytester.path / "baselines" / "test_small"
    assert sorted(p.name for p in folder.iterdir()) == ["C=1.json", "C=2.json"]
    assert not (pytester.path / "baselines" / "toy").exists()  # the experiment item did not run


@pytest.mark.parametrize("mode", ["serial"])  # no -n 2 variant: tolerances apply inside the case; the -n 2 baseline tests cover the plumbing
def test_tolerances_from_ini_and_marker(pytester: pytest.Pytester, mode: str) -> None:
    pytester.makepyfile(
        exp_toy=TOY,
        test_toy="""
import pytest
from exp_toy import ex

@pytest.mark.experiment(ex, tolerance={"score": 0.5})
def test_default(exp_run):
    exp_run()
""",
    )
    run_pytest(pytester, mode, "--exp-regression")  # writes both baselines
    assert (pytester.path / "baselines" / "test_default" / "default.json").exists()
    for path in (pytester.path / "baselines").glob("*/default.json"):
        data = json.loads(path.read_text())
        data["metrics"]["score"] *= 1.2
        path.write_text(json.dumps(data))
    # the marker allows 50 %; the experiment item is exact until the ini line allows it
    run_pytest(pytester, mode, "--exp-regression").assert_outcomes(passed=1, failed=1)
    pytester.makeini("[pytest]\nsacredx_tolerance =\n    score rtol=0.25\n")
    run_pytest(pytester, mode, "--exp-regression").assert_outcomes(passed=2)


def test_bad_tolerance_line_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(exp_toy=TOY)
    pytester.makeini("[pytest]\nsacredx_tolerance =\n    score rtol=lots\n")
    result = run_pytest(pytester, "serial", "--exp-regression")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: sacredx_tolerance line 'score rtol=lots': 'lots' is not a number."])


def test_ini_switch_and_baseline_dir(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(exp_toy=TOY)
    pytester.makeini("[pytest]\nsacredx_regression = true\nsacredx_baseline_dir = pins\n")
    run_pytest(pytester, "serial").assert_outcomes(failed=1)
    assert (pytester.path / "pins" / "toy" / "default.json").exists()
    run_pytest(pytester, "serial").assert_outcomes(passed=1)


def test_iris_sweep_regression_as_in_the_readme(tmp_path) -> None:
    import subprocess
    import sys
    from pathlib import Path

    example = Path(__file__).resolve().parent.parent / "examples" / "iris_svm.py"
    cmd = [sys.executable, "-m", "pytest", str(example), "--exp-config", "gamma=0.1,0.7", "-p", "no:randomly",
           "--exp-observer", "none", "-o", f"sacredx_baseline_dir={tmp_path / 'baselines'}",
           "-o", f"cache_dir={tmp_path / 'cache'}", "--exp-regression"]
    first = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert "2 failed" in first.stdout and "2 written" in first.stdout, first.stdout[-3000:]
    assert sorted(p.name for p in (tmp_path / "baselines" / "iris_rbf_svm").iterdir()) == ["gamma=0.1.json", "gamma=0.7.json"]
    second = subprocess.run([*cmd, "--exp-seed=99"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert "2 passed" in second.stdout and "2 checked" in second.stdout, second.stdout[-3000:]


SERIES = '''
from pytest_sacredx import Experiment

ex = Experiment("series")

@ex.config
def cfg():
    bump = 0.0

@ex.main
def main(bump, _run):
    for step in range(5):
        _run.log_scalar("loss", 1.0 / (step + 1) + (bump if step == 2 else 0.0))
    return 1
'''


def test_whole_series_can_be_pinned(pytester: pytest.Pytester) -> None:
    import json

    pytester.makepyfile(exp_series=SERIES)
    pytester.makeini("[pytest]\nsacredx_baseline_series = true\n")
    first = run_pytest(pytester, "serial", "--exp-regression")
    first.assert_outcomes(failed=1)  # written
    (path,) = (pytester.path / "baselines" / "series").glob("*.json")
    stored = json.loads(path.read_text())
    assert stored["series"]["loss"]["steps"] == [0, 1, 2, 3, 4]
    assert stored["metrics"] == {"loss": 0.2}
    run_pytest(pytester, "serial", "--exp-regression").assert_outcomes(passed=1)
    # the final value is unchanged, an intermediate point moved: only the series catches it
    pytester.makepyfile(exp_series=SERIES.replace("bump = 0.0", "bump = 0.5"))
    moved = run_pytest(pytester, "serial", "--exp-regression")
    moved.assert_outcomes(failed=1)
    moved.stdout.fnmatch_lines(["*baseline mismatch*", "*loss*"])


def test_two_cases_never_share_a_baseline_file(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(exp_toy=TOY)
    body = """
        import pytest
        from exp_toy import ex

        @pytest.mark.experiment(ex)
        def test_same_name(exp_run):
            exp_run()
        """
    pytester.makepyfile(test_one=body, test_two=body)
    result = run_pytest(pytester, "serial", "--exp-regen", "test_one.py", "test_two.py")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*would share the baseline baselines/test_same_name/default.json*"])


def _inprocess(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return run_pytest(pytester, "serial", *args)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: {**d, "metrics": [1, 2]}, '"metrics" is [1, 2], not an object of names'),
        (lambda d: {**d, "seed": "x"}, "\"seed\" is 'x', not an integer"),
        (lambda d: {**d, "series": {"score": {"steps": [0], "values": []}}}, '"series"."score" has 1 steps but 0 values'),
        (lambda d: [d], "holds list, not a JSON object"),
        (None, "not valid JSON (Expecting value: line 1 column 10 (char 9))"),
    ],
)
def test_a_hand_edited_baseline_is_checked_before_the_run_and_never_fails_the_run(
    pytester: pytest.Pytester, edit: Any, message: str
) -> None:
    pytester.makepyfile(exp_toy=SEEDED)
    _inprocess(pytester, "--exp-regression").assert_outcomes(failed=1)  # writes the baseline
    path = pytester.path / "baselines" / "toy" / "default.json"
    data = json.loads(path.read_text())
    path.write_text(json.dumps(edit(data)) if edit else '{"seed": ')
    runs_before = len(stored_runs(pytester))
    result = _inprocess(pytester, "--exp-regression")
    result.assert_outcomes(errors=1)
    assert (f"baseline baselines/toy/default.json: {message}; fix it by hand or rewrite the file with: "
            "pytest exp_toy.py::toy --exp-regen") in result.stdout.str()
    assert "Traceback" not in result.stdout.str() and "another exception" not in result.stdout.str()
    assert len(stored_runs(pytester)) == runs_before  # the experiment did not run: no FAILED run
    _inprocess(pytester, "--exp-regen").assert_outcomes(passed=1)
    assert isinstance(json.loads(path.read_text())["seed"], int)


@pytest.mark.parametrize("name", ["..", ".", "../../escape", ".hidden"])
def test_experiment_names_never_put_a_baseline_outside_the_folder(pytester: pytest.Pytester, name: str) -> None:
    pytester.makepyfile(exp_odd=TOY.replace('Experiment("toy")', f"Experiment({name!r})"))
    _inprocess(pytester, "--exp-regression").assert_outcomes(failed=1)
    written = [p for p in pytester.path.rglob("*.json") if ".sacredx" not in p.parts]
    assert len(written) == 1
    (path,) = written
    assert path.parent.parent == pytester.path / "baselines" and path.name == "default.json"
    assert not path.parent.name.startswith(".")
