"""MongoReader: runs in a MongoDB database in Sacred's schema (ours, Sacred's, Omniboard's) as RunRecords.

The runs collection holds one document per run; the metrics collection one document per (run, metric);
Sacred's observer also lists the metric documents in the run's ``info.metrics`` (``[{name, id}]``), which
stays in the document for Omniboard and is left out of the record's ``info``. Records hold plain values:
ObjectIds as their hex text, BSON ``Int64`` as ``int``.

>>> reader = MongoReader(db.runs, db.metrics, "mongodb://localhost/sacred.runs")  # doctest: +SKIP
>>> [r.status for r in reader.list_runs()]  # doctest: +SKIP
['COMPLETED']
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ..errors import run_not_found
from . import document
from .record import RunRecord

__all__ = ["MongoReader", "plain_values", "is_metric_index"]


class MongoReader:
    """Reads runs from pymongo-compatible ``runs`` and ``metrics`` collections."""

    def __init__(self, runs: Any, metrics: Any, store: str) -> None:
        self.runs = runs
        self.metrics = metrics
        self.store = store

    def list_runs(self) -> Iterator[RunRecord]:
        """All runs in the collection, by id (integers first, in numeric order)."""
        docs = list(self.runs.find({}))
        docs.sort(key=lambda d: (not isinstance(d["_id"], int), d["_id"] if isinstance(d["_id"], int)
                                 else str(d["_id"])))
        for doc in docs:
            yield self.record(doc)

    def load_run(self, run_id: Any) -> RunRecord:
        """The run stored under ``run_id`` (``"3"`` finds the integer id 3)."""
        for candidate in _id_candidates(run_id):
            doc = self.runs.find_one({"_id": candidate})
            if doc is not None:
                return self.record(doc)
        raise run_not_found(run_id, self.store)

    def load_artifact(self, run_id: Any, name: str, fs: Any) -> bytes:
        """The bytes of one artifact of a run, from the GridFS ``fs``; ``KeyError`` when there is none."""
        for candidate in _id_candidates(run_id):
            doc = self.runs.find_one({"_id": candidate}, {"artifacts": 1})
            for entry in (doc or {}).get("artifacts") or []:
                if entry.get("name") == name and fs.exists(entry.get("file_id")):
                    return bytes(fs.get(entry["file_id"]).read())
        raise KeyError((run_id, name))

    def record(self, doc: dict[str, Any]) -> RunRecord:
        """A stored run document (with its metric documents) as a RunRecord."""
        metrics = {m["name"]: plain_values(m) for m in self.metrics.find({"run_id": doc["_id"]})}
        doc = plain_values(doc)
        info = doc.get("info")
        if isinstance(info, Mapping) and is_metric_index(info.get("metrics")):
            doc["info"] = {k: v for k, v in info.items() if k != "metrics"}
        return document.to_record(
            doc,
            store=self.store,
            experiment=dict(doc.get("experiment") or {}),
            metrics=metrics,
            artifacts=[a["name"] for a in doc.get("artifacts") or []],
        )


def _id_candidates(run_id: Any) -> list[Any]:
    """``"3"`` may name the integer id 3 (Sacred's ids) or a text id."""
    if isinstance(run_id, str) and run_id.lstrip("-").isdigit():
        return [int(run_id), run_id]
    return [run_id]


def plain_values(doc: Any) -> Any:
    """``doc`` as plain Python values, as readers hand them out: ObjectIds as their hex strings, and
    BSON 64-bit integers (pymongo's ``Int64``, for anything beyond 32 bits) as ``int``."""
    from bson import Int64, ObjectId

    if isinstance(doc, ObjectId):
        return str(doc)
    if isinstance(doc, Int64):
        return int(doc)
    if isinstance(doc, Mapping):
        return {k: plain_values(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [plain_values(v) for v in doc]
    return doc


def is_metric_index(value: Any) -> bool:
    """Whether ``value`` is the ``[{name, id}, ...]`` list Sacred's observer keeps in ``info.metrics``."""
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(m, Mapping) and set(m) == {"name", "id"} for m in value)
    )
