"""compat/run.py: the runner of Sacred's own test suite against pytest_sacredx.

The full run happens in .ci/run; here: its list is well formed, it refuses to guess where the tests
are, and its alias plugin makes ``import sacred`` the very same modules as ``pytest_sacredx``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "compat"))
import run as compat_run  # noqa: E402

sys.path.remove(str(REPO / "compat"))


def test_every_listed_test_is_in_one_section_and_private_ones_say_why():
    tests = compat_run.load_list()
    assert len(tests) > 700
    public = [node for node, reason in tests.items() if reason is None]
    assert len(public) > 500
    assert all(reason for reason in tests.values() if reason is not None)
    assert all(node.startswith("tests/") and "::" in node for node in tests)


def test_a_list_with_a_duplicate_or_a_reasonless_private_section_is_refused(tmp_path):
    listed = tmp_path / "list.txt"
    listed.write_text("[public]\ntests/a.py::t\ntests/a.py::t\n")
    with pytest.raises(SystemExit, match="listed twice"):
        compat_run.load_list(listed)
    listed.write_text("[private]\ntests/a.py::t\n")
    with pytest.raises(SystemExit, match="needs a reason"):
        compat_run.load_list(listed)


def test_without_sacreds_tests_it_says_where_they_are_expected_and_exits_2(tmp_path):
    done = subprocess.run(
        [sys.executable, str(REPO / "compat" / "run.py"), "--sacred", str(tmp_path / "nowhere")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert f"{tmp_path / 'nowhere'}/tests" in done.stderr
    assert "--sacred DIR" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_alias_serves_pytest_sacredx_modules_under_sacreds_names():
    code = (
        "import sacred_alias, sacred, sacred.observers.file_storage as fs, pytest_sacredx\n"
        "import pytest_sacredx.observers.file_storage as ours\n"
        "assert sacred is pytest_sacredx and fs is ours\n"
        "from sacred import Experiment; assert Experiment is pytest_sacredx.Experiment\n"
        "try:\n    import sacred.no_such_module\nexcept ModuleNotFoundError: print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO / "compat"), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
