"""The one documented conversion of run values (config, result, info, metrics) into stored form.

Sacred pushes values through jsonpickle, which writes ``py/object`` noise into run.json and crashes the
observer on anything it cannot encode (leaving the run RUNNING forever). We convert instead:

- ``None``, ``bool``, ``int``, ``float`` (including NaN/inf) and ``str`` stay as they are;
- mappings become dicts with string keys; lists, tuples and sets become lists (sets sorted when possible);
- anything with ``tolist()`` (NumPy scalars and arrays, pandas objects) becomes its ``tolist()``;
- ``datetime`` becomes an ISO string, unless ``keep_datetime`` (for stores with a native date type);
- ``bytes`` are decoded as UTF-8 when possible; everything else, and cycles, become ``repr(value)``.

Conversion never raises, so serialization can never decide a run's final status.

>>> to_jsonable({"a": (1, 2), 3: {1.5}})
{'a': [1, 2], '3': [1.5]}
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from typing import Any

__all__ = ["to_jsonable"]

_SCALARS = (str, int, float, bool, type(None))


def to_jsonable(value: Any, *, keep_datetime: bool = False) -> Any:
    """Return a JSON-representable copy of ``value`` (see the module docstring for the rules)."""
    return _convert(value, keep_datetime, set())


def _convert(value: Any, keep_dt: bool, seen: set[int]) -> Any:
    if type(value) in _SCALARS:
        return value
    if isinstance(value, (str, int, float)) and not hasattr(value, "tolist"):
        # str/int/float subclasses such as enums (bool is exact, so it returned above)
        return str(value) if isinstance(value, str) else int(value) if isinstance(value, int) else float(value)
    if isinstance(value, _dt.datetime):
        return value if keep_dt else value.isoformat()
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return repr(value)
    marker = id(value)
    if marker in seen:
        return repr(value)
    seen.add(marker)
    try:
        if isinstance(value, Mapping):
            return {str(k): _convert(v, keep_dt, seen) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [_convert(v, keep_dt, seen) for v in value]
        if isinstance(value, (set, frozenset)):
            items = list(value)
            try:
                items.sort()
            except TypeError:
                pass
            return [_convert(v, keep_dt, seen) for v in items]
        tolist = getattr(value, "tolist", None)
        if callable(tolist):
            try:
                return _convert(tolist(), keep_dt, seen)
            except Exception:
                return repr(value)
        return repr(value)
    finally:
        seen.discard(marker)
