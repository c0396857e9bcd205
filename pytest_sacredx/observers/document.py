"""The one run document: observer events -> Sacred's run document, and a stored document -> ``RunRecord``.

Every store (memory, FileStorage, TinyDB, S3, MongoDB, SQL) builds its records from the functions here
and only persists and loads what they return, so the stores cannot drift apart. What this module decides:

- **Values** (config, result, info, meta, host, experiment) take Sacred's jsonpickle JSON form, which
  Sacred 0.8.7's observers write and programs reading ``run.json`` expect: a NumPy array is
  ``{"py/object": "numpy.ndarray", "dtype": "int64", "values": [...]}``, a NumPy scalar
  ``{"py/object": "numpy.float64", "dtype": "float64", "value": 1.5}``, a tuple ``{"py/tuple": [...]}``,
  a set ``{"py/set": [...]}``, bytes ``{"py/b64": "..."}``, a key that is not a string ``"json://3"``.
  We never write the forms that rebuild arbitrary objects when decoded: datetimes are text (or native
  dates where the store has them), other objects their ``repr``. :func:`encode` never raises, so a value
  can never decide a run's final status.
- **Times** are :data:`TIME_FORMAT` text (``2024-05-01T12:00:00.000000``, the text of Sacred's
  TinyDate), or ``isoformat`` text where Sacred writes that (FileStorage and S3: ``iso_times=True``);
  stores with a native date type (MongoDB, SQL, memory) keep ``datetime`` objects (``native_times=True``).
- **Secrets** in ``meta`` (options, argv, config updates, comment) are redacted by
  :func:`~pytest_sacredx.redact.redact_meta`, the same way in every store.
- **Captured output** can be capped (the tail is kept behind a one-line marker) by stores whose document
  has a size limit: :func:`cap_output`.
- **QUEUED runs** have the same keys everywhere (:data:`QUEUED_KEYS`), started runs too
  (:data:`STARTED_KEYS`); a store that keeps some keys in other files or tables (FileStorage's
  ``config.json``, SQL's columns) still builds the whole document first.
- **Reading back**, :func:`to_record` turns a stored document into a
  :class:`~pytest_sacredx.observers.record.RunRecord` with plain values (:func:`decode`: the NumPy and
  tuple forms become lists and numbers again) and times as ``datetime`` (:func:`parse_time` also reads
  Sacred's ``{TinyDate}:`` text and ``isoformat`` output).

>>> import datetime as dt
>>> t = dt.datetime(2024, 5, 1, 12, 0)
>>> doc = started({"name": "demo"}, "main", {}, t, {"lr": 0.1}, {"options": {}}, native_times=False)
>>> doc["start_time"], doc["status"]
('2024-05-01T12:00:00.000000', 'RUNNING')
>>> doc.update(completed(t, (1, 2), native_times=False))
>>> doc["result"]
{'py/tuple': [1, 2]}
>>> rec = to_record({**doc, "_id": 1}, store="memory:")
>>> rec.result, rec.start_time
([1, 2], datetime.datetime(2024, 5, 1, 12, 0))
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
from collections.abc import Mapping
from typing import Any

from ..redact import redact_meta
from .record import RunRecord, parse_timestamps

__all__ = [
    "record_values",
    "plain_text",
    "TIME_FORMAT",
    "QUEUED_KEYS",
    "STARTED_KEYS",
    "format_time",
    "parse_time",
    "encode",
    "decode",
    "plain_number",
    "cap_output",
    "utf8_text",
    "queued",
    "started",
    "heartbeat",
    "completed",
    "interrupted",
    "failed",
    "metrics_delta",
    "to_record",
    "metric_series",
]

#: the one text form of a time in every JSON store (naive UTC, always with microseconds)
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"
_TINYDATE = "{TinyDate}:"

#: the keys of a queued run's document, in every store (Sacred's: the queue time is ``meta.queue_time``)
QUEUED_KEYS = ("experiment", "command", "host", "config", "meta", "status")
#: the keys of a started run's document (later events add result, stop_time, fail_trace)
STARTED_KEYS = (
    "experiment", "command", "host", "config", "meta", "status", "start_time",
    "heartbeat", "resources", "artifacts", "captured_out", "info",
)

_SCALARS = (str, int, float, bool, type(None))
_SCALAR_TYPES = frozenset(_SCALARS)


# -- times ---------------------------------------------------------------------------------------------


def format_time(value: _dt.datetime | None) -> str | None:
    """``value`` as :data:`TIME_FORMAT` text (aware times are turned into naive UTC first).

    >>> format_time(_dt.datetime(2024, 1, 2, 3, 4, 5))
    '2024-01-02T03:04:05.000000'
    """
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    return value.strftime(TIME_FORMAT)


def parse_time(value: Any) -> _dt.datetime | None:
    """A stored time as ``datetime``: ours, ``isoformat`` text, Sacred's ``{TinyDate}:`` text, or a date.

    >>> parse_time("{TinyDate}:2024-01-02T03:04:05.600000")
    datetime.datetime(2024, 1, 2, 3, 4, 5, 600000)
    >>> parse_time("not a time") is None
    True
    """
    if isinstance(value, _dt.datetime):
        return value
    if isinstance(value, str) and value:
        if value.startswith(_TINYDATE):
            value = value[len(_TINYDATE) :]
        try:
            return _dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def _time(value: Any, native: bool, iso: bool = False) -> Any:
    if isinstance(value, _dt.datetime):
        if native:
            return value
        return _iso(value) if iso else format_time(value)
    return value


def _iso(value: _dt.datetime) -> str:
    """``value`` as ``isoformat`` text, Sacred's FileStorage and S3 form (no microseconds when zero)."""
    if value.tzinfo is not None:
        value = value.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    return value.isoformat()


