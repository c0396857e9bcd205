"""Collection: experiments → items, variants → cases, usage errors, the experiment marker."""

from __future__ import annotations

import pytest
from plugin_helpers import MODES, TOY, results_by_case, run_pytest, stored_runs


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


def test_experiment_file_is_collected_with_its_default_config(pytester: pytest.Pytester, mode: str) -> None:
    pytester.makepyfile(exp_toy=TOY)
    result = run_pytest(pytester, mode, "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*exp_toy.py::toy*"])
    (record,) = stored_runs(pytester)
    assert record.status == "COMPLETED"
    assert record.config["gamma"] == 0.5 and record.result["score"] == 0.5


def test_sweep_gives_cartesian_product_in_command_line_order(pytester: pytest.Pytester, mode: str) -> None:
    pytester.makepyfile(exp_toy=TOY)
    result = run_pytest(
        pytester, mode, "--exp-config", "gamma=0.1,0.7", "--exp-config", "C=1,10", "--collect-only", "-q"
    )
    assert result.ret == 0
    ids = [line for line in result.outlines if "::" in line]
    assert ids == [
        "exp_toy.py::toy[C=1-gamma=0.1]",
        "exp_toy.py::toy[C=10-gamma=0.1]",
        "exp_toy.py::toy[C=1-gamma=0.7]",
        "exp_toy.py::toy[C=10-gamma=0.7]",
    ]


def test_each_case_runs_with_its_values_and_is_recorded_once(pytester: pytest.Pytester, mode: str) -> None:
    pytester.makepyfile(exp_toy=TOY)
    result = run_pytest(pytester, mode, "--exp-config", "gamma=0.1,0.7", "--exp-config", "optimizer.lr=range(0.1, 0.3, 0.1)")
    result.assert_outcomes(passed=4)
    runs = results_by_case(pytester)
    assert len(stored_runs(pytester)) == 4
    assert runs["toy[gamma=0.7-optimizer.lr=0.2]"].result["lr"] == 0.2
    assert runs["toy[gamma=0.1-optimizer.lr=0.1]"].config["gamma"] == 0.1
    assert len({r.id for r in runs.values()}) == 4


def test_named_configs_as_variants(pytester: pytest.Pytester, mode: str) -> None:
    pytester.makepyfile(exp_toy=TOY)
    result = run_pytest(pytester, mode, "--exp-named-config", "fast,big", "--exp-named-config", "fast+big", "-v")
    result.assert_outcomes(passed=3)
    runs = results_by_case(pytester)
    assert runs["toy[fast]"].config["C"] == 100 and runs["toy[fast]"].config["gamma"] == 0.5
    assert runs["toy[big]"].config["gamma"] == 2.0
    assert runs["toy[fast+big]"].result["score"] == 200.0


def test_ini_defaults_are_overridden_key_by_key(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(exp_toy=TOY)
    pytester.makeini("[pytest]\nsacredx_config =\n    gamma=0.1,0.2\n    C=3\n")
    result = run_pytest(pytester, "serial", "--exp-config", "gamma=0.9", "--collect-only", "-q")
    assert "exp_toy.py::toy[C=3-gamma=0.9]" in result.outlines


def test_k_selects_by_key_and_value(pytester: pytest.Pytester, mode: str) -> None:
    pytester.makepyfile(exp_toy=TOY)
    result = run_pytest(pytester, mode, "--exp-config", "gamma=0.1,0.7", "--exp-config", "C=1,10", "-k", "gamma and 0.1 and not 10")
    # xdist deselects on the workers, so only the serial run reports the deselected count
    result.assert_outcomes(passed=1, deselected=3 if mode == "serial" else 0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--exp-config", "gama=0.1"], "*--exp-config gama=*no collected experiment has*Did you mean 'gamma'?*"),
        (["--exp-config", "gamma"], "*has no '='*"),
        (["--exp-config", "gamma=0.1,,0.2"], "*Empty value*"),
        (["--exp-config", "gamma=range(0,1,0)"], "*step must not be 0*"),
        (["--exp-named-config", "fats"], "*--exp-named-config 'fats'*Did you mean 'fast'?*"),
    ],
)
def test_bad_sweeps_are_one_line_usage_errors(pytester: pytest.Pytester, args: list[str], message: str) -> None:
    pytester.makepyfile(exp_toy=TOY)
    result = run_pytest(pytester, "serial", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}"])
    assert "Traceback" not in result.stderr.str()


