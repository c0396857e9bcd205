"""compat/examples.py: Sacred's example programs against the output Sacred 0.8.7 printed.

Here: the normaliser keeps what matters and drops what changes between runs, the checker tells same
from different from deliberate, the recorded file covers every case, the runner serves ``sacred``; and,
where Sacred's examples are at hand, the checker passes over them as scripts and under pytest.
"""

from __future__ import annotations

import doctest
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_sacredx.config.printing import ConfigEntry, format_entry, legend

REPO = Path(__file__).resolve().parents[1]
CHECKER = REPO / "compat" / "examples.py"
sys.path.insert(0, str(REPO / "compat"))
import examples as compat_examples  # noqa: E402

sys.path.remove(str(REPO / "compat"))
normalise = compat_examples.normalise
Outcome = compat_examples.Outcome


def test_the_normalisers_doctests_pass() -> None:
    assert doctest.testmod(compat_examples).failed == 0


# --- the normaliser ---------------------------------------------------------------------------------

durations = st.builds("{}:{:02d}:{:02d}".format, st.integers(0, 30), st.integers(0, 59), st.integers(0, 59))
seeds = st.integers(0, 2**32 - 1)
run_ids = st.text("0123456789abcdef", min_size=1, max_size=24)


@given(durations, durations, seeds, seeds, run_ids, run_ids)
def test_two_runs_of_a_case_normalise_to_the_same_text(d1, d2, seed1, seed2, id1, id2) -> None:
    def output(duration: str, seed: int, run_id: str) -> str:
        return (
            f'INFO - svm - Started run with ID "{run_id}"\n'
            f"  seed = {seed}{' ' * (20 - len(str(seed)))}# the random seed for this experiment\n"
            f"INFO - svm - Completed after {duration}\n"
        )

    one = normalise(output(d1, seed1, id1), seed_drawn=True)
    other = normalise(output(d2, seed2, id2), seed_drawn=True)
    assert one == other
    assert "<duration>" in one and "<seed>" in one and '"<id>"' in one


@given(seeds, seeds.filter(lambda s: s > 9))
def test_a_seed_the_case_fixes_is_kept(seed, other) -> None:
    assert normalise(f"  seed = {seed}") == f"  seed = {seed}"
    assert normalise(f"  seed = {seed}") != normalise(f"  seed = {seed + other}")


@given(st.text(st.characters(codec="utf-8"), max_size=200))
def test_normalising_twice_changes_nothing(text) -> None:
    paths = {"/tmp/sacredx-example-x": "<cwd>"}
    once = normalise(text, paths=paths, seed_drawn=True, host="box-1")
    assert normalise(once, paths=paths, seed_drawn=True, host="box-1") == once


@given(
    key=st.from_regex(r"[a-z_][a-z0-9_]{0,12}", fullmatch=True),
    value=st.one_of(st.integers(), st.text(max_size=20), st.floats(allow_nan=False), st.booleans()),
    kind=st.sampled_from(["modified", "added", "typechanged", "plain"]),
    doc=st.one_of(st.none(), st.from_regex(r"[A-Za-z][A-Za-z ]{0,30}", fullmatch=True)),
    indent=st.integers(1, 8),
)
def test_sacreds_colours_normalise_to_our_text_markers(key, value, kind, doc, indent) -> None:
    # Sacred colours a whole print_config line; without a terminal we mark its first column. The
    # normaliser maps one onto the other, so a wrongly marked entry still differs.
    entry = ConfigEntry(
        key, value, added=kind == "added", modified=kind == "modified",
        typechanged=(int, str) if kind == "typechanged" else None, doc=doc,
    )  # fmt: skip
    assert normalise(format_entry(indent, entry, color=True)) == format_entry(indent, entry, color=False)
    assert normalise(legend(True)) == legend(False)


def test_a_wrong_marker_is_not_normalised_away() -> None:
    modified = ConfigEntry("a", 3, added=False, modified=True, typechanged=None, doc=None)
    added = ConfigEntry("a", 3, added=True, modified=False, typechanged=None, doc=None)
    assert normalise(format_entry(2, modified, color=True)) != format_entry(2, added, color=False)


def test_paths_and_the_host_are_replaced_longest_first() -> None:
    text = "File /tmp/x/examples/06.py on box-1, cwd /tmp/x"
    paths = {"/tmp/x": "<cwd>", "/tmp/x/examples": "<examples>"}
    assert normalise(text, paths=paths, host="box-1") == "File <examples>/06.py on <host>, cwd <cwd>"


# --- the checker ------------------------------------------------------------------------------------


def _case(name: str) -> compat_examples.Case:
    example, *argv = name.split(" ")
    return compat_examples.Case(example, tuple(argv))


def test_the_checker_reports_same_differs_and_missing() -> None:
    cases = [_case("a.py"), _case("b.py"), _case("c.py")]
    recorded = {"a.py": Outcome("hi\n", "", 0), "b.py": Outcome("hi\n", "", 0)}
    results = {"a.py": Outcome("hi\n", "", 0), "b.py": Outcome("ho\n", "", 1), "c.py": Outcome("", "", 0)}
    report, failing = compat_examples.check(cases, recorded, results, deliberate=())
    assert failing == 2
    assert report[0] == "same     a.py"
    assert report[1].startswith("differs  b.py\n--- Sacred 0.8.7\n+++ pytest_sacredx")
    assert "-exit status 0" in report[1] and "+exit status 1" in report[1]
    assert "-stdout| hi" in report[1] and "+stdout| ho" in report[1]
    assert report[2].startswith("missing  c.py") and "record_examples.py" in report[2]