# -- values --------------------------------------------------------------------------------------------


def encode(value: Any, *, native_times: bool = False, tuples: bool = True) -> Any:
    """``value`` in Sacred's jsonpickle JSON form (see the module docstring); never raises.

    ``tuples=False`` writes tuples as lists (for the experiment and host records, whose entries such as
    ``sources`` are pairs that Sacred stores as lists).

    >>> encode({"t": (1, 2), 3: {"b"}, "raw": b"\\xff"})
    {'t': {'py/tuple': [1, 2]}, 'json://3': {'py/set': ['b']}, 'raw': {'py/b64': '/w=='}}
    """
    return _encode(value, native_times, set(), tuples)


def _encode(value: Any, native: bool, seen: set[int], tuples: bool = True) -> Any:
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is dict or kind is list:
        # the common containers: no cycle bookkeeping unless they nest further containers
        marker = id(value)
        if marker in seen:
            return repr(value)
        seen.add(marker)
        try:
            if kind is list:
                return [v if type(v) in _SCALARS else _encode(v, native, seen, tuples) for v in value]
            return {
                (k if type(k) is str and not k.startswith("json://") else _key(k, native)): (
                    v if type(v) in _SCALARS else _encode(v, native, seen, tuples)
                )
                for k, v in value.items()
            }
        finally:
            seen.discard(marker)
    if isinstance(value, _dt.datetime):
        return value if native else format_time(value)
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return {"py/b64": base64.b64encode(bytes(value)).decode("ascii")}
    numpy_form = _numpy(value, native, seen)
    if numpy_form is not _NOT_NUMPY:
        return numpy_form
    if isinstance(value, (str, int, float)):
        # subclasses such as enums and IntFlag: their plain value
        return str(value) if isinstance(value, str) else int(value) if isinstance(value, int) else float(value)
    if isinstance(value, complex):
        return {"py/object": "builtins.complex", "py/newargs": {"py/tuple": [value.real, value.imag]}}
    marker = id(value)
    if marker in seen:
        return repr(value)
    seen.add(marker)
    try:
        if isinstance(value, Mapping):
            return {(k if type(k) is str and not k.startswith("json://") else _key(k, native)): _encode(v, native, seen, tuples) for k, v in value.items()}
        if isinstance(value, tuple):
            items = [_encode(v, native, seen, tuples) for v in value]
            return {"py/tuple": items} if tuples else items
        if isinstance(value, list):
            return [_encode(v, native, seen, tuples) for v in value]
        if isinstance(value, (set, frozenset)):
            items = list(value)
            try:
                items.sort()
            except TypeError:
                pass
            return {"py/set": [_encode(v, native, seen, tuples) for v in items]}
        tolist = getattr(value, "tolist", None)  # pandas and other array-likes
        if callable(tolist):
            try:
                return _encode(tolist(), native, seen, tuples)
            except Exception:
                return _repr(value)
        return _repr(value)
    finally:
        seen.discard(marker)


