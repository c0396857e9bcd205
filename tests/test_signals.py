"""SIGTERM and SIGINT end a run INTERRUPTED and the process with 143/130, whatever the run is doing — even
when the signal arrives while an observer handles an event. Real processes, real stores (FileStorage
and TinyDB), real signals; as a script (``python exp.py``), as a program calling ``ex.run()``, and
under pytest.

A slow observer makes the moment deterministic: it announces on stderr that it is inside the chosen
event and stays there until the signal has reached the process — in the main thread, until the run's
signal gate holds it (``signals.pending()``); in the heartbeat thread, until the test says it has sent
it. A bounded loop of signals at random moments checks the same promise where nobody chose the moment.
"""

from __future__ import annotations

import collections
import concurrent.futures
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pytest_sacredx.run import signals

pytestmark = pytest.mark.slow

SCRIPT = textwrap.dedent(
    """
    import os, sys, threading, time
    from pytest_sacredx import Experiment
    from pytest_sacredx.observers import FileStorageObserver, RunObserver, TinyDbObserver
    from pytest_sacredx.run import signals

    EVENT, PRIORITY, MODE = os.environ["SLOW_EVENT"], int(os.environ["SLOW_PRIORITY"]), os.environ["SLOW_MODE"]

    def signal_arrived():
        if threading.current_thread() is threading.main_thread():
            return signals.pending() is not None  # the gate holds it until this event returns
        return os.path.exists("sent")  # the main thread takes it; the test has sent it

    class Slow(RunObserver):
        '''Lingers in the first EVENT until the signal has arrived; logs every event it gets.'''

        priority = PRIORITY

        def __init__(self):
            self.lingered = False

        def _event(self, name):
            with open("slow.log", "a") as fh:
                fh.write(name + "\\n")
            if name == EVENT and not self.lingered:
                self.lingered = True
                print("LINGER", name, file=sys.__stderr__, flush=True)
                deadline = time.monotonic() + 120  # a safety net only: the test waits for the signal
                while not signal_arrived() and time.monotonic() < deadline:
                    time.sleep(0.005)
            with open("slow.log", "a") as fh:
                fh.write(name + " done\\n")

        def started_event(self, **kwargs):
            self._event("started_event")
        def heartbeat_event(self, **kwargs):
            self._event("heartbeat_event")
        def log_metrics(self, **kwargs):
            self._event("log_metrics")
        def artifact_event(self, **kwargs):
            self._event("artifact_event")
        def resource_event(self, **kwargs):
            self._event("resource_event")
        def completed_event(self, **kwargs):
            self._event("completed_event")
        def interrupted_event(self, **kwargs):
            self._event("interrupted_event")
        def failed_event(self, **kwargs):
            self._event("failed_event")

    ex = Experiment("slow")
    if MODE != "pytest":  # under pytest the stores are the session's (--exp-observer)
        ex.observers += [FileStorageObserver("runs"), TinyDbObserver("db")]
    ex.observers.append(Slow())

    @ex.config
    def cfg():
        wait = False  # keep the main function running until the signal has come
        fail = False  # fail after the steps (the failed_event case)
        case = 0  # a second case under pytest, which must not run

    @ex.main
    def main(wait, fail, _run):
        for i in range(5):
            print("step", i, flush=True)
            _run.log_scalar("loss", 1.0 / (i + 1))
        with open("model.txt", "w") as fh:
            fh.write("weights")
        _run.add_artifact("model.txt")
        _run.open_resource("model.txt").close()
        deadline = time.monotonic() + 120
        while wait and time.monotonic() < deadline:
            time.sleep(0.005)
        if fail:
            raise ValueError("the main function failed")
        return "done"

    if __name__ == "__main__":
        args = sys.argv[1:]
        if MODE == "cli":
            ex.run_commandline([sys.argv[0], *args])
        else:  # a program: -b SECONDS and KEY=VALUE updates as ex.run() arguments
            beat = args[args.index("-b") + 1] if "-b" in args else None
            updates = dict(a.split("=") for a in args if "=" in a)
            ex.run(config_updates={k: v == "True" for k, v in updates.items()},
                   options={"--beat-interval": beat} if beat else {})
            print("AFTER THE RUN", file=sys.stderr)  # never reached: ex.run() raised the interrupt
    """
)

