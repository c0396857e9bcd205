"""Run records whose fields are read from the store only when first asked for: :class:`LazyRunRecord`.

A store of 100,000 runs holds hundreds of megabytes of captured output and metric series, but ``sacredx
runs --last 10`` needs ten runs, and a listing of ids, statuses and configs needs none of the bulky parts.
A reader therefore hands out ``LazyRunRecord`` objects: a ``RunRecord`` in every respect (same fields,
equality, ``attrs.asdict``, pickling), built from a *loader* the reader provides. Reading any field loads
the run's *light* parts (everything but ``captured_out`` and ``metrics``) once; reading ``captured_out``
or ``metrics`` loads the whole run once. Fields known up front (``id`` in a folder store, ``store``) are
given directly and never cost a load. A store that keeps each bulky field apart (a run folder's
``cout.txt`` and ``metrics.json``) gives a *heavy loader* too: ``heavy(name)`` reads that one field, so
the final metrics of a run never read its captured output, and the other way round. A loader may add
:data:`FINAL_METRICS` to the light parts (the last value of every metric, when the store can tell it
without reading the series): ``final_metrics()`` and ``metric_names()`` then answer without loading the
metrics. A reader may also give a *config peek*, ``peek()``: the run's config alone, read more cheaply
than the light parts (a ``--where`` over the config of 10,000 runs reads every config, but the other
light fields only of the runs it keeps); it returns :data:`NOT_PEEKED` to have the light parts loaded
instead.

>>> calls = []
>>> def load(full):
...     calls.append(full)
...     light = {"status": "COMPLETED", "config": {"lr": 0.1}}
...     return {**light, "metrics": {"loss": {"steps": [0], "values": [1.0], "timestamps": []}}} if full else light
>>> rec = LazyRunRecord.lazy(load, id="7", store="file:runs")
>>> rec.id, calls
('7', [])
>>> rec.status, rec.config, calls
('COMPLETED', {'lr': 0.1}, [False])
>>> rec.final_metrics(), calls
({'loss': 1.0}, [False, True])
>>> rec == RunRecord(id="7", status="COMPLETED", config={"lr": 0.1}, store="file:runs",
...                  metrics={"loss": {"steps": [0], "values": [1.0], "timestamps": []}})
True
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs

from .record import RunRecord

__all__ = [
    "LazyRunRecord", "HEAVY_FIELDS", "FINAL_METRICS", "NOT_PEEKED", "Loader", "HeavyLoader", "gc_paused",
]

#: the fields that hold a run's bulk (and are loaded only when asked for)
HEAVY_FIELDS = frozenset({"captured_out", "metrics"})
#: the key of the light values that gives ``{metric name: last value}`` (every metric, none empty), or
#: a function without arguments that returns it (or None) when first asked
FINAL_METRICS = "final_metrics"
#: ``loader(full)``: the run's field values; all of them when ``full``, else at least the light ones
Loader = Callable[[bool], Mapping[str, Any]]
#: ``heavy(name)``: the value of one of the HEAVY_FIELDS, read on its own
HeavyLoader = Callable[[str], Any]
#: what a config peek returns when it cannot tell the config alone (the light parts are loaded then)
NOT_PEEKED: Any = type("NotPeeked", (), {"__repr__": lambda self: "NOT_PEEKED"})()

# what a record has loaded, as bits: the light fields, then each heavy field
_NONE, _LIGHT, _FULL = 0, 1, 7
_BIT = {"captured_out": 2, "metrics": 4}
_FIELD_OF_BIT = {bit: name for name, bit in _BIT.items()}
_SLOTS = {f.name: RunRecord.__dict__[f.name] for f in attrs.fields(RunRecord)}


class LazyRunRecord(RunRecord):
    """A :class:`RunRecord` that loads its fields on first access (see the module docstring)."""

    __slots__ = ("_loader", "_heavy", "_level", "_given", "_finals", "_peek")
    _loader: Loader
    _heavy: HeavyLoader | None
    _level: int
    _given: frozenset[str]
    _finals: Any  # a Mapping, None, or a function that gives one of them
    _peek: Callable[[], Any] | None

    @classmethod
    def lazy(
        cls,
        loader: Loader,
        heavy: HeavyLoader | None = None,
        peek: Callable[[], Any] | None = None,
        **known: Any,
    ) -> LazyRunRecord:
        """A record that calls ``loader`` when a field not in ``known`` is first read (``heavy``, when
        given, for each heavy field on its own; ``peek``, when given, for the config while the light
        parts are not loaded)."""
        self = object.__new__(cls)
        _set_loader(self, loader)
        _set_heavy(self, heavy)
        _set_peek(self, peek)
        _set_level(self, _NONE)
        names = tuple(known)
        given = _GIVEN.get(names)
        if given is None:
            given = _GIVEN[names] = frozenset(names)
        _set_given(self, given)
        _set_finals(self, None)
        for name, value in known.items():
            _SLOTS[name].__set__(self, value)
        return self

    def _load(self, level: int) -> None:
        heavy = self._heavy
        if heavy is not None and level != _LIGHT:  # one heavy field, read apart
            name = _FIELD_OF_BIT[level]
            _SLOTS[name].__set__(self, heavy(name))
            object.__setattr__(self, "_level", self._level | level)
            return
        full = level != _LIGHT
        values = self._loader(full)
        done = self._level
        key = (self._given, full, done)
        plan = _PLANS.get(key)
        if plan is None:  # the slots this load fills: one list per kind of record and load
            plan = _PLANS[key] = [
                (name, slot) for name, slot in _SLOTS.items()
                if name not in key[0] and not (name in _BIT and (not full or done & _BIT[name]))
            ]
        for name, slot in plan:
            value = values.get(name, _MISSING)
            slot.__set__(self, _default(name) if value is _MISSING else value)
        _set_finals(self, None if full else values.get(FINAL_METRICS))
        _set_peek(self, None)
        object.__setattr__(self, "_level", _FULL if full else done | _LIGHT)

    def _peeked(self) -> bool:
        """Fill ``config`` from the peek, if there is one and it can tell (the light parts then leave
        it as it is)."""
        peek = self._peek
        if peek is None:
            return False
        _set_peek(self, None)
        value = peek()
        if value is NOT_PEEKED:
            return False
        _SLOTS["config"].__set__(self, value)
        given = self._given
        more = _GIVEN_PLUS.get(given)
        if more is None:
            more = _GIVEN_PLUS[given] = given | {"config"}
        _set_given(self, more)
        return True

    def _light_finals(self) -> Mapping[str, Any] | None:
        """The loader's final values while the metrics are not loaded (None: ask the metrics)."""
        level = getattr(self, "_level", _FULL)
        if level & _BIT["metrics"]:  # the series are loaded: they answer
            return None
        if not level & _LIGHT:
            if self._heavy is not None and "config" not in self._given:
                return None  # nothing read yet: the metrics alone are cheaper than the light parts
            self._load(_LIGHT)  # (a run whose config was peeked: a listing shows the rest anyway)
        finals = self._finals
        if callable(finals):  # the store reads them when first asked for (and only then)
            finals = finals()
            _set_finals(self, finals)
        return finals

    def final_metrics(self) -> dict[str, Any]:
        finals = self._light_finals()
        return dict(finals) if finals is not None else super().final_metrics()

    def metric_names(self) -> list[str]:
        finals = self._light_finals()
        return list(finals) if finals is not None else super().metric_names()

    def __eq__(self, other: object) -> bool:
        # attrs compares only objects of one class; a lazy record equals the plain record it stands for
        if not isinstance(other, RunRecord):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in _SLOTS)

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = RunRecord.__hash__

    @property
    def is_loaded(self) -> bool:
        """Whether every field has been read from the store (``metrics`` and ``captured_out`` too)."""
        return getattr(self, "_level", _FULL) == _FULL


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a listing builds its records: 100,000 records and their index
    entries hold no cycles, yet allocating them triggers collections that cost more than the records."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _default(name: str) -> Any:
    field = attrs.fields_dict(RunRecord)[name]
    default = field.default
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        return default.factory()  # type: ignore[union-attr]
    if default is attrs.NOTHING:
        raise KeyError(f"the store gave no {name!r} for a run")
    return default


