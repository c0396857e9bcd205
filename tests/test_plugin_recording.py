"""Every case is a recorded run: stores, pytest metadata, captured output, hooks."""

from __future__ import annotations

import json

import pytest
from plugin_helpers import MODES, TOY, run_pytest, stored_runs


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


def test_runs_carry_pytest_metadata_and_one_sweep_id(pytester: pytest.Pytester, mode: str) -> None:
    pytester.makepyfile(exp_toy=TOY)
    result = run_pytest(pytester, mode, "--exp-config", "C=1,2,3,13", "--exp-seed=11")
    result.assert_outcomes(passed=3, failed=1)
    runs = stored_runs(pytester)
    assert len(runs) == 4 and len({r.id for r in runs}) == 4
    metas = [r.meta["pytest"] for r in runs]
    assert {m["session_seed"] for m in metas} == {11}
    assert len({m["sweep_id"] for m in metas}) == 1
    assert {m["case_id"] for m in metas} == {f"exp_toy.py::toy[C={c}]" for c in (1, 2, 3, 13)}
    workers = {m["worker"] for m in metas}
    assert workers <= ({"master"} if mode == "serial" else {"gw0", "gw1"})
    by_c = {r.config["C"]: r for r in runs}
    assert by_c[13].status == "FAILED" and by_c[13].info["pytest"]["outcome"] == "failed"
    assert by_c[1].status == "COMPLETED" and by_c[1].info["pytest"]["outcome"] == "passed"
    assert "ValueError: unlucky C" in "".join(by_c[13].fail_trace)


def test_output_comes_from_the_case_and_s_still_shows_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(exp_toy=TOY)
    result = run_pytest(pytester, "serial", "--exp-config", "gamma=0.25", "-s")
    assert "case 0.25 1" in result.stdout.str()
    (run,) = stored_runs(pytester)
    assert "case 0.25 1" in run.captured_out


def test_observer_uris_replace_the_default_store(pytester: pytest.Pytester, mode: str) -> None:
    pytester.makepyfile(exp_toy=TOY)
    result = run_pytest(pytester, mode, "--exp-observer", "file:runs", "--exp-config", "C=1,2")
    result.assert_outcomes(passed=2)
    assert not (pytester.path / ".sacredx").exists()
    run_dirs = sorted(p.name for p in (pytester.path / "runs").iterdir() if p.name.isdigit())
    assert run_dirs == ["1", "2"]
    stored = json.loads((pytester.path / "runs" / "1" / "run.json").read_text())
    assert stored["status"] == "COMPLETED" and "pytest" in stored["meta"]


def test_none_records_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(exp_toy=TOY)
    result = run_pytest(pytester, "serial", "--exp-observer", "none")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["sacredx: *recording to not recorded*"])
    assert not (pytester.path / ".sacredx").exists()


def test_bad_observer_uri_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(exp_toy=TOY)
    result = run_pytest(pytester, "serial", "--exp-observer", "flie:runs")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --exp-observer 'flie:runs': *"])


def test_ini_observers_and_experiment_observers_both_record(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        exp_toy=TOY + "\nfrom pytest_sacredx.observers import FileStorageObserver\n"
        "ex.observers.append(FileStorageObserver('own_runs'))\n"
    )
    pytester.makeini("[pytest]\nsacredx_observers =\n    tinydb:store\n")
    run_pytest(pytester, "serial").assert_outcomes(passed=1)
    assert len(stored_runs(pytester, "store")) == 1
    # each store numbers its runs itself
    assert (pytester.path / "own_runs" / "1" / "run.json").exists()


def test_hooks_see_runs_and_add_observers(pytester: pytest.Pytester, mode: str) -> None:
    pytester.makepyfile(exp_toy=TOY)
    pytester.makeconftest(
        """
        from pytest_sacredx.observers import FileStorageObserver

        def pytest_sacredx_make_observers(config):
            return [FileStorageObserver(str(config.rootpath / "extra"))]

        def pytest_sacredx_run_started(item, run):
            run.meta_info["ci_job"] = "job-7"

        def pytest_sacredx_run_finished(item, run):
            assert run.status == "COMPLETED"
            (item.config.rootpath / ("done-" + str(run.config["C"]))).write_text(str(run.result["score"]))

        def pytest_sacredx_case_seed(item, session_seed):
            return 1234
        """
    )
    run_pytest(pytester, mode, "--exp-config", "C=1,2").assert_outcomes(passed=2)
    runs = stored_runs(pytester)
    assert {r.meta["ci_job"] for r in runs} == {"job-7"}
    assert {r.config["seed"] for r in runs} == {1234}
    assert (pytester.path / "done-2").read_text() == "1.0"
    assert sorted(p.name for p in (pytester.path / "extra").iterdir() if (p / "run.json").exists()) == ["1", "2"]


@pytest.mark.parametrize("mode", ["serial"])  # no -n 2 variant: beats are per run, in the process that runs it
def test_heartbeats_flow_during_long_cases(pytester: pytest.Pytester, mode: str) -> None:
    pytester.makepyfile(
        exp_slow="""
        import pathlib, time
        from pytest_sacredx import Experiment

        ex = Experiment("slow")

        def beats():
            try:
                return int(pathlib.Path("beats.json").read_text())
            except (OSError, ValueError):  # not there yet, or being rewritten right now
                return 0

        @ex.main
        def main(_run):
            # a long case: it runs until three beats came while it ran (not for a fixed time, which a
            # busy machine could fill with fewer beats), at most 60 s
            deadline, step = time.monotonic() + 60, 0
            while beats() < 3 and time.monotonic() < deadline:
                step += 1
                _run.info["step"] = step
                time.sleep(0.02)
            _run.info["beats_seen"] = beats()
        """
    )
    pytester.makeconftest(
        """
        import json
        from pytest_sacredx.observers import RunObserver

        class CountBeats(RunObserver):
            def __init__(self, path):
                self.path, self.beats = path, 0
            def heartbeat_event(self, info, captured_out, beat_time, result):
                self.beats += 1
                self.path.write_text(json.dumps(self.beats))

        def pytest_sacredx_make_observers(config):
            return [CountBeats(config.rootpath / "beats.json")]
        """
    )
    run_pytest(pytester, mode, "--exp-beat-interval=0.1").assert_outcomes(passed=1)
    (run,) = stored_runs(pytester)
    assert run.info["beats_seen"] >= 3  # periodic beats reached the session's observers mid-case
    assert run.info["step"] >= 1  # and the stored run has the info of the last beat


def test_file_store_inside_the_project_is_not_collected(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(exp_toy=TOY)
    run_pytest(pytester, "serial", "--exp-observer", "file:runs").assert_outcomes(passed=1)
    assert any((pytester.path / "runs" / "_sources").iterdir())  # exp_toy_<md5>.py is in there
    result = run_pytest(pytester, "serial", "--exp-observer", "file:runs", "--collect-only", "-q")
    assert [line for line in result.outlines if "::" in line] == ["exp_toy.py::toy"]
