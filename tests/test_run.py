"""Run: life cycle and events, observer error policy, concurrency through the context variable, nested
runs, and interruption (KeyboardInterrupt, SIGTERM)."""

# ruff: noqa: F841, UP031 - config scopes: their local variables are the config

from __future__ import annotations

import contextvars
import json
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import QUIET, events_of, new_experiment, observed

from pytest_sacredx.errors import ArtifactNameError, ObserverError
from pytest_sacredx.observers.base import RunObserver
from pytest_sacredx.run.context import current_run


def simple(result: Any = 42):
    ex = new_experiment("life")

    @ex.config
    def cfg():
        x = 1

    @ex.main
    def main(x):
        return result

    return ex


# --------------------------------------------------------------------------- life cycle
def test_statuses_times_and_events_of_a_completed_run() -> None:
    ex = simple()
    obs = observed(ex)
    run = ex.run(options=QUIET)
    assert run.status == "COMPLETED" and run.result == 42
    assert run.start_time is not None and run.stop_time >= run.start_time
    assert events_of(obs) == ["started_event", "heartbeat_event", "completed_event", "join"]
    started = obs.events[0][1]
    assert started["command"] == "main" and started["config"]["x"] == 1 and started["_id"] is None
    assert started["meta_info"]["command"] == "main"
    assert {"name", "base_dir", "sources", "dependencies", "repositories", "mainfile"} <= set(started["ex_info"])
    assert {"hostname", "os", "python_version"} <= set(started["host_info"])
    assert run._id == "1"
    assert obs.events[2][1]["result"] == 42


