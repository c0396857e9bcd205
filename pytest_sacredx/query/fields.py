"""Named values of a run: the dotted paths that ``--where``, ``--columns``, ``--sort`` and ``--group-by``
use, and the reducers over a metric's series.

A path starts at one of :data:`ROOTS`. ``config.``, ``meta.``, ``info.``, ``host.``, ``experiment.`` and
``result.`` walk into the stored dicts (a number indexes a list); ``metrics.NAME`` is the last value of a
metric and ``metrics.NAME:REDUCER`` (or ``metrics.NAME.REDUCER``) reduces its series. The computed roots:
``status`` is DEAD for a RUNNING run with a stale heartbeat, ``case`` the pytest node id, ``variant``
what the case varies (the part in brackets, or a script run's ``with`` updates), ``sweep`` the pytest
session's sweep id, ``seed`` the run's seed, ``start``/``stop`` ISO times, ``duration`` seconds. A path
that a run lacks gives ``None``.

>>> from pytest_sacredx.observers.record import RunRecord
>>> rec = RunRecord(id="7", status="COMPLETED", config={"opt": {"lr": 0.1}},
...                 metrics={"loss": {"steps": [0, 1, 2], "values": [3.0, 1.0, 2.0], "timestamps": []}})
>>> [parse_field(p).get(rec) for p in ("config.opt.lr", "metrics.loss", "metrics.loss:min", "seed")]
[0.1, 2.0, 1.0, None]
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import attrs

from ..errors import did_you_mean
from ..observers.record import RunRecord
from .errors import UnknownFieldError

__all__ = [
    "ROOTS",
    "REDUCERS",
    "Field",
    "parse_field",
    "flatten",
    "case_id",
    "variant",
    "sweep_id",
    "seed",
    "iso",
    "duration",
    "reduce_series",
]

#: where a path may start
ROOTS = (
    "id", "experiment", "status", "case", "variant", "sweep", "seed", "start", "stop", "heartbeat",
    "duration", "result", "command", "host", "config", "meta", "info", "metrics", "store",
)
#: roots that walk into a stored dict when a sub-path follows
_DICT_ROOTS = {"config", "meta", "info", "host", "experiment", "result"}
_LAST_N = re.compile(r"(mean|min|max)_last(\d+)\Z")


def _mean(v: Sequence[float]) -> float | None:
    return math.fsum(v) / len(v) if v else None


def _std(v: Sequence[float]) -> float | None:
    if len(v) < 2:
        return 0.0 if v else None
    m = math.fsum(v) / len(v)
    return math.sqrt(math.fsum((x - m) ** 2 for x in v) / (len(v) - 1))


#: reducer name -> function of (steps, numeric values); ``mean_lastN``/``min_lastN``/``max_lastN`` too
REDUCERS: dict[str, Callable[[list[Any], list[float]], Any]] = {
    "last": lambda s, v: v[-1] if v else None,
    "first": lambda s, v: v[0] if v else None,
    "min": lambda s, v: min(v) if v else None,
    "max": lambda s, v: max(v) if v else None,
    "mean": lambda s, v: _mean(v),
    "std": lambda s, v: _std(v),
    "sum": lambda s, v: math.fsum(v) if v else None,
    "count": lambda s, v: len(v),
    "step": lambda s, v: s[-1] if s else None,
    "argmin": lambda s, v: s[v.index(min(v))] if v and len(s) == len(v) else None,
    "argmax": lambda s, v: s[v.index(max(v))] if v and len(s) == len(v) else None,
}
_REDUCER_NAMES = (*REDUCERS, "mean_lastN", "min_lastN", "max_lastN")


def is_reducer(name: str) -> bool:
    return name in REDUCERS or _LAST_N.match(name) is not None


def reduce_series(series: Mapping[str, Any] | None, reducer: str = "last") -> Any:
    """One number from a metric's ``{"steps", "values"}`` (non-numbers and NaN are ignored).

    >>> reduce_series({"steps": [0, 1, 2], "values": [4.0, 2.0, 3.0]}, "mean_last2")
    2.5
    """
    if not series:
        return None
    raw = series.get("values") or []
    if reducer == "last":  # the last logged value, whatever it is
        return raw[-1] if raw else None
    steps = list(series.get("steps") or [])
    values = [float(x) for x in raw if _is_number(x) and not math.isnan(x)]
    m = _LAST_N.match(reducer)
    if m:
        tail = values[-int(m.group(2)):] if int(m.group(2)) else []
        return {"mean": _mean, "min": lambda t: min(t) if t else None,
                "max": lambda t: max(t) if t else None}[m.group(1)](tail)
    return REDUCERS[reducer](steps, values)


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


# -- computed values -----------------------------------------------------------------------------------


def _pytest_meta(rec: RunRecord) -> Mapping[str, Any]:
    meta: Any = rec.meta
    meta = meta.get("pytest") if meta.__class__ is dict or isinstance(meta, Mapping) else None
    return meta if meta.__class__ is dict or isinstance(meta, Mapping) else _EMPTY


_EMPTY: Mapping[str, Any] = MappingProxyType({})


def case_id(rec: RunRecord) -> str | None:
    """The pytest case (node id as collected) that recorded the run, or None for a script run."""
    pm = _pytest_meta(rec)
    value = pm.get("case_id") or pm.get("nodeid")
    return str(value) if value else None


def variant(rec: RunRecord) -> str | None:
    """What this run varies: the bracketed part of its case id, else its ``with`` updates."""
    case = case_id(rec)
    if case and case.endswith("]") and "[" in case:
        return case[case.index("[") + 1 : -1]
    updates = rec.meta.get("config_updates") if isinstance(rec.meta, Mapping) else None
    named = rec.meta.get("named_configs") if isinstance(rec.meta, Mapping) else None
    parts = [str(n) for n in named or []]
    if isinstance(updates, Mapping):
        parts += [f"{k}={v}" for k, v in sorted(flatten(updates).items())]
    return ",".join(parts) or None


def sweep_id(rec: RunRecord) -> str | None:
    value = _pytest_meta(rec).get("sweep_id")
    return str(value) if value else None


def seed(rec: RunRecord) -> Any:
    """The run's seed: ``config.seed`` (Sacred's), else the pytest case seed."""
    value = rec.config.get("seed") if isinstance(rec.config, Mapping) else None
    return value if value is not None else _pytest_meta(rec).get("case_seed")


def iso(when: _dt.datetime | None) -> str | None:
    return when.isoformat(timespec="seconds") if isinstance(when, _dt.datetime) else None


def duration(rec: RunRecord) -> float | None:
    if rec.start_time is None:
        return None
    end = rec.stop_time or rec.heartbeat
    return None if end is None else round((end - rec.start_time).total_seconds(), 3)


def flatten(value: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts as one dict with dotted keys (lists and other values stay as they are).

    >>> flatten({"a": 1, "opt": {"lr": 0.1, "m": {}}})
    {'a': 1, 'opt.lr': 0.1, 'opt.m': {}}
    """
    out: dict[str, Any] = {}
    for key, item in value.items():
        name = f"{prefix}{key}"
        # the plain types first: the Mapping check is an ABC lookup, per key of every listed run
        if item.__class__ not in _PLAIN and isinstance(item, Mapping) and item:
            out.update(flatten(item, name + "."))
        else:
            out[name] = item
    return out


