"""Copying runs between stores, idempotently: ``sacredx copy --from A [--from B …] --to C``.

Each run is replayed into the destination's observer as the events that recorded it (started or
queued, metrics, artifacts, the last heartbeat with output and result, then completed, failed or
interrupted; a RUNNING run stays RUNNING with its last heartbeat), so any store can take runs from any
other. A run keeps its id when the destination does not hold that id yet.

**Idempotent.** A run is identified by its fingerprint — experiment name, command, start (or queue) time
to the millisecond, host name and config — not by its id, which differs between stores. A run whose
fingerprint the destination already holds is skipped, so copying twice, copying back, or merging
stores that share runs leaves every run once. A run that changed in the source after it was copied is
not updated.

**What is copied.** Config, meta (plus ``meta.copied_from = {store, id, sources, base_dir,
resources}``), host, times, status, result, fail trace, info, captured output, metric series and
artifacts (their bytes, through the source reader's ``load_artifact``). Source files and resources are
inputs the destination records by name only (``meta.copied_from.sources``, ``.resources``; the
original ``base_dir`` too): their content in the source store is not readable through every store's
reader, and attaching today's files would misstate the run. ``sacredx convert`` passes a
``load_sources`` that reads the stored sources of TinyDB and FileStorage stores, so theirs come along.
Values come back as readers give them: a NumPy array in a result is copied as its list of values.

>>> import datetime
>>> from pytest_sacredx.observers.memory import MemoryObserver
>>> from pytest_sacredx.observers.record import RunRecord
>>> t0 = datetime.datetime(2024, 5, 1, 12, 0)
>>> src = [RunRecord(id="1", status="COMPLETED", config={"a": 1}, result=2, start_time=t0)]
>>> dest = MemoryObserver()
>>> copy_runs([("memory:", src, None)], dest, dest).copied
[('1', '1')]
>>> copy_runs([("memory:", src, None)], dest, dest).skipped
1
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs

from ..observers.record import RunReader, RunRecord
from ..serialize import to_jsonable

__all__ = ["CopyReport", "copy_runs", "fingerprint"]


def _ms(when: _dt.datetime | None) -> str:
    if when is None:
        return ""
    return when.replace(microsecond=when.microsecond // 1000 * 1000).isoformat(timespec="milliseconds")


def fingerprint(rec: RunRecord) -> str:
    """What identifies a run across stores (see the module docstring)."""
    host = rec.host.get("hostname") if isinstance(rec.host, dict) else None
    data = [
        rec.experiment_name,
        rec.command,
        _ms(rec.start_time or rec.queue_time),
        host,
        to_jsonable(rec.config),
    ]
    text = json.dumps(data, sort_keys=True, default=str, ensure_ascii=True)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


@attrs.define
class CopyReport:
    """What a copy did: ``copied`` pairs (source id, destination id), runs ``skipped`` as already
    there, and artifacts that could not be read from their source."""

    copied: list[tuple[str, str]] = attrs.field(factory=list)
    skipped: int = 0
    missing_artifacts: list[tuple[str, str]] = attrs.field(factory=list)


#: ``(reader, record) -> [(source name, bytes), …]``: the content of a run's source files, where the
#: source store keeps it (``sacredx convert`` passes :func:`~pytest_sacredx.query.convert.source_files`)
SourceLoader = Callable[[Any, RunRecord], list[tuple[str, bytes]]]


def copy_runs(
    sources: Iterable[tuple[str, Sequence[RunRecord], RunReader | None]],
    observer: Any,
    dest_reader: RunReader | None,
    progress: Callable[[int], None] | None = None,
    load_sources: SourceLoader | None = None,
) -> CopyReport:
    """Copy the runs of each ``(store name, records, reader)`` into ``observer``; ``dest_reader`` lists
    what the destination holds already (None: an empty, new store). With ``load_sources``, source
    files whose content it returns are stored in the destination too (by name only otherwise)."""
    existing = list(dest_reader.list_runs()) if dest_reader is not None else []
    seen = {fingerprint(r) for r in existing}
    taken = {str(r.id) for r in existing}
    report = CopyReport()
    with tempfile.TemporaryDirectory(prefix="sacredx-copy-") as scratch:
        for store, records, reader in sources:
            for rec in records:
                fp = fingerprint(rec)
                if fp in seen:
                    report.skipped += 1
                    continue
                new_id = _replay(rec, store, reader, observer, None if str(rec.id) in taken else rec.id,
                                 scratch, report, load_sources)
                seen.add(fp)
                taken.add(str(new_id))
                report.copied.append((str(rec.id), str(new_id)))
                if progress is not None:
                    progress(len(report.copied))
    return report


def _replay(
    rec: RunRecord,
    store: str,
    reader: RunReader | None,
    observer: Any,
    _id: Any,
    scratch: str,
    report: CopyReport,
    load_sources: SourceLoader | None = None,
) -> Any:
    ex_info = dict(rec.experiment)
    sources = [s[0] if isinstance(s, (list, tuple)) and s else s for s in ex_info.get("sources") or []]
    ex_info["sources"] = []
    ex_info["base_dir"] = scratch
    files = load_sources(reader, rec) if load_sources is not None else []
    if files:
        base = tempfile.mkdtemp(dir=scratch)
        for name, data in files:
            path = os.path.join(base, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as fh:
                fh.write(data)
            ex_info["sources"].append([name, hashlib.md5(data).hexdigest()])
        ex_info["base_dir"] = base
    meta = dict(rec.meta)
    meta["copied_from"] = {"store": store, "id": str(rec.id), "sources": sources}
    if rec.experiment.get("base_dir"):  # the destination's base_dir is where the copy put the sources
        meta["copied_from"]["base_dir"] = rec.experiment["base_dir"]
    if rec.resources:
        meta["copied_from"]["resources"] = [r[0] if isinstance(r, list) and r else r for r in rec.resources]
    if rec.status == "QUEUED":
        when = rec.queue_time or rec.start_time or _dt.datetime(1970, 1, 1)
        new_id = observer.queued_event(ex_info, rec.command, rec.host, when, rec.config, meta, _id)
        _join(observer)
        return new_id
    start = rec.start_time or rec.queue_time or _dt.datetime(1970, 1, 1)
    new_id = observer.started_event(ex_info, rec.command, rec.host, start, rec.config, meta, _id)
    if rec.metrics:
        observer.log_metrics(
            {name: {"name": name, **{k: list(m.get(k, [])) for k in ("steps", "values", "timestamps")}}
             for name, m in rec.metrics.items()},
            rec.info,
        )
    load = getattr(reader, "load_artifact", None)
    for name in rec.artifacts:
        try:
            if load is None:
                raise KeyError(name)
            data = load(rec.id, name)
        except (KeyError, OSError):
            report.missing_artifacts.append((str(rec.id), name))
            continue
        folder = tempfile.mkdtemp(dir=scratch)
        path = os.path.join(folder, name)
        with open(path, "wb") as fh:
            fh.write(data)
        observer.artifact_event(name, path)
    beat = rec.heartbeat or rec.stop_time or start
    observer.heartbeat_event(rec.info, rec.captured_out, beat, rec.result)
    stop = rec.stop_time or beat
    if rec.status == "COMPLETED":
        observer.completed_event(stop, rec.result)
    elif rec.status == "FAILED":
        observer.failed_event(stop, list(rec.fail_trace or []))
    elif rec.status in ("INTERRUPTED", "TIMEOUT"):
        observer.interrupted_event(stop, rec.status)
    _join(observer)
    return new_id


def _join(observer: Any) -> None:
    join = getattr(observer, "join", None)
    if callable(join):
        join()
