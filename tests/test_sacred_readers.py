"""Sacred 0.8.7's own code reads what our FileStorage, SQL, MongoDB and TinyDB (``--format sacred``) write.

These tests run real Sacred, in its private venv (``bench/sacred_env.py``; ``.ci/run`` builds it before
the suite and exports ``SACREDX_SACRED_PYTHON``), on stores our observers just wrote — recording Sacred's
output once would only prove that our files looked right on the day it was recorded. Sacred's side is a
short script run by that interpreter: ``sacred.serializer.restore`` on ``run.json``/``metrics.json`` and
on MongoDB documents (what Sacred's users and Omniboard-style tools do), Sacred's SQLAlchemy models
(``sacred.observers.sql_bases.Run.to_json``), and ``sacred.observers.TinyDbReader``. Each script prints
JSON that the test compares. Without the venv the tests skip with the command that builds it, and fail
in CI (``CI=true``): there they must run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from pytest_sacredx import Experiment
from pytest_sacredx.observers.uri import from_uri
from pytest_sacredx.query.convert import convert_store

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "sacred_stores"
BUILD = "python bench/sacred_env.py"


@pytest.fixture(scope="module")
def sacred_python() -> str:
    """The interpreter of the venv with Sacred 0.8.7."""
    given = os.environ.get("SACREDX_SACRED_PYTHON", "")
    python = Path(given) if given else ROOT / "bench" / ".venv-sacred" / "bin" / "python"
    problem = ""
    if not python.exists():
        problem = f"no Sacred 0.8.7 venv at {python}"
    else:
        probe = subprocess.run([str(python), "-c", "import sacred; print(sacred.__version__)"],
                               capture_output=True, text=True, timeout=120, env=_sacred_env())
        if probe.stdout.strip() != "0.8.7":
            problem = f"{python} does not import Sacred 0.8.7 ({probe.stderr.strip()[-200:]})"
    if problem:
        message = f"{problem}; build it with: {BUILD}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message} (CI=true: these tests must run; .ci/run builds it)", pytrace=False)
        pytest.skip(message)
    return str(python)


def _sacred_env() -> dict[str, str]:
    """This environment without PYTHONPATH: a checkout (or compat/'s `sacred` shim) on it would be
    imported by Sacred's interpreter instead of its own packages."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def run_sacred(python: str, code: str, *args: str) -> Any:
    """Run ``code`` under Sacred's interpreter (``sys.argv[1:]`` = args); the JSON it prints."""
    # from a folder of its own, so that nothing of this checkout can be imported by accident
    done = subprocess.run([python, "-c", textwrap.dedent(code), *args], capture_output=True,
                          text=True, timeout=300, cwd=str(FIXTURES / "file_storage" / "_sources"),
                          env=_sacred_env())
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def record_ours(uri: str, *, sql: bool = False) -> None:
    """Two runs of ours: one COMPLETED with NumPy values in its result, metrics and an artifact, and
    one FAILED that logged no metrics."""
    import numpy as np

    ex = Experiment("ours_for_sacred")

    @ex.config
    def cfg() -> None:
        lr = 0.1
        fail = False

    @ex.main
    def main(_run: Any, lr: float, fail: bool) -> Any:
        if fail:
            raise ValueError("bad lr")
        for step in range(3):
            _run.log_scalar("loss", 1.0 / (step + 1), step)
        _run.add_artifact(str(FIXTURES / "file_storage" / "1" / "model.txt"), "model.txt")
        if sql:  # Sacred's SQL result column is a Float
            return 0.75
        return {"weights": np.array([1.5, 2.5], dtype=np.float32), "n": np.int64(3),
                "pair": (1, 2), "score": 0.75}

    observer = from_uri(uri)
    assert observer is not None
    ex.observers.append(observer)
    ex.run()
    with pytest.raises(ValueError):
        ex.run(config_updates={"fail": True})


def test_sacred_restores_our_run_json_and_metrics_json(tmp_path: Path, sacred_python: str) -> None:
    record_ours(f"file:{tmp_path / 'runs'}")
    got = run_sacred(sacred_python, """
        import json, sys
        from sacred.serializer import restore
        d = sys.argv[1]
        run = json.load(open(d + "/1/run.json"))
        result = restore(run["result"])
        print(json.dumps({
            "status": [json.load(open(d + f"/{i}/run.json"))["status"] for i in (1, 2)],
            "weights": [type(result["weights"]).__name__, str(result["weights"].dtype),
                        result["weights"].tolist()],
            "n": type(result["n"]).__name__,
            "pair": type(result["pair"]).__name__,
            "plain": run["result"]["weights"]["values"],
            "config": restore(json.load(open(d + "/1/config.json"))),
            "metrics": json.load(open(d + "/1/metrics.json"))["loss"]["values"],
            "no_metrics": json.load(open(d + "/2/metrics.json")),
            "artifacts": run["artifacts"],
        }))
    """, str(tmp_path / "runs"))
    assert got["status"] == ["COMPLETED", "FAILED"]
    assert got["weights"] == ["ndarray", "float32", [1.5, 2.5]]
    assert (got["n"], got["pair"], got["plain"]) == ("int64", "tuple", [1.5, 2.5])
    assert got["config"]["lr"] == 0.1 and got["config"]["fail"] is False
    assert got["metrics"] == [1.0, 0.5, 1.0 / 3.0]
    assert got["no_metrics"] == {}  # written even when nothing was logged, as Sacred does
    assert got["artifacts"] == ["model.txt"]


def test_sacreds_sql_models_read_our_database(tmp_path: Path, sacred_python: str) -> None:
    db = tmp_path / "runs.sqlite"
    record_ours(f"sqlite:///{db}", sql=True)
    got = run_sacred(sacred_python, """
        import json, sys
        import sqlalchemy as sa
        from sqlalchemy.orm import sessionmaker
        from sacred.observers.sql_bases import Run
        session = sessionmaker(bind=sa.create_engine("sqlite:///" + sys.argv[1]))()
        runs = [r.to_json() for r in session.query(Run).order_by(Run.id)]
        print(json.dumps([{"id": r["_id"], "status": r["status"], "result": r["result"],
                           "config": r["config"], "experiment": r["experiment"]["name"],
                           "host": sorted(r["host"]), "artifacts": [a["filename"] for a in r["artifacts"]]}
                          for r in runs]))
    """, str(db))
    assert [(r["id"], r["status"]) for r in got] == [("1", "COMPLETED"), ("2", "FAILED")]
    first = got[0]
    assert (first["result"], first["experiment"], first["artifacts"]) == (0.75, "ours_for_sacred",
                                                                           ["model.txt"])
    assert first["config"]["lr"] == 0.1
    assert {"hostname", "cpu", "os", "python_version"} <= set(first["host"])


@pytest.mark.service
def test_sacred_restores_our_mongo_documents(mongo_wire_url: str, sacred_python: str) -> None:
    import uuid

    name = f"sacredx_ours_{uuid.uuid4().hex[:8]}"
    uri = f"{mongo_wire_url.rstrip('/')}/{name}"
    record_ours(uri)
    try:
        got = run_sacred(sacred_python, """
            import json, sys
            import gridfs, pymongo
            from sacred.serializer import restore
            db = pymongo.MongoClient(sys.argv[1])[sys.argv[2]]
            runs = sorted(db.runs.find(), key=lambda d: d["_id"])
            result = restore(runs[0]["result"])
            loss = db.metrics.find_one({"run_id": runs[0]["_id"], "name": "loss"})
            art = runs[0]["artifacts"][0]
            print(json.dumps({
                "ids": [r["_id"] for r in runs], "status": [r["status"] for r in runs],
                "weights": [type(result["weights"]).__name__, str(result["weights"].dtype),
                            result["weights"].tolist()],
                "n": type(result["n"]).__name__,
                "loss": loss["values"], "steps": loss["steps"],
                "info_metrics": [m["name"] for m in runs[0]["info"]["metrics"]],
                "artifact": [art["name"], gridfs.GridFS(db).get(art["file_id"]).read().decode()],
                "start_time": type(runs[0]["start_time"]).__name__,
            }))
        """, mongo_wire_url, name)
    finally:
        import pymongo

        client: Any = pymongo.MongoClient(mongo_wire_url)
        client.drop_database(name)
        client.close()
    assert got["ids"] == [1, 2] and got["status"] == ["COMPLETED", "FAILED"]
    assert got["weights"] == ["ndarray", "float32", [1.5, 2.5]] and got["n"] == "int64"
    assert (got["loss"], got["steps"]) == ([1.0, 0.5, 1.0 / 3.0], [0, 1, 2])
    assert got["info_metrics"] == ["loss"]
    assert got["artifact"] == ["model.txt", "weights\n"]
    assert got["start_time"] == "datetime"


_TINYDB_READER = """
    import json, sys
    from sacred.observers import TinyDbReader
    reader = TinyDbReader(sys.argv[1])
    entries = reader.fetch_metadata(indices=list(range(len(reader.runs))))
    pick = int(sys.argv[2])  # the run to show in full
    files = reader.fetch_files(indices=[pick])[0]
    print(json.dumps({
        "names": [e["experiment"]["name"] for e in entries],
        "status": [e["status"] for e in entries],
        "start": [type(e["start_time"]).__name__ for e in entries],
        "result": repr(entries[pick].get("result")),
        "report": reader.fetch_report(indices=pick)[0],
        "artifacts": {k: v.read().decode() for k, v in files.get("artifacts", {}).items()},
    }))
"""


def test_sacreds_tinydb_reader_opens_what_convert_format_sacred_writes(
    tmp_path: Path, sacred_python: str
) -> None:
    record_ours(f"tinydb:{tmp_path / 'ours'}")
    convert_store(f"tinydb:{tmp_path / 'ours'}", f"tinydb:{tmp_path / 'sacred'}", "sacred")
    got = run_sacred(sacred_python, _TINYDB_READER, str(tmp_path / "sacred"), "1")
    assert got["names"] == ["ours_for_sacred"] * 2 and got["status"] == ["COMPLETED", "FAILED"]
    assert got["start"] == ["datetime", "datetime"]
    assert "Experiment: ours_for_sacred" in got["report"]
    assert got["artifacts"] == {}  # the FAILED run failed before adding one
    first = run_sacred(sacred_python, _TINYDB_READER, str(tmp_path / "sacred"), "0")
    assert first["artifacts"] == {"model.txt": "weights\n"}
    # copy gives a NumPy array back as its values, and Sacred's TinyDB holds those as a list
    assert first["result"] == "{'weights': [1.5, 2.5], 'n': 3, 'pair': [1, 2], 'score': 0.75}"


def test_sacreds_tinydb_reader_reads_sacreds_store_after_we_appended(
    tmp_path: Path, sacred_python: str
) -> None:
    root = Path(shutil.copytree(FIXTURES / "tinydb", tmp_path / "db"))
    record_ours(f"tinydb:{root}")
    got = run_sacred(sacred_python, _TINYDB_READER, str(root), "2")
    assert got["names"] == ["sacred_store"] * 2 + ["ours_for_sacred"] * 2
    assert got["status"] == ["COMPLETED", "FAILED", "COMPLETED", "FAILED"]
    assert got["start"] == ["datetime"] * 4
    # our run's NumPy values as Sacred's TinyDB holds them: the array as {TinyArray}, scalars plain
    assert got["result"] == "{'weights': array([1.5, 2.5]), 'n': 3, 'pair': [1, 2], 'score': 0.75}"
    assert got["artifacts"] == {"model.txt": "weights\n"}
    assert "Experiment: ours_for_sacred" in got["report"]


def test_the_fixture_python_is_not_this_one(sacred_python: str) -> None:
    """Sacred runs in its own venv: its site-packages never hold pytest_sacredx (no false pass)."""
    probe = subprocess.run([sacred_python, "-c", "import pytest_sacredx"], capture_output=True,
                           cwd=str(FIXTURES / "file_storage" / "_sources"), env=_sacred_env())
    assert probe.returncode != 0 and Path(sacred_python).resolve() != Path(sys.executable).resolve()
