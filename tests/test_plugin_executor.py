"""--exp-executor (pytest_plugin/executor.py, pytest_plugin/dask_executor.py): cases run on a real Dask
cluster — ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1 (tests/dask_fixtures.py) —
and on ``dask:local``; each pytest session runs in a subprocess (the plugin starts clients, threads
and processes there)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from dask_fixtures import DaskCluster
from hypothesis import given
from hypothesis import strategies as st
from plugin_helpers import NO_HYPOTHESIS, OPT_IN, stored_runs

from pytest_sacredx.pytest_plugin.executor import (
    parse_executor,
    parse_resource_line,
    parse_size,
)

BASE = ("-p", "no:randomly", "-p", "no:benchmark", "-p", "no:cacheprovider", *OPT_IN, *NO_HYPOTHESIS, "-p", "no:xdist")

EXP = '''
"""An experiment for the executor tests."""
import os, random, tempfile, time
from pytest_sacredx import Experiment

ex = Experiment("NAME")

@ex.config
def cfg():
    C = 1
    gamma = 0.5
    sleep = 0.0
    pidfile = ""
    artifact = 0

@ex.main
def main(C, gamma, sleep, pidfile, artifact, _run, _seed):
    print("case", C, gamma)
    for step in range(3):
        _run.log_scalar("score", gamma * C + step)
    _run.info["where"] = os.getpid()
    if artifact:
        path = os.path.join(tempfile.mkdtemp(), f"model-{C}.txt")
        with open(path, "w") as f:
            f.write("w" * artifact)
        _run.add_artifact(path)
        os.remove(path)  # the bytes travel with the events, not the file
    if pidfile and C == 1 and not os.path.exists(f"{pidfile}.{C}"):  # the first attempt waits to be killed
        with open(f"{pidfile}.{C}", "w") as f:
            f.write(str(os.getpid()))
        time.sleep(sleep)
    if C == 13:
        raise ValueError("unlucky C")
    return {"seed": _seed, "draw": random.random(), "score": gamma * C}
'''


def write_experiment(pytester: pytest.Pytester, worker_path: bool = True, ini: str = "") -> str:
    """A uniquely named experiment module (workers keep modules imported by earlier tests)."""
    name = f"exp_{uuid.uuid4().hex[:10]}"
    pytester.makepyfile(**{name: EXP.replace("NAME", name)})
    lines = ["[pytest]"] + (["sacredx_worker_path = ."] if worker_path else []) + ([ini] if ini else [])
    pytester.makeini("\n".join(lines) + "\n")
    return name


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(*BASE, *args, timeout=600)


def by_case(runs: list[Any]) -> dict[str, Any]:
    return {r.meta["pytest"]["case_id"].split("::")[-1]: r for r in runs}


def comparable(r: Any) -> tuple[Any, ...]:
    return (r.status, r.meta["pytest"]["case_seed"], r.result, r.config, r.final_metrics(),
            {k: m["values"] for k, m in r.metrics.items()}, r.info["pytest"]["outcome"], r.captured_out)


# -------------------------------------------------------------------------- the pure parts
@given(st.from_regex(r"[a-z][a-z0-9.-]{0,20}", fullmatch=True), st.integers(1, 65535))
def test_parse_executor_reads_addresses(host: str, port: int) -> None:
    spec = parse_executor(f"dask://{host}:{port}")
    assert (spec.engine, spec.address, spec.workers) == ("dask", f"tcp://{host}:{port}", None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("dask://127.0.0.1", "The address needs a port"),
        ("tcp://127.0.0.1:8786", "Write it as dask://127.0.0.1:8786"),
        ("ray://x:1", "give dask://HOST:PORT"),
        ("dask:local:0", "at least one worker"),
    ],
)
def test_parse_executor_names_the_mistake(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_executor(text)


def test_parse_executor_local_forms() -> None:
    assert parse_executor("dask:local").workers is None and parse_executor("dask:local").address is None
    assert parse_executor("dask:local:3").workers == 3


@given(st.integers(0, 10**6), st.sampled_from(["", "b", "kb", "KiB", "mb", "MiB", "GB", "gib"]))
def test_parse_size_units(n: int, unit: str) -> None:
    base = 1024 if "i" in unit.lower() else 1000
    power = {"": 0, "b": 0, "k": 1, "m": 2, "g": 3}[unit[:1].lower()]
    assert parse_size(f"{n}{unit}") == n * base**power


def test_parse_size_and_resource_lines_name_the_mistake() -> None:
    with pytest.raises(ValueError, match="give bytes, e.g. 64MiB"):
        parse_size("lots")
    with pytest.raises(ValueError, match="expected PATTERN NAME=AMOUNT"):
        parse_resource_line("GPU=1")
    with pytest.raises(ValueError, match="'GPU=0' is not NAME=AMOUNT with a positive amount"):
        parse_resource_line("* GPU=0")
    assert parse_resource_line("exp_gpu.py::* GPU=1 MEM=2e9") == ("exp_gpu.py::*", {"GPU": 1.0, "MEM": 2e9})


# -------------------------------------------------------------------------- usage errors
def test_an_unreachable_scheduler_is_one_usage_error(pytester: pytest.Pytester) -> None:
    pytest.importorskip("distributed")
    write_experiment(pytester, ini="sacredx_executor_timeout = 2")
    result = run(pytester, "--exp-executor", "dask://127.0.0.1:1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.stderr.lines if line.strip()]
    assert len(errors) == 1, result.stderr.str()
    assert errors[0].startswith("ERROR: --exp-executor dask://127.0.0.1:1: no Dask scheduler answers at "
                                "tcp://127.0.0.1:1 within 2 s")
    assert "start one with: dask scheduler" in errors[0] and "dask:local" in errors[0]


def test_without_dask_installed_the_executor_says_what_to_install(pytester: pytest.Pytester) -> None:
    write_experiment(pytester)
    # a plugin loaded first makes `import distributed` fail, as without the dask extra
    pytester.makepyfile(no_dask="import sys\nsys.modules['distributed'] = None\n")
    result = pytester.runpytest_subprocess("-p", "no_dask", *BASE, "--exp-executor", "dask:local")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --exp-executor dask:local: Dask distributed (the --exp-executor "
                                 "engine) is not installed; install it with: pip install 'pytest-sacredx[dask]'"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--exp-executor", "dask://nohost"), "*The address needs a port*"),
        (("--exp-executor", "dask:local", "--exp-retries", "-1"), "*--exp-retries '-1': give a whole number*"),
        (("--exp-executor", "dask:local", "-n", "2"), "*with -n/--dist: the cluster already runs the cases*"),
    ],
)
def test_bad_executor_settings_are_usage_errors(pytester: pytest.Pytester, args: tuple[str, ...], message: str) -> None:
    write_experiment(pytester)
    base = BASE[:-2] if "-n" in args else BASE  # -n needs xdist
    result = pytester.runpytest_inprocess(*base, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


# -------------------------------------------------------------------------- on the cluster
@pytest.mark.slow
def test_seeds_results_and_records_are_those_of_a_serial_run(pytester: pytest.Pytester, dask_cluster: DaskCluster) -> None:
    name = write_experiment(pytester)
    sweep = ("--exp-config", "C=1,2,3,13", "--exp-config", "gamma=0.1,0.2", "--exp-seed", "7")
    serial = run(pytester, *sweep, "--exp-observer", "tinydb:serial")
    remote = run(pytester, *sweep, "--exp-observer", "tinydb:remote", "--exp-executor", dask_cluster.uri)
    serial.assert_outcomes(passed=6, failed=2)
    remote.assert_outcomes(passed=6, failed=2)
    remote.stdout.fnmatch_lines([f"sacredx: executor dask {dask_cluster.address} (2 workers, 2 threads), "
                                 "look-ahead 4, retries 0"])
    remote.stdout.fnmatch_lines(["*the run failed on Dask worker tcp://127.0.0.1:* (host *, pid *):",
                                 "*ValueError: unlucky C"])
    a, b = by_case(stored_runs(pytester, "serial")), by_case(stored_runs(pytester, "remote"))
    assert set(a) == set(b) and len(a) == 8
    for case in a:
        assert comparable(a[case]) == comparable(b[case]), case
        assert "case" in b[case].captured_out
        assert b[case].info["where"] != a[case].info["where"]  # it ran in another process
    workers = {r.meta["pytest"]["executor"]["worker"] for r in b.values()}
    assert workers <= set(dask_cluster.workers()) and len(workers) == 2
    assert {r.host["hostname"] for r in b.values()} == {a[next(iter(a))].host["hostname"]}
    assert all(r.meta["pytest"]["sweep_id"] and r.meta["pytest"]["worker"] == "master" for r in b.values())
    assert name  # the module the workers imported


@pytest.mark.slow
def test_artifacts_travel_into_file_storage_and_above_the_bound_the_run_fails(
    pytester: pytest.Pytester, dask_cluster: DaskCluster
) -> None:
    write_experiment(pytester, ini="sacredx_executor_max_bytes = 1000")
    result = run(pytester, "--exp-config", "C=1,2", "--exp-config", "artifact=500,2000", "--exp-seed", "3",
                 "--exp-observer", "file:runs", "--exp-executor", dask_cluster.uri)
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(["*The run's files 'model-*.txt' (2.0 KiB) exceed the 1000 B that may travel back*"])
    from pytest_sacredx.observers.file_storage import FileStorageReader

    records = {(r.config["C"], r.config["artifact"]): r for r in FileStorageReader(str(pytester.path / "runs")).list_runs()}
    for (c, size), record in records.items():
        folder = pytester.path / "runs" / record.id
        if size == 500:
            assert record.status == "COMPLETED"
            assert (folder / f"model-{c}.txt").read_text() == "w" * 500
        else:
            assert record.status == "FAILED" and not (folder / f"model-{c}.txt").exists()
            assert "sacredx_executor_max_bytes" in "".join(record.fail_trace)


MARKED = '''
import pytest
from MODULE import ex

@pytest.mark.experiment(ex, C=[1, 2, 3], resources=RESOURCES)
def test_marked(exp_run):
    assert exp_run().status == "COMPLETED"
'''


@pytest.mark.slow
def test_resources_send_cases_only_to_workers_that_offer_them(pytester: pytest.Pytester, dask_cluster: DaskCluster) -> None:
    name = write_experiment(pytester)
    pytester.makeini(f"[pytest]\nsacredx_worker_path = .\nsacredx_resources =\n    {name}.py::* GPU=1\n")
    pytester.makepyfile(test_marked=MARKED.replace("MODULE", name).replace("RESOURCES", '{"GPU": 1}'),
                        test_tpu=MARKED.replace("MODULE", name).replace("RESOURCES", '{"TPU": 2}'))
    result = run(pytester, "--exp-config", "gamma=0.1,0.2,0.3", "--exp-executor", dask_cluster.uri)
    result.assert_outcomes(passed=3 + 9, failed=9)
    result.stdout.fnmatch_lines(["*no Dask worker offers the resources TPU=2 (the workers offer: GPU=1); "
                                 "start a worker with --resources \"TPU=2\".*"])
    runs = stored_runs(pytester)
    assert len(runs) == 12
    assert {r.meta["pytest"]["executor"]["worker"] for r in runs} == {dask_cluster.gpu_worker}


@pytest.mark.slow
def test_a_module_the_workers_cannot_import_is_a_clear_error(pytester: pytest.Pytester, dask_cluster: DaskCluster) -> None:
    name = write_experiment(pytester, worker_path=False)
    result = run(pytester, "--exp-config", "C=1,2", "--exp-executor", dask_cluster.uri)
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines([
        f"*Dask worker tcp://127.0.0.1:*: cannot import the experiment module '{name}' "
        f"({pytester.path / name}.py): no such module on this worker's path. Make it importable on every "
        f"worker: install the project there, or start the workers with PYTHONPATH set to the folder holding "
        f"it ({pytester.path} here)*sacredx_worker_path*",
    ])
    assert not (pytester.path / ".sacredx").exists() or stored_runs(pytester) == []  # no run started anywhere


@pytest.mark.slow
def test_workers_running_another_version_of_the_module_fail_the_case(
    pytester: pytest.Pytester, dask_cluster: DaskCluster
) -> None:
    name = write_experiment(pytester)
    pytester.makeini(f"[pytest]\nsacredx_worker_path = .\nsacredx_resources =\n    {name}.py::* GPU=1\n")
    run(pytester, "--exp-config", "C=1,2", "--exp-executor", dask_cluster.uri).assert_outcomes(passed=2)
    path = pytester.path / f"{name}.py"
    path.write_text(path.read_text() + "\n# changed after the workers imported it\n")
    result = run(pytester, "--exp-config", "C=1,2", "--exp-executor", dask_cluster.uri)
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines([f"*ran other versions of {name}.py than this session*restart them*"])


def _kill_when_running(pidfile: Path, proc: subprocess.Popen[str], timeout: float = 180) -> int:
    deadline = time.monotonic() + timeout
    while not pidfile.exists() or not pidfile.read_text().strip():
        if proc.poll() is not None or time.monotonic() > deadline:
            out = proc.communicate()[0] if proc.poll() is not None else ""
            pytest.fail(f"the case never started on a worker:\n{out}")
        time.sleep(0.05)
    pid = int(pidfile.read_text())
    time.sleep(0.5)  # let the start announcement reach the scheduler
    os.kill(pid, signal.SIGKILL)
    return pid


def _session(pytester: pytest.Pytester, dask_cluster: DaskCluster, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", *BASE, "--exp-config", "C=1,2", "--exp-config", "sleep=60",
         "--exp-config", f"pidfile={str(pytester.path / 'pid')!r}", "--exp-executor", dask_cluster.uri, *args],
        cwd=pytester.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONPATH": str(pytester.path)},
    )


@pytest.mark.slow
def test_a_worker_killed_mid_case_fails_the_case_and_its_run_is_recorded_failed(
    pytester: pytest.Pytester, dask_cluster: DaskCluster
) -> None:
    write_experiment(pytester)
    proc = _session(pytester, dask_cluster)
    try:
        pid = _kill_when_running(pytester.path / "pid.1", proc)
        out = proc.communicate(timeout=300)[0]
    finally:
        proc.kill()
    dask_cluster.wait_for_workers(2)
    assert proc.returncode == 1, out
    assert "died while running the case (attempt 1 of 1); its run " in out
    assert f"(host {os.uname().nodename}, pid {pid})" in out and "--exp-retries K resubmits" in out
    runs = by_case(stored_runs(pytester))
    killed = next(r for c, r in runs.items() if "C=1-" in c)
    assert killed.status == "FAILED" and f"pid {pid}) died" in "".join(killed.fail_trace)
    assert killed.meta["pytest"]["executor"]["pid"] == pid
    other = next(r for c, r in runs.items() if "C=2-" in c)
    assert other.status == "COMPLETED"  # the other worker's case is not affected


@pytest.mark.slow
def test_retries_resubmit_a_case_whose_worker_died(pytester: pytest.Pytester, dask_cluster: DaskCluster) -> None:
    write_experiment(pytester)
    proc = _session(pytester, dask_cluster, "--exp-retries", "1")
    try:
        pid = _kill_when_running(pytester.path / "pid.1", proc)
        out = proc.communicate(timeout=300)[0]
    finally:
        proc.kill()
    dask_cluster.wait_for_workers(2)
    assert proc.returncode == 0, out
    runs = [r for r in stored_runs(pytester) if r.config["C"] == 1]
    assert [r.status for r in runs] == ["FAILED", "COMPLETED"]
    assert [r.meta["pytest"]["executor"]["attempt"] for r in runs] == [1, 2]
    assert runs[0].meta["pytest"]["executor"]["pid"] == pid != runs[1].meta["pytest"]["executor"]["pid"]
    assert "(attempt 1 of 2)" in "".join(runs[0].fail_trace)


@pytest.mark.slow
def test_dask_local_runs_the_serial_sweep_and_keeps_worker_output_off_the_terminal(pytester: pytest.Pytester) -> None:
    pytest.importorskip("distributed")
    write_experiment(pytester, worker_path=False)  # a LocalCluster finds the experiment's folder itself
    sweep = ("--exp-config", "C=1,2,3", "--exp-seed", "11")
    serial = run(pytester, *sweep, "--exp-observer", "tinydb:serial", "-s")
    local = run(pytester, *sweep, "--exp-observer", "tinydb:local", "--exp-executor", "dask:local:2", "-s")
    serial.assert_outcomes(passed=3)
    local.assert_outcomes(passed=3)
    local.stdout.fnmatch_lines(["sacredx: executor dask LocalCluster tcp://127.0.0.1:* (2 workers, 2 threads)*"])
    assert "case 1 0.5" in serial.stdout.str() and "case 1 0.5" not in local.stdout.str() + local.stderr.str()
    a, b = by_case(stored_runs(pytester, "serial")), by_case(stored_runs(pytester, "local"))
    assert {c: comparable(r) for c, r in a.items()} == {c: comparable(r) for c, r in b.items()}


# -------------------------------------------------------------------------- the engine seam
class ThreadEngine:
    """Another engine behind the seam: a thread pool running ``execute_case`` in this process. It
    counts submissions and can lose the first attempt of chosen cases as a dead worker would."""

    name = "threads"
    local = False

    def __init__(self, lose: tuple[str, ...] = ()) -> None:
        import concurrent.futures as cf

        from pytest_sacredx.remote import execute_case

        self.pool = cf.ThreadPoolExecutor(2)
        self.submitted: list[str] = []
        self.lose = set(lose)
        self.task = execute_case
        outer = self

        class Recording(cf.Executor):
            def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
                case_id = args[0].meta_info["pytest"]["case_id"]
                outer.submitted.append(case_id)
                if case_id in outer.lose:
                    outer.lose.discard(case_id)
                    from pytest_sacredx.remote import WorkerLost

                    future: cf.Future[Any] = cf.Future()
                    future.set_exception(WorkerLost("threads://0", "here", 4242, engine="Thread"))
                    return future
                return outer.pool.submit(fn, *args, **kwargs)

        self._executor = Recording()

    def executor(self, resources: Any = None) -> Any:
        return self._executor

    def slots(self) -> int:
        return 2

    def describe(self) -> str:
        return "threads (2)"

    def unsatisfiable(self, resources: Any) -> str | None:
        return None

    def close(self) -> None:
        self.pool.shutdown()


def _with_engine(monkeypatch: pytest.MonkeyPatch, engine: ThreadEngine) -> list[tuple[str, int]]:
    from pytest_sacredx.pytest_plugin import executor

    monkeypatch.setattr(executor, "make_engine", lambda spec, timeout: engine)
    turns: list[tuple[str, int]] = []
    original = executor.CaseRunner._execute

    def execute(self: Any, item: Any, experiment: Any, request: Any, run: Any) -> None:
        turns.append((request.case_id, len(engine.submitted)))
        original(self, item, experiment, request, run)

    monkeypatch.setattr(executor.CaseRunner, "_execute", execute)
    return turns


def test_cases_are_submitted_ahead_of_their_turn_but_never_more_than_the_look_ahead(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_experiment(pytester, ini="sacredx_executor_lookahead = 3")
    engine = ThreadEngine()
    turns = _with_engine(monkeypatch, engine)
    sweep = ("--exp-config", "C=1,2,3,4,5,6,7,8", "--exp-seed", "5")
    result = pytester.runpytest_inprocess(*BASE, *sweep, "--exp-executor", "dask:local", "--exp-observer",
                                          "tinydb:remote")
    result.assert_outcomes(passed=8)
    result.stdout.fnmatch_lines(["sacredx: executor threads (2), look-ahead 3, retries 0"])
    assert [n for _, n in turns][:1] == [3]  # the first case waited with two more in flight
    assert all(n <= i + 3 for i, (_, n) in enumerate(turns))
    assert len(engine.submitted) == 8 and len(set(engine.submitted)) == 8  # each case once
    serial = pytester.runpytest_inprocess(*BASE, *sweep, "--exp-observer", "tinydb:serial")
    serial.assert_outcomes(passed=8)
    a, b = by_case(stored_runs(pytester, "serial")), by_case(stored_runs(pytester, "remote"))
    assert {c: comparable(r)[:5] for c, r in a.items()} == {c: comparable(r)[:5] for c, r in b.items()}


def test_a_lost_attempt_is_recorded_failed_and_retried(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    name = write_experiment(pytester)
    lost = f"{name}.py::{name}[C=2]"
    engine = ThreadEngine(lose=(lost,))
    _with_engine(monkeypatch, engine)
    result = pytester.runpytest_inprocess(*BASE, "--exp-config", "C=1,2", "--exp-executor", "dask:local",
                                          "--exp-retries", "1")
    result.assert_outcomes(passed=2)
    runs = [r for r in stored_runs(pytester) if r.config["C"] == 2]
    assert [r.status for r in runs] == ["FAILED", "COMPLETED"]
    assert "Thread worker threads://0 (host here, pid 4242) died while running the case (attempt 1 of 2)" in (
        "".join(runs[0].fail_trace))
    assert runs[0].info["pytest"]["outcome"] == "failed" and runs[1].info["pytest"]["outcome"] == "passed"
    assert engine.submitted.count(lost) == 2

    engine = ThreadEngine(lose=(lost,))
    _with_engine(monkeypatch, engine)
    result = pytester.runpytest_inprocess(*BASE, "--exp-config", "C=1,2", "--exp-executor", "dask:local",
                                          "--exp-observer", "tinydb:no-retry")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*Thread worker threads://0 (host here, pid 4242) died while running the case "
                                 "(attempt 1 of 1); its run * is recorded FAILED; --exp-retries K resubmits*"])
    assert [r.status for r in stored_runs(pytester, "no-retry") if r.config["C"] == 2] == ["FAILED"]