def _repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception:
        return f"<{type(value).__name__} object>"


def _key(key: Any, native: bool) -> str:
    """A dict key as text: a string as it is, other keys as jsonpickle's ``json://<JSON>``. A string
    that itself starts with ``json://`` is escaped as jsonpickle escapes it (``json://"json://x"``), so
    it reads back as written."""
    if isinstance(key, str):
        return "json://" + json.dumps(key) if key.startswith("json://") else str(key)
    try:
        return "json://" + json.dumps(_encode(key, False, set()), sort_keys=True)
    except (TypeError, ValueError):
        return str(key)


_NOT_NUMPY = object()


def _numpy(value: Any, native: bool, seen: set[int]) -> Any:
    """Sacred's forms of NumPy arrays and scalars, or ``_NOT_NUMPY`` (numpy is never imported here)."""
    module = type(value).__module__
    if module != "numpy" and not module.startswith("numpy."):
        return _NOT_NUMPY
    dtype = getattr(value, "dtype", None)
    if dtype is None:
        return _NOT_NUMPY
    name = type(value).__name__
    try:
        if name == "ndarray":
            values = value.tolist()
            form = {"py/object": "numpy.ndarray", "dtype": str(dtype), "values": _encode(values, native, seen)}
            shape = getattr(value, "shape", ())
            if 0 in shape and len(shape) > 1:  # the values alone cannot tell an empty axis's place
                form["shape"] = list(shape)
            return form
        item = value.item()
    except Exception:
        return _repr(value)
    return {"py/object": f"numpy.{name}", "dtype": str(dtype), "value": _encode(item, native, seen)}


def plain_number(value: Any) -> Any:
    """A metric value or step as stored: plain numbers as they are, NumPy scalars as their Python value.

    >>> plain_number(3), plain_number("x")
    (3, 'x')
    """
    if type(value) in _SCALARS:
        return value
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "shape", None) == ():
        try:
            return item()
        except Exception:
            return _repr(value)
    return encode(value)


#: what JSON text holds when it may hold a form :func:`decode` changes: the forms themselves, or an
#: escape that could spell them (``py\/``, ``\u0070y/``; our writers and Sacred's never escape so)
_ENCODED_MARKS = ("py/", "json://", "\\/", "\\u00")
_ENCODED_MARKS_BYTES = tuple(m.encode() for m in _ENCODED_MARKS)


def plain_text(text: str | bytes) -> bool:
    """Whether the JSON ``text`` certainly decodes to values :func:`decode` leaves as they are (so a
    reader can skip walking them).

    >>> plain_text('{"lr": 0.1}'), plain_text(b'{"t": {"py/tuple": [1]}}'), plain_text('{"py\\\\/tuple": 1}')
    (True, False, False)
    """
    a, b, c, d = _ENCODED_MARKS_BYTES if isinstance(text, bytes) else _ENCODED_MARKS
    return not (a in text or b in text or c in text or d in text)  # type: ignore[operator]


def decode(value: Any) -> Any:
    """Plain values from a stored document: Sacred's NumPy, tuple and set forms become numbers and lists,
    ``json://`` keys their text. Nothing is ever rebuilt as an object (other ``py/`` forms stay as they are).

    >>> decode({"py/object": "numpy.ndarray", "dtype": "int64", "values": [1, 2]})
    [1, 2]
    >>> decode({"json://3": {"py/tuple": [1, {"py/object": "numpy.float64", "value": 0.5}]}})
    {'3': [1, 0.5]}
    """
    kind = type(value)
    if kind is list:
        if _SCALAR_TYPES.issuperset(map(type, value)):  # a series of plain numbers: one pass in C
            return list(value)
        return [v if type(v) in _SCALARS else decode(v) for v in value]
    if kind is not dict:
        return value
    if len(value) <= 4:
        obj = value.get("py/object")
        if isinstance(obj, str):
            if obj == "numpy.ndarray" and "values" in value:
                return decode(value["values"])
            if obj.startswith("numpy.") and "value" in value:
                return decode(value["value"])
            if obj == "builtins.complex":
                return value
        elif len(value) == 1:
            for tag in ("py/tuple", "py/set"):
                if tag in value and isinstance(value[tag], list):
                    return decode(value[tag])
    return {
        (_plain_key(k) if k.startswith("json://") else k): (v if type(v) in _SCALARS else decode(v))
        for k, v in value.items()
    }