def test_a_deliberate_line_explains_only_that_line() -> None:
    deliberate = (compat_examples.Deliberate(("a.py",), "COMPAT.md: why", line=r"^WARNING - root"),)
    sacred = Outcome("x\n", "WARNING - root - noise\nINFO - done\n", 0)
    only_the_line = Outcome("x\n", "INFO - done\n", 0)
    and_more = Outcome("y\n", "INFO - done\n", 0)
    report, failing = compat_examples.check([_case("a.py")], {"a.py": sacred}, {"a.py": only_the_line}, deliberate)
    assert failing == 0 and report == ["differs  a.py (deliberate: COMPAT.md: why)"]
    report, failing = compat_examples.check([_case("a.py")], {"a.py": sacred}, {"a.py": and_more}, deliberate)
    assert failing == 1 and "+stdout| y" in report[0]


def test_the_deliberate_list_is_small_and_each_entry_gives_its_compat_reason() -> None:
    names = {case.name for case in compat_examples.CASES}
    compat = (REPO / "COMPAT.md").read_text(encoding="utf-8")
    assert len(compat_examples.DELIBERATE) <= 5
    for entry in compat_examples.DELIBERATE:
        assert set(entry.cases) <= names
        assert entry.reason.startswith("COMPAT.md, ")
        section = entry.reason.split(", ")[1].split(":")[0]
        assert f"### {section}" in compat


def test_every_case_is_recorded_once_from_sacred_0_8_7() -> None:
    import json

    data = json.loads(compat_examples.RECORDED.read_text(encoding="utf-8"))
    assert data["recorded_with"]["sacred"] == "0.8.7"
    recorded = [row["case"] for row in data["cases"]]
    assert recorded == [case.name for case in compat_examples.CASES]
    assert len(set(recorded)) == len(recorded)
    examples = {case.example for case in compat_examples.CASES}
    assert examples == {sweep.example for sweep in compat_examples.SWEEPS}
    assert len(examples) == 13  # every program of Sacred's examples/


def test_an_unknown_example_is_one_error_line() -> None:
    done = subprocess.run(
        [sys.executable, str(CHECKER), "nope.py", "--sacred", str(REPO)], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert done.stderr.startswith("Error: not one of Sacred's examples: nope.py") and "Traceback" not in done.stderr


def test_without_sacreds_examples_it_says_where_they_are_expected(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(CHECKER), "--sacred", str(tmp_path / "nowhere")], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert f"{tmp_path / 'nowhere'}/examples" in done.stderr and "SACREDX_SACRED_DIR" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_run_serves_sacred_and_runs_the_file_as_a_script(tmp_path: Path) -> None:
    script = tmp_path / "exp.py"
    script.write_text(
        "from sacred import Experiment\n"
        "import pytest_sacredx\n"
        "ex = Experiment('demo')\n"
        "ex.add_config(x=1)\n"
        "@ex.automain\n"
        "def main(x):\n"
        "    print(__name__, x, Experiment is pytest_sacredx.Experiment)\n"
    )
    done = subprocess.run(
        [sys.executable, str(CHECKER), "run", "--no-numpy", str(script), "with", "x=2"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == "__main__ 2 True\n"
    assert "INFO - demo - Running command 'main'" in done.stderr


# --- the real examples ------------------------------------------------------------------------------


def _sacred_dir() -> Path:
    where = Path(os.environ.get("SACREDX_SACRED_DIR") or compat_examples.DEFAULT_SACRED)
    if not (where / "examples").is_dir():
        message = (
            f"Sacred 0.8.7's examples are expected at {where}/examples; set SACREDX_SACRED_DIR to the "
            "folder holding IDSIA/sacred 0.8.7's unmodified examples/"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return where


def _checker(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    return subprocess.run(
        [sys.executable, str(CHECKER), "--sacred", str(_sacred_dir()), *args],
        capture_output=True, text=True, timeout=900, env=env,
    )  # fmt: skip


@pytest.mark.slow
def test_every_example_prints_what_sacred_printed() -> None:
    done = _checker("--no-pytest")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    per_case = lines[:-1]
    assert len(per_case) == len(compat_examples.CASES)
    assert all(line.startswith(("same ", "differs ")) for line in per_case)
    assert all(line.startswith("same ") or "(deliberate: COMPAT.md, " in line for line in per_case)
    assert lines[-1].endswith(", 0 differ otherwise")


@pytest.mark.slow
def test_config_scope_with_log_and_the_ingredients_named_config_under_pytest() -> None:
    # examples/03 (`def cfg(_log)`) and `ingredient.py with fbb`: the two that once broke.
    done = _checker("03_hello_config_scope.py", "ingredient.py")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "passes  pytest ingredient.py --exp-named-config fbb --exp-config b=1,2" in done.stdout
    assert "passes  pytest 03_hello_config_scope.py --exp-config recipient=Bob,Alice" in done.stdout
    assert "same     ingredient.py with fbb" in done.stdout
    assert "same     03_hello_config_scope.py with recipient=Bob" in done.stdout
