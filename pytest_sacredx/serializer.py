"""Sacred's ``sacred.serializer`` names: ``flatten``, ``restore`` and ``json`` (``encode``/``decode``).

:func:`flatten` writes Sacred's jsonpickle JSON forms, the ones our stores write
(:func:`pytest_sacredx.observers.document.encode`): ``{"py/tuple": [...]}``, ``{"py/set": [...]}``,
``{"py/b64": ...}``, ``"json://1"`` for a key that is not a string, ``{"py/object": "numpy.ndarray",
"dtype": ..., "values": [...]}`` for an array, and a column-wise form for pandas DataFrames and Series.

:func:`restore` rebuilds exactly that closed set — tuples, sets, bytes, non-string keys, complex numbers,
NumPy arrays and scalars, pandas DataFrames and Series — and nothing else. Sacred's ``restore`` is
jsonpickle's decoder, which imports any module and calls any callable a ``py/object``, ``py/reduce`` or
``py/function`` entry names, so a stored file could run code when read; here every other ``py/`` form is
returned as the plain dict it is (see ``COMPAT.md``). NumPy and pandas are imported only when a value
needs them.

>>> from pytest_sacredx.serializer import json, flatten, restore
>>> flatten({1: "one", "t": (1, "two")})
{'json://1': 'one', 't': {'py/tuple': [1, 'two']}}
>>> restore(flatten({1: "one", "t": (1, "two")}))
{1: 'one', 't': (1, 'two')}
>>> json.decode(json.encode({"lr": 0.1, "layers": (2, 3)}))
{'lr': 0.1, 'layers': (2, 3)}
>>> restore({"py/reduce": [{"py/function": "os.system"}, {"py/tuple": ["echo hi"]}]})
{'py/reduce': [{'py/function': 'os.system'}, ('echo hi',)]}
"""

from __future__ import annotations

import base64
import json as _json
from typing import Any

from .observers.document import encode

__all__ = ["flatten", "restore", "json"]

_DATAFRAME = "pandas.core.frame.DataFrame"
_SERIES = "pandas.core.series.Series"


def flatten(obj: Any) -> Any:
    """``obj`` in Sacred's jsonpickle JSON form (plain JSON values are returned as they are)."""
    return _flatten(obj)


def _flatten(obj: Any) -> Any:
    module = type(obj).__module__
    if module == "pandas" or module.startswith("pandas."):
        name = type(obj).__name__
        if name == "DataFrame":
            return {
                "py/object": _DATAFRAME,
                "columns": _flatten(list(obj.columns)),
                "index": _flatten(list(obj.index)),
                "dtypes": [str(t) for t in obj.dtypes],
                "values": [_flatten(obj.iloc[:, i].tolist()) for i in range(obj.shape[1])],
            }
        if name == "Series":
            return {
                "py/object": _SERIES,
                "name": _flatten(obj.name),
                "index": _flatten(list(obj.index)),
                "dtype": str(obj.dtype),
                "values": _flatten(obj.tolist()),
            }
    if isinstance(obj, dict):
        return {_key(k): _flatten(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_flatten(v) for v in obj]
    if isinstance(obj, tuple):
        return {"py/tuple": [_flatten(v) for v in obj]}
    return encode(obj)


def _key(key: Any) -> str:
    """A key as the store writes it: text as it is, anything else ``json://<JSON>``."""
    return key if isinstance(key, str) and not key.startswith("json://") else next(iter(encode({key: None})))


def restore(flat: Any) -> Any:
    """The values :func:`flatten` gave back as Python objects; forms outside the closed set stay dicts.

    >>> restore([{"py/set": [1, 2]}, {"py/b64": "/w=="}])
    [{1, 2}, b'\\xff']
    """
    if isinstance(flat, list):
        return [restore(v) for v in flat]
    if not isinstance(flat, dict):
        return flat
    if len(flat) == 1:
        ((tag, inner),) = flat.items()
        if tag == "py/tuple" and isinstance(inner, list):
            return tuple(restore(v) for v in inner)
        if tag == "py/set" and isinstance(inner, list):
            items = [restore(v) for v in inner]
            try:
                return set(items)
            except TypeError:
                return {"py/set": items}
        if tag == "py/b64" and isinstance(inner, str):
            try:
                return base64.b64decode(inner, validate=True)
            except ValueError:
                return flat
    obj = flat.get("py/object")
    if isinstance(obj, str):
        rebuilt = _restore_object(obj, flat)
        if rebuilt is not _REFUSED:
            return rebuilt
    return {_restore_key(k): restore(v) for k, v in flat.items()}


_REFUSED = object()


def _restore_key(key: str) -> Any:
    if not key.startswith("json://"):
        return key
    try:
        value = restore(_json.loads(key[len("json://") :]))
        hash(value)
    except (ValueError, TypeError):
        return key
    return value


def _restore_object(obj: str, flat: dict[str, Any]) -> Any:
    """One of the known ``py/object`` forms, rebuilt; ``_REFUSED`` for anything else (or a broken form)."""
    try:
        if obj == "builtins.complex":
            re, im = restore(flat["py/newargs"])
            return complex(re, im)
        if obj == "numpy.ndarray" and "values" in flat and isinstance(flat.get("dtype"), str):
            return _ndarray(flat)
        if obj.startswith("numpy.") and "value" in flat and isinstance(flat.get("dtype"), str):
            import numpy as np

            dtype = np.dtype(flat["dtype"])
            if dtype.hasobject:
                return _REFUSED
            return dtype.type(flat["value"])
        if obj == _DATAFRAME and {"columns", "index", "dtypes", "values"} <= set(flat):
            return _dataframe(flat)
        if obj == _SERIES and {"index", "dtype", "values"} <= set(flat):
            import pandas as pd

            return pd.Series(
                restore(flat["values"]),
                index=_index(flat["index"]),
                dtype=flat["dtype"],
                name=restore(flat.get("name")),
            )
    except (ImportError, KeyError, TypeError, ValueError):
        return _REFUSED
    return _REFUSED


def _ndarray(flat: dict[str, Any]) -> Any:
    import numpy as np

    dtype = np.dtype(flat["dtype"])
    values = flat["values"]
    shape = flat.get("shape")
    if isinstance(values, str):  # jsonpickle's binary form: base64 of the raw buffer, with its shape
        if dtype.hasobject or not isinstance(shape, list):
            raise ValueError("an object array cannot come from a buffer")
        return np.frombuffer(base64.b64decode(values), dtype=dtype).reshape(shape).copy()
    array = np.array(restore(values), dtype=None if dtype.hasobject else dtype)
    if isinstance(shape, list):
        array = array.reshape(shape)
    return array


def _index(labels: Any) -> Any:
    import pandas as pd

    return pd.Index(restore(labels), tupleize_cols=False)


def _dataframe(flat: dict[str, Any]) -> Any:
    import pandas as pd

    columns = restore(flat["columns"])
    data = {
        i: pd.Series(restore(values), dtype=dtype)
        for i, (values, dtype) in enumerate(zip(flat["values"], flat["dtypes"], strict=True))
    }
    frame = pd.DataFrame(data)
    frame.columns = pd.Index(columns, tupleize_cols=False)
    frame.index = _index(flat["index"])
    return frame


class _JSON:
    """Sacred's ``serializer.json``: ``encode(obj) -> str`` and ``decode(text) -> obj``."""

    @staticmethod
    def encode(obj: Any, **kwargs: Any) -> str:
        return _json.dumps(flatten(obj), **kwargs)

    @staticmethod
    def decode(text: str, **kwargs: Any) -> Any:
        return restore(_json.loads(text, **kwargs))


json = _JSON()