def _plain_key(key: str) -> str:
    text = key[len("json://") :]
    try:
        parsed = json.loads(text)
    except ValueError:
        return key  # not jsonpickle's form: a key that happens to start so
    if isinstance(parsed, str):
        return parsed
    if isinstance(parsed, bool) or parsed is None:
        return json.dumps(parsed)
    return str(decode(parsed)) if not isinstance(parsed, (int, float)) else str(parsed)


# -- text that is not UTF-8 ----------------------------------------------------------------------------


def utf8_text(text: str) -> str:
    """``text`` as valid UTF-8 text, for stores whose strings must be (MongoDB, SQL text columns, S3 keys).

    ``os.fsdecode`` gives undecodable bytes as lone surrogates (``b"\\xff"`` -> ``"\\udcff"``); those become
    the backslash escape of the byte they stand for (``\\xff``), so the name stays readable and tells
    the bytes it came from. JSON stores keep such text exactly (``\\udcff`` escapes) and need no help.

    >>> import os
    >>> utf8_text(os.fsdecode(b"data_\\xff.csv"))
    'data_\\\\xff.csv'
    >>> utf8_text("plain")
    'plain'
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        try:
            return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        except UnicodeEncodeError:  # surrogates that do not stand for bytes
            return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def utf8_bytes(text: str) -> bytes:
    """``text`` as the bytes to write into a plain text file (``cout.txt``): UTF-8, and the original bytes
    where ``os.fsdecode`` put lone surrogates, so reading with ``surrogateescape`` gives ``text`` back."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape") if _byte_surrogates(text) else text.encode(
            "utf-8", "backslashreplace"
        )


def _byte_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return False
    return True


def json_bytes(obj: Any, **dump_kwargs: Any) -> bytes:
    """``json.dumps(obj)`` as UTF-8 bytes; text that is not UTF-8 is written as ``\\udcxx`` escapes, which
    every JSON reader accepts and which read back to the very same text."""
    try:
        return json.dumps(obj, ensure_ascii=False, **dump_kwargs).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(obj, ensure_ascii=True, **dump_kwargs).encode("ascii")


# -- captured output -----------------------------------------------------------------------------------


def cap_output(text: str, limit: int | None, store: str = "this store") -> str:
    """The last ``limit`` bytes (UTF-8) of ``text``, behind a one-line marker when anything was cut.

    >>> cap_output("a" * 10, 4, "MongoDB")
    '[sacredx: 6 earlier characters of captured output were not stored (MongoDB keeps the last 4 bytes)]\\naaaa'
    """
    if not limit or limit <= 0 or len(text) * 4 <= limit:  # cheap first: 4 bytes is the widest char
        return text
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return text
    tail = data[-limit:].decode("utf-8", "ignore")
    dropped = len(text) - len(tail)
    return (
        f"[sacredx: {dropped} earlier characters of captured output were not stored "
        f"({store} keeps the last {limit} bytes)]\n{tail}"
    )


# -- events -> document fields -------------------------------------------------------------------------


#: the last experiment and host records converted: a sweep sends the same objects for thousands of runs
_RECORDS: dict[tuple[str, bool], tuple[Any, dict[str, Any]]] = {}


def _record_of(kind: str, value: Mapping[str, Any] | None, native_times: bool) -> dict[str, Any]:
    """``value`` converted once per object (the engine never changes these records in place); the
    result is shared between documents, so stores copy before they change it."""
    cached = _RECORDS.get((kind, native_times))
    if cached is not None and cached[0] is value:
        return cached[1]
    converted = encode(dict(value or {}), native_times=native_times, tuples=False)
    _RECORDS[(kind, native_times)] = (value, converted)
    return converted


def _begin(
    ex_info: Mapping[str, Any],
    command: str,
    host_info: Mapping[str, Any],
    config: Mapping[str, Any],
    meta_info: Mapping[str, Any],
    native_times: bool,
) -> dict[str, Any]:
    return {
        "experiment": _record_of("experiment", ex_info, native_times),
        "command": command,
        "host": _record_of("host", host_info, native_times),
        "config": encode(dict(config or {}), native_times=native_times),
        "meta": encode(redact_meta(meta_info or {}), native_times=native_times),
    }


