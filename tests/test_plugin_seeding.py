"""Seeds tied to the session seed: reproducible, independent of order, selection and -n."""

from __future__ import annotations

import re

import numpy  # noqa: F401 - imported before pytester snapshots sys.modules: NumPy cannot be imported twice
import pytest
from plugin_helpers import MODES, NO_HYPOTHESIS, OPT_IN, TOY, results_by_case, run_pytest

SWEEP = ["--exp-config", "gamma=0.1,0.7", "--exp-config", "C=1,10"]


def seeds(pytester: pytest.Pytester) -> dict[str, int]:
    return {case: r.config["seed"] for case, r in results_by_case(pytester).items()}


def clear_store(pytester: pytest.Pytester) -> None:
    import shutil

    shutil.rmtree(pytester.path / ".sacredx", ignore_errors=True)


def test_session_seed_reproduces_every_case_serial_and_xdist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(exp_toy=TOY)
    result = run_pytest(pytester, "serial", *SWEEP, "--exp-seed=42")
    result.stdout.fnmatch_lines(["sacredx: --exp-seed=42 *"])
    first = seeds(pytester)
    draws = {c: r.result["draw"] for c, r in results_by_case(pytester).items()}
    clear_store(pytester)
    run_pytest(pytester, "xdist", *SWEEP, "--exp-seed=42")
    assert seeds(pytester) == first
    assert {c: r.result["draw"] for c, r in results_by_case(pytester).items()} == draws
    assert len(set(first.values())) == 4  # every case has its own seed


