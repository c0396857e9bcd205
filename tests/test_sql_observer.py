"""SqlObserver against SQLite (a tmp file) and a real PostgreSQL server (``.ci/services.sh``)."""

from __future__ import annotations

import datetime as dt
import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import attrs
import pytest

pytest.importorskip("sqlalchemy")
import sqlalchemy as sa  # noqa: E402

from pytest_sacredx.errors import (  # noqa: E402
    ArtifactNameError,
    MissingExtraError,
    RunIdExistsError,
)
from pytest_sacredx.observers.record import RunRecord  # noqa: E402
from pytest_sacredx.observers.sql import SqlObserver  # noqa: E402

T0 = dt.datetime(2024, 5, 1, 12, 0, 0, 123456)
SECRET = "s3cret"
HOST = {
    "hostname": "box",
    "os": ["Linux", "Linux-6.1-x86_64-with-glibc2.36"],
    "python_version": "3.11.7",
    "cpu": "Intel(R) Xeon(R)",
    "ENV": {},
}
META = {
    "command": "main",
    "options": {"--sql": f"postgresql+psycopg://user:{SECRET}@db.example/runs", "--comment": "hi"},
    "named_configs": [],
    "config_updates": {"lr": 0.1},
    "comment": "hi",
}


def ex_info(base_dir: Path) -> dict[str, Any]:
    (base_dir / "exp.py").write_text("print('experiment')\n")
    return {
        "name": "demo",
        "base_dir": str(base_dir),
        "sources": [("exp.py", "0123456789abcdef0123456789abcdef")],
        "dependencies": ["numpy==1.26.0", "pytest-sacredx==0.1.0"],
        "repositories": [{"url": "git@example:demo.git", "commit": "a" * 40, "dirty": False}],
        "mainfile": "exp.py",
    }


def drive(
    obs: Any, tmp_path: Path, *, result: Any = None, end: str = "completed", _id: Any = None
) -> Any:
    """Send a full run's events, as the run engine does, and return the id the observer gave."""
    run_id = obs.started_event(
        ex_info(tmp_path), "main", HOST, T0, {"lr": 0.1, "layers": (1, 2)}, META, _id
    )
    t = T0 + dt.timedelta(seconds=1)
    obs.heartbeat_event({"epoch": 1}, "line 1\n", t, None)
    obs.log_metrics(
        {"loss": {"name": "loss", "steps": [0, 1], "values": [1.0, 0.5], "timestamps": [t, t]}}, {}
    )
    obs.log_metrics(
        {
            "loss": {"name": "loss", "steps": [2], "values": [float("nan")], "timestamps": [t]},
            "acc": {"name": "acc", "steps": [0], "values": [0.25], "timestamps": [t]},
        },
        {},
    )
    artifact = tmp_path / "model.bin"
    artifact.write_bytes(b"\x00weights\xff")
    obs.artifact_event("model.bin", str(artifact), metadata={"epoch": 1}, content_type=None)
    resource = tmp_path / "data.csv"
    resource.write_text("a,b\n1,2\n")
    obs.resource_event(str(resource))
    stop = T0 + dt.timedelta(seconds=2)
    obs.heartbeat_event({"epoch": 2}, "line 1\nline 2\n", stop, result)
    if end == "completed":
        obs.completed_event(stop, result)
    elif end == "failed":
        obs.failed_event(stop, ["Traceback (most recent call last):\n", "ValueError: boom\n"])
    else:
        obs.interrupted_event(stop, end)
    obs.join()
    return run_id


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.service)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'runs.db'}"
    return str(request.getfixturevalue("fresh_pg_url"))


@pytest.fixture
def obs(db_url: str) -> Any:
    observer = SqlObserver(db_url)
    yield observer
    observer.engine.dispose()