#: (event the slow observer lingers in, its priority, command-line flags); the stores' priority is 20
MOMENTS = {
    "started-first": ("started_event", 30, ()),  # before the stores started the run
    "started-last": ("started_event", 0, ()),  # after they did
    "beat": ("heartbeat_event", 0, ("-b", "0.05", "with", "wait=True")),  # a periodic beat (beat thread)
    "metrics-beat": ("log_metrics", 0, ("-b", "0.05", "with", "wait=True")),  # metrics (beat thread)
    "last-beat": ("heartbeat_event", 0, ("-b", "100")),  # the last beat, in the main thread
    "last-metrics": ("log_metrics", 0, ("-b", "100")),  # the last metrics, in the main thread
    "artifact": ("artifact_event", 0, ("-b", "100")),
    "resource": ("resource_event", 0, ("-b", "100")),
    "completed-first": ("completed_event", 30, ()),  # before the stores completed the run
    "completed-last": ("completed_event", 0, ()),  # after they did
    "failed": ("failed_event", 0, ("with", "fail=True")),  # the run failed: it stays FAILED
}

#: exit status of a script / of a program that does not catch the interrupt: 143 for SIGTERM as a
#: shell reports it (Terminated is a SystemExit(143)); an uncaught KeyboardInterrupt ends Python by
#: SIGINT itself (a shell shows 130)
CODES = {
    "cli": {signal.SIGTERM: 143, signal.SIGINT: 130},
    "program": {signal.SIGTERM: 143, signal.SIGINT: -signal.SIGINT},
}


def stored_runs(root: Path) -> dict[str, list]:
    """Every run each store holds, as RunRecords; a run folder without a readable run is an error."""
    from pytest_sacredx.observers.file_storage import FileStorageReader
    from pytest_sacredx.observers.tinydb_hashfs import TinyDbReader

    runs: dict[str, list] = {"file": [], "tinydb": []}
    if (root / "runs").exists():
        runs["file"] = list(FileStorageReader(str(root / "runs")).list_runs())
        folders = [p for p in (root / "runs").iterdir() if p.name.isdigit()]
        assert len(folders) == len(runs["file"]), "a run folder without a readable run.json"
    if (root / "db").exists():
        runs["tinydb"] = list(TinyDbReader(str(root / "db")).list_runs())
    return runs


def check_stored(run, steps: int = 5) -> str:
    """A stored run is COMPLETED with all of its parts, or INTERRUPTED/FAILED; returns its status."""
    assert run.status in ("COMPLETED", "INTERRUPTED", "FAILED"), f"run {run.id} left {run.status}"
    assert run.stop_time is not None, f"{run.status} run {run.id} without a stop time"
    if run.status == "COMPLETED":
        assert run.result == "done", f"COMPLETED run {run.id} without its result"
        assert run.captured_out.count("step ") == steps, f"COMPLETED run {run.id} lost output"
        assert len(run.metrics.get("loss", {}).get("values", [])) == steps, f"COMPLETED run {run.id} lost metrics"
    return run.status


def start(tmp_path: Path, moment: str, mode: str, *args: str) -> subprocess.Popen:
    event, priority, flags = MOMENTS[moment]
    script = tmp_path / "slow_exp.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "SLOW_EVENT": event, "SLOW_PRIORITY": str(priority), "SLOW_MODE": mode}
    command = [sys.executable, str(script), *flags] if mode != "pytest" else [
        sys.executable, "-m", "pytest", str(script), "-s", "-p", "no:randomly", "-p", "no:cacheprovider",
        "--exp-observer", "file:runs", "--exp-observer", "tinydb:db", *args,
    ]
    return subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def signal_in_the_event(tmp_path: Path, proc: subprocess.Popen, sig: int) -> tuple[str, str]:
    """Wait until the slow observer lingers, send ``sig``; return the process's stdout and stderr."""
    try:
        assert proc.stderr is not None
        seen = []
        for line in proc.stderr:  # until the observer says it is inside the event
            seen.append(line)
            if line.startswith("LINGER"):
                break
        assert seen and seen[-1].startswith("LINGER"), "".join(seen)
        proc.send_signal(sig)
        (tmp_path / "sent").touch()
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return out, "".join(seen) + err


