"""Output capture: modes, teeing, restoring streams and fds on every exit path, and the \\b/\\r filter.

The fd-mode tests that need a process's real fds (no pytest capture in the way) run a child Python.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_sacredx.errors import CaptureModeError, SacredxError
from pytest_sacredx.run.capture import (
    CAPTURE_MODES,
    OutputCapture,
    apply_backspaces_and_linefeeds,
    resolve_capture_mode,
)
from pytest_sacredx.settings import SETTINGS

posix_only = pytest.mark.skipif(sys.platform.startswith("win"), reason="fd capture is POSIX-only")


# --- mode resolution --------------------------------------------------------------------------------


def test_no_observers_and_no_request_means_no_capture() -> None:
    assert resolve_capture_mode(None, has_observers=False) == "no"


def test_observers_without_request_use_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SETTINGS, "CAPTURE_MODE", "sys")
    assert resolve_capture_mode(None, has_observers=True) == "sys"


@pytest.mark.parametrize("mode", CAPTURE_MODES)
def test_an_explicit_mode_wins(mode: str) -> None:
    assert resolve_capture_mode(mode, has_observers=False) == mode


def test_unknown_mode_is_a_key_error_naming_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(CaptureModeError) as info:
        resolve_capture_mode("tee", has_observers=True)
    assert isinstance(info.value, KeyError) and isinstance(info.value, SacredxError)
    message = str(info.value)
    assert "'tee'" in message and "'no', 'sys', 'fd'" in message
    monkeypatch.setattr(SETTINGS, "CAPTURE_MODE", "file")
    with pytest.raises(KeyError, match="'file'"):
        resolve_capture_mode(None, has_observers=True)
    with pytest.raises(CaptureModeError):
        OutputCapture("stdout")


def test_a_capture_is_entered_once() -> None:
    capture = OutputCapture("no")
    with capture:
        pass
    with pytest.raises(RuntimeError, match="only once"):
        capture.__enter__()


# --- no and sys modes -------------------------------------------------------------------------------


def test_no_mode_captures_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    stdout = sys.stdout
    with OutputCapture("no") as capture:
        assert sys.stdout is stdout
        print("visible")
    assert capture.get() == ""
    assert capsys.readouterr().out == "visible\n"


def test_sys_mode_captures_both_streams_in_order_and_tees(
    capsys: pytest.CaptureFixture[str],
) -> None:
    stdout, stderr = sys.stdout, sys.stderr
    with OutputCapture("sys") as capture:
        print("one")
        print("two", file=sys.stderr)
        sys.stdout.writelines(["three\n", "four\n"])
    assert capture.get() == "one\ntwo\nthree\nfour\n"
    assert (sys.stdout, sys.stderr) == (stdout, stderr)
    seen = capsys.readouterr()
    assert seen.out == "one\nthree\nfour\n" and seen.err == "two\n"


def test_sys_mode_restores_streams_on_exception() -> None:
    stdout, stderr = sys.stdout, sys.stderr
    capture = OutputCapture("sys")
    with pytest.raises(ZeroDivisionError):
        with capture:
            print("before the error")
            1 / 0  # noqa: B018
    assert (sys.stdout, sys.stderr) == (stdout, stderr)
    assert capture.get() == "before the error\n"
    print("after the run")
    assert capture.get() == "before the error\n"


def test_sys_proxy_forwards_attributes(monkeypatch: pytest.MonkeyPatch) -> None:
    original = io.TextIOWrapper(io.BytesIO(), encoding="latin-1", write_through=True)
    monkeypatch.setattr(sys, "stdout", original)
    with OutputCapture("sys") as capture:
        proxy = sys.stdout
        assert proxy is not original
        assert proxy.encoding == "latin-1"
        assert proxy.buffer is original.buffer
        assert proxy.isatty() is False
        assert isinstance(proxy, io.TextIOWrapper)
        with pytest.raises(io.UnsupportedOperation):
            proxy.fileno()
        assert proxy.write("abc") == 3
        proxy.flush()
    assert original.buffer.getvalue() == b"abc"
    assert capture.get() == "abc"
    assert sys.stdout is original


def test_sys_mode_with_no_stdout_still_captures(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdout", None)
    with OutputCapture("sys") as capture:
        print("nowhere to go")
    assert capture.get() == "nowhere to go\n"
    assert sys.stdout is None


def test_nested_sys_captures_restore_what_was_there() -> None:
    stdout = sys.stdout
    with OutputCapture("sys") as outer:
        print("outer")
        with OutputCapture("sys") as inner:
            print("inner")
        print("outer again")
    assert sys.stdout is stdout
    assert outer.get() == "outer\ninner\nouter again\n"
    assert inner.get() == "inner\n"


def test_overlapping_sys_captures_exiting_out_of_order() -> None:
    """Runs in two threads may end in any order: nothing leaks and the original stream comes back."""
    stdout = sys.stdout
    first, second = OutputCapture("sys"), OutputCapture("sys")
    first.__enter__()
    second.__enter__()
    print("both")
    first.__exit__(None, None, None)
    print("second only")
    second.__exit__(None, None, None)
    assert sys.stdout is stdout
    assert first.get() == "both\n"
    assert second.get() == "both\nsecond only\n"


# --- fd mode under pytest's own capture -------------------------------------------------------------


@posix_only
def test_fd_mode_under_pytest_fd_capture_captures_and_pytest_still_sees_it(
    capfd: pytest.CaptureFixture[str],
) -> None:
    with OutputCapture("fd") as capture:
        print("from print")
        os.write(1, b"from os.write\n")
        subprocess.run(["sh", "-c", "echo from a child; echo child error >&2"], check=True)
        print("to stderr", file=sys.stderr)
    assert capture.mode == "fd"
    text = capture.get()
    for line in ("from print", "from os.write", "from a child", "child error", "to stderr"):
        assert line + "\n" in text
    seen = capfd.readouterr()
    assert (
        "from print\n" in seen.out
        and "from os.write\n" in seen.out
        and "from a child\n" in seen.out
    )
    assert "child error\n" in seen.err and "to stderr\n" in seen.err


def test_fd_mode_under_pytest_sys_capture_never_crashes(capsys: pytest.CaptureFixture[str]) -> None:
    # capsys's sys.stdout has no fileno: Python-level output is teed at the sys level instead.
    stdout = sys.stdout
    with OutputCapture("fd") as capture:
        print("hello")
    assert capture.get() == "hello\n"
    assert sys.stdout is stdout
    assert capsys.readouterr().out == "hello\n"


@posix_only
def test_fd_captures_in_two_threads_do_not_fight_over_the_fds() -> None:
    results: dict[str, str] = {}
    entered, release = threading.Event(), threading.Event()

    def other_run() -> None:
        with OutputCapture("fd") as capture:
            results["other mode"] = capture.mode
            entered.set()
            release.wait(5)

    thread = threading.Thread(target=other_run)
    thread.start()
    assert entered.wait(5)
    with OutputCapture("fd") as mine:
        print("mine")
    release.set()
    thread.join()
    assert results["other mode"] == "fd"
    assert mine.mode == "sys"
    assert "mine\n" in mine.get()


# --- get() and the filter ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["sys", pytest.param("fd", marks=posix_only)])
def test_get_from_another_thread_while_writing(
    mode: str, capfd: pytest.CaptureFixture[str]
) -> None:
    snapshots: list[str] = []
    stop = threading.Event()
    lines = [f"line {i}\n" for i in range(5000)]

    with OutputCapture(mode) as capture:

        def heartbeat() -> None:
            while not stop.wait(0.0005):
                snapshots.append(capture.get())

        beat = threading.Thread(target=heartbeat)
        beat.start()
        for line in lines:
            sys.stdout.write(line)
        stop.set()
        beat.join()
    final = capture.get()
    assert final == "".join(lines)
    previous = ""
    for snapshot in snapshots:  # every snapshot extends the one before
        assert snapshot.startswith(previous)
        previous = snapshot
    capfd.readouterr()


def test_filter_sees_the_whole_text_and_runs_only_on_new_text() -> None:
    calls: list[str] = []

    def progress_filter(text: str) -> str:
        calls.append(text)
        return apply_backspaces_and_linefeeds(text)

    with OutputCapture("sys", filter=progress_filter) as capture:
        sys.stdout.write("10%\r")
        assert capture.get() == "10%\r"
        assert capture.get() == "10%\r"
        sys.stdout.write("100%\n")
        assert capture.get() == "100%\n"
    assert capture.get() == "100%\n"
    assert calls == ["10%\r", "10%\r100%\n"]


# --- fd mode in a real process ----------------------------------------------------------------------


def run_python(code: str, tmp_path: Path, timeout: float = 60) -> tuple[str, str, dict[str, Any]]:
    """Run ``code`` in a child Python with piped stdio, in ``tmp_path``; it reports through
    ``report(**values)``. The timeout catches a hang: the child needs about a second."""
    report_file = tmp_path / "report.json"
    prelude = textwrap.dedent(
        f"""
        import json, os, sys, subprocess, time
        from pytest_sacredx.run.capture import OutputCapture
        def report(**values):
            with open({str(report_file)!r}, "w") as f:
                json.dump(values, f)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, proc.stderr, json.loads(report_file.read_text())


