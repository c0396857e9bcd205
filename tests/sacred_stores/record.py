"""Record the stores in this folder with real Sacred 0.8.7, once: ``python tests/sacred_stores/record.py``.

The tests in ``tests/test_sacred_stores.py`` read what Sacred wrote without needing Sacred installed, so
the stores are recorded here and committed as data (no Sacred code). Run again only to re-record; the
script builds Sacred's private venv with ``bench/sacred_env.py`` and runs the experiment below under it
with each of Sacred's observers:

- ``file_storage/``: ``FileStorageObserver`` (runs 1 and 2, ``_sources/``, ``_resources/``);
- ``tinydb/``: ``TinyDbObserver`` (``metadata.json`` in TinyDB's single-file JSON, ``hashfs/``);
- ``sacred.sqlite``: ``SqlObserver("sqlite:///…")``;
- ``postgresql.json``: the same SQL rows as JSON plus the ``CREATE TABLE`` statements Sacred's SQLAlchemy
  models give for PostgreSQL (compiled, no server needed); the tests load it into the loopback PostgreSQL;
- ``mongo.json``: the documents of ``runs``, ``metrics``, ``fs.files``, ``fs.chunks`` that Sacred's
  ``MongoObserver`` wrote into the loopback MongoDB wire server (Extended JSON, ``bson.json_util``),
  which the tests load back into that server. Needs ``SACREDX_MONGO_WIRE_URL`` (``/work/svc/env``).

Each store holds two runs of experiment ``sacred_store``: a COMPLETED one (config with a nested dict
and a list, printed output, metrics ``loss``/``acc``, an artifact ``model.txt``, a resource
``data.csv``, a result holding a NumPy array — a float for SQL, whose result column is a Float) and a
FAILED one (``fail=True``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

INNER = r'''
import json, os, sys, tempfile
import numpy as np
from sacred import Experiment
from sacred.observers import FileStorageObserver, TinyDbObserver, SqlObserver, MongoObserver

out, kind, mongo_url = sys.argv[1], sys.argv[2], sys.argv[3]
work = tempfile.mkdtemp()
resource = os.path.join(work, "data.csv")
with open(resource, "w") as fh:
    fh.write("x,y\n1,2\n")

ex = Experiment("sacred_store", save_git_info=False)

@ex.config
def cfg():
    lr = 0.1
    layers = [64, 32]
    opt = {"name": "sgd", "momentum": 0.9}
    fail = False

@ex.main
def main(_run, lr, layers, fail):
    print("training with lr", lr)
    for step in range(3):
        _run.log_scalar("loss", 1.0 / (step + 1), step)
        _run.log_scalar("acc", 0.5 + 0.1 * step, step)
    _run.open_resource(resource).close()
    model = os.path.join(work, "model.txt")
    with open(model, "w") as fh:
        fh.write("weights\n")
    _run.add_artifact(model)
    if fail:
        raise RuntimeError("boom")
    if kind == "sql":
        return 0.875
    if kind == "tinydb":  # Sacred's TinyDB observer fails a run whose result holds a NumPy scalar
        return {"score": 0.875, "weights": np.array([1.5, 2.5])}
    return {"score": 0.875, "weights": np.array([1.5, 2.5]), "n": np.int64(3)}

if kind == "file":
    obs = FileStorageObserver(out)
elif kind == "tinydb":
    obs = TinyDbObserver(out)
elif kind == "sql":
    obs = SqlObserver("sqlite:///" + out)
else:
    obs = MongoObserver(url=mongo_url, db_name=out)
ex.observers.append(obs)
ex.run()
try:
    ex.run(config_updates={"fail": True, "lr": 0.01})
except RuntimeError:
    pass

if kind == "sql":
    import sqlalchemy as sa
    from sqlalchemy.dialects import postgresql
    from sacred.observers.sql_bases import Base
    engine = sa.create_engine("sqlite:///" + out)
    ddl = [str(sa.schema.CreateTable(t).compile(dialect=postgresql.dialect())).strip()
           for t in Base.metadata.sorted_tables]
    enums = []
    for t in Base.metadata.sorted_tables:
        for c in t.columns:
            if isinstance(c.type, sa.Enum):
                enums.append(str(sa.schema.CreateColumn(c).compile(dialect=postgresql.dialect())))
    rows = {}
    with engine.connect() as conn:
        for t in Base.metadata.sorted_tables:
            rows[t.name] = []
            for r in conn.execute(t.select()):
                row = {}
                for k, v in r._mapping.items():
                    if isinstance(v, bytes):
                        v = {"$bytes": v.hex()}
                    elif hasattr(v, "isoformat"):
                        v = {"$datetime": v.isoformat()}
                    row[k] = v
                rows[t.name].append(row)
    enum = [c.type for t in Base.metadata.sorted_tables for c in t.columns if isinstance(c.type, sa.Enum)][0]
    create_enum = str(sa.schema.CreateEnum(enum).compile(dialect=postgresql.dialect())) if hasattr(sa.schema, "CreateEnum") else None
    if create_enum is None:
        from sqlalchemy.dialects.postgresql.base import CreateEnumType
        create_enum = str(CreateEnumType(enum).compile(dialect=postgresql.dialect()))
    with open(sys.argv[4], "w") as fh:
        json.dump({"recorded_with": "sacred 0.8.7 SqlObserver on SQLite; DDL compiled for PostgreSQL",
                   "ddl": [create_enum] + ddl, "rows": rows}, fh, indent=1, sort_keys=True)
        fh.write("\n")

if kind == "mongo":
    import pymongo
    from bson import json_util
    client = pymongo.MongoClient(mongo_url)
    db = client[out]
    dump = {name: list(db[name].find().sort("_id", 1)) for name in ("runs", "metrics", "fs.files")}
    # chunks file by file: the wire server lists fs.chunks only for a files_id filter
    dump["fs.chunks"] = [c for f in dump["fs.files"] for c in db["fs.chunks"].find({"files_id": f["_id"]}).sort("n", 1)]
    with open(sys.argv[4], "w") as fh:
        fh.write(json_util.dumps({"recorded_with": "sacred 0.8.7 MongoObserver", "collections": dump},
                                 indent=1, sort_keys=True, json_options=json_util.CANONICAL_JSON_OPTIONS))
        fh.write("\n")
    client.drop_database(out)
'''


def main() -> int:
    sys.path.insert(0, str(ROOT / "bench"))
    from sacred_env import ensure_sacred_venv

    python = ensure_sacred_venv()
    script = HERE / ".record_inner.py"
    script.write_text(INNER, encoding="utf-8")
    mongo_url = os.environ.get("SACREDX_MONGO_WIRE_URL", "")
    try:
        for name in ("file_storage", "tinydb"):
            shutil.rmtree(HERE / name, ignore_errors=True)
        (HERE / "sacred.sqlite").unlink(missing_ok=True)
        jobs = [
            ("file", str(HERE / "file_storage"), ""),
            ("tinydb", str(HERE / "tinydb"), ""),
            ("sql", str(HERE / "sacred.sqlite"), str(HERE / "postgresql.json")),
        ]
        if mongo_url:
            jobs.append(("mongo", "sacredx_record_sacred_store", str(HERE / "mongo.json")))
        else:
            print("record: SACREDX_MONGO_WIRE_URL is not set; mongo.json not re-recorded", file=sys.stderr)
        for kind, out, extra in jobs:
            subprocess.run([str(python), str(script), out, kind, mongo_url, extra], check=True,
                           cwd=str(HERE))
            print(f"record: {kind} -> {out}")
    finally:
        script.unlink(missing_ok=True)
    json.loads((HERE / "postgresql.json").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
