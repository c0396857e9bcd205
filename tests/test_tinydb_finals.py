"""The last metric values of a TinyDB run, skimmed from its log lines, against the folded document."""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from pytest_sacredx.observers import tinydb_hashfs
from pytest_sacredx.observers.tinydb_bases import apply_patch, dumps_line
from pytest_sacredx.observers.tinydb_finals import (
    effects_of,
    fast_effects,
    final_values,
    skim_effects,
)
from pytest_sacredx.observers.tinydb_hashfs import TinyDbObserver, TinyDbReader
from pytest_sacredx.observers.tinydb_index import DOC, HEAVY, classify

NAMES = st.sampled_from(["loss", "acc", 'we"ird', "back\\slash", "ünï", "values", "]", ","])
SCALARS = st.one_of(
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
)
ODD = st.one_of(st.text(max_size=4), st.lists(st.integers(), max_size=2),
                st.dictionaries(st.text(max_size=2), st.integers(), max_size=1))
VALUES = st.lists(st.one_of(SCALARS, ODD) | SCALARS, max_size=5)
STAMPS = st.lists(st.one_of(st.just("2024-01-01T00:00:00.000000"), st.text(max_size=3)), max_size=3)


@st.composite
def series(draw: Any) -> dict[str, Any]:
    return {"steps": draw(st.lists(st.integers(0, 99), max_size=4)), "values": draw(VALUES),
            "timestamps": draw(STAMPS)}


@st.composite
def patches(draw: Any) -> dict[str, Any]:
    kind = draw(st.sampled_from(["ext", "set", "cat", "light", "mixed", "doc"]))
    line: dict[str, Any] = {"t": "runs", "id": 7}
    if kind == "doc":  # the whole document again (with metrics, or without: they are gone then)
        line["doc"] = {"_id": "r", **({"metrics": draw(st.dictionaries(NAMES, series(), max_size=2))}
                                      if draw(st.booleans()) else {})}
    if kind in ("ext", "mixed"):
        line["ext"] = [[["metrics", draw(NAMES), key], draw(VALUES if key == "values" else STAMPS)]
                       for key in draw(st.lists(st.sampled_from(["steps", "values", "timestamps"]),
                                                min_size=1, max_size=4))]
    if kind == "set":
        line["set"] = {"metrics": draw(st.dictionaries(NAMES, series(), max_size=3))}
    if kind == "cat":
        line["cat"] = {"captured_out": draw(st.text(max_size=5))}
    if kind in ("light", "mixed"):
        line["set"] = {"status": "COMPLETED", "result": draw(SCALARS)}
    return line


def expected(doc: dict[str, Any]) -> dict[str, Any] | None:
    """What the folded document says: every metric's last value, None if a series is empty."""
    metrics = doc.get("metrics") or {}
    out = {}
    for name, s in metrics.items():
        values = s.get("values") or []
        if not values:
            return None
        out[name] = values[-1]
    return out


def same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


@given(st.lists(patches(), max_size=6), st.dictionaries(NAMES, series(), max_size=2))
@example(lines=[{"t": "runs", "id": 7, "doc": {"_id": "r"}}],  # a new document without metrics: none left
         start={"loss": {"steps": [0], "values": [0.5], "timestamps": []}})