def _lazy_property(name: str) -> property:
    slot = _SLOTS[name]
    level = _BIT.get(name, _LIGHT)

    peeks = name == "config"

    def get(self: LazyRunRecord) -> Any:
        # records made by __init__ (attrs.evolve, unpickling) have no _level: they are complete
        if (not getattr(self, "_level", _FULL) & level and name not in self._given
                and not (peeks and self._peeked())):
            self._load(level)
        return slot.__get__(self, type(self))

    def put(self: LazyRunRecord, value: Any) -> None:  # only reachable through object.__setattr__
        slot.__set__(self, value)

    return property(get, put, doc=f"the run's {name} (read from the store on first access)")


_GIVEN: dict[tuple[str, ...], frozenset[str]] = {}
_GIVEN_PLUS: dict[frozenset[str], frozenset[str]] = {}  # the given fields and config, once peeked
_PLANS: dict[tuple[frozenset[str], bool, int], list[tuple[str, Any]]] = {}
_MISSING = object()
_set_loader = LazyRunRecord._loader.__set__  # type: ignore[attr-defined]
_set_heavy = LazyRunRecord._heavy.__set__  # type: ignore[attr-defined,union-attr]
_set_level = LazyRunRecord._level.__set__  # type: ignore[attr-defined]
_set_given = LazyRunRecord._given.__set__  # type: ignore[attr-defined]
_set_finals = LazyRunRecord._finals.__set__  # type: ignore[attr-defined,union-attr]
_set_peek = LazyRunRecord._peek.__set__  # type: ignore[attr-defined,union-attr]

for _name in _SLOTS:
    setattr(LazyRunRecord, _name, _lazy_property(_name))
del _name