def test_full_run_round_trips(obs: SqlObserver, tmp_path: Path) -> None:
    run_id = drive(obs, tmp_path, result={"acc": 0.9, "pair": (1, "a")})
    assert run_id == "1"  # autoincrement: the first run is 1, not Sacred's 0
    rec = obs.load_run(1)
    assert isinstance(rec, RunRecord)
    assert rec.id == "1" and rec.status == "COMPLETED"
    assert rec.result == {"acc": 0.9, "pair": [1, "a"]}
    assert rec.config == {"lr": 0.1, "layers": [1, 2]}
    assert rec.command == "main"
    assert rec.experiment["name"] == "demo"
    assert rec.experiment["sources"] == [["exp.py", "0123456789abcdef0123456789abcdef"]]
    assert rec.experiment["dependencies"] == ["numpy==1.26.0", "pytest-sacredx==0.1.0"]
    assert rec.experiment["repositories"] == [
        {"url": "git@example:demo.git", "commit": "a" * 40, "dirty": False}
    ]
    assert rec.host == HOST
    assert rec.start_time == T0
    assert rec.heartbeat == rec.stop_time == T0 + dt.timedelta(seconds=2)
    assert rec.info == {"epoch": 2}
    assert rec.captured_out == "line 1\nline 2\n"
    assert rec.meta["config_updates"] == {"lr": 0.1} and rec.meta["comment"] == "hi"
    assert rec.metrics["loss"]["steps"] == [0, 1, 2]
    assert rec.metrics["loss"]["values"][:2] == [1.0, 0.5]
    assert math.isnan(rec.metrics["loss"]["values"][2])
    assert rec.metrics["loss"]["timestamps"][0] == T0 + dt.timedelta(seconds=1)
    assert rec.final_metrics()["acc"] == 0.25
    assert rec.artifacts == ["model.bin"]
    assert obs.load_artifact(1, "model.bin") == b"\x00weights\xff"
    assert rec.resources[0][0] == str(tmp_path / "data.csv")
    assert rec.store == obs.url
    assert [r.id for r in obs.list_runs()] == ["1"]
    again = obs.load_run("1")
    assert attrs.evolve(again, metrics={}) == attrs.evolve(rec, metrics={})  # NaN != NaN


def test_query_has_sacreds_to_json_shape(obs: SqlObserver, tmp_path: Path) -> None:
    drive(obs, tmp_path, result=0.75)
    data = obs.query(1)
    sacred_keys = {
        "_id", "command", "start_time", "heartbeat", "stop_time", "queue_time", "status", "result",
        "meta", "resources", "artifacts", "host", "experiment", "config", "captured_out", "fail_trace",
    }  # fmt: skip
    assert sacred_keys <= set(data)
    assert data["_id"] == "1" and data["result"] == 0.75
    assert data["meta"]["comment"] == "hi" and data["meta"]["priority"] == 0.0
    assert data["artifacts"][0]["filename"] == "model.bin"
    assert data["artifacts"][0]["metadata"] == {"epoch": 1}
    assert data["metrics"]["acc"]["values"] == [0.25]
    with pytest.raises(KeyError):
        obs.query(99)


@pytest.mark.parametrize(
    ("result", "numeric"),
    [
        (0.5, 0.5),
        (3, 3.0),
        (None, None),
        ("text", None),
        ([1, 2], None),
        (True, None),
        (float("inf"), None),
    ],
)
def test_any_result_is_stored_numeric_ones_also_in_the_float_column(
    obs: SqlObserver, tmp_path: Path, result: Any, numeric: float | None
) -> None:
    drive(obs, tmp_path, result=result)
    assert obs.load_run(1).result == result
    with obs.engine.connect() as conn:
        row = conn.execute(sa.text("SELECT result, result_json FROM run")).one()
    assert row.result == numeric
    assert row.result_json == (None if result is None else json.dumps(result))


def test_failed_run_keeps_its_trace(obs: SqlObserver, tmp_path: Path) -> None:
    drive(obs, tmp_path, end="failed")
    rec = obs.load_run(1)
    assert rec.status == "FAILED"
    assert rec.fail_trace == ["Traceback (most recent call last):\n", "ValueError: boom\n"]
    assert rec.stop_time == T0 + dt.timedelta(seconds=2)