def test_case_seed_does_not_depend_on_selection_or_order(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(exp_toy=TOY)
    run_pytest(pytester, "serial", *SWEEP, "--exp-seed=7")
    full = seeds(pytester)
    clear_store(pytester)
    run_pytest(pytester, "serial", *SWEEP, "--exp-seed=7", "-k", "0.7 and not 10")
    assert seeds(pytester) == {"toy[C=1-gamma=0.7]": full["toy[C=1-gamma=0.7]"]}
    clear_store(pytester)
    run_pytest(pytester, "serial", "--exp-config", "C=10,1", "--exp-config", "gamma=0.7,0.1", "--exp-seed=7")
    assert seeds(pytester) == full


def test_different_session_seeds_give_different_case_seeds(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(exp_toy=TOY)
    run_pytest(pytester, "serial", *SWEEP, "--exp-seed=1")
    one = seeds(pytester)
    clear_store(pytester)
    run_pytest(pytester, "serial", *SWEEP, "--exp-seed=2")
    assert set(one.values()).isdisjoint(seeds(pytester).values())


def test_explicit_seed_in_variant_wins(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(exp_toy=TOY)
    run_pytest(pytester, "serial", "--exp-config", "seed=5,6", "--exp-seed=1")
    assert sorted(seeds(pytester).values()) == [5, 6]


def test_seed_scope_experiment_shares_one_seed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(exp_toy=TOY)
    pytester.makeini("[pytest]\nsacredx_seed_scope = experiment\n")
    run_pytest(pytester, "serial", *SWEEP)
    assert len(set(seeds(pytester).values())) == 1


def test_last_reuses_the_previous_session_seed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(exp_toy=TOY)
    first = run_pytest(pytester, "serial", *SWEEP)
    seed = re.search(r"--exp-seed=(\d+)", first.stdout.str()).group(1)
    again = run_pytest(pytester, "serial", *SWEEP, "--exp-seed=last")
    again.stdout.fnmatch_lines([f"sacredx: --exp-seed={seed} *"])


def test_bad_seed_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(exp_toy=TOY)
    result = run_pytest(pytester, "serial", "--exp-seed=abc")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --exp-seed='abc' is not a number*"])


@pytest.mark.parametrize("mode", MODES)
def test_pytest_randomly_seed_is_the_session_seed(pytester: pytest.Pytester, mode: str) -> None:
    pytest.importorskip("pytest_randomly")
    pytester.makepyfile(exp_toy=TOY)
    base = ["-p", "no:benchmark", *OPT_IN, *NO_HYPOTHESIS, "-p", "randomly", "--randomly-seed=123"]
    args = [*base, "-p", "xdist", "-n", "2"] if mode == "xdist" else [*base, "-p", "no:xdist"]
    result = pytester.runpytest_subprocess(*args)
    result.stdout.fnmatch_lines(["sacredx: --exp-seed=123 *"])
    result.assert_outcomes(passed=1)


def test_global_rng_state_is_restored_after_a_case(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(exp_toy=TOY)
    pytester.makepyfile(
        test_order="""
        import random
        STATE = {}

        def test_a_before():
            random.seed(99)
            STATE["expected"] = [random.random() for _ in range(3)]
            random.seed(99)

        def test_b_experiment(exp_run):
            from exp_toy import ex
            exp_run(ex)

        def test_c_after():
            assert [random.random() for _ in range(3)] == STATE["expected"]
        """
    )
    result = run_pytest(pytester, "serial", "test_order.py", "-p", "no:randomly")
    result.assert_outcomes(passed=3)


def test_exp_seed_fixture_matches_recorded_seed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(exp_toy=TOY)
    pytester.makepyfile(
        test_seed="""
        import pytest
        from exp_toy import ex

        @pytest.mark.experiment(ex, gamma=[0.1, 0.2])
        def test_it(exp_run, exp_seed):
            run = exp_run()
            assert run.config["seed"] == exp_seed
        """
    )
    run_pytest(pytester, "serial", "test_seed.py", "--exp-seed=3").assert_outcomes(passed=2)
    serial = seeds(pytester)
    clear_store(pytester)
    run_pytest(pytester, "xdist", "test_seed.py", "--exp-seed=3").assert_outcomes(passed=2)
    assert seeds(pytester) == serial and len(set(serial.values())) == 2


def test_loadgroup_suffix_does_not_change_seeds(pytester: pytest.Pytester) -> None:
    """xdist's ``--dist loadgroup`` appends ``@<group>`` to the node ids of grouped tests on the
    workers, after collection — where pytest lets it: from pytest 9.2 node ids no longer change after
    collection, and xdist 3.8's suffix is silently dropped. Either way the case ids, and so the seeds,
    are the ones a serial run gives."""
    pytester.makepyfile(exp_toy=TOY)
    pytester.makepyfile(
        test_grouped="""
        import pytest
        from exp_toy import ex

        @pytest.mark.xdist_group("g1")
        @pytest.mark.experiment(ex, gamma=[0.1, 0.2])
        def test_it(exp_run):
            exp_run()
        """
    )
    run_pytest(pytester, "serial", "test_grouped.py", "--exp-seed=8").assert_outcomes(passed=2)
    serial = seeds(pytester)
    clear_store(pytester)
    run_pytest(pytester, "xdist", "test_grouped.py", "--exp-seed=8", "--dist", "loadgroup").assert_outcomes(passed=2)
    runs = results_by_case(pytester)
    assert seeds(pytester) == serial and len(set(serial.values())) == 2
    for r in runs.values():
        nodeid, case_id = r.meta["pytest"]["nodeid"], r.meta["pytest"]["case_id"]
        assert nodeid in (case_id, f"{case_id}@g1")  # the suffix, when xdist could add it
        assert "@" not in case_id


def test_a_case_seed_fans_out_as_in_sacred(pytester: pytest.Pytester) -> None:
    """The case seed is the run's root seed; ``_seed`` in main is what Sacred would give for it."""
    from pytest_sacredx.run.seeding import create_rnd, derive_seed, get_seed

    pytester.makepyfile(exp_toy=TOY)
    run_pytest(pytester, "serial", "--exp-config", "C=1,2", "--exp-seed=3")
    for case, run in results_by_case(pytester).items():
        seed = run.config["seed"]
        assert seed == derive_seed(3, f"exp_toy.py::{case}")
        rnd = create_rnd(seed)  # print_config, print_dependencies, save_config, print_named_configs, main
        main_seed = [get_seed(rnd) for _ in range(5)][-1]
        assert run.result["seed"] == get_seed(create_rnd(main_seed))


def test_a_named_config_that_sets_seed_runs_with_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(exp_toy=TOY + "\n@ex.named_config\ndef pinned():\n    seed = 77\n")
    run_pytest(pytester, "serial", "--exp-named-config", "pinned", "--exp-seed=3")
    assert list(seeds(pytester).values()) == [77]