@posix_only
@pytest.mark.slow
def test_fd_mode_captures_every_source_and_tees(tmp_path: Path) -> None:
    out, err, report = run_python(
        """
        import ctypes
        libc = ctypes.CDLL(None)
        with OutputCapture("fd") as capture:
            print("from print")
            print("from print to stderr", file=sys.stderr)
            os.write(1, b"from os.write\\n")
            os.write(2, b"from os.write to 2\\n")
            os.system("echo from os.system")
            subprocess.run([sys.executable, "-c", "print('from a child python')"])
            libc.printf(b"from C\\n")
            for i in range(10000):
                print("line", i)
        os.write(1, b"after the run\\n")
        report(text=capture.get(), mode=capture.mode)
        """,
        tmp_path,
    )
    assert report["mode"] == "fd"
    captured = report["text"].splitlines()
    stdout_lines = [
        "from print",
        "from os.write",
        "from os.system",
        "from a child python",
        "from C",
    ]
    stderr_lines = ["from print to stderr", "from os.write to 2"]
    numbered = [f"line {i}" for i in range(10000)]
    assert sorted(captured) == sorted(stdout_lines + stderr_lines + numbered)
    assert [line for line in captured if line.startswith("line ")] == numbered  # in order
    assert sorted(out.splitlines()) == sorted([*stdout_lines, *numbered, "after the run"])
    assert sorted(err.splitlines()) == sorted(stderr_lines)