def check_the_run(tmp_path: Path, moment: str, err: str) -> None:
    event, priority, _ = MOMENTS[moment]
    runs = stored_runs(tmp_path)
    status = "FAILED" if moment == "failed" else "INTERRUPTED"
    for store, records in runs.items():
        # every store holds the run, also when the signal came before it started it (started-first)
        assert [r.status for r in records] == [status], (store, err)
        check_stored(records[0])
        if event != "started_event":  # what it had
            assert records[0].captured_out.count("step ") == 5, (store, records[0].captured_out)
            assert len(records[0].metrics["loss"]["values"]) == 5, store
        if event not in ("started_event", "artifact_event"):
            assert records[0].artifacts == ["model.txt"], store
    log = (tmp_path / "slow.log").read_text().splitlines()
    # the slow observer finished the event it was in, and heard how the run ended
    assert f"{event} done" in log, log
    assert log[-1] == ("failed_event done" if moment == "failed" else "interrupted_event done"), log


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("moment", list(MOMENTS))
def test_a_signal_inside_an_observer_event_interrupts_a_script(tmp_path: Path, moment: str, sig: int) -> None:
    proc = start(tmp_path, moment, "cli")
    _, err = signal_in_the_event(tmp_path, proc, sig)
    assert proc.returncode == CODES["cli"][sig], err
    status = "FAILED" if moment == "failed" else "INTERRUPTED"
    assert f"Interrupted: run ended with status {status}" in err and "Traceback" not in err, err
    assert "An error occurred in the 'Slow' observer" not in err, err  # not an observer's failure
    check_the_run(tmp_path, moment, err)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("moment", ["started-first", "started-last", "beat", "last-metrics", "artifact",
                                    "completed-first", "completed-last", "failed"])
def test_a_signal_inside_an_observer_event_interrupts_ex_run(tmp_path: Path, moment: str, sig: int) -> None:
    proc = start(tmp_path, moment, "program")
    _, err = signal_in_the_event(tmp_path, proc, sig)
    assert proc.returncode == CODES["program"][sig], err
    assert "AFTER THE RUN" not in err and "An error occurred in the 'Slow' observer" not in err, err
    if sig == signal.SIGTERM:
        assert "Traceback" not in err, err  # ended as SIGTERM ends a process: quietly
    else:
        assert err.rstrip().endswith("KeyboardInterrupt"), err  # as Python ends on Ctrl-C
    check_the_run(tmp_path, moment, err)


@pytest.mark.parametrize(
    ("sig", "code", "banner"),
    [(signal.SIGTERM, 143, "received SIGTERM"), (signal.SIGINT, 2, "KeyboardInterrupt")],
    ids=["SIGTERM", "SIGINT"],
)
@pytest.mark.parametrize("moment", ["started-last", "last-beat", "completed-last"])
def test_a_signal_inside_an_observer_event_stops_pytest(
    tmp_path: Path, moment: str, sig: int, code: int, banner: str
) -> None:
    proc = start(tmp_path, moment, "pytest", "--exp-config", "case=1,2", "--exp-beat-interval", "100")
    out, err = signal_in_the_event(tmp_path, proc, sig)
    # pytest stops as it does for Ctrl-C: the session ends, the second case never runs, the
    # interrupted one is recorded INTERRUPTED; SIGTERM keeps its exit status
    assert proc.returncode == code, out + err
    assert any(line.startswith("!") and banner in line for line in out.splitlines()), out
    assert "AFTER THE RUN" not in err and "An error occurred in the 'Slow' observer" not in out + err
    check_the_run(tmp_path, moment, out + err)
    for records in stored_runs(tmp_path).values():
        assert [r.config["case"] for r in records] == [1]


def test_the_gate_holds_a_signal_until_the_block_ends_and_a_second_one_goes_through() -> None:
    restore = signals.install()
    try:
        with pytest.raises(signals.Terminated):
            with signals.held():
                os.kill(os.getpid(), signal.SIGTERM)
                signal_arrival = time.monotonic() + 60
                while signals.pending() is None and time.monotonic() < signal_arrival:
                    time.sleep(0.001)
                assert signals.pending() == signal.SIGTERM  # held, not raised here
        assert signals.pending() is None
        with pytest.raises(KeyboardInterrupt):
            with signals.held():
                os.kill(os.getpid(), signal.SIGINT)
                signal_arrival = time.monotonic() + 60
                while signals.pending() is None and time.monotonic() < signal_arrival:
                    time.sleep(0.001)
                assert signals.pending() == signal.SIGINT
                os.kill(os.getpid(), signal.SIGINT)  # a second one: at once
                signal_arrival = time.monotonic() + 60
                while time.monotonic() < signal_arrival:  # a safety net: the interrupt ends the wait
                    time.sleep(0.001)
    finally:
        restore()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_signal_held_when_the_run_ends_is_raised_by_restore() -> None:
    restore = signals.install()
    with signals.held():
        os.kill(os.getpid(), signal.SIGTERM)
        signal_arrival = time.monotonic() + 60
        while signals.pending() is None and time.monotonic() < signal_arrival:
            time.sleep(0.001)
        signals._GATE.depth -= 1  # leave the block without its check, as the run's last step does
        try:
            with pytest.raises(signals.Terminated) as info:
                restore()
        finally:
            signals._GATE.depth += 1
    assert info.value.code == 143 and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