def test_skimmed_lines_give_the_folded_documents_last_values(lines: list[dict[str, Any]],
                                                             start: dict[str, Any]) -> None:
    doc_line = {"t": "runs", "id": 7, "doc": {"_id": "r", "metrics": start}}
    doc = json.loads(dumps_line(doc_line["doc"]))
    given_lines: list[Any] = [json.loads(dumps_line(doc_line))]
    kept_parts: list[Any] = [tinydb_hashfs._light_effects(given_lines[0], dumps_line(doc_line).encode(), DOC)]
    for line in lines:
        text = dumps_line(line)
        parsed = json.loads(text)
        if "doc" in parsed:
            doc = json.loads(dumps_line(parsed["doc"]))
        else:
            apply_patch(doc, parsed.get("set"), [tuple(e) for e in parsed.get("ext", [])], parsed.get("cat"))
        kind = classify(parsed, "runs")[0]
        heavy = kind == HEAVY
        given_lines.append(text if heavy else parsed)
        kept_parts.append(text if heavy else tinydb_hashfs._light_effects(parsed, text.encode(), kind))
        if heavy:  # the skim reads what decoding reads
            assert same(skim_effects(text, 7, "runs"), effects_of(parsed))
            fast = fast_effects(text, 7, "runs")
            assert fast is None or same(fast, effects_of(parsed))
    got = final_values(given_lines, 7, "runs")
    assert same(final_values(kept_parts, 7, "runs"), got)  # what a light record keeps skims the same
    want = expected(doc)
    assert got is None or same(got, want)
    if want is not None and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for s in (doc.get("metrics") or {}).values()
        for v in s.get("values") or []
    ) and all(isinstance(s, dict) for s in (doc.get("metrics") or {}).values()):
        assert same(got, want)


def test_the_writers_layouts_are_read_without_decoding() -> None:
    ext = ('{"t":"runs","id":3,"ext":[[["metrics","loss","steps"],[0,1]],'
           '[["metrics","loss","values"],[0.5,1e-05]],[["metrics","loss","timestamps"],["a","b"]]]}')
    assert fast_effects(ext, 3, "runs") == [
        ("ext", ["metrics", "loss", "steps"], False, None),
        ("ext", ["metrics", "loss", "values"], True, 1e-05),
        ("ext", ["metrics", "loss", "timestamps"], False, None),
    ]
    compacted = ('{"t":"runs","id":3,"set":{"metrics":{"acc":{"steps":[0],"values":[NaN],'
                 '"timestamps":["x"]},"lr":{"steps":[0,1],"values":[3,2],"timestamps":[]}}}}')
    effects = fast_effects(compacted, 3, "runs")
    assert effects is not None and effects[0][1]["lr"] == (True, 2)
    assert math.isnan(effects[0][1]["acc"][1])
    assert fast_effects(ext, 4, "runs") is None  # another run's line: not read as this one's
    assert final_values([{"doc": {"metrics": {}}}, ext], 3, "runs") == {"loss": 1e-05}
    # a series that is empty at the end: the caller must load the metrics to list it
    assert final_values([{"doc": {"metrics": {"x": {"values": []}}}}], 3, "runs") is None


def record(observer: TinyDbObserver, i: int, batches: int, finish: bool = True) -> None:
    t = dt.datetime(2024, 1, 1) + dt.timedelta(seconds=i)
    observer.started_event({"name": "f", "base_dir": "/", "sources": []}, "main", {}, t, {"i": i}, {},
                           None)
    for b in range(batches):
        observer.log_metrics({"loss": {"steps": [b], "values": [i + b / 10], "timestamps": [t]},
                              "acc": {"steps": [b], "values": [float("nan") if b == 1 else b],
                                      "timestamps": [t]}}, {})
    if finish:  # the line that ends the run carries its final values (fin)
        observer.completed_event(t, i)


def test_a_listing_gives_the_final_values_the_loaded_metrics_give(tmp_path: Any) -> None:
    observer = TinyDbObserver(tmp_path)
    for i in range(6):
        record(observer, i, batches=i % 3 + 1)
    observer.db.storage.compact()  # the first runs' metrics now sit on one `set` line each
    for i in range(6, 9):
        record(TinyDbObserver(tmp_path), i, batches=2)
    light = list(TinyDbReader(tmp_path).list_runs())
    finals = [(r.final_metrics(), r.metric_names()) for r in light]
    assert not any(r.is_loaded for r in light)  # answered without reading the series
    full = list(TinyDbReader(tmp_path).list_runs())
    for (values, names), rec in zip(finals, full, strict=True):
        assert rec.metrics  # load them
        assert same(values, rec.final_metrics()) and names == rec.metric_names()
    assert finals[0][0] == {"loss": 0.0, "acc": 0}