@posix_only
@pytest.mark.slow
@pytest.mark.parametrize("error", ["ValueError", "KeyboardInterrupt"])
def test_fd_mode_keeps_output_and_restores_fds_when_the_run_raises(
    tmp_path: Path, error: str
) -> None:
    out, err, report = run_python(
        f"""
        before = (os.fstat(1).st_ino, os.fstat(2).st_ino)
        capture = OutputCapture("fd")
        try:
            with capture:
                print("last words")
                os.write(2, b"last error words\\n")
                sys.stdout.write("unflushed")
                raise {error}("boom")
        except {error}:
            pass
        after = (os.fstat(1).st_ino, os.fstat(2).st_ino)
        print("|after")
        report(text=capture.get(), restored=before == after)
        """,
        tmp_path,
    )
    assert report["restored"]
    # Both streams are in; how stdout's and stderr's bytes interleave depends on buffering.
    pieces = ["last words\n", "unflushed", "last error words\n"]
    assert all(piece in report["text"] for piece in pieces)
    assert len(report["text"]) == len("".join(pieces))
    assert out == "last words\nunflushed|after\n"
    assert err == "last error words\n"


@posix_only
@pytest.mark.slow
def test_fd_mode_does_not_hang_on_children_that_outlive_the_run(tmp_path: Path) -> None:
    out, _, report = run_python(
        """
        import multiprocessing
        def shout(text):  # one write per line: print() writes the text and the newline separately
            os.write(1, text.encode() + b"\\n")
        with OutputCapture("fd") as capture:
            # the child goes on until the run is over: it waits for a file written after the capture
            # ends, so a capture that waited for the child's end would hang (and time out below)
            child = subprocess.Popen(
                ["sh", "-c", "echo child started; while [ ! -e released ]; do sleep 0.02; done; echo child late"]
            )
            pool = multiprocessing.get_context("fork").Pool(2)  # Sacred's capture deadlocked here
            pool.map(shout, ["from a worker", "from another worker"])
            time.sleep(0.3)
            print("run done")
        alive = child.poll() is None  # the capture has ended; the child has not
        text = capture.get()
        open("released", "w").close()
        pool.terminate()
        child.wait()
        report(text=text, child_alive_after_run=alive)
        """,
        tmp_path,
    )
    assert report["child_alive_after_run"]  # the capture ended before the child did
    captured = report["text"].splitlines()
    assert sorted(captured) == [
        "child started",
        "from a worker",
        "from another worker",
        "run done",
    ], report
    assert "child late" in out.splitlines()  # still reaches the user, after the run


@posix_only
@pytest.mark.slow
def test_consecutive_fd_captures_share_one_reader_and_each_gets_only_its_output(tmp_path: Path) -> None:
    out, _, report = run_python(
        """
        import threading
        texts, readers = [], []  # the reader threads themselves: kept, so no id is reused
        # the first run leaves a child behind that prints during the second run
        with OutputCapture("fd") as first:
            child = subprocess.Popen(
                ["sh", "-c", "echo early; while [ ! -e go ]; do sleep 0.01; done; echo late"]
            )
            time.sleep(0.2)
        with OutputCapture("fd") as second:
            open("go", "w").close()
            child.wait()
            print("second")
        texts += [first.get(), second.get()]
        for i in range(200):
            with OutputCapture("fd") as capture:
                print("run", i)
                if i % 50 == 0:
                    os.write(2, b"x" * 100000 + b"\\n")  # more than a pipe holds
            texts.append(capture.get())
            readers += [t for t in threading.enumerate() if t.name == "sacredx-output-capture"]
        report(texts=texts, readers=len({id(t) for t in readers}))
        """,
        tmp_path,
    )
    texts = report["texts"]
    assert texts[0] == "early\n"
    assert texts[1] == "second\n"  # the first run's child printed "late" meanwhile: not ours
    assert "late" in out.splitlines()  # it still reached the user
    for i, text in enumerate(texts[2:]):
        expected = f"run {i}\n" + ("x" * 100000 + "\n" if i % 50 == 0 else "")
        assert sorted(text.splitlines()) == sorted(expected.splitlines()), i
    assert [line for line in out.splitlines() if line.startswith("run ")] == [
        f"run {i}" for i in range(200)
    ]
    assert report["readers"] == 1  # one thread served every run


