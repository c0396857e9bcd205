"""The ``sacredx`` command (``pytest_sacredx/cli/query.py``): every command on every store of the
contract suite, with the output asserted, and its answers to bad input.

The history in each store is ``query_helpers.record_history``: two sweeps, a script run and a killed
run. The store types are the contract suite's (``test_store_contract.STORE_FACTORIES``): memory, file,
TinyDB and SQLite here; PostgreSQL 15, moto's S3 server and the nx-27017 MongoDB wire server when
``.ci/services.sh`` started them (CI fails instead of skipping). ``memory:`` has no URI outside its
process, so its commands read through ``main(argv, store=observer)``.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from query_helpers import NEW, OLD, case_id, record_history, result_of, store_uri
from test_store_contract import STORE_FACTORIES, Store, _factory_id

from pytest_sacredx import Experiment
from pytest_sacredx.cli.query import main
from pytest_sacredx.observers.file_storage import FileStorageObserver


class History:
    """A store holding the known history, and ``sacredx`` run against it."""

    def __init__(self, store: Store, ids: dict[Any, str], capsys: pytest.CaptureFixture[str]) -> None:
        self.store = store
        self.ids = ids
        self.uri = store_uri(store)
        self.capsys = capsys

    def run(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        if self.uri is None:
            code = main(list(args), store=self.store.reader)
        else:
            code = main([*args, "--store", self.uri])
        captured = self.capsys.readouterr()
        return code, captured.out, captured.err

    def ok(self, *args: str) -> str:
        code, out, err = self.run(*args)
        assert (code, err) == (0, ""), err
        return out

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args))


@pytest.fixture(params=STORE_FACTORIES, ids=_factory_id)
def history(request: pytest.FixtureRequest, tmp_path: Path, capsys: pytest.CaptureFixture[str],
            monkeypatch: pytest.MonkeyPatch) -> History:
    monkeypatch.setenv("COLUMNS", "160")
    store = request.param(tmp_path)
    return History(store, record_history(store, tmp_path), capsys)


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


# -- runs -----------------------------------------------------------------------------------------------


def test_runs_where_selects_and_csv_has_the_columns(history: History) -> None:
    out = history.ok("runs", "--where", "config.gamma > 0.5 and sweep == last",
                     "--columns", "case,status,config.gamma,result", "--format", "csv")
    assert _csv(out) == [
        {"case": case_id(1, 0.7), "status": "COMPLETED", "config.gamma": "0.7",
         "result": repr(result_of(1, 0.7, NEW))},
        {"case": case_id(1, 1.5), "status": "COMPLETED", "config.gamma": "1.5",
         "result": repr(result_of(1, 1.5, NEW))},
    ]


def test_runs_default_columns_show_what_varies_and_dead_runs(history: History) -> None:
    rows = history.json("runs", "--format", "json")
    assert list(rows[0]) == ["id", "case", "status", "start", "duration", "config.C",
                             "config.gamma", "config.seed", "result", "metrics.acc", "metrics.loss"]
    assert [r["status"] for r in rows] == ["COMPLETED"] * 6 + ["FAILED", "COMPLETED", "COMPLETED", "DEAD"]
    assert [r["id"] for r in rows][-2:] == [history.ids["script"], history.ids["killed"]]
    assert rows[0]["case"] == case_id(1, 0.1) and rows[-2]["case"] is None
    assert rows[0]["metrics.loss"] == 0.1 and rows[1]["metrics.acc"] == result_of(1, 0.7, OLD)


def test_runs_table_fits_the_terminal(history: History, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    out = history.ok("runs")
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "DEAD" in out and "FAILED" in out and lines[-1] == "10 of 10 runs"
    assert any("svm[C=1-gamma=0.1]" in line or "svm[C=1-gamma=0" in line for line in lines)


def test_runs_sort_last_and_reducers(history: History) -> None:
    rows = history.json("runs", "--where", "sweep == last and config.C == 1", "--sort=-config.gamma",
                        "--last", "2", "--columns",
                        "config.gamma,metrics.loss:min,metrics.loss:max,metrics.loss.first,"
                        "metrics.loss:mean_last2,metrics.acc:step,metrics.loss:count",
                        "--format", "json")
    assert rows == [
        {"config.gamma": 0.7, "metrics.loss:min": 0.5, "metrics.loss:max": 1.0,
         "metrics.loss:first": 1.0, "metrics.loss:mean_last2": 0.6, "metrics.acc:step": 2,
         "metrics.loss:count": 3},
        {"config.gamma": 0.1, "metrics.loss:min": 0.1, "metrics.loss:max": 1.0,
         "metrics.loss:first": 1.0, "metrics.loss:mean_last2": 0.3, "metrics.acc:step": 2,
         "metrics.loss:count": 3},
    ]


def test_group_by_gives_n_mean_std_min_max(history: History) -> None:
    rows = history.json("runs", "--where", "sweep == last and status == COMPLETED",
                        "--group-by", "C", "--format", "json")
    (group,) = rows
    expected = [result_of(1, g, NEW) for g in (0.1, 0.7, 1.5)]
    mean = sum(expected) / 3
    std = (sum((x - mean) ** 2 for x in expected) / 2) ** 0.5
    assert group["config.C"] == "1" and group["n"] == 3
    assert group["result:mean"] == pytest.approx(mean) and group["result:std"] == pytest.approx(std)
    assert (group["result:min"], group["result:max"]) == (min(expected), max(expected))
    assert group["metrics.loss:mean"] == pytest.approx((0.1 + 0.7 + 1.5) / 3)


def test_group_by_default_keys_leave_out_the_seed(history: History) -> None:
    out = history.ok("runs", "--where", f"sweep == {OLD}", "--group-by", "--plain")
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["C", "gamma", "n"]
    assert lines[-1] == "4 groups of 4 runs by config.C, config.gamma"


# -- show -----------------------------------------------------------------------------------------------


def test_show_prints_config_metrics_artifacts_and_output(history: History) -> None:
    run_id = history.ids[(NEW, 1, 0.1)]
    out = history.ok("show", run_id)
    assert out.startswith(f"Run {run_id}")
    for text in (f"case        {case_id(1, 0.1)}", f"sweep       {NEW}", "seed        200",
                 "Configuration (~ modified, + added, ! typechanged, # doc):", "  gamma = 0.1",
                 "  kernel = 'rbf'", "Artifacts: model.txt", "Output:", "  world"):
        assert text in out, text
    loss = next(line for line in out.splitlines() if line.startswith("loss"))
    assert loss.split() == ["loss", "0.1", "0.1", "1", "3", "2"]


def test_show_of_an_unknown_id_lists_the_newest(history: History) -> None:
    code, out, err = history.run("show", "no-such-run")
    assert code == 2 and out == ""
    assert err.startswith("Error: no run 'no-such-run' in the store (10 runs; newest: ")
    assert history.ids["killed"] in err and err.count("\n") == 1


# -- compare ----------------------------------------------------------------------------------------------


def test_compare_against_last_matches_cases(history: History) -> None:
    (data,) = history.json("compare", "--against", "last", "--format", "json")
    assert (data["sweep"], data["against"]) == (NEW, OLD)
    assert [c["case"] for c in data["cases"]] == [case_id(1, 0.1), case_id(1, 0.7), case_id(10, 0.1)]
    assert data["only_new"] == [case_id(1, 1.5)] and data["only_old"] == [case_id(10, 0.7)]
    assert data["seeds_differ"] is True and data["sources_differ"] is False
    first = {v["key"]: v for v in data["cases"][0]["values"]}
    assert first["result"]["change"] == pytest.approx(0.05)
    assert first["metrics.loss"]["change"] == 0
    failed = {v["key"]: v for v in data["cases"][2]["values"]}
    assert failed["result"]["new"] is None and failed["result"]["change"] is None


def test_compare_table_says_what_differs(history: History) -> None:
    out = history.ok("compare", "--sweep", NEW, "--against", OLD)
    assert out.startswith(f"sweep {NEW} against {OLD}: 3 cases on both sides, 1 only in {NEW}, "
                          f"1 only in {OLD}")
    assert f"only in {NEW}: svm[C=1-gamma=1.5]" in out
    assert "seeds differ between the sweeps" in out


def test_compare_two_runs(history: History) -> None:
    old, new = history.ids[(OLD, 1, 0.1)], history.ids[(NEW, 1, 0.7)]
    (data,) = history.json("compare", old, new, "--format", "json")
    assert data["config"] == [{"key": "gamma", "base": 0.1, "other": 0.7}]
    values = {v["key"]: v for v in data["values"]}
    assert values["result"]["change"] == pytest.approx(result_of(1, 0.7, NEW) - result_of(1, 0.1, OLD))
    assert data["seeds_differ"] is True
    out = history.ok("compare", old, new)
    assert "seeds differ (100 vs 201)" in out and "config.gamma" in out


# -- export and the Python API ------------------------------------------------------------------------------


def test_export_is_the_tidy_table(history: History, tmp_path: Path) -> None:
    rows = _csv(history.ok("export"))
    assert len(rows) == 10
    assert list(rows[0])[:12] == ["id", "experiment", "case", "variant", "sweep", "status", "start",
                                  "stop", "duration", "seed", "host", "result"]
    assert {"config.C", "config.gamma", "config.kernel", "config.seed", "metrics.loss",
            "metrics.acc"} <= set(rows[0])
    assert rows[0]["variant"] == "C=1-gamma=0.1" and rows[-2]["variant"] == "gamma=0.3"
    assert rows[-1]["metrics.loss"] == "" and rows[-1]["status"] == "DEAD"
    target = tmp_path / "runs.json"
    assert history.run("export", "--format", "json", "-o", str(target))[0] == 0
    assert [r["id"] for r in json.loads(target.read_text())] == [r["id"] for r in rows]


def test_python_api_returns_the_same_table(history: History) -> None:
    pd = pytest.importorskip("pandas")
    from pytest_sacredx.query import runs, runs_table

    source = history.uri if history.uri is not None else history.store.reader
    frame = runs_table(source, where="sweep == last")
    assert isinstance(frame, pd.DataFrame) and len(frame) == 4
    assert list(frame["config.gamma"]) == [0.1, 0.7, 0.1, 1.5]
    rows = runs_table(source, where="sweep == last", as_frame=False)
    assert [list(r) for r in rows] == [list(frame.columns)] * 4
    assert [r["case"] for r in rows] == list(frame["case"])
    assert [r.id for r in runs(source, where="status == DEAD")] == [history.ids["killed"]]


# -- plot and report ------------------------------------------------------------------------------------------


def test_plot_curves(history: History, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    target = tmp_path / "loss.png"
    out = history.ok("plot", "loss", "--sweep", "last", "-o", str(target))
    assert out == f"wrote {target} (4 runs)\n"
    assert target.read_bytes().startswith(b"\x89PNG")


def test_report_holds_every_run_and_is_reproducible(history: History, tmp_path: Path) -> None:
    first, second = tmp_path / "a.html", tmp_path / "b.html"
    assert history.ok("report", "-o", str(first)).startswith(f"wrote {first}: 10 runs, ")
    history.ok("report", "-o", str(second))
    assert first.read_bytes() == second.read_bytes()
    html = first.read_text()
    payload = json.loads(html.split('id="sacredx-data">', 1)[1].split("</script>", 1)[0])
    assert len(payload["rows"]) == 10 and payload["comparison"]["rows"]
    assert payload["groups"]["title"] == "7 groups by C, gamma"


# -- a store is never written by a read command ----------------------------------------------------------


def _snapshot(history: History) -> Any:
    root = getattr(history.store.reader, "basedir", None) or getattr(history.store.reader, "root", None)
    if history.store.name == "sqlite":
        root = str(history.store.observer.engine.url.database)
    if root is None:  # a server: compare what it holds
        return [(r.id, r.status, r.heartbeat) for r in history.store.reader.list_runs()]
    paths = [Path(root)] if os.path.isfile(root) else sorted(p for p in Path(root).rglob("*"))
    return [(str(p), p.stat().st_mtime_ns, hashlib.md5(p.read_bytes()).hexdigest())
            for p in paths if p.is_file()]


def test_read_commands_never_write(history: History, tmp_path: Path) -> None:
    before = _snapshot(history)
    for args in (["runs"], ["runs", "--group-by"], ["runs", "--last", "3"], ["list", "--last", "2"],
                 ["show", history.ids["script"]],
                 ["compare", "--against", "last"], ["export"], ["dead"],
                 ["report", "-o", str(tmp_path / "r.html")]):
        history.ok(*args)
    assert _snapshot(history) == before


# -- bad input --------------------------------------------------------------------------------------------------


@pytest.fixture
def tinydb_history(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                   monkeypatch: pytest.MonkeyPatch) -> History:
    from test_store_contract import tinydb_store

    monkeypatch.setenv("COLUMNS", "160")
    store = tinydb_store(tmp_path)
    return History(store, record_history(store, tmp_path), capsys)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["runs", "--where", "config.gamma >"],
         "Error: --where 'config.gamma >': column 15: expected a value after '>'\n"),
        (["runs", "--where", "config.gamma > 0.5 status"],
         "Error: --where 'config.gamma > 0.5 status': column 20: unexpected 'status' (join tests "
         "with and/or)\n"),
        (["runs", "--where", "config.gama > 1"],
         "Error: --where 'config.gama > 1': unknown field 'config.gama': no listed run has config "
         "key 'gama'. Did you mean 'config.gamma'?\n"),
        (["runs", "--columns", "id,metrics.los"],
         "Error: unknown column 'metrics.los': no listed run logged metric 'los' (metrics: acc, "
         "loss). Did you mean 'loss'?\n"),
        (["runs", "--columns", "metrics.loss:mini"],
         "Error: column 'metrics.loss:mini': unknown reducer 'mini'; known: last, first, min, max, "
         "mean, std, sum, count, step, argmin, argmax, mean_lastN, min_lastN, max_lastN. Did you "
         "mean 'min'?\n"),
        (["runs", "--sort", "stauts"],
         "Error: unknown sort key 'stauts'; a path starts with one of id, experiment, status, case, "
         "variant, sweep, seed, start, stop, heartbeat, duration, result, command, host, config, meta, "
         "info, metrics, store. Did you mean 'status'?\n"),
        (["runs", "--last", "-1"], "Error: --last -1: give a number of runs, 0 or more\n"),
        (["compare", "--sweep", "nope"], None),
        (["plot", "loss", "-o", "x.pdf"], "Error: plot -o x.pdf: give a .png or .svg file name\n"),
    ],
    ids=["where-incomplete", "where-junk", "where-typo", "column-metric", "reducer", "sort-key",
         "last", "sweep", "plot-type"],
)
def test_bad_input_is_one_line_and_exit_2(tinydb_history: History, args: list[str],
                                          message: str | None) -> None:
    code, out, err = tinydb_history.run(*args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("Error: ")
    if message is not None:
        assert err == message


def test_ambiguous_prefix_lists_the_candidates(tinydb_history: History) -> None:
    ids = sorted(v for k, v in tinydb_history.ids.items())
    prefixes = {}
    for a in ids:  # the longest prefix that two uuid ids share
        for b in ids:
            if a < b:
                n = len(os.path.commonprefix([a, b]))
                prefixes.setdefault(n, (a, b))
    shared = max(prefixes)
    a, b = prefixes[shared]
    code, _, err = tinydb_history.run("show", a[:shared])
    matches = [i for i in ids if i.startswith(a[:shared])]
    if len(matches) > 1:
        assert code == 2 and err.startswith(f"Error: run id {a[:shared]!r} is ambiguous: ")
        assert all(m in err for m in matches)
    unique = tinydb_history.ids["script"][:12]  # the short id the tables show
    assert tinydb_history.ok("show", unique).startswith(f"Run {tinydb_history.ids['script']}")


def test_unknown_scheme_missing_and_corrupt_stores(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    def error(*args: str) -> str:
        assert main(list(args)) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and captured.err.count("\n") == 1
        return captured.err

    assert error("runs", "--store", "flie:x").startswith(
        "Error: cannot read flie:x: Unknown observer URI scheme 'flie'")
    assert "Did you mean 'file'?" in error("runs", "--store", "flie:x")
    assert error("runs", "--store", f"file:{tmp_path / 'nope'}") == (
        f"Error: cannot read file:{tmp_path / 'nope'}: no such folder; give the folder a "
        "FileStorageObserver wrote (file:DIR)\n")
    assert error("runs", "--store", f"sqlite:///{tmp_path / 'nope.db'}").startswith(
        "Error: cannot read sqlite:///")
    assert not (tmp_path / "nope.db").exists()  # reading creates nothing
    assert "memory" in error("runs", "--store", "memory:")
    broken = tmp_path / "broken"
    (broken / "1").mkdir(parents=True)
    (broken / "1" / "run.json").write_text("{not json")
    assert error("runs", "--store", f"file:{broken}").startswith(f"Error: cannot read file:{broken}: ")
    tiny = tmp_path / "tiny"
    tiny.mkdir()
    (tiny / "metadata.json").write_text("garbage")
    assert error("runs", "--store", f"tinydb:{tiny}").startswith(f"Error: cannot read tinydb:{tiny}")
    notdb = tmp_path / "not.db"
    notdb.write_text("this is not a database" * 100)
    pytest.importorskip("sqlalchemy")
    assert error("runs", "--store", f"sqlite:///{notdb}").startswith(f"Error: cannot read sqlite:///{notdb}")


def test_usage_mistakes_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["runs", "--last", "many"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err == ("Error: sacredx runs: argument --last: invalid int value: 'many' "
                   "(see sacredx runs --help)\n")


@pytest.mark.slow
def test_broken_pipe_is_not_an_error(tmp_path: Path) -> None:
    """``sacredx runs | head -c 10`` (a real pipe, closed early) exits 0 without a traceback."""
    from test_store_contract import file_store, play_run

    store = file_store(tmp_path)
    play_run(store.observer, config={"big": list(range(200_000))})  # ~1.3 MB of JSON: more than a pipe holds
    cmd = (f"{sys.executable} -m pytest_sacredx.cli.query runs --format json --columns id,config "
           f"--store file:{store.reader.basedir} | head -c 10")
    proc = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "" and proc.stdout == "[\n  {\n    "


# -- the older commands still answer ------------------------------------------------------------------------


@pytest.fixture
def file_runs(tmp_path: Path) -> str:
    ex = Experiment("q", interactive=True)

    @ex.main
    def run(x=1, _run=None):
        _run.log_scalar("loss", 1.0 / x)
        return x * 2

    ex.observers.append(FileStorageObserver(str(tmp_path / "runs")))
    for x in (1, 2, 4):
        ex.run(config_updates={"x": x}, options={"--loglevel": "ERROR"})
    killed = FileStorageObserver(str(tmp_path / "runs"))
    old = dt.datetime(2020, 1, 1)
    killed.started_event({"name": "q", "base_dir": str(tmp_path), "sources": [], "dependencies": [],
                          "repositories": [], "mainfile": None}, "run", {}, old, {"x": 9}, {}, None)
    killed.heartbeat_event({}, "", old, None)
    return f"file:{tmp_path / 'runs'}"


def test_list_filters_and_json(file_runs: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--store", file_runs, "--status", "completed", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["result"] for r in rows] == [2, 4, 8]
    assert rows[-1]["metrics"] == {"loss": 0.25}


def test_dead_reports_stale_running_runs(file_runs: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dead", "--store", file_runs, "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["status"] == "DEAD" and row["id"] == "4"


def test_show_json_and_missing_run(file_runs: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "2", "--store", file_runs, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["config"]["x"] == 2 and shown["status"] == "COMPLETED"
    assert main(["show", "99", "--store", file_runs]) == 2
    assert capsys.readouterr().err.startswith("Error: no run '99'")


@pytest.mark.parametrize(
    ("configs", "varying"),
    [
        ([{"a": 1, "b": 1}, {"a": 2, "b": 1}], ["config.a"]),
        ([{"a": 1}, {"a": 1, "b": 2}], ["config.b"]),  # missing from the first run: it varies
        ([{"a": 1, "b": 2}, {"a": 1}], ["config.b"]),  # the same runs the other way round
        ([{"a": 1}, {"b": 2}], ["config.a", "config.b"]),
        ([{"a": {}}, {"a": {"x": 1}}], ["config.a", "config.a.x"]),
        ([{"a": 1}, {"a": 1.0}, {"a": True}], ["config.a"]),  # JSON tells 1 from true (1 == 1.0)
        ([{"a": 1}, {"a": 1.0}], []),
    ],
)
def test_a_config_key_varies_when_its_values_differ_or_some_runs_lack_it(
    configs: list[dict[str, Any]], varying: list[str]
) -> None:
    from pytest_sacredx.observers.record import RunRecord
    from pytest_sacredx.query.table import varying_config

    records = [RunRecord(id=str(i), status="COMPLETED", config=c) for i, c in enumerate(configs)]
    assert varying_config(records) == varying


def test_a_command_gives_back_the_garbage_collection_threshold_it_found(tmp_path: Path) -> None:
    import gc

    before = gc.get_threshold()
    try:
        for threshold in ((700, 10, 10), (0, 10, 10)):  # 0: automatic collection off, and kept off
            gc.set_threshold(*threshold)
            seen: list[tuple[int, ...]] = []
            from pytest_sacredx.cli import query

            with query._few_collections():
                seen.append(gc.get_threshold())
                with query._few_collections():  # a second command at once (another thread)
                    seen.append(gc.get_threshold())
                seen.append(gc.get_threshold())
            assert gc.get_threshold() == threshold
            assert seen == [(threshold[0] * 100, 10, 10)] * 3
            assert main(["runs", "--store", f"file:{tmp_path}"]) == 0 and gc.get_threshold() == threshold
    finally:
        gc.set_threshold(*before)
