"""Stores: named as written (ini lines split like pytest's args), checked once at session start, watched
while the session runs, and every id the summary prints found by ``sacredx show`` in the store it names."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from plugin_helpers import TOY, run_pytest, stored_runs

from pytest_sacredx.pytest_plugin.stores import problem_with_folder


def _inprocess(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return run_pytest(pytester, "serial", *args)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs: a disk that really fills up (mounting needs root, which CI has)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"cannot mount a tmpfs: {done.stderr.decode().strip()}")
        pytest.skip("needs root to mount a small tmpfs (CI runs as root)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(folder: Path) -> None:
    with open(folder / "filler", "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass


# ---------------------------------------------------------------------------- ini lines
def test_ini_observers_split_on_whitespace_and_unknown_schemes_are_errors(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(exp_toy=TOY)
    pytester.makeini("[pytest]\nsacredx_observers = tinydb:.sacredx file:runs\n")
    _inprocess(pytester).assert_outcomes(passed=1)
    assert len(stored_runs(pytester)) == 1 and (pytester.path / "runs" / "1" / "run.json").is_file()
    assert not any(" " in p.name for p in pytester.path.iterdir())
    pytester.makeini("[pytest]\nsacredx_observers = tinydb:.sacredx foo:bar\n")
    result = _inprocess(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: sacredx_observers in tox.ini: 'foo:bar': Unknown observer URI scheme 'foo'*"])


# ---------------------------------------------------------------------------- checked at session start
def test_problem_with_folder_creates_nothing(tmp_path: Path) -> None:
    assert problem_with_folder(str(tmp_path / "a" / "b")) is None
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "f").write_text("x")
    assert "is a file, not a folder" in (problem_with_folder(str(tmp_path / "f")) or "")
    assert "is a file, so the folder" in (problem_with_folder(str(tmp_path / "f" / "runs")) or "")


@pytest.mark.parametrize(
    ("uri", "reason"),
    [("file:afile", "*afile is a file, not a folder"), ("tinydb:afile/db", "*afile is a file, so the folder*"),
     ("tinydb:/proc/sacredx/x", "cannot write in /proc*")],
)
def test_a_store_that_cannot_be_written_is_one_usage_error_at_session_start(
    pytester: pytest.Pytester, uri: str, reason: str
) -> None:
    pytester.makepyfile(exp_toy=TOY)
    (pytester.path / "afile").write_text("not a folder")
    result = _inprocess(pytester, "--exp-observer", uri, "--exp-config", "C=1,2,3")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        f"ERROR: --exp-observer {uri!r} cannot record runs: {reason}. Fix the folder, choose a writable store "
        "(--exp-observer tinydb:DIR, or ini sacredx_observers), or record nothing with --exp-observer none."
    ])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert "runs recorded" not in result.stdout.str()


def test_a_full_disk_at_start_is_one_usage_error_under_xdist_too(pytester: pytest.Pytester, small_disk: Path) -> None:
    pytester.makepyfile(exp_toy=TOY)
    _fill(small_disk)
    for mode in ("serial", "xdist"):
        result = run_pytest(pytester, mode, "--exp-observer", f"tinydb:{small_disk}/store", "--exp-config", "C=1,2")
        assert result.ret != 0
        text = result.stdout.str() + result.stderr.str()
        assert f"--exp-observer 'tinydb:{small_disk}/store' cannot record runs: cannot write in {small_disk}: No space left" in text
        assert "runs recorded" not in text and "Traceback" not in text


def test_the_default_store_is_checked_only_when_a_case_will_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_ok():\n    pass\n")
    (pytester.path / ".sacredx").write_text("a file where the store's folder should be")
    _inprocess(pytester).assert_outcomes(passed=1)
    pytester.makepyfile(exp_toy=TOY)
    result = _inprocess(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: the default store tinydb:.sacredx cannot record runs: *is a file, not a folder*"])


FILLS_DISK = TOY.replace(
    '    if C == 13:',
    '    if C == 2:\n'
    '        import os\n'
    '        with open(os.path.join(os.environ["SMALL_DISK"], "filler"), "wb") as fh:\n'
    '            try:\n'
    '                while True:\n'
    '                    fh.write(bytes(65536)); fh.flush()\n'
    '            except OSError:\n'
    '                pass\n'
    '    if C == 13:',
)


def test_a_disk_that_fills_up_mid_run_keeps_the_store_readable_and_says_so_once(
    pytester: pytest.Pytester, small_disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(exp_toy=FILLS_DISK)
    monkeypatch.setenv("SMALL_DISK", str(small_disk))
    store = f"tinydb:{small_disk}/store"
    result = _inprocess(pytester, "--exp-observer", store, "--exp-config", "C=1,2,3,4")
    # the first case the store cannot take fails with one line; the rest run, unrecorded
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) <= 1 and outcomes["passed"] + outcomes.get("failed", 0) == 4
    if outcomes.get("failed"):
        result.stdout.fnmatch_lines(["toy: * could not record the start of this case's run (*No space left on device)*"])
    lines = [line for line in result.outlines if "did not record" in line]
    assert len(lines) == 1, result.outlines
    recorded = len(stored_runs(pytester, f"{small_disk}/store"))
    assert lines[0].startswith(f"{store} did not record {4 - recorded} of 4 runs (cannot write in {small_disk}")
    assert "No space left on device); it was given no more runs after that" in lines[0]
    result.stdout.fnmatch_lines([f"{recorded} of 4 runs recorded; reproduce with --exp-seed=*"])
    runs = stored_runs(pytester, f"{small_disk}/store")  # still readable
    assert runs[0].status == "COMPLETED" and runs[0].config["C"] == 1


# ---------------------------------------------------------------------------- ids that sacredx show finds
OWN_STORE = TOY.replace(
    'ex = Experiment("toy")',
    'ex = Experiment("toy")\nfrom pytest_sacredx.observers import FileStorageObserver\n'
    'ex.observers.append(FileStorageObserver("own_runs", priority=50))',
)


def _show(run_id: str, store: str, capsys: pytest.CaptureFixture[str]) -> dict:
    from pytest_sacredx.cli.query import main

    capsys.readouterr()
    code = main(["show", run_id, "--store", store, "--json"])
    out = capsys.readouterr().out
    assert code == 0, (run_id, store, out)
    return json.loads(out)


def test_every_id_the_summary_prints_is_found_in_the_store_it_names(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(exp_toy=OWN_STORE)
    result = _inprocess(pytester, "--exp-config", "C=1,13", "--exp-summary=full")
    result.assert_outcomes(passed=1, failed=1)
    rows = [line.split() for line in result.outlines if line.startswith("toy[")]
    assert len(rows) == 2
    for row in rows:
        run_id, store, own_store, own_id = row[-4].rstrip(";"), row[-3].rstrip(";"), row[-2], row[-1]
        assert (store, own_store) == ("tinydb:.sacredx", "file:own_runs")
        assert own_id in {"1", "2"}
        monkeypatch.chdir(pytester.path)  # the summary's paths are relative to the rootdir
        first = _show(run_id, store, capsys)
        second = _show(own_id, own_store, capsys)
        assert first["config"]["C"] == second["config"]["C"] == int(row[0][len("toy[C="):-1])
    result.stdout.fnmatch_lines(["*ended FAILED (run * in tinydb:.sacredx, run * in file:own_runs)"])
