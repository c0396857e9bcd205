"""One case's run executed as it would be on a worker (pytest_sacredx/remote.py), in this process."""

from __future__ import annotations

import logging
import random
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from pytest_sacredx.observers.memory import MemoryObserver
from pytest_sacredx.observers.replay import replay
from pytest_sacredx.remote import RemoteCase, execute_case, replay_log_records

MODULE = '''
import logging, os, random, tempfile
from pytest_sacredx import Experiment

ex = Experiment("remote_demo")

@ex.config
def cfg():
    n = 3
    artifact = 0
    warn = False
    noisy = False

@ex.main
def main(n, artifact, warn, noisy, _run, _log):
    print("drawing", n)
    if warn:
        _log.warning("careful: %s", n)
    if artifact:
        path = os.path.join(tempfile.mkdtemp(), "blob.bin")
        with open(path, "wb") as f:
            f.write(b"x" * artifact)
        _run.add_artifact(path)
    if noisy:
        import time
        time.sleep(0.05)  # other threads draw meanwhile
    draws = []
    for _ in range(n):
        draws.append(random.random())
        if noisy:
            os.sched_yield()
    return draws
'''


@pytest.fixture
def module(tmp_path: Path) -> str:
    name = f"remote_demo_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(MODULE)
    yield name
    sys.modules.pop(name, None)


def case(tmp_path: Path, module: str, **updates: Any) -> RemoteCase:
    return RemoteCase(module=module, attribute="ex", mainfile=str(tmp_path / f"{module}.py"),
                      config_updates=updates, options={"--seed": 42, "--capture": "sys"},
                      meta_info={"pytest": {"case_id": "c"}}, sys_path=(str(tmp_path),))


def test_a_case_runs_and_its_events_replay_into_a_store(tmp_path: Path, module: str) -> None:
    started: list[Any] = []
    outcome = execute_case(case(tmp_path, module, n=2), on_start=started.append)
    assert outcome.status == "COMPLETED" and outcome.error is None and outcome.pid > 0 and outcome.host
    assert len(started) == 1 and started[0].config["n"] == 2
    memory = MemoryObserver()
    replay(outcome.events, [memory])
    record = memory.load_run("1")
    assert record.status == "COMPLETED" and record.config["seed"] == 42 and len(record.result) == 2
    assert record.meta["pytest"] == {"case_id": "c"} and "drawing 2" in record.captured_out


def test_the_draws_are_those_of_the_seed_whatever_other_threads_draw(tmp_path: Path, module: str) -> None:
    quiet = execute_case(case(tmp_path, module, n=300, noisy=True)).events[-1].kwargs["result"]
    stop = threading.Event()
    drawn = []

    def noise() -> None:  # a worker's own thread drawing from the global generator
        while not stop.is_set():
            drawn.append(random.random())
            random.choice([1, 2, 3])
            time.sleep(0.0002)

    thread = threading.Thread(target=noise, daemon=True)
    thread.start()
    try:
        busy = execute_case(case(tmp_path, module, n=300, noisy=True)).events[-1].kwargs["result"]
    finally:
        stop.set()
        thread.join()
    assert busy == quiet and len(drawn) > 10
    assert random.random == random._inst.random  # type: ignore[attr-defined]  # put back


def test_the_global_generators_are_restored(tmp_path: Path, module: str) -> None:
    random.seed(7)
    before = random.getstate()
    execute_case(case(tmp_path, module))
    assert random.getstate() == before


def test_quiet_keeps_the_output_off_the_terminal_but_in_the_run(
    tmp_path: Path, module: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import attrs

    outcome = execute_case(attrs.evolve(case(tmp_path, module), quiet=True))
    assert "drawing" not in capsys.readouterr().out
    final = next(e for e in outcome.events if e.name == "final_heartbeat_event")
    assert "drawing 3" in final.kwargs["captured_out"]


def test_log_records_travel_and_stay_out_of_the_captured_output(
    tmp_path: Path, module: str, caplog: pytest.LogCaptureFixture
) -> None:
    outcome = execute_case(case(tmp_path, module, warn=True))
    final = next(e for e in outcome.events if e.name == "final_heartbeat_event")
    assert "careful" not in final.kwargs["captured_out"]
    messages = [r["msg"] for r in outcome.log_records]
    assert "careful: 3" in messages
    with caplog.at_level(logging.WARNING):
        replay_log_records(outcome.log_records)
    assert any(r.getMessage() == "careful: 3" and r.name == "sacredx.main" for r in caplog.records)


def test_files_above_the_bound_fail_the_run_saying_why(tmp_path: Path, module: str) -> None:
    import attrs

    outcome = execute_case(attrs.evolve(case(tmp_path, module, artifact=5000), max_bytes=1000))
    assert outcome.status == "FAILED" and outcome.oversize == [("blob.bin", 5000)]
    assert outcome.events[-1].name == "failed_event"
    trace = "".join(outcome.events[-1].kwargs["fail_trace"])
    assert "'blob.bin' (4.9 KiB) exceed the 1000 B" in trace and "sacredx_executor_max_bytes" in trace


def test_a_module_the_worker_cannot_import_is_an_outcome_naming_it_and_the_fix(tmp_path: Path) -> None:
    outcome = execute_case(RemoteCase(module="exp_nowhere_xyz", attribute="ex", mainfile="/src/exp_nowhere_xyz.py"))
    assert outcome.status is None and outcome.events == []
    assert outcome.error == (
        "cannot import the experiment module 'exp_nowhere_xyz' (/src/exp_nowhere_xyz.py): no such module on "
        "this worker's path. Make it importable on every worker: install the project there, or start the "
        "workers with PYTHONPATH set to the folder holding it (/src here); workers that share this file "
        "system can get that folder from ini sacredx_worker_path."
    )


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("import not_installed_pkg_xyz\n", "importing it failed: No module named 'not_installed_pkg_xyz' (is that "
                                           "package installed on the workers?)"),
        ("raise RuntimeError('boom')\n", "importing it raised RuntimeError: boom"),
        ("ex = 3\n", "has no Experiment named 'ex'; the workers may run another version of"),
    ],
)
def test_modules_that_do_not_give_an_experiment(tmp_path: Path, source: str, message: str) -> None:
    name = f"broken_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(source)
    try:
        outcome = execute_case(RemoteCase(module=name, attribute="ex", mainfile=str(tmp_path / f"{name}.py"),
                                          sys_path=(str(tmp_path),)))
    finally:
        sys.modules.pop(name, None)
    assert outcome.error is not None and message in outcome.error


def test_a_config_the_worker_cannot_build_is_an_outcome(tmp_path: Path, module: str) -> None:
    outcome = execute_case(RemoteCase(module=module, attribute="ex", mainfile="x", sys_path=(str(tmp_path),),
                                      named_configs=("no_such_named_config",)))
    assert outcome.error is not None and outcome.error.startswith("the run could not be created on this worker")