def test_the_trace_column_holds_sacreds_text(obs: SqlObserver, tmp_path: Path) -> None:
    obs.started_event(ex_info(tmp_path), "main", HOST, T0, {}, {}, None)
    obs.failed_event(T0, ["first", "second"])  # Sacred joins the lines with newlines
    with obs.engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT fail_trace FROM run")) == "first\nsecond"
    obs.started_event(ex_info(tmp_path), "main", HOST, T0, {}, {}, None)
    obs.failed_event(T0, ["Traceback:\n", "E: x\n"])  # lines that end in a newline get no second
    with obs.engine.connect() as conn:
        texts = conn.scalars(sa.text("SELECT fail_trace FROM run ORDER BY id")).all()
    assert texts == ["first\nsecond", "Traceback:\nE: x\n"]
    assert obs.load_run(2).fail_trace == ["Traceback:\n", "E: x\n"]


def test_a_trace_stored_as_a_json_list_by_earlier_versions_reads_back(
    obs: SqlObserver, tmp_path: Path
) -> None:
    obs.started_event(ex_info(tmp_path), "main", HOST, T0, {}, {}, None)
    obs.failed_event(T0, ["x"])
    with obs.engine.begin() as conn:
        conn.execute(sa.text("UPDATE run SET fail_trace = :t"), {"t": json.dumps(["a\n", "b\n"])})
    assert obs.load_run(1).fail_trace == ["a\n", "b\n"]


def test_observers_over_one_engine_and_session_are_equal(obs: SqlObserver) -> None:
    twin = SqlObserver.create_from(obs.engine, obs.session)
    assert twin == obs and not twin != obs and hash(twin) == hash(obs)
    assert SqlObserver.create_from(obs.engine, object()) != obs
    assert obs != "foo"


def test_sacreds_run_to_json_keys(obs: SqlObserver, tmp_path: Path) -> None:
    from pytest_sacredx.observers.sql_bases import Run

    ex = {"name": "e", "base_dir": "/tmp", "sources": [], "dependencies": [], "repositories": []}
    obs.started_event(ex, "run", HOST, T0, {"a": 1}, {"comment": "c"}, None)
    with obs._sessions() as session:
        data = session.scalars(sa.select(Run)).one().to_json()
    assert "info" not in data and data["experiment"] == ex and data["fail_trace"] is None
    assert obs.load_run(1).info == {}


@pytest.mark.parametrize("status", ["INTERRUPTED", "TIMEOUT", "MY_CUSTOM_STOP"])
def test_interrupted_run_keeps_its_status(obs: SqlObserver, tmp_path: Path, status: str) -> None:
    drive(obs, tmp_path, end=status)
    assert obs.load_run(1).status == status


def test_queued_run(obs: SqlObserver, tmp_path: Path) -> None:
    run_id = obs.queued_event(ex_info(tmp_path), "main", HOST, T0, {"a": 1}, META, None)
    rec = obs.load_run(run_id)
    assert rec.status == "QUEUED" and rec.queue_time == T0 and rec.start_time is None
    assert rec.meta == {**META, "options": rec.meta["options"]}  # stored as given, secrets hidden


def test_ids_are_sequential_and_requested_ids_are_kept(obs: SqlObserver, tmp_path: Path) -> None:
    assert drive(obs, tmp_path) == "1"
    assert drive(obs, tmp_path, _id="3") == "3"
    # The next key is 3, whose text the requested id holds: skipped, never duplicated.
    assert drive(obs, tmp_path) == "4"
    assert drive(obs, tmp_path) == "5"
    assert drive(obs, tmp_path, _id="custom") == "custom"
    assert [r.id for r in obs.list_runs()] == ["1", "3", "4", "5", "custom"]  # in insertion order
    with pytest.raises(RunIdExistsError) as info:
        drive(obs, tmp_path, _id="3")
    assert isinstance(info.value, FileExistsError)
    assert SECRET not in str(info.value)