_PLAIN = frozenset({str, int, float, bool, type(None), list})


def _walk(value: Any, parts: Sequence[str]) -> Any:
    for part in parts:
        if value.__class__ is dict or isinstance(value, Mapping):
            if part in value:
                value = value[part]
                continue
            return None
        if isinstance(value, (list, tuple)) and part.lstrip("-").isdigit():
            index = int(part)
            value = value[index] if -len(value) <= index < len(value) else None
            continue
        return None
    return value


# -- fields --------------------------------------------------------------------------------------------


@attrs.frozen
class Field:
    """A parsed path; ``get(record)`` reads it (``now`` decides which RUNNING runs are DEAD)."""

    text: str
    root: str
    parts: tuple[str, ...] = ()
    metric: str | None = None
    reducer: str = "last"

    def get(self, rec: RunRecord, now: _dt.datetime | None = None) -> Any:
        root = self.root
        if root == "metrics":
            assert self.metric is not None
            if self.reducer == "last":  # a lazy record may know it without reading the series
                return rec.final_metrics().get(self.metric)
            return reduce_series(rec.metrics.get(self.metric), self.reducer)
        if root in _DICT_ROOTS and self.parts:
            return _walk(getattr(rec, root), self.parts)
        if root == "status":
            return rec.effective_status(now) if now is not None else rec.effective_status()
        if root == "experiment":
            return rec.experiment_name or None
        if root == "host":
            return rec.host.get("hostname") if isinstance(rec.host, Mapping) else None
        if root in ("config", "meta", "info"):
            return getattr(rec, root)
        return _COMPUTED[root](rec)

    def getter(self) -> Callable[[RunRecord, _dt.datetime | None], Any]:
        """:meth:`get` for this field, specialised once: a table of 10,000 runs reads 300,000 cells.

        >>> getter = parse_field("config.opt.lr").getter()
        >>> getter(RunRecord(id="1", status="COMPLETED", config={"opt": {"lr": 0.1}}), None)
        0.1
        """
        root, parts = self.root, self.parts
        if root in ("config", "meta", "info") and len(parts) == 1:
            key = parts[0]

            def one_key(rec: RunRecord, now: _dt.datetime | None) -> Any:
                value = getattr(rec, root)
                if value.__class__ is dict:
                    return value.get(key)
                return _walk(value, parts)

            return one_key
        if root in _COMPUTED and root not in _DICT_ROOTS:
            compute = _COMPUTED[root]
            return lambda rec, now: compute(rec)
        return self.get