class _AnswersEverything:
    """An observer in the style of ``mock.Mock()``: every attribute exists on the instance."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.priority = 0

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return lambda **kwargs: self.calls.append(name)


def test_an_observer_without_a_final_heartbeat_method_of_its_class_gets_heartbeat_event() -> None:
    ex = simple()
    obs = _AnswersEverything()
    ex.observers.append(obs)
    ex.run(options=QUIET)
    assert "heartbeat_event" in obs.calls and "final_heartbeat_event" not in obs.calls
    assert obs.calls[0] == "started_event" and "completed_event" in obs.calls


def test_the_command_is_named_by_the_main_functions_signature_and_prefix() -> None:
    ex = new_experiment()

    @ex.command(prefix="opt")
    def tune(lr=0.1):
        return lr

    obs = observed(ex)
    ex.run("tune", options=QUIET)
    assert obs.events[0][1]["command"] == "opt.tune"


def test_a_run_can_only_be_started_once() -> None:
    run = simple().run(options=QUIET)
    with pytest.raises(RuntimeError, match="only be started once"):
        run()


def test_the_last_heartbeat_carries_the_result_and_metrics() -> None:
    ex = new_experiment()
    obs = observed(ex)

    @ex.main
    def main(_run):
        _run.log_scalar("acc", 0.5, 1)
        _run.log_scalar("acc", 0.7)
        return "r"

    ex.run(options={**QUIET, "--beat-interval": 100})
    assert "log_metrics" in events_of(obs)
    metrics = dict(obs.events)["log_metrics"]["metrics_by_name"]
    assert metrics["acc"]["steps"] == [1, 2] and metrics["acc"]["values"] == [0.5, 0.7]
    beat = dict(obs.events)["heartbeat_event"]
    assert beat["result"] == "r"


def test_heartbeats_are_periodic() -> None:
    ex = new_experiment()
    obs = observed(ex)

    @ex.main
    def main():
        # runs until three periodic beats arrived (a condition, not a duration: a busy machine may
        # delay the beat thread), bounded by 60 s, 600 beat intervals
        deadline = time.monotonic() + 60
        while events_of(obs).count("heartbeat_event") < 3 and time.monotonic() < deadline:
            time.sleep(0.01)

    ex.run(options={**QUIET, "--beat-interval": 0.1})
    assert events_of(obs).count("heartbeat_event") >= 3  # periodic: they came while main ran


def test_reserved_artifact_names_are_refused(tmp_path: Path) -> None:
    ex = new_experiment()
    f = tmp_path / "config.json"
    f.write_text("{}")

    @ex.main
    def main(_run):
        _run.add_artifact(str(f))

    with pytest.raises(ArtifactNameError, match="reserved"):
        ex.run(options=QUIET)


# --------------------------------------------------------------------------- observer errors
class Broken(RunObserver):
    def __init__(self, fail_in: str) -> None:
        self.fail_in = fail_in
        self.calls: list[str] = []

    def _maybe_fail(self, name: str) -> None:
        self.calls.append(name)
        if name == self.fail_in:
            raise OSError(f"{name} failed")

    def started_event(self, *args: Any, **kwargs: Any) -> None:
        self._maybe_fail("started_event")

    def heartbeat_event(self, *args: Any, **kwargs: Any) -> None:
        self._maybe_fail("heartbeat_event")

    def completed_event(self, *args: Any, **kwargs: Any) -> None:
        self._maybe_fail("completed_event")


def test_an_observer_failing_at_the_start_stops_the_run() -> None:
    ex = simple()
    ran = []

    @ex.command
    def work():
        ran.append(1)

    good = observed(ex)
    ex.observers.append(Broken("started_event"))
    with pytest.raises(ObserverError, match="could not record the start"):
        ex.run("work", options=QUIET)
    assert ran == []
    # The observer that did record the start is told the run failed; nothing is left RUNNING.
    assert events_of(good)[:2] == ["started_event", "failed_event"]
    assert good.runs[-1]["status"] == "FAILED"


def test_an_observer_failing_later_is_skipped_and_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    ex = new_experiment()
    broken = Broken("heartbeat_event")
    ex.observers.append(broken)
    good = observed(ex)

    @ex.main
    def main():
        time.sleep(0.25)
        return "ok"

    run = ex.run(options={"--loglevel": "WARNING", "--beat-interval": 0.05})
    assert run.status == "COMPLETED" and run.result == "ok"
    assert broken.calls.count("heartbeat_event") == 1  # no further safe events after the first failure
    assert broken.calls[-1] == "completed_event"  # terminal events are still delivered
    assert good.runs[-1]["status"] == "COMPLETED"
    reports = [m for m in caplog.messages if "'Broken' observer" in m]
    assert len(reports) == 1 and "may be incomplete" in reports[0]  # reported once


def test_a_failing_completed_event_does_not_hide_the_others() -> None:
    ex = simple()
    ex.observers.append(Broken("completed_event"))
    good = observed(ex)
    assert ex.run(options=QUIET).status == "COMPLETED"
    assert good.runs[-1]["status"] == "COMPLETED"


# --------------------------------------------------------------------------- concurrency
def test_runs_in_threads_never_see_each_others_config() -> None:
    ex = new_experiment("threads")

    @ex.config
    def cfg():
        value = 0
        nested = {"value": 0}

    @ex.capture
    def read(value, nested, _config):
        return value, nested["value"], _config["value"]

    @ex.main
    def main(value):
        seen = [read()]
        time.sleep(0.05)  # the other runs are in their main functions now
        seen.append(read())
        time.sleep(0.05)
        seen.append(read())
        return value, seen, current_run().config["value"]

    results: dict[int, Any] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def worker(i: int) -> None:
        try:
            barrier.wait()
            results[i] = ex.run(config_updates={"value": i, "nested.value": i}, options=QUIET).result
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for i in range(1, 5):
        assert results[i] == (i, [(i, i, i)] * 3, i)


def test_a_thread_started_with_the_runs_context_sees_the_run() -> None:
    ex = new_experiment()
    ex.add_config(value=7)

    @ex.capture
    def read(value):
        return value

    @ex.main
    def main():
        out = []
        ctx = contextvars.copy_context()
        t = threading.Thread(target=lambda: out.append(ctx.run(read)))
        t.start()
        t.join()
        return out

    assert ex.run(options=QUIET).result == [7]


def test_nested_runs_have_their_own_config_and_restore_the_outer_one() -> None:
    inner = new_experiment("inner")
    inner.add_config(v=100)

    @inner.capture
    def inner_read(v):
        return v

    @inner.main
    def inner_main():
        return inner_read()

    outer = new_experiment("outer")
    outer.add_config(v=1)

    @outer.capture
    def outer_read(v):
        return v

    @outer.main
    def outer_main(_run):
        before = outer_read()
        nested = inner.run(config_updates={"v": 200}, options=QUIET)
        return before, nested.result, outer_read(), current_run() is _run

    assert outer.run(options=QUIET).result == (1, 200, 1, True)
    assert current_run() is None


def test_the_same_experiment_nested_in_itself() -> None:
    ex = new_experiment()
    ex.add_config(depth=0)

    @ex.capture
    def depth_of(depth):
        return depth

    @ex.main
    def main(depth):
        if depth < 2:
            deeper = ex.run(config_updates={"depth": depth + 1}, options=QUIET).result
        else:
            deeper = []
        return [depth_of(), *deeper]

    assert ex.run(options=QUIET).result == [0, 1, 2]


# --------------------------------------------------------------------------- interruption
def test_keyboard_interrupt_ends_the_run_interrupted() -> None:
    ex = new_experiment()
    obs = observed(ex)

    @ex.main
    def main():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ex.run(options=QUIET)
    assert ex.current_run.status == "INTERRUPTED"
    assert obs.runs[-1]["status"] == "INTERRUPTED" and obs.runs[-1]["stop_time"] is not None


def test_the_sigterm_handler_is_restored_after_a_run() -> None:
    before = signal.getsignal(signal.SIGTERM)
    simple().run(options=QUIET)
    assert signal.getsignal(signal.SIGTERM) is before


@pytest.mark.slow
def test_sigterm_ends_a_run_interrupted_with_its_record(tmp_path: Path) -> None:
    script = tmp_path / "sleeper.py"
    script.write_text(
        textwrap.dedent(
            """
            import time
            from pytest_sacredx import Experiment
            ex = Experiment("sleeper")

            @ex.automain
            def main(_run):
                _run.log_scalar("step", 1)
                print("ready", flush=True)
                time.sleep(60)
            """
        )
    )
    proc = subprocess.Popen(
        [sys.executable, str(script), "-F", str(tmp_path / "runs")],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline() == "ready\n"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    assert "WARNING - sleeper - Aborted after" in err
    record = json.loads((tmp_path / "runs" / "1" / "run.json").read_text())
    assert record["status"] == "INTERRUPTED"
    assert record["stop_time"]
    assert "ready" in (tmp_path / "runs" / "1" / "cout.txt").read_text()


def test_a_run_driven_by_hand_before_its_start_sends_events_to_every_observer(tmp_path: Path) -> None:
    """Sacred's tests call ``run.add_artifact`` on a run that was never started; its observers hear it.
    (Once a run has started, only the observers that recorded the start get its later events.)"""

    class Heard(RunObserver):
        def __init__(self) -> None:
            self.events: list[tuple[str, Any]] = []

        def artifact_event(self, name, filename, metadata=None, content_type=None):
            self.events.append(("artifact", name))

        def resource_event(self, filename):
            self.events.append(("resource", filename))

    heard = Heard()
    run = simple()._create_run(options=QUIET)
    run.observers = [heard]
    path = tmp_path / "a.txt"
    path.write_text("x")
    run.add_artifact(str(path), name="a")
    run.open_resource(str(path)).close()
    assert heard.events == [("artifact", "a"), ("resource", str(path))]