def test_the_metric_lines_are_read_only_when_a_final_value_is_asked_for(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    observer = TinyDbObserver(tmp_path)
    for i in range(4):
        record(observer, i, batches=3, finish=False)  # running runs: no fin line yet
    skimmed: list[int] = []
    real = tinydb_hashfs.final_values
    monkeypatch.setattr(tinydb_hashfs, "final_values",
                        lambda lines, doc_id, table: skimmed.append(doc_id) or real(lines, doc_id, table))
    listed = list(TinyDbReader(tmp_path).list_runs())
    kept = [r for r in listed if r.config["i"] > 1]  # what `--where config.i > 1` reads
    assert skimmed == []
    assert [r.final_metrics() for r in kept] == [{"loss": 2.2, "acc": 2}, {"loss": 3.2, "acc": 2}]
    assert skimmed == [3, 4] and not any(r.is_loaded for r in listed)


def test_final_values_asked_after_a_compaction_come_from_the_log_as_listed(tmp_path: Any) -> None:
    observer = TinyDbObserver(tmp_path)
    for i in range(3):
        record(observer, i, batches=3, finish=False)
    listed = list(TinyDbReader(tmp_path).list_runs())
    assert [r.config["i"] for r in listed] == [0, 1, 2]  # light parts read, metric lines not yet
    observer.db.storage.compact()  # the log is replaced; the listing keeps the one it read open
    assert [r.final_metrics() for r in listed] == [{"loss": i + 0.2, "acc": 2} for i in range(3)]
    assert not any(r.is_loaded for r in listed)  # skimmed from the listed log's metric lines


def test_a_listing_whose_log_is_gone_loads_the_runs_from_the_new_log(tmp_path: Any) -> None:
    observer = TinyDbObserver(tmp_path)
    for i in range(3):
        record(observer, i, batches=3, finish=False)
    listed = list(TinyDbReader(tmp_path).list_runs())
    assert [r.config["i"] for r in listed] == [0, 1, 2]
    observer.db.storage.compact()
    listed[0]._loader.args[0].close()  # the listing's log closed: reopening finds the replacement
    assert [r.final_metrics() for r in listed] == [{"loss": i + 0.2, "acc": 2} for i in range(3)]
    assert all(r.is_loaded for r in listed)  # the skim refused the new log: each run loaded whole


def test_a_finished_run_lists_its_final_values_without_reading_a_metric_line(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    observer = TinyDbObserver(tmp_path)
    for i in range(3):
        record(observer, i, batches=3)
    record(observer, 3, batches=2, finish=False)  # still running: skimmed
    skimmed: list[int] = []
    real = tinydb_hashfs._skim_finals
    monkeypatch.setattr(tinydb_hashfs, "_skim_finals",
                        lambda index, handle, doc_id, *a: skimmed.append(doc_id) or real(index, handle, doc_id, *a))
    for compacted in (False, True):  # the ending line's fin, then the compaction's fin line
        listed = list(TinyDbReader(tmp_path).list_runs())
        finals = [r.final_metrics() for r in listed]
        assert not any(r.is_loaded for r in listed)
        assert same(finals, [{"loss": i + 0.2, "acc": 2} for i in range(3)] + [{"loss": 3.1, "acc": math.nan}])
        assert skimmed == [4], compacted  # after a compaction the running run has a fin line too
        observer.db.storage.compact()
    fins = [json.loads(line) for line in (tmp_path / "metadata.json").read_text().splitlines() if '"fin"' in line]
    assert len(fins) == 4  # every line carrying final values is light to any reader's index
    assert {classify(line, "runs")[0] for line in fins} == {DOC}


@st.composite
def late_lines(draw: Any) -> list[dict[str, Any]]:
    """Lines another writer appends after a run ended: more points, a new metric, a status change."""
    out = []
    for _ in range(draw(st.integers(0, 2))):
        name = draw(st.sampled_from(["loss", "acc", "new"]))
        kind = draw(st.sampled_from(["ext", "set", "status", "empty"]))
        if kind == "ext":
            out.append({"ext": [(["metrics", name, "values"], draw(st.lists(SCALARS, max_size=2)))]})
        elif kind == "set":
            out.append({"set": {"metrics": {name: {"steps": [0], "values": draw(st.lists(SCALARS, max_size=2)),
                                                   "timestamps": []}}}})
        elif kind == "status":
            out.append({"set": {"status": "FAILED"}})
        else:  # points without values
            out.append({"ext": [(["metrics", name, "steps"], [9])]})
    return out


@given(st.lists(st.dictionaries(st.sampled_from(["loss", "acc"]), st.lists(SCALARS, max_size=2),
                                max_size=2), max_size=3),
       late_lines(), st.sampled_from(["never", "before the late lines", "after them"]))
def test_listed_final_values_are_the_loaded_runs_whatever_follows_the_ending_line(
    beats: list[dict[str, list[Any]]], late: list[dict[str, Any]], compact: str
) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as root:
        observer = TinyDbObserver(root)
        t = dt.datetime(2024, 1, 1)
        observer.started_event({"name": "f", "base_dir": "/", "sources": []}, "main", {}, t, {}, {}, None)
        for beat in beats:
            observer.log_metrics({n: {"steps": list(range(len(v))), "values": v, "timestamps": [t] * len(v)}
                                  for n, v in beat.items()}, {})
        observer.completed_event(t, 1)
        storage = observer.db.storage
        if compact == "before the late lines":
            storage.compact()
        for line in late:
            storage.patch("runs", observer.db_run_id, **line)
        if compact == "after them":
            storage.compact()
        light = next(iter(TinyDbReader(root).list_runs()))
        loaded = TinyDbReader(root).load_run(light.id)
        assert same(light.final_metrics(), loaded.final_metrics())
        assert light.metric_names() == loaded.metric_names()


def test_a_light_record_keeps_none_of_the_runs_output_alive(tmp_path: Any) -> None:
    observer = TinyDbObserver(tmp_path)
    t = dt.datetime(2024, 1, 1)
    observer.started_event({"name": "f", "base_dir": "/", "sources": []}, "main", {}, t, {"i": 0}, {}, None)
    for beat in range(20):
        observer.heartbeat_event({"beat": beat, "blob": "i" * 1000}, "out" * 1000 + str(beat), t, None)
        observer.log_metrics({"loss": {"steps": [beat], "values": [beat / 10], "timestamps": [t]}}, {})
    for finished in (False, True):  # skimmed when asked for; the ending line's fin
        if finished:
            observer.completed_event(t, 1)
        (rec,) = TinyDbReader(tmp_path).list_runs()
        assert rec.config == {"i": 0} and rec.status  # the light parts, as a listing reads them
        pending = rec._finals  # what the record holds until its final values are asked for
        held = pending.args if hasattr(pending, "args") else [c.cell_contents for c in pending.__closure__]
        kept = json.dumps([a for a in held if isinstance(a, dict)], default=str)
        assert "out" * 1000 not in kept and "i" * 1000 not in kept
        assert rec.final_metrics() == {"loss": 1.9}


def test_a_metric_line_that_failed_to_be_written_leaves_the_run_without_final_values(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pytest_sacredx.observers.tinydb_bases import LogStorage

    observer = TinyDbObserver(tmp_path)
    t = dt.datetime(2024, 1, 1)
    observer.started_event({"name": "f", "base_dir": "/", "sources": []}, "main", {}, t, {}, {}, None)
    observer.log_metrics({"loss": {"steps": [0], "values": [1.0], "timestamps": [t]}}, {})
    real = LogStorage.patch

    def full_disk(self: Any, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("ext"):
            raise OSError(28, "No space left on device")
        real(self, *args, **kwargs)

    monkeypatch.setattr(LogStorage, "patch", full_disk)
    with pytest.raises(OSError):  # the run engine reports it and goes on to the end of the run
        observer.log_metrics({"loss": {"steps": [1], "values": [2.0], "timestamps": [t]}}, {})
    monkeypatch.undo()
    observer.completed_event(t, 1)
    assert not any('"fin"' in line for line in (tmp_path / "metadata.json").read_text().splitlines())
    listed = next(iter(TinyDbReader(tmp_path).list_runs()))
    assert listed.final_metrics() == {"loss": 1.0} == TinyDbReader(tmp_path).load_run(listed.id).final_metrics()