def test_artifact_names_are_validated_and_replaced(obs: SqlObserver, tmp_path: Path) -> None:
    drive(obs, tmp_path)
    path = tmp_path / "x.txt"
    path.write_text("v2")
    for bad in ["a/b.txt", "..", "", "c\\d"]:
        with pytest.raises(ArtifactNameError):
            obs.artifact_event(bad, str(path))
    obs.artifact_event("model.bin", str(path))
    assert obs.load_run(1).artifacts == ["model.bin"]
    assert obs.load_artifact(1, "model.bin") == b"v2"
    with pytest.raises(KeyError):
        obs.load_artifact(1, "missing")


def test_tables_are_created_lazily(db_url: str, tmp_path: Path) -> None:
    obs = SqlObserver(db_url)
    assert not sa.inspect(obs.engine).has_table("run")
    assert list(obs.list_runs()) == []
    with pytest.raises(KeyError):
        obs.load_run(1)
    drive(obs, tmp_path)
    tables = set(sa.inspect(obs.engine).get_table_names())
    assert {
        "run", "host", "experiment", "source", "repository", "dependency", "artifact", "resource",
        "metrics", "experiments_sources", "experiments_repositories", "experiments_dependencies",
        "runs_resources",
    } <= tables  # fmt: skip
    obs.engine.dispose()