_COMPUTED: dict[str, Callable[[RunRecord], Any]] = {
    "id": lambda r: str(r.id),
    "case": case_id,
    "variant": variant,
    "sweep": sweep_id,
    "seed": seed,
    "start": lambda r: iso(r.start_time or r.queue_time),
    "stop": lambda r: iso(r.stop_time),
    "heartbeat": lambda r: iso(r.heartbeat),
    "duration": duration,
    "result": lambda r: r.result,
    "command": lambda r: r.command,
    "store": lambda r: r.store,
}


def parse_field(text: str, what: str = "field") -> Field:
    """The :class:`Field` a path names; :class:`UnknownFieldError` with a did-you-mean otherwise.

    >>> parse_field("metrics.loss.min")
    Field(text='metrics.loss:min', root='metrics', parts=(), metric='loss', reducer='min')
    >>> parse_field("stauts")
    Traceback (most recent call last):
    ...
    pytest_sacredx.query.errors.UnknownFieldError: unknown field 'stauts'; a path starts with one of id, experiment, status, case, variant, sweep, seed, start, stop, heartbeat, duration, result, command, host, config, meta, info, metrics, store. Did you mean 'status'?
    """
    raw = text.strip()
    head, colon, reducer = raw.partition(":")
    root, _, rest = head.partition(".")
    if root not in ROOTS or not head or head.endswith("."):
        hint = did_you_mean(root, ROOTS)
        if hint and rest:
            hint = hint.replace("'?", f".{rest}'?")
        raise UnknownFieldError(
            f"unknown {what} {raw!r}; a path starts with one of {', '.join(ROOTS)}." + hint
        )
    if colon and root != "metrics":
        raise UnknownFieldError(
            f"{what} {raw!r}: a reducer (:{reducer}) applies to a metric only, e.g. metrics.loss:{reducer}"
        )
    if root == "metrics":
        if not rest:
            raise UnknownFieldError(f"{what} {raw!r} names no metric; write metrics.NAME[:REDUCER].")
        name = rest
        if not colon:
            base, dot, last = rest.rpartition(".")
            if dot and base and is_reducer(last):
                name, reducer = base, last
        reducer = reducer or "last"
        if not is_reducer(reducer):
            raise UnknownFieldError(
                f"{what} {raw!r}: unknown reducer {reducer!r}; known: {', '.join(_REDUCER_NAMES)}."
                + did_you_mean(reducer, REDUCERS)
            )
        shown = f"metrics.{name}" + ("" if reducer == "last" and not colon else f":{reducer}")
        return Field(shown, "metrics", (), name, reducer)
    if rest and root not in _DICT_ROOTS:
        raise UnknownFieldError(
            f"{what} {raw!r}: {root} has no parts; paths into stored dicts start with "
            f"{', '.join(sorted(_DICT_ROOTS))}." + did_you_mean(head, _known_like(head))
        )
    return Field(head, root, tuple(rest.split(".")) if rest else ())


