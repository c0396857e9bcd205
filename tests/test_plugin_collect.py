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


@pytest.mark.parametrize("mode", ["serial"])  # no -n 2 variant: variants are computed alike on every worker; the -n 2 sweep test covers that
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


@pytest.mark.parametrize("mode", ["serial"])  # no -n 2 variant: -k runs on each worker's identical collection, which every -n 2 test checks
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
    result = run_pytest(pytester, "serial", "--help")
    assert result.ret == 0
    out = result.stdout.str()
    for option in ("--exp-config", "--exp-named-config", "--exp-seed", "--exp-observer", "--exp-summary"):
        assert option in out


# ---------------------------------------------------------------------------- sweeps from ini files
def _inprocess(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return run_pytest(pytester, "serial", *args)


def test_two_keys_on_one_ini_line_is_a_usage_error_naming_the_ini_file(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(exp_toy=TOY)
    pytester.makeini("[pytest]\nsacredx_config = gamma=0.1,0.7 C=1\n")
    result = _inprocess(pytester, "--collect-only", "-q")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: sacredx_config in tox.ini: *second key 'C='*one KEY=VALUES per line*"])


def test_a_bad_ini_sweep_line_names_the_ini_key_and_file_not_the_command_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(exp_toy=TOY)
    pytester.makeini("[pytest]\nsacredx_config =\n    C=1\n    gamma 0.1,0.7\n")
    result = _inprocess(pytester, "--collect-only", "-q")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: sacredx_config in tox.ini 'gamma 0.1,0.7' has no '='*"])
    assert "--exp-config" not in result.stderr.str()


def test_the_same_key_twice_on_the_command_line_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(exp_toy=TOY)
    result = _inprocess(pytester, "--exp-config", "C=1,10", "--exp-config", "C=5", "--collect-only", "-q")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --exp-config C=… is given twice (C=1,10 and C=5)*--exp-config C=1,10,5."])


DYNAMIC = '''
from pytest_sacredx import Experiment

ex = Experiment("dynamic")

@ex.config
def cfg():
    model = {"kind": "svm"}

@ex.named_config
def deep():
    model = {"kind": "mlp", "layers": 2}

@ex.main
def main(model):
    return model
'''


def test_keys_a_config_file_or_named_config_provides_can_be_swept(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(exp_dynamic=DYNAMIC)
    (pytester.path / "config_svm.json").write_text('{"model": {"hyperparameters": {"C": 1, "gamma": 0.5}}}')
    result = _inprocess(pytester, "--exp-named-config", "config_svm.json", "--exp-config",
                        "model.hyperparameters.C=1,10", "-v")
    result.assert_outcomes(passed=2)
    by_case = results_by_case(pytester)
    assert {k: r.result["hyperparameters"]["C"] for k, r in by_case.items()} == {
        "dynamic[config_svm.json-model.hyperparameters.C=1]": 1,
        "dynamic[config_svm.json-model.hyperparameters.C=10]": 10,
    }
    # a named config provides a key only to its own variants; the others run without the axis
    result = _inprocess(pytester, "--exp-named-config", "deep,config_svm.json", "--exp-config", "model.layers=1,3",
                        "--collect-only", "-q")
    assert [line for line in result.outlines if "::" in line] == [
        "exp_dynamic.py::dynamic[deep-model.layers=1]",
        "exp_dynamic.py::dynamic[deep-model.layers=3]",
        "exp_dynamic.py::dynamic[config_svm.json]",
    ]


# ---------------------------------------------------------------------------- huge sweeps
@pytest.mark.parametrize(
    ("sweep", "count"),
    [("C=range(0,100000000000)", "100,000,000,000"), ("gamma=range(0,3e7)", "30,000,000")],
)
def test_a_sweep_over_the_limit_is_one_usage_error_naming_count_and_limit(
    pytester: pytest.Pytester, sweep: str, count: str
) -> None:
    pytester.makepyfile(exp_toy=TOY)
    result = _inprocess(pytester, "--exp-config", sweep, "--collect-only", "-q")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: the sweep of 'toy' gives {count} cases *more than sacredx_max_cases = 100,000*"])
    assert "Traceback" not in result.stderr.str() + result.stdout.str()


def test_max_cases_counts_named_configs_seeds_and_the_whole_session(pytester: pytest.Pytester, mode: str) -> None:
    pytester.makepyfile(exp_toy=TOY, exp_copy=TOY.replace('"toy"', '"copy"'))
    pytester.makeini("[pytest]\nsacredx_max_cases = 11\n")
    ok = run_pytest(pytester, mode, "--exp-config", "C=1,2,3", "--exp-named-config", "fast", "--collect-only", "-q")
    assert ok.ret == 0  # 2 experiments x 3 values: 6 cases
    over = run_pytest(pytester, mode, "--exp-config", "C=1,2,3", "--exp-named-config", "fast,big",
                      "--exp-seeds", "2", "-p", "no:cacheprovider")
    assert over.ret != 0
    text = over.stdout.str() + over.stderr.str()
    assert "gives 12 cases (C: 3 values, 2 named-config variants, 2 seeds each)" in text
    assert "more than sacredx_max_cases = 11 (tox.ini)" in text and "passed" not in text


# ---------------------------------------------------------------------------- --lf, --ff, --nf, --sw
PLAIN = """
import pytest

@pytest.mark.parametrize("C", [1, 13, 2])
def test_plain(C):
    assert C != 13
"""


def _ran(result: pytest.RunResult) -> list[str]:
    """Node ids in the order they ran (from -v lines; xdist prefixes them with the worker)."""
    ids = []
    for line in result.outlines:
        for word in line.split():
            if "::" in word and ("PASSED" in line or "FAILED" in line):
                ids.append(word)
    return list(dict.fromkeys(ids))  # the short summary repeats the failures


def test_cache_plugin_reruns_select_and_order_cases_as_ordinary_tests(pytester: pytest.Pytester, mode: str) -> None:
    pytester.makepyfile(exp_toy=TOY, test_plain=PLAIN)
    sweep = ("--exp-config", "C=1,13,2")
    run_pytest(pytester, mode, *sweep).assert_outcomes(passed=4, failed=2)
    last_failed = run_pytest(pytester, mode, *sweep, "--lf", "-v")
    last_failed.assert_outcomes(failed=2)
    assert sorted(_ran(last_failed)) == ["exp_toy.py::toy[C=13]", "test_plain.py::test_plain[13]"]
    if mode == "serial":
        last_failed.stdout.fnmatch_lines(["run-last-failure: rerun previous 2 failures*"])
        first = run_pytest(pytester, mode, *sweep, "--ff", "-v")
        first.assert_outcomes(passed=4, failed=2)
        assert {*_ran(first)[:2]} == {"exp_toy.py::toy[C=13]", "test_plain.py::test_plain[13]"}
        new = run_pytest(pytester, mode, "--exp-config", "C=1,13,2,7", "--nf", "-v")
        assert _ran(new)[0] == "exp_toy.py::toy[C=7]"
        run_pytest(pytester, mode, *sweep, "exp_toy.py", "--sw").assert_outcomes(passed=1, failed=1)
        again = run_pytest(pytester, mode, *sweep, "exp_toy.py", "--sw", "-v")
        again.stdout.fnmatch_lines(["stepwise: skipping 1 already passed items*"])
        assert _ran(again)[0] == "exp_toy.py::toy[C=13]"
# ---------------------------------------------------------------- opt-in: a project without experiments
SIDE_EFFECT = '''
"""A helper module whose name matches exp_*.py: importing it has a side effect."""
import pathlib
pathlib.Path("exp_utils_was_imported").write_text("yes")
'''


def ours(result: pytest.RunResult) -> list[str]:
    """The lines the plugin prints: the header line and the summary (not pytest's plugin list)."""
    return [line for line in result.outlines if line.startswith("sacredx") or "experiment runs" in line]


def test_a_project_without_experiments_is_left_alone(pytester: pytest.Pytester, mode: str) -> None:
    pytester.makepyfile(exp_utils=SIDE_EFFECT, test_plain="def test_plain():\n    assert True\n")
    result = run_pytest(pytester, mode, "-v", opt_in=False)
    result.assert_outcomes(passed=1)
    assert not (pytester.path / "exp_utils_was_imported").exists()  # never imported
    assert ours(result) == []  # no header line, no summary
    assert not (pytester.path / ".sacredx").exists()  # no store
    assert not list(pytester.path.glob(".pytest_cache/v/sacredx*"))  # no remembered seed


def test_experiments_are_collected_where_the_project_says(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(exp_toy=TOY, exp_utils=SIDE_EFFECT)
    pytester.makepyfile(
        test_inline="""
        from pytest_sacredx import Experiment

        inline = Experiment("inline")

        @inline.main
        def main():
            return 1
        """
    )

    def collected(*args: str) -> list[str]:
        result = run_pytest(pytester, "serial", "--collect-only", "-q", *args, opt_in=False)
        return sorted(line for line in result.outlines if "::" in line)

    # test modules are collected anyway, and so are the experiments they define
    assert collected() == ["test_inline.py::inline"]
    # a file named on the command line
    assert collected("exp_toy.py") == ["exp_toy.py::toy"]
    # or the ini patterns
    pytester.makeini("[pytest]\nsacredx_files = exp_t*.py\n")
    assert collected() == ["exp_toy.py::toy", "test_inline.py::inline"]
    assert not (pytester.path / "exp_utils_was_imported").exists()


def test_header_only_with_experiments_or_an_exp_option(pytester: pytest.Pytester, mode: str) -> None:
    pytester.makepyfile(exp_toy=TOY, test_plain="def test_plain():\n    assert True\n")
    # experiments collected: the line comes after collection (xdist: with the summary)
    result = run_pytest(pytester, mode, "exp_toy.py", opt_in=False)
    result.assert_outcomes(passed=1)
    assert len([line for line in result.outlines if line.startswith("sacredx: --exp-seed=")]) == 1
    # none collected, no option: nothing of ours
    result = run_pytest(pytester, mode, "test_plain.py", opt_in=False)
    assert ours(result) == []
    # an --exp-* option asks for us: the header says what the session would do
    result = run_pytest(pytester, mode, "test_plain.py", "--exp-seed=5", opt_in=False)
    result.stdout.fnmatch_lines(["sacredx: --exp-seed=5 (sweep *, recording to tinydb:.sacredx)"])