@posix_only
@pytest.mark.slow
def test_nested_fd_captures_of_more_than_a_pipe_holds_do_not_block(tmp_path: Path) -> None:
    out, err, report = run_python(
        """
        big = "y" * 200000
        with OutputCapture("fd") as outer:
            print("outer")
            with OutputCapture("fd") as inner:
                print(big)
                os.write(2, b"inner error\\n")
            print("outer again")
        report(outer=outer.get(), inner=inner.get(), modes=[outer.mode, inner.mode])
        """,
        tmp_path,
        timeout=120,
    )
    assert report["modes"] == ["fd", "fd"]
    big = "y" * 200000
    assert sorted(report["inner"].splitlines()) == sorted([big, "inner error"])
    assert sorted(report["outer"].splitlines()) == sorted(["outer", big, "inner error", "outer again"])
    assert out.splitlines() == ["outer", big, "outer again"]
    assert err == "inner error\n"


@posix_only
@pytest.mark.slow
def test_fd_capture_in_a_forked_child_after_one_in_the_parent(tmp_path: Path) -> None:
    _, _, report = run_python(
        """
        with OutputCapture("fd") as parent:
            print("parent")
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the parent's reader thread did not survive the fork; the child makes its own
            with OutputCapture("fd") as child:
                print("child")
            os.write(w, child.get().encode())
            os._exit(0)
        os.close(w)
        _, status = os.waitpid(pid, 0)
        report(parent=parent.get(), child=os.read(r, 1000).decode(), status=status)
        """,
        tmp_path,
    )
    assert report == {"parent": "parent\n", "child": "child\n", "status": 0}


# --- apply_backspaces_and_linefeeds -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ""),
        ("\b", ""),
        ("\r", "\r"),
        ("ab\bc", "ac"),
        ("\ba", "a"),
        ("ab\nc\b\bd", "ab\nd"),
        ("abc\rdef", "def"),
        ("abc\r", "abc\r"),
        ("abc\rd", "dbc"),
        ("abc\r\nd", "abc\nd"),
        ("abc\ndef\rg", "abc\ngef"),
        ("abc\ndef\r\rg", "abc\ngef"),
        ("abc\b\bX", "aXc"),
        ("abc\rd\r", "dbc\r"),
        ("10%\r50%\r100%\ndone\n", "100%\ndone\n"),
    ],
)
def test_backspaces_and_linefeeds(text: str, expected: str) -> None:
    assert apply_backspaces_and_linefeeds(text) == expected


def terminal(text: str) -> str:
    """A character-at-a-time model of a terminal, the reference for the property test."""
    lines = text.split("\n")
    rendered = []
    for number, line in enumerate(lines):
        screen: list[str] = []
        cursor = 0
        for position, char in enumerate(line):
            if char == "\r" and number == len(lines) - 1 and position == len(line) - 1:
                screen.append("\r")  # a final carriage return is kept
            elif char == "\r":
                cursor = 0
            elif char == "\b":
                cursor = max(cursor - 1, 0)
            else:
                if cursor < len(screen):
                    screen[cursor] = char
                else:
                    screen.append(char)
                cursor += 1
        rendered.append("".join(screen))
    return "\n".join(rendered)


control_text = st.text(alphabet=st.sampled_from("ab√\r\n\b "), max_size=60)


@given(control_text)
def test_backspaces_and_linefeeds_match_a_terminal(text: str) -> None:
    assert apply_backspaces_and_linefeeds(text) == terminal(text)


@given(control_text)
def test_backspaces_and_linefeeds_is_idempotent_and_never_grows(text: str) -> None:
    once = apply_backspaces_and_linefeeds(text)
    assert apply_backspaces_and_linefeeds(once) == once
    assert len(once) <= len(text)


@given(st.text().map(lambda s: s.replace("\r", "").replace("\b", "")))
def test_text_without_control_characters_is_unchanged(text: str) -> None:
    assert apply_backspaces_and_linefeeds(text) == text
