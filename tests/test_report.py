"""The self-contained HTML report (``pytest_sacredx/report/``) and ``pytest --exp-report FILE``
(``pytest_sacredx/pytest_plugin/html_report.py``). The real browser test is ``test_report_browser.py``."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from plugin_helpers import MODES, TOY, run_pytest
from query_helpers import NEW, OLD, record_history
from test_store_contract import memory_store, play_run

from pytest_sacredx.report import build_report, write_report
from pytest_sacredx.report.data import MAX_POINTS, compact_curve


def payload(html: str) -> dict[str, Any]:
    return json.loads(html.split('<script type="application/json" id="sacredx-data">', 1)[1]
                      .split("</script>", 1)[0])


@pytest.fixture
def store(tmp_path: Path) -> Any:
    s = memory_store(tmp_path)
    record_history(s, tmp_path)
    return s.reader


def test_report_is_one_file_that_asks_for_nothing(store: Any) -> None:
    html = build_report(store, title="history")
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert "default-src 'none'" in html  # the browser may fetch nothing at all
    # no reference that could leave the file: namespaces are names, not requests
    assert re.findall(r"""(?:src|href)\s*=\s*["'](?!#)""", html) == []
    assert re.findall(r"url\((?!#)", html) == [] and "@import" not in html
    assert set(re.findall(r"https?://[^\s\"'<>)]+", html)) <= {
        "http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}
    assert html.count("<script") == 2 and html.count("</script>") == 2


def test_report_embeds_every_run_once_and_the_views(store: Any) -> None:
    data = payload(build_report(store, title="history"))
    assert len(data["rows"]) == len(data["curves"]) == 10
    assert data["columns"][:6] == ["id", "experiment", "case", "variant", "sweep", "status"]
    status = data["columns"].index("status")
    assert [r[status] for r in data["rows"]].count("DEAD") == 1
    assert data["groups"]["title"] == "7 groups by C, gamma"
    assert data["groups"]["header"][:3] == ["C", "gamma", "n"]
    comparison = data["comparison"]
    assert comparison["title"] == f"sweep {NEW} against {OLD}: 3 cases on both sides"
    assert comparison["rows"][0] == ["svm[C=1-gamma=0.1]", "result", 0.52, 0.57, "+0.05 (+9.62%)"]
    assert comparison["notes"][:2] == [f"only in {NEW}: svm[C=1-gamma=1.5]",
                                       f"only in {OLD}: svm[C=10-gamma=0.7]"]


def test_report_is_byte_identical_and_where_selects(store: Any, tmp_path: Path) -> None:
    a = write_report(store, tmp_path / "a.html")
    b = write_report(store, tmp_path / "b.html")
    assert (a.runs, a.size) == (10, (tmp_path / "a.html").stat().st_size)
    assert (tmp_path / "a.html").read_bytes() == (tmp_path / "b.html").read_bytes()
    assert b.runs == 10
    chosen = payload(build_report(store, where="sweep == last"))
    assert len(chosen["rows"]) == 4


def test_values_cannot_break_out_of_the_data(tmp_path: Path) -> None:
    s = memory_store(tmp_path)
    evil = "</script><script>alert(1)</script><!--"
    play_run(s.observer, config={"note": evil, "x": float("nan")}, result=float("inf"))
    html = build_report(s.reader)
    assert html.count("<script") == 2 and evil not in html
    data = payload(html)
    note = data["columns"].index("config.note")
    assert data["rows"][0][note] == evil
    assert data["rows"][0][data["columns"].index("config.x")] == "nan"
    assert data["rows"][0][data["columns"].index("result")] == "inf"


def test_curves_keep_at_most_max_points_and_the_last() -> None:
    steps = list(range(0, 1000, 10))
    curve = compact_curve({"steps": steps, "values": [s / 7 for s in steps]})
    assert curve is not None
    stride = math.ceil(100 / MAX_POINTS)
    assert (curve["a"], curve["d"], curve["l"]) == (0, 10 * stride, 990)
    assert len(curve["v"]) <= MAX_POINTS + 1 and curve["v"][-1] == float(f"{990 / 7:.4g}")
    uneven = compact_curve({"steps": [0, 1, 5], "values": [1, float("nan"), 3]})
    assert uneven == {"s": [0, 1, 5], "v": [1, None, 3]}


def test_report_of_an_empty_store(tmp_path: Path) -> None:
    data = payload(build_report(memory_store(tmp_path).reader))
    assert data["rows"] == [] and data["comparison"]["rows"] == []


# -- pytest --exp-report ----------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_exp_report_writes_the_sessions_runs(pytester: pytest.Pytester, mode: str) -> None:
    pytester.makepyfile(exp_toy=TOY)
    first = run_pytest(pytester, mode, "exp_toy.py", "--exp-config", "gamma=0.1,0.7")
    first.assert_outcomes(passed=2)
    (pytester.path / "out").mkdir()
    result = run_pytest(pytester, mode, "exp_toy.py", "--exp-config", "gamma=0.1,0.7,2",
                        "--exp-report", "out/report.html")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["sacredx: report of 3 runs written to out/report.html (tinydb:*)"])
    data = payload((pytester.path / "out" / "report.html").read_text())
    assert len(data["rows"]) == 3  # this session's sweep only
    comparison = data["comparison"]
    assert comparison["title"].endswith(": 2 cases on both sides")
    assert any("gamma=2" in note for note in comparison["notes"])


def test_exp_report_into_a_missing_folder_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(exp_toy=TOY)
    result = pytester.runpytest_inprocess("-p", "no:randomly", "exp_toy.py",
                                          "--exp-report", "nope/report.html")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --exp-report nope/report.html: folder * does not exist; "
                                 "create it or give another path"])