def test_unknown_key_is_a_usage_error_under_xdist_too(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(exp_toy=TOY)
    result = run_pytest(pytester, "xdist", "--exp-config", "gama=0.1")
    assert result.ret != 0
    assert "no collected experiment has" in result.stdout.str() + result.stderr.str()


def test_automain_is_not_triggered_and_imported_experiments_are_not_collected_twice(
    pytester: pytest.Pytester, mode: str
) -> None:
    pytester.makepyfile(
        exp_auto=TOY.replace("@ex.main", "@ex.automain"),
        test_other="from exp_auto import ex\n\ndef test_plain():\n    assert ex.path == 'toy'\n",
    )
    result = run_pytest(pytester, mode, "-v")
    result.assert_outcomes(passed=2)
    assert len(stored_runs(pytester)) == 1


def test_file_named_on_command_line_is_collected_and_store_is_ignored(pytester: pytest.Pytester) -> None:
    path = pytester.makepyfile(my_study=TOY)
    result = run_pytest(pytester, "serial", str(path), "-v")
    result.assert_outcomes(passed=1)
    # the store folder beside the rootdir is never collected
    result = run_pytest(pytester, "serial", "--collect-only", "-q")
    assert ".sacredx" not in result.stdout.str()


def test_marker_and_exp_run_sweep_an_ordinary_test(pytester: pytest.Pytester, mode: str) -> None:
    pytester.makepyfile(exp_toy=TOY)
    pytester.makepyfile(
        test_study="""
        import pytest
        from exp_toy import ex

        @pytest.mark.experiment(ex, gamma=[0.1, 0.7])
        def test_score(exp_run, exp_seed):
            run = exp_run()
            assert run.status == "COMPLETED"
            assert run.result["seed"] != exp_seed  # _seed derives from the run seed
            assert run.config["seed"] == exp_seed
            assert run.result["score"] == run.config["gamma"] * run.config["C"]
        """
    )
    result = run_pytest(pytester, mode, "-v", "--exp-config", "C=2", "test_study.py")
    result.assert_outcomes(passed=2)
    out = result.stdout.str()
    assert "test_score[C=2-gamma=0.1]" in out and "test_score[C=2-gamma=0.7]" in out
    assert sorted(r.config["gamma"] for r in stored_runs(pytester)) == [0.1, 0.7]


def test_marker_with_unknown_key_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(exp_toy=TOY)
    pytester.makepyfile(
        test_study="""
        import pytest
        from exp_toy import ex

        @pytest.mark.experiment(ex, gama=[0.1])
        def test_score(exp_run):
            exp_run()
        """
    )
    result = run_pytest(pytester, "serial", "test_study.py")
    assert result.ret != 0
    assert "Did you mean 'gamma'?" in result.stdout.str() + result.stderr.str()


def test_variants_hook_contributes_cases(pytester: pytest.Pytester, mode: str) -> None:
    pytester.makepyfile(exp_toy=TOY)
    pytester.makeconftest(
        """
        from pytest_sacredx.pytest_plugin.sweep import Variant

        def pytest_sacredx_variants(config, experiment):
            return [Variant(updates=(("C", 7),))]
        """
    )
    result = run_pytest(pytester, mode, "--collect-only", "-q")
    assert "exp_toy.py::toy[C=7]" in result.outlines


def test_help_lists_every_option(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--help")
    assert result.ret == 0
    out = result.stdout.str()
    for option in ("--exp-config", "--exp-named-config", "--exp-seed", "--exp-observer", "--exp-summary"):
        assert option in out