def queued(
    ex_info: Mapping[str, Any],
    command: str,
    host_info: Mapping[str, Any],
    queue_time: _dt.datetime,
    config: Mapping[str, Any],
    meta_info: Mapping[str, Any],
    *,
    native_times: bool = False,
) -> dict[str, Any]:
    """The document of a queued run (keys :data:`QUEUED_KEYS`).

    ``meta`` is stored as it comes, as in Sacred: the run puts the queue time into it
    (``meta.queue_time``) before it sends the event; ``queue_time`` itself is not stored here (a store
    with a queue-time column of its own, SQL's, takes it from the event).
    """
    doc = _begin(ex_info, command, host_info, config, meta_info, native_times)
    doc["status"] = "QUEUED"
    return doc


def started(
    ex_info: Mapping[str, Any],
    command: str,
    host_info: Mapping[str, Any],
    start_time: _dt.datetime,
    config: Mapping[str, Any],
    meta_info: Mapping[str, Any],
    *,
    native_times: bool = False,
    iso_times: bool = False,
) -> dict[str, Any]:
    """The document of a run that just started (keys :data:`STARTED_KEYS`).

    ``iso_times=True`` writes the event times as ``isoformat`` text, as Sacred's FileStorage and S3
    observers do (``1999-05-04T03:02:01``); otherwise :data:`TIME_FORMAT`.
    """
    doc = _begin(ex_info, command, host_info, config, meta_info, native_times)
    doc.update(
        status="RUNNING",
        start_time=_time(start_time, native_times, iso_times),
        heartbeat=None,
        resources=[],
        artifacts=[],
        captured_out="",
        info={},
    )
    return doc


def heartbeat(
    info: Mapping[str, Any] | None,
    captured_out: str | None,
    beat_time: _dt.datetime,
    result: Any,
    *,
    native_times: bool = False,
    output_limit: int | None = None,
    store: str = "this store",
    iso_times: bool = False,
) -> dict[str, Any]:
    """The fields a heartbeat changes: ``info``, ``captured_out`` (capped to ``output_limit``), ``heartbeat``,
    ``result``."""
    return {
        "info": encode(dict(info or {}), native_times=native_times),
        "captured_out": cap_output(captured_out or "", output_limit, store),
        "heartbeat": _time(beat_time, native_times, iso_times),
        "result": encode(result, native_times=native_times),
    }


def completed(
    stop_time: _dt.datetime, result: Any, *, native_times: bool = False, iso_times: bool = False
) -> dict[str, Any]:
    """The fields of a completed run's end."""
    return {
        "stop_time": _time(stop_time, native_times, iso_times),
        "result": encode(result, native_times=native_times),
        "status": "COMPLETED",
    }


def interrupted(
    interrupt_time: _dt.datetime, status: str, *, native_times: bool = False, iso_times: bool = False
) -> dict[str, Any]:
    """The fields of an interrupted run's end (``status`` is INTERRUPTED, TIMEOUT or a custom one)."""
    return {"stop_time": _time(interrupt_time, native_times, iso_times), "status": str(status)}


def failed(
    fail_time: _dt.datetime,
    fail_trace: list[str] | str | None,
    *,
    native_times: bool = False,
    iso_times: bool = False,
) -> dict[str, Any]:
    """The fields of a failed run's end. The trace is stored as it comes, as Sacred stores it: the list of
    lines a run sends, or a text given as one string (never split into characters).

    >>> failed(None, "boom\\nagain")["fail_trace"], failed(None, ["a\\n", "b\\n"])["fail_trace"]
    ('boom\\nagain', ['a\\n', 'b\\n'])
    """
    trace: list[str] | str
    if isinstance(fail_trace, str):
        trace = fail_trace
    else:
        trace = [str(line) for line in fail_trace or []]
    return {
        "stop_time": _time(fail_time, native_times, iso_times),
        "status": "FAILED",
        "fail_trace": trace,
    }