def test_heartbeat_touches_only_the_run_row_and_metrics_are_one_bulk_insert(
    obs: SqlObserver, tmp_path: Path
) -> None:
    obs.started_event(ex_info(tmp_path), "main", HOST, T0, {}, META, None)
    statements: list[tuple[str, bool]] = []

    def record(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        statements.append((" ".join(statement.split()).upper(), many))

    sa.event.listen(obs.engine, "before_cursor_execute", record)
    try:
        obs.heartbeat_event({"i": 1}, "out", T0, None)
        writes = [s for s, _ in statements if not s.startswith(("SELECT", "BEGIN", "COMMIT"))]
        assert len(writes) == 1 and writes[0].startswith("UPDATE RUN SET")
        statements.clear()
        steps = list(range(50))
        obs.log_metrics(
            {"m": {"name": "m", "steps": steps, "values": steps, "timestamps": [T0] * 50}}, {}
        )
        inserts = [(s, many) for s, many in statements if s.startswith("INSERT")]
        assert len(inserts) == 1 and inserts[0][0].startswith("INSERT INTO METRICS")
    finally:
        sa.event.remove(obs.engine, "before_cursor_execute", record)
    assert obs.load_run(1).metrics["m"]["values"] == steps


def test_no_secret_reaches_the_database(obs: SqlObserver, tmp_path: Path) -> None:
    drive(obs, tmp_path)
    assert (
        obs.load_run(1).meta["options"]["--sql"] == "postgresql+psycopg://user:***@db.example/runs"
    )
    with obs.engine.connect() as conn:
        names = sa.inspect(obs.engine).get_table_names()
        for name in names:
            for row in conn.execute(sa.text(f'SELECT * FROM "{name}"')):
                assert SECRET not in repr(tuple(row)), name


def test_url_password_is_redacted_everywhere() -> None:
    obs = SqlObserver(f"postgresql+psycopg://user:{SECRET}@127.0.0.1:1/runs?sslmode=disable")
    assert SECRET not in obs.url and SECRET not in repr(obs)
    assert obs.url == "postgresql+psycopg://user:***@127.0.0.1:1/runs?sslmode=disable"
    assert obs.priority == 40


def test_bare_postgresql_url_uses_psycopg3_when_psycopg2_is_missing() -> None:
    pytest.importorskip("psycopg")
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        obs = SqlObserver("postgresql://u@127.0.0.1:1/db")
        assert obs.engine.url.drivername == "postgresql+psycopg"
    else:  # pragma: no cover
        pytest.skip("psycopg2 is installed")


def test_create_is_a_deprecated_alias_and_create_from_wraps_an_engine(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    with pytest.deprecated_call():
        obs = SqlObserver.create(url, priority=7)
    assert obs.priority == 7
    from sqlalchemy.orm import scoped_session, sessionmaker

    engine = sa.create_engine(url)
    session = scoped_session(sessionmaker(bind=engine))
    other = SqlObserver.create_from(engine, session)
    assert other.engine is engine and other.session is session and other.priority == 40
    drive(other, tmp_path)
    assert [r.id for r in obs.list_runs()] == ["1"]


def test_missing_sqlalchemy_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sqlalchemy", None)
    with pytest.raises(MissingExtraError, match=r"pytest-sacredx\[sql\]"):
        SqlObserver("sqlite://")


def test_importing_the_observers_does_not_import_sqlalchemy_or_boto3() -> None:
    code = (
        "import sys, pytest_sacredx.observers, pytest_sacredx.observers.sql, "
        "pytest_sacredx.observers.s3_observer, pytest_sacredx.observers.redact;"
        "print(sorted(m for m in ('sqlalchemy', 'boto3', 'botocore') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_in_memory_sqlite_is_shared_with_the_heartbeat_thread(tmp_path: Path) -> None:
    import threading

    obs = SqlObserver("sqlite://")
    obs.started_event(ex_info(tmp_path), "main", HOST, T0, {}, META, None)
    beat = threading.Thread(target=obs.heartbeat_event, args=({}, "from thread", T0, None))
    beat.start()
    beat.join()
    assert obs.load_run(1).captured_out == "from thread"


WRITER = textwrap.dedent(
    """
    import datetime as dt, json, sys
    from pytest_sacredx.observers.sql import SqlObserver
    url, n, go = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    obs = SqlObserver(url)
    import os, time
    while not os.path.exists(go):  # start both writers together, tables not yet created
        time.sleep(0.005)
    ids = []
    ex = {"name": "race", "base_dir": "/nonexistent", "sources": [], "dependencies": [],
          "repositories": []}
    for i in range(n):
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        ids.append(obs.started_event(ex, "main", {"hostname": "h"}, now, {"i": i}, {}, None))
        obs.log_metrics({"m": {"steps": [0], "values": [i], "timestamps": [now]}}, {})
        obs.completed_event(now, i)
    print(json.dumps(ids))
    """
)


def run_writers(url: str, tmp_path: Path, processes: int, runs: int) -> list[Any]:
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, url, str(runs), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    go.touch()
    ids: list[Any] = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        ids.extend(json.loads(out))
    return ids


@pytest.mark.slow
@pytest.mark.service
def test_two_processes_on_one_postgres_get_distinct_ids(fresh_pg_url: str, tmp_path: Path) -> None:
    ids = run_writers(fresh_pg_url, tmp_path, processes=2, runs=100)
    assert len(ids) == 200 and len(set(ids)) == 200
    obs = SqlObserver(fresh_pg_url)
    records = list(obs.list_runs())
    assert sorted(r.id for r in records) == sorted(ids)
    assert all(r.status == "COMPLETED" and r.metrics["m"]["values"] == [r.result] for r in records)
    obs.engine.dispose()


@pytest.mark.slow
def test_two_processes_on_one_sqlite_file_get_distinct_ids(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    ids = run_writers(url, tmp_path, processes=2, runs=50)
    assert len(set(ids)) == 100
    assert len(list(SqlObserver(url).list_runs())) == 100


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def test_a_listing_is_lazy_and_gives_what_load_run_gives(obs: SqlObserver, tmp_path: Path) -> None:
    ids = [drive(obs, tmp_path, result=i) for i in range(3)]
    listed = list(obs.list_runs())
    assert [r.id for r in listed] == ids
    finals = listed[1].final_metrics()  # from one grouped query: neither output nor series read
    assert not listed[1].is_loaded
    assert finals["acc"] == 0.25 and math.isnan(finals["loss"])
    assert sorted(listed[1].metric_names()) == ["acc", "loss"]
    for rec in listed:
        full = obs.load_run(rec.id)
        # every field, output and metric series read on demand (NaN is in them: compared as JSON)
        assert {f.name: _same(getattr(rec, f.name), getattr(full, f.name))
                for f in attrs.fields(RunRecord)} == {f.name: True for f in attrs.fields(RunRecord)}
        assert _same(rec.final_metrics(), full.final_metrics())
    listed[0].host["hostname"] = "changed"  # one record's host is its own, as load_run's is
    listed[0].experiment["name"] = "changed"
    assert listed[1].host["hostname"] == "box" and listed[2].experiment["name"] == "demo"


def test_many_runs_asked_about_are_read_in_one_go(obs: SqlObserver, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_sacredx.observers import sql

    monkeypatch.setattr(sql._Bulk, "FINALS_ONE_BY_ONE", 1)
    monkeypatch.setattr(sql._Bulk, "HEAVY_ONE_BY_ONE", 1)
    for i in range(4):
        drive(obs, tmp_path, result=i)
    asked: list[Any] = []
    real_finals, real_heavy = obs._final_values, obs._heavy
    monkeypatch.setattr(obs, "_final_values",
                        lambda ids, listed=None: asked.append(("finals", ids)) or real_finals(ids, listed))
    monkeypatch.setattr(obs, "_heavy", lambda ids: asked.append(("heavy", ids)) or real_heavy(ids))
    listed = list(obs.list_runs())
    assert [_same(r.final_metrics(), obs.load_run(r.id).final_metrics()) for r in listed] == [True] * 4
    assert [r.captured_out for r in listed] == ["line 1\nline 2\n"] * 4
    # one run by itself, then every run in one query (for output and series alike)
    assert asked == [("finals", [listed[0].id]), ("finals", None), ("heavy", [listed[0].id]),
                     ("heavy", None)]


def test_finished_runs_list_their_final_values_from_one_row_each(
    obs: SqlObserver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pytest_sacredx.observers import sql

    monkeypatch.setattr(sql._Bulk, "FINALS_ONE_BY_ONE", 0)
    ids = [drive(obs, tmp_path, result=i) for i in range(3)]
    obs.started_event(ex_info(tmp_path), "main", HOST, T0, {"lr": 0.1}, META, None)  # running: no finals row
    obs.log_metrics({"acc": {"name": "acc", "steps": [0], "values": [0.5], "timestamps": [T0]}}, {})
    running = obs.run_id
    aggregated: list[Any] = []
    real = obs._aggregate_finals
    monkeypatch.setattr(obs, "_aggregate_finals", lambda ids: aggregated.append(ids) or real(ids))
    listed = list(obs.list_runs())
    assert [_same(r.final_metrics(), obs.load_run(r.id).final_metrics()) for r in listed] == [True] * 4
    assert aggregated == [[running]]  # the metric rows of the running run only
    assert listed[-1].final_metrics() == {"acc": 0.5} and not any(r.is_loaded for r in listed[:3])
    with obs.engine.connect() as conn:  # the finished runs' rows, as the metric rows read back
        rows = dict(conn.execute(sa.text("SELECT run_id, finals FROM metric_finals")).all())
    assert sorted(rows) == sorted(ids) and math.isnan(json.loads(rows[ids[1]])["loss"])


def test_a_database_without_the_finals_table_lists_from_the_metric_rows(
    obs: SqlObserver, db_url: str, tmp_path: Path
) -> None:
    ids = [drive(obs, tmp_path, result=i) for i in range(2)]
    with obs.engine.begin() as conn:  # as a database of Sacred's or of an older version has it
        conn.execute(sa.text("DROP TABLE metric_finals"))
    reader = SqlObserver(db_url)
    listed = list(reader.list_runs())
    assert [r.id for r in listed] == ids
    assert [_same(r.final_metrics(), reader.load_run(r.id).final_metrics()) for r in listed] == [True, True]
    assert listed[0].final_metrics()["acc"] == 0.25
    reader.engine.dispose()


def test_a_listing_decodes_what_only_the_host_or_an_escape_holds(obs: SqlObserver, tmp_path: Path) -> None:
    """A run whose own columns are plain still has its host decoded; a column that spells a form with
    JSON escapes (``py\\/tuple``, ``\\u0070y/``: no writer of ours or Sacred's does) is decoded too."""
    host = {**HOST, "gpus": {3: "int key"}}  # stored as "json://3"
    ids = [obs.started_event(ex_info(tmp_path), "main", host, T0, {"lr": i}, META, None) for i in range(3)]
    escaped = {ids[1]: '{"x": {"py\\/tuple": [1, 2]}}', ids[2]: '{"\\u0070y/tuple": [1]}'}
    with obs.engine.begin() as conn:
        for run_id, text in escaped.items():
            conn.execute(sa.text("UPDATE run SET config = :c WHERE run_id = :r"), {"c": text, "r": run_id})
    listed = {r.id: r for r in SqlObserver(str(obs.engine.url)).list_runs()}
    for run_id in ids:
        full = obs.load_run(run_id)
        assert listed[str(run_id)].host == full.host and full.host["gpus"] == {"3": "int key"}
        assert listed[str(run_id)].config == full.config
    assert listed[str(ids[1])].config == {"x": [1, 2]} and listed[str(ids[2])].config == [1]
    listed[str(ids[0])].host["hostname"] = "changed"  # each record has its own dicts
    assert listed[str(ids[1])].host["hostname"] == HOST["hostname"]


def test_final_values_are_what_the_metric_rows_read_back_whatever_failed(
    obs: SqlObserver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    obs.started_event(ex_info(tmp_path), "main", HOST, T0, {"lr": 0.1}, META, None)
    obs.log_metrics({"loss": {"name": "loss", "steps": [0], "values": [1.0], "timestamps": [T0]},
                     "zero": {"name": "zero", "steps": [0], "values": [-0.0], "timestamps": [T0]}}, {})
    real = obs._transaction
    monkeypatch.setattr(obs, "_transaction", lambda work: (_ for _ in ()).throw(sa.exc.OperationalError(
        "INSERT", {}, Exception("database is locked"))))
    with pytest.raises(sa.exc.OperationalError):  # the run engine reports it and goes on
        obs.log_metrics({"loss": {"name": "loss", "steps": [1], "values": [2.0], "timestamps": [T0]}}, {})
    monkeypatch.setattr(obs, "_transaction", real)
    obs.completed_event(T0, 1)
    (listed,) = obs.list_runs()
    loaded = obs.load_run(listed.id)
    assert json.dumps(listed.final_metrics()) == json.dumps(loaded.final_metrics()) == '{"loss": 1.0, "zero": 0.0}'


def test_a_running_runs_final_values_come_in_the_order_its_metrics_load(obs: SqlObserver, tmp_path: Path) -> None:
    obs.started_event(ex_info(tmp_path), "main", HOST, T0, {"lr": 0.1}, META, None)
    obs.log_metrics({"b": {"name": "b", "steps": [0], "values": [1.0], "timestamps": [T0]},
                     "a": {"name": "a", "steps": [0], "values": [1.0], "timestamps": [T0]}}, {})
    obs.log_metrics({"a": {"name": "a", "steps": [1], "values": [2.0], "timestamps": [T0]},
                     "b": {"name": "b", "steps": [1], "values": [3.0], "timestamps": [T0]}}, {})
    (listed,) = obs.list_runs()  # still running: read from the metric rows
    assert listed.metric_names() == obs.load_run(listed.id).metric_names() == ["b", "a"]
