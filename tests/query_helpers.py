"""A small, known history of runs for the ``sacredx`` tests, written into any store of the contract suite.

Two pytest sweeps of the same experiment (``svm``; config ``C``, ``gamma``, ``kernel``, ``seed``):

- ``sweep_old_0001`` (older): cases C=1|10 × gamma=0.1|0.7, all COMPLETED;
- ``sweep_new_0002`` (newer): the same cases except C=10-gamma=0.7, plus C=1-gamma=1.5; the case
  C=10-gamma=0.1 FAILED; the first run has an artifact ``model.txt``; every result is 0.05 higher;

then a script run (no pytest metadata, ``with gamma=0.3``) and a run killed long ago (RUNNING with a
stale heartbeat: DEAD). ``result = 0.5 + 0.1·gamma + 0.01·C`` in the old sweep; metric ``loss`` is
``[1.0, 0.5, gamma]`` at steps 0, 1, 2 and ``acc`` is ``[0.5, result]`` at steps 0, 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from test_store_contract import Store, ex_info, metric, play_run

OLD, NEW = "sweep_old_0001", "sweep_new_0002"
OLD_CASES = [(1, 0.1), (1, 0.7), (10, 0.1), (10, 0.7)]
NEW_CASES = [(1, 0.1), (1, 0.7), (10, 0.1), (1, 1.5)]


def result_of(c: int, gamma: float, sweep: str) -> float:
    return round(0.5 + 0.1 * gamma + 0.01 * c + (0.05 if sweep == NEW else 0.0), 6)


def case_id(c: int, gamma: float) -> str:
    return f"exp_svm.py::svm[C={c}-gamma={gamma}]"


def _meta(c: int, gamma: float, sweep: str, seed: int) -> dict[str, Any]:
    return {
        "command": "main",
        "options": {"--seed": seed},
        "named_configs": [],
        "config_updates": {"C": c, "gamma": gamma},
        "pytest": {
            "nodeid": case_id(c, gamma),
            "case_id": case_id(c, gamma),
            "session_seed": 1 if sweep == OLD else 2,
            "case_seed": seed,
            "sweep_id": sweep,
            "worker": "gw0",
        },
    }


def record_history(store: Store, tmp_path: Path) -> dict[str, Any]:
    """Write the history into ``store``; returns {(sweep, C, gamma) | "script" | "killed": run id}."""
    artifact = tmp_path / "model.txt"
    artifact.write_text("weights v2\n")
    ids: dict[Any, Any] = {}
    t = 0.0
    for sweep, cases in ((OLD, OLD_CASES), (NEW, NEW_CASES)):
        for i, (c, gamma) in enumerate(cases):
            seed = (100 if sweep == OLD else 200) + i
            result = result_of(c, gamma, sweep)
            failed = sweep == NEW and (c, gamma) == (10, 0.1)
            ids[(sweep, c, gamma)] = play_run(
                store.observer,
                config={"C": c, "gamma": gamma, "kernel": "rbf", "seed": seed},
                result=None if failed else result,
                end="failed" if failed else "completed",
                metrics=(metric("loss", [0, 1, 2], [1.0, 0.5, gamma], t),
                         metric("acc", [0, 2], [0.5, result], t)),
                artifacts=(("model.txt", artifact),) if sweep == NEW and i == 0 else (),
                experiment=ex_info(name="svm"),
                meta=_meta(c, gamma, sweep, seed),
                start=t,
            )
            t += 10
    ids["script"] = play_run(
        store.observer,
        config={"C": 1, "gamma": 0.3, "kernel": "rbf", "seed": 5},
        result=0.54,
        metrics=(metric("loss", [0, 1], [1.0, 0.3], t),),
        experiment=ex_info(name="svm"),
        meta={"command": "main", "options": {"--seed": 5}, "named_configs": [],
              "config_updates": {"gamma": 0.3}},
        start=t,
    )
    t += 10
    ids["killed"] = play_run(
        store.observer,
        config={"C": 1, "gamma": 0.9, "kernel": "rbf", "seed": 6},
        end="killed",
        experiment=ex_info(name="svm"),
        meta={"command": "main", "options": {"--seed": 6}, "named_configs": [], "config_updates": {}},
        start=t,
    )
    return {k: str(v) for k, v in ids.items()}


def store_uri(store: Store) -> str | None:
    """The URI the ``sacredx`` command reads ``store`` by (None for ``memory:``, which has none)."""
    obs: Any = store.observer
    reader: Any = store.reader
    if store.name == "memory":
        return None
    if store.name == "file":
        return f"file:{reader.basedir}"
    if store.name == "tinydb":
        return f"tinydb:{reader.root}"
    if store.name in ("sqlite", "postgresql+psycopg"):
        return str(obs.engine.url.render_as_string(hide_password=False))
    if store.name == "s3":
        return f"s3://{obs.bucket}/{obs.basedir}?endpoint_url={obs.endpoint_url}&region={obs.region}"
    if store.name == "mongodb":
        return f"{obs._url.rstrip('/')}/{obs._db_name}"
    raise AssertionError(f"no URI for store {store.name}")
