"""What users see: header, failure sections, the runs table, JUnit properties."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from plugin_helpers import MODES, TOY, run_pytest


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


def test_failure_section_shows_changes_seed_reproduction_and_user_frames(pytester: pytest.Pytester, mode: str) -> None:
    pytester.makepyfile(exp_toy=TOY)
    result = run_pytest(pytester, mode, "--exp-config", "C=13", "--exp-config", "gamma=0.5", "--exp-seed=9")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*Experiment 'toy' ended FAILED (run * in tinydb:.sacredx)",
            "config changes: C=13, gamma=0.5",
            "case seed: * (session seed 9)",
            "reproduce: pytest 'exp_toy.py::toy[[]C=13-gamma=0.5]' --exp-seed=9 --exp-config=C=13 --exp-config=gamma=0.5",
            "Traceback (most recent call last):",
            '  File "*exp_toy.py", line *, in main',
            "ValueError: unlucky C",
        ]
    )
    section = out[out.index("Experiment 'toy' ended") : out.index("ValueError: unlucky C")]
    assert "or: python" not in section  # @ex.main: running the file would not run the experiment
    assert "pluggy" not in section and "pytest_sacredx" not in section and "_pytest" not in section


def test_reproduce_command_reruns_the_same_case(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(exp_toy=TOY)
    result = run_pytest(pytester, "serial", "--exp-config", "C=13,2", "--exp-seed=9")
    line = next(x for x in result.outlines if x.startswith("reproduce: pytest "))
    import shlex

    args = shlex.split(line[len("reproduce: pytest ") :])
    again = run_pytest(pytester, "serial", *args)
    again.assert_outcomes(failed=1)
    seed_line = next(x for x in result.outlines if x.startswith("case seed:"))
    assert seed_line in again.outlines


def test_summary_table_rows_and_modes(pytester: pytest.Pytester, mode: str) -> None:
    pytester.makepyfile(exp_toy=TOY)
    result = run_pytest(pytester, mode, "--exp-config", "C=1,2", "--exp-seed=4")
    result.stdout.fnmatch_lines(
        [
            "*experiment runs*",
            "case*status*result*score*duration*seed*run*store",
            "toy[[]C=1]*COMPLETED*0.5*",
            "toy[[]C=2]*COMPLETED*1*",
            "2 runs recorded; reproduce with --exp-seed=4",
        ]
    )
    quiet = run_pytest(pytester, mode, "--exp-summary=no")
    assert "experiment runs" not in quiet.stdout.str()


def test_junit_xml_has_run_properties(pytester: pytest.Pytester, mode: str) -> None:
    pytester.makepyfile(exp_toy=TOY)
    run_pytest(pytester, mode, "--junitxml=out.xml", "--exp-config", "C=1,2")
    tree = ET.parse(pytester.path / "out.xml")
    cases = tree.getroot().findall(".//testcase")
    assert len(cases) == 2
    for case in cases:
        props = {p.get("name"): p.get("value") for p in case.findall("./properties/property")}
        assert props["sacredx_status"] == "COMPLETED"
        assert props["sacredx_run_id"] and props["sacredx_seed"].isdigit()
        assert "score" in props["sacredx_result"]


TWO_EXPERIMENTS = '''
from pytest_sacredx import Experiment

one = Experiment("one")
two = Experiment("two")

@one.main
def first():
    raise ValueError("one fails")

@two.main
def second():
    raise ValueError("two fails")
'''


@pytest.mark.parametrize(
    ("tail", "script_for"),
    [("", set()),
     ("\nif __name__ == '__main__':\n    two.run_commandline()\n", {"two"})],
)
def test_script_reproduce_lines_only_where_running_the_file_runs_that_experiment(
    pytester: pytest.Pytester, tail: str, script_for: set[str]
) -> None:
    pytester.makepyfile(exp_two=TWO_EXPERIMENTS + tail)
    result = run_pytest(pytester, "serial", "--exp-config", "seed=3")
    result.assert_outcomes(failed=2)
    # the failure sections only: under CI (CI=true) pytest's short summary repeats each full message
    text = result.stdout.str().split("short test summary info")[0]
    assert text.count("reproduce: pytest 'exp_two.py::") == 2
    assert ("or: python exp_two.py with seed=3" in text) == bool(script_for)
    assert text.count("or: python exp_two.py") == len(script_for)


def test_automain_experiments_keep_their_script_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(exp_toy=TOY.replace("@ex.main", "@ex.automain"))
    result = run_pytest(pytester, "serial", "--exp-config", "C=13")
    result.stdout.fnmatch_lines(["      or: python exp_toy.py with C=13 seed=*"])


PINNED = TOY.replace("@ex.main", "@ex.automain") + '''
@ex.named_config
def pinned():
    seed = 77
'''


@pytest.mark.parametrize(
    "args, seed, script",
    [
        (["--exp-config", "seed=5"], 5, "python exp_toy.py with seed=5 C=13"),
        (["--exp-named-config", "pinned"], 77, "python exp_toy.py with pinned C=13 seed=77"),
    ],
    ids=["update", "named-config"],
)
def test_a_seed_fixed_by_the_case_is_the_seed_shown(
    pytester: pytest.Pytester, mode: str, args: list[str], seed: int, script: str
) -> None:
    """The run uses the seed the case's config fixes; the failure section, the table and the JUnit
    property show it, and the script form reproduces it (also when a named config set it)."""
    pytester.makepyfile(exp_toy=PINNED)
    result = run_pytest(pytester, mode, *args, "--exp-config", "C=13", "--exp-seed=9", "--junitxml=out.xml")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            f"case seed: {seed} (set by the case's config, not derived from session seed 9)",
            "reproduce: pytest 'exp_toy.py::toy[[]*]' --exp-seed=9 *",
            f"      or: {script}",
            "*experiment runs*",
            f"toy[[]*C=13*]*FAILED*{seed}*",
        ]
    )
    case = ET.parse(pytester.path / "out.xml").getroot().find(".//testcase")
    assert case is not None
    props = {p.get("name"): p.get("value") for p in case.findall("./properties/property")}
    assert props["sacredx_seed"] == str(seed)


def test_a_derived_case_seed_names_the_session_seed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(exp_toy=TOY)
    result = run_pytest(pytester, "serial", "--exp-config", "C=13", "--exp-seed=9")
    line = next(x for x in result.outlines if x.startswith("case seed:"))
    assert re.fullmatch(r"case seed: \d+ \(session seed 9\)", line)