LOOP_SCRIPT = textwrap.dedent(
    """
    import sys
    from pytest_sacredx import Experiment
    from pytest_sacredx.observers import FileStorageObserver, TinyDbObserver

    ex = Experiment("loop")
    ex.observers += [FileStorageObserver("runs"), TinyDbObserver("db")]

    @ex.main
    def main(_run):
        for i in range(STEPS):
            print("step", i, flush=True)
            _run.log_scalar("loss", 1.0 / (i + 1))
            with open(f"a{i}.txt", "w") as fh:
                fh.write("x" * 1000)
            _run.add_artifact(f"a{i}.txt")
        return "done"

    if __name__ == "__main__":
        print("READY", file=sys.stderr, flush=True)  # imports done: the moments that follow are the run's
        ex.run_commandline([sys.argv[0], "-b", "0.01"])
    """
)

#: how many processes get a signal at a random moment, and the steps of each run
SIGNALS, STEPS = 50, 10


def _run_once(folder: Path, delay: float | None, after: str = "start") -> tuple[int, dict[str, float]]:
    """Run the loop script in ``folder``; SIGTERM ``delay`` seconds after the run started (``after``
    "start": its first log line) or after the imports ("ready"); ``delay`` None: no signal. Returns
    the exit status and, without a signal, when (after the start) the run completed."""
    folder.mkdir()
    script = folder / "loop_exp.py"
    script.write_text(LOOP_SCRIPT.replace("STEPS", str(STEPS)))
    proc = subprocess.Popen(
        [sys.executable, str(script)], cwd=folder,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    marks: dict[str, float] = {}
    try:
        assert proc.stderr is not None and proc.stderr.readline() == "READY\n"
        if after == "start":
            line = proc.stderr.readline()
            assert "Running command" in line, line
        started = time.monotonic()
        if delay is not None:
            time.sleep(delay)  # the random moment (not a wait for anything)
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        else:
            for line in proc.stderr:
                if "Completed after" in line:
                    marks["completed"] = time.monotonic() - started
        proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, marks


def test_signals_at_random_moments_leave_only_whole_runs(tmp_path: Path) -> None:
    code, marks = _run_once(tmp_path / "calibration", None)
    assert code == 0 and "completed" in marks
    seed = int(os.environ.get("SIGNALS_SEED", time.time_ns() % 2**32))
    rng = random.Random(seed)
    # Four in five from the run's first log line to a little after it completed when alone (two at a
    # time, each is slower); one in five at any moment after the imports, when no run may exist yet.
    moments = [
        ("start", rng.uniform(0, marks["completed"] * 1.5)) if i % 5 else ("ready", rng.uniform(0, 1.0))
        for i in range(SIGNALS)
    ]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:  # two at a time: the startups dominate
        codes = list(pool.map(
            lambda i: _run_once(tmp_path / f"p{i}", moments[i][1], moments[i][0])[0], range(SIGNALS)
        ))
    outcomes: collections.Counter[str] = collections.Counter()
    problems = []
    for i, ((after, delay), code) in enumerate(zip(moments, codes, strict=True)):
        folder = tmp_path / f"p{i}"
        try:
            runs = stored_runs(folder)
            statuses = {store: [check_stored(r, STEPS) for r in records] for store, records in runs.items()}
        except AssertionError as e:
            problems.append(f"{delay:.3f}s after {after}, exit {code}: {e}")
            outcomes["broken"] += 1
            continue
        ended = {s for found in statuses.values() for s in found}
        if len({tuple(found) for found in statuses.values()}) > 1:
            problems.append(f"{delay:.3f}s after {after}, exit {code}: the stores disagree: {statuses}")
        if code == 0 and ended - {"COMPLETED"}:
            problems.append(f"{delay:.3f}s after {after}: exit 0 with runs {statuses}")
        if ended & {"INTERRUPTED", "FAILED"} and code != 143:
            problems.append(f"{delay:.3f}s after {after}: exit {code} with runs {statuses}")
        if code not in (0, 143, -signal.SIGTERM):  # -15: before the run's handler, or after it
            problems.append(f"{delay:.3f}s after {after}: exit {code}")
        outcomes[f"exit {code}: " + (" ".join(sorted(ended)) or "no run")] += 1
    print(f"\n{SIGNALS} SIGTERMs at random moments (SIGNALS_SEED={seed}; a run alone lasts "
          f"{marks['completed']:.2f}s):", json.dumps(dict(sorted(outcomes.items())), indent=1))
    assert not problems, f"SIGNALS_SEED={seed}\n" + "\n".join(problems)


def test_the_processes_the_suite_starts_take_ctrl_c() -> None:
    # conftest gives an inherited, ignored SIGINT back its default (a background job of a script starts
    # with SIGINT ignored): without that every Ctrl-C test above waits for an interrupt that never comes
    code = "import signal; print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "True", done.stderr