def metrics_delta(
    metrics_by_name: Mapping[str, Mapping[str, Any]],
    *,
    native_times: bool = False,
    iso_times: bool = False,
) -> dict[str, dict[str, list[Any]]]:
    """The points of one ``log_metrics`` call: ``{name: {steps, values, timestamps}}``, empty series left out.

    Values and steps are plain numbers (NumPy scalars as their value, as Sacred's metrics logger makes
    them); timestamps in the store's time form.
    """
    out: dict[str, dict[str, list[Any]]] = {}
    for name, series in metrics_by_name.items():
        steps = list(series.get("steps", ()))
        values = list(series.get("values", ()))
        stamps = list(series.get("timestamps", ()))
        if not (steps or values or stamps):
            continue
        if not all(type(v) in _SCALARS for v in steps):
            steps = [plain_number(v) for v in steps]
        if not all(type(v) in _SCALARS for v in values):
            values = [plain_number(v) for v in values]
        out[str(name)] = {
            "steps": steps,
            "values": values,
            "timestamps": [
                _time(t, native_times, iso_times) if isinstance(t, _dt.datetime) else encode(t)
                for t in stamps
            ],
        }
    return out


# -- document -> RunRecord -----------------------------------------------------------------------------


def metric_series(metrics: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, list[Any]]]:
    """Stored metrics as RunRecord holds them: lists of plain values, timestamps as datetimes."""
    return {
        str(name): {
            "steps": decode(list(m.get("steps", []))),
            "values": decode(list(m.get("values", []))),
            "timestamps": parse_timestamps(m.get("timestamps", []), parse_time),
        }
        for name, m in metrics.items()
    }


def to_record(
    doc: Mapping[str, Any], *, store: str, plain: bool = False, **fields: Any
) -> RunRecord:
    """A :class:`RunRecord` from a stored run document (any store's, Sacred's too).

    ``fields`` give what the document does not hold (``config`` in its own file, ``metrics`` in another
    table…) or holds in a store-specific form (``id``, ``artifacts``); values given here are decoded too.
    ``plain`` says the reader knows the document holds none of the forms :func:`decode` changes (its
    text has no ``py/`` and no ``json://``), which saves walking every value.
    """
    return RunRecord(**record_values(doc, store=store, plain=plain, **fields))


def record_values(
    doc: Mapping[str, Any], *, store: str, plain: bool = False, **fields: Any
) -> dict[str, Any]:
    """The field values :func:`to_record` gives its record, as a dict: what a lazy record is filled
    with, without building a record first."""
    meta = doc.get("meta") or {}
    queue_time = doc.get("queue_time")
    if queue_time is None and isinstance(meta, Mapping):
        queue_time = meta.get("queue_time")
    values: dict[str, Any] = {
        "id": str(doc.get("_id")),
        "status": str(doc.get("status") or "UNKNOWN"),
        "experiment": doc.get("experiment") or {},
        "command": doc.get("command") or "main",
        "config": doc.get("config") or {},
        "meta": meta,
        "host": doc.get("host") or {},
        "start_time": doc.get("start_time"),
        "stop_time": doc.get("stop_time"),
        "heartbeat": doc.get("heartbeat"),
        "queue_time": queue_time,
        "result": doc.get("result"),
        "fail_trace": doc.get("fail_trace"),
        "info": doc.get("info") or {},
        "captured_out": doc.get("captured_out") or "",
        "artifacts": list(doc.get("artifacts") or []),
        "resources": [list(r) for r in doc.get("resources") or []],
    }
    if "metrics" not in fields:
        stored = doc.get("metrics")
        values["metrics"] = stored if isinstance(stored, Mapping) else {}
    values.update(fields)
    for key in ("start_time", "stop_time", "heartbeat", "queue_time"):
        values[key] = parse_time(values[key])
    if not plain:
        for key in ("config", "result", "info", "meta", "host", "experiment"):
            values[key] = decode(values[key])
    if isinstance(values["meta"], dict) and "queue_time" in values["meta"]:
        values["meta"]["queue_time"] = parse_time(values["meta"]["queue_time"])
    fail_trace = values["fail_trace"]
    if isinstance(fail_trace, str):  # Sacred's SQL observer joins the lines
        values["fail_trace"] = fail_trace.splitlines(keepends=True)
    values["metrics"] = metric_series(values["metrics"] or {})
    values["store"] = store
    return values