def _known_like(head: str) -> list[str]:
    return [f"{r}.{head.split('.', 1)[1]}" for r in _DICT_ROOTS if "." in head]


def check_known(
    fields: Iterable[Field], records: Sequence[RunRecord], what: str = "field"
) -> None:
    """Refuse a ``config.``/``metrics.`` path that no listed run has: almost always a typo.

    Paths into ``meta``, ``info`` and ``host`` are free (``not meta.pytest.worker`` asks for runs
    *without* the key). Nothing is checked against an empty selection.
    """
    if not records:
        return
    config_keys: set[str] | None = None
    metric_names: set[str] | None = None
    for field in fields:
        if field.root == "config" and field.parts:
            if config_keys is None:
                config_keys = _config_paths(records)
            path = ".".join(field.parts)
            if path not in config_keys and not _indexes_list(records, field):
                raise UnknownFieldError(
                    f"unknown {what} {field.text!r}: no listed run has config key {path!r}."
                    + did_you_mean(path, config_keys).replace("'", "'config.", 1)
                )
        elif field.root == "metrics":
            if metric_names is None:
                metric_names = {name for rec in records for name in rec.metric_names()}
            if field.metric not in metric_names:
                known = ", ".join(sorted(metric_names)[:10]) or "none"
                raise UnknownFieldError(
                    f"unknown {what} {field.text!r}: no listed run logged metric {field.metric!r} "
                    f"(metrics: {known})." + did_you_mean(field.metric or "", metric_names)
                )


_PATHS_CACHE: list[Any] = [None, None]


def _config_paths(records: Sequence[RunRecord]) -> set[str]:
    """Every config path of the runs (prefixes too: ``opt`` of ``opt.lr``); the last answer is kept,
    as ``--where``, ``--columns`` and ``--sort`` ask about the same runs."""
    cached = _PATHS_CACHE[0]
    if cached is not None and cached[0] is records and cached[1] == len(records):
        return _PATHS_CACHE[1]  # type: ignore[no-any-return]
    paths: set[str] = set()
    seen_keys: set[tuple[str, ...]] = set()
    for rec in records:
        config = rec.config
        keys = tuple(config)
        if keys in seen_keys and (_PLAIN.issuperset(map(type, config.values())) or all(
            v.__class__ in _PLAIN or not isinstance(v, Mapping) for v in config.values()
        )):
            continue  # a sweep's runs share their keys: flatten each shape once
        seen_keys.add(keys)
        flat = flatten(rec.config)
        paths.update(flat)
        for name in flat:
            parts = name.split(".")
            paths.update(".".join(parts[:i]) for i in range(1, len(parts)))
    _PATHS_CACHE[:] = [(records, len(records)), paths]
    return paths


def _indexes_list(records: Sequence[RunRecord], field: Field) -> bool:
    return any(field.get(rec) is not None for rec in records)
