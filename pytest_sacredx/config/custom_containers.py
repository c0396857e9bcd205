"""The config's special containers: read-only views for captured functions, and the dogmatic ones.

**Read-only views** (``ReadOnlyDict``, ``ReadOnlyList``, ``make_read_only``) are real dicts and lists (``isinstance`` checks, JSON, ``yaml.safe_dump`` work), every mutation raises
:class:`ReadOnlyConfigError` naming the key, and ``copy``, ``deepcopy`` and ``pickle`` give plain mutable
containers, so handing the config to multiprocessing or ray just works.

>>> cfg = make_read_only({"model": {"layers": [64, 64]}})
>>> cfg["model"]["units"] = 3
Traceback (most recent call last):
...
pytest_sacredx.errors.ReadOnlyConfigError: The configuration is read-only in a captured function! (tried to set 'model.units')
>>> import copy; type(copy.deepcopy(cfg)["model"]["layers"])
<class 'list'>

**Dogmatic containers** hold *fixed* values (command-line updates) that assignments cannot change:
:class:`DogmaticDict` keeps its fixed entries whatever is assigned, and records what the assignments
tried (``modified``, ``typechanges``, ``fallback_writes``); :meth:`DogmaticDict.revelation` adds the fixed
entries nobody assigned and names them. Config dicts and config scopes use it to lay updates over a
config with Sacred's markers. :class:`DogmaticList` is a list that ignores every change.

>>> d = DogmaticDict(fixed={"lr": 1.0, "opt": {"m": 0.5}})
>>> d["lr"] = 0.1                    # ignored: lr is fixed
>>> d["opt"] = {"m": 0.9, "beta": 2}  # merged: the fixed entry wins
>>> sorted(d.revelation()), d["lr"], d["opt"], sorted(d.modified)
([], 1.0, {'m': 0.5, 'beta': 2}, ['lr', 'opt', 'opt.m'])
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

from ..errors import ReadOnlyConfigError
from .paths import join_paths

__all__ = [
    "DogmaticDict",
    "DogmaticList",
    "ReadOnlyDict",
    "ReadOnlyList",
    "fallback_dict",
    "is_different",
    "make_read_only",
    "type_changed",
]

_MESSAGE = "The configuration is read-only in a captured function!"


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


class ReadOnlyDict(dict[Any, Any]):
    """A dict that refuses changes; its copies are plain dicts."""

    __slots__ = ("_path",)

    def __init__(self, *args: Any, _path: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._path = _path

    def _refuse(self, key: Any = None, action: str = "set") -> NoReturn:
        if key is None:
            where = f" (tried to change '{self._path}')" if self._path else ""
        else:
            where = f" (tried to {action} {_join(self._path, key)!r})"
        raise ReadOnlyConfigError(_MESSAGE + where)

    def __setitem__(self, key: Any, value: Any) -> NoReturn:
        self._refuse(key)

    def __delitem__(self, key: Any) -> NoReturn:
        self._refuse(key, "delete")

    def setdefault(self, key: Any, default: Any = None) -> NoReturn:
        self._refuse(key)

    def pop(self, key: Any, *default: Any) -> NoReturn:
        self._refuse(key, "delete")

    def update(self, *args: Any, **kwargs: Any) -> NoReturn:
        keys = list(dict(*args, **kwargs))
        self._refuse(keys[0] if len(keys) == 1 else None)

    def popitem(self) -> NoReturn:
        self._refuse()

    def clear(self) -> NoReturn:
        self._refuse()

    def __ior__(self, other: Any) -> NoReturn:  # type: ignore[misc]
        self._refuse()

    def __copy__(self) -> dict[Any, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[Any, Any]:
        return {copy.deepcopy(k, memo): copy.deepcopy(v, memo) for k, v in self.items()}

    def __reduce__(self) -> Any:
        return (dict, (dict(self),))


class ReadOnlyList(list[Any]):
    """A list that refuses changes; its copies are plain lists."""

    __slots__ = ("_path",)

    def __init__(self, iterable: Any = (), _path: str = "") -> None:
        super().__init__(iterable)
        self._path = _path

    def _refuse(self, index: Any = None) -> NoReturn:
        where = f" (tried to change '{self._path}')" if self._path else ""
        if index is not None and not isinstance(index, slice):
            where = f" (tried to set '{self._path}[{index}]')"
        raise ReadOnlyConfigError(_MESSAGE + where)

    def __setitem__(self, index: Any, value: Any) -> NoReturn:
        self._refuse(index)

    def __delitem__(self, index: Any) -> NoReturn:
        self._refuse(index)

    def append(self, value: Any) -> NoReturn:
        self._refuse()

    def extend(self, values: Any) -> NoReturn:
        self._refuse()

    def insert(self, index: Any, value: Any) -> NoReturn:
        self._refuse()

    def pop(self, index: Any = -1) -> NoReturn:
        self._refuse()

    def remove(self, value: Any) -> NoReturn:
        self._refuse()

    def reverse(self) -> NoReturn:
        self._refuse()

    def sort(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._refuse()

    def clear(self) -> NoReturn:
        self._refuse()

    def __iadd__(self, other: Any) -> NoReturn:  # type: ignore[misc]
        self._refuse()

    def __imul__(self, other: Any) -> NoReturn:  # type: ignore[misc]
        self._refuse()

    def __copy__(self) -> list[Any]:
        return list(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        return [copy.deepcopy(v, memo) for v in self]

    def __reduce__(self) -> Any:
        return (list, (list(self),))


def make_read_only(obj: Any, _path: str = "") -> Any:
    """Return ``obj`` with every dict and list inside replaced by a read-only one (tuples stay tuples)."""
    if not _yaml_registered and "yaml" in sys.modules:
        register_yaml_representers()
    return _freeze(obj, _path)


def _freeze(obj: Any, path: str) -> Any:
    if isinstance(obj, dict):
        return ReadOnlyDict({k: _freeze(v, _join(path, k)) for k, v in obj.items()}, _path=path)
    if isinstance(obj, list):
        return ReadOnlyList((_freeze(v, f"{path}[{i}]") for i, v in enumerate(obj)), _path=path)
    if isinstance(obj, tuple):
        items = [_freeze(v, f"{path}[{i}]") for i, v in enumerate(obj)]
        return type(obj)._make(items) if hasattr(obj, "_make") else tuple(items)
    return obj


_yaml_registered = False


def register_yaml_representers() -> None:
    """Let ``yaml.safe_dump`` write read-only containers as plain mappings and sequences.

    Called once yaml is imported (by :func:`make_read_only` or the config-file code); we never import
    yaml just for this.
    """
    global _yaml_registered
    import yaml

    for dumper in (yaml.SafeDumper, yaml.Dumper):
        dumper.add_representer(ReadOnlyDict, yaml.representer.SafeRepresenter.represent_dict)
        dumper.add_representer(ReadOnlyList, yaml.representer.SafeRepresenter.represent_list)
    _yaml_registered = True


# --------------------------------------------------------------------------- comparing values
# Kinds of values a type change is judged by: a tuple where a list was is no change of kind, nor a
# NumPy scalar where the Python number was. int and float are different kinds (the run logs no warning
# for that change, but it is recorded).
_KIND = {type(None): type(None), bool: bool, int: int, float: float, str: str, list: list, tuple: list, dict: dict}


def _kind(value: Any) -> type:
    t = type(value)
    kind = _KIND.get(t)
    if kind is not None:
        return kind
    if isinstance(value, DogmaticDict):
        return dict
    if isinstance(value, DogmaticList):
        return list
    if t.__module__ == "numpy":
        np = sys.modules.get("numpy")
        if np is not None:
            if isinstance(value, np.bool_):
                return bool
            if isinstance(value, np.integer):
                return int
            if isinstance(value, np.floating):
                return float
    return t


def type_changed(old_value: Any, new_value: Any) -> bool:
    """Whether ``new_value`` is of another kind than ``old_value`` (a None before is never a change).

    >>> type_changed(1, 2.0), type_changed(1, "1"), type_changed((1,), [1]), type_changed(None, "x")
    (True, True, False, False)
    """
    return old_value is not None and _kind(old_value) is not _kind(new_value)


def is_different(old_value: Any, new_value: Any) -> bool:
    """Whether two config values differ; NumPy arrays compare element-wise (any element differing).

    A comparison that fails or gives no plain answer counts as different.

    >>> is_different([1, 2], [1, 3]), is_different({"a": 1}, {"a": 1}), is_different(1, 1.0)
    (True, False, False)
    """
    if old_value is new_value:
        return False
    if hasattr(old_value, "shape") or hasattr(new_value, "shape"):
        np = sys.modules.get("numpy")
        if np is not None:
            try:
                return not bool(np.array_equal(np.asarray(old_value), np.asarray(new_value)))
            except Exception:
                return True
    try:
        return bool(old_value != new_value)
    except Exception:
        return True


# --------------------------------------------------------------------------- dogmatic containers
def fallback_dict(fallback: Mapping[Any, Any], **kwargs: Any) -> dict[Any, Any]:
    """A new dict: ``fallback``'s entries, then ``kwargs`` (Sacred's helper for a function's options).

    >>> fallback_dict({"a": 1, "b": 2}, b=3)
    {'a': 1, 'b': 3}
    """
    result = dict(fallback)
    result.update(kwargs)
    return result


class DogmaticDict(dict[Any, Any]):
    """A dict whose *fixed* entries win over every assignment, with a record of what was tried.

    ``fixed`` entries (nested dicts and lists become dogmatic too) are not in the dict until assigned
    (or until :meth:`revelation`); assigning one
    stores the fixed value instead (a fixed dict absorbs the assigned dict's other entries) and notes
    the key in ``modified`` when the value differed and in ``typechanges`` when its kind did.
    ``fallback`` entries are readable but not part of the dict; assigning one is noted in
    ``fallback_writes``.
    """

    def __init__(
        self, fixed: Mapping[Any, Any] | None = None, fallback: Mapping[Any, Any] | None = None
    ) -> None:
        super().__init__()
        self.typechanges: dict[str, tuple[type, type]] = {}
        self.fallback_writes: list[Any] = []
        self.modified: set[str] = set()
        self.fixed: dict[Any, Any] = {k: _dogmatic(v) for k, v in fixed.items()} if fixed else {}
        self._fallback: Mapping[Any, Any] = {}
        if fallback:
            self.fallback = fallback

    @property
    def fallback(self) -> Mapping[Any, Any]:
        return self._fallback

    @fallback.setter
    def fallback(self, value: Mapping[Any, Any]) -> None:
        # A fixed dict over a fallback dict reads the fallback's other entries.
        for key in self.fixed.keys() & value.keys():
            fixed_value = self.fixed[key]
            if isinstance(fixed_value, dict):
                if not isinstance(fixed_value, DogmaticDict):
                    fixed_value = self.fixed[key] = DogmaticDict(fixed_value)
                fixed_value.fallback = value[key]
        self._fallback = value

    def __setitem__(self, key: Any, value: Any) -> None:
        if key not in self.fixed:
            if key in self._fallback:
                self.fallback_writes.append(key)
            dict.__setitem__(self, key, value)
            return
        fixed_value = self.fixed[key]
        dict.__setitem__(self, key, fixed_value)
        nested = isinstance(fixed_value, DogmaticDict) and isinstance(value, dict)
        if nested:
            for k, v in value.items():
                fixed_value[k] = v
        if type_changed(value, fixed_value):
            # The user's types: a fixed dict or list is dogmatic only inside this bookkeeping.
            self.typechanges[key] = (type(value), _plain_type(fixed_value))
        if is_different(value, fixed_value):
            self.modified.add(key)
        if nested:
            self.typechanges.update(
                {join_paths(key, k): v for k, v in fixed_value.typechanges.items()}
            )
            self.modified |= {join_paths(key, m) for m in fixed_value.modified}

    def __getitem__(self, key: Any) -> Any:
        if dict.__contains__(self, key):
            return dict.__getitem__(self, key)
        if key in self._fallback:
            return self.fixed[key] if key in self.fixed else self._fallback[key]
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or key in self._fallback

    def get(self, key: Any, default: Any = None) -> Any:
        if dict.__contains__(self, key):
            return dict.__getitem__(self, key)
        return self._fallback.get(key, default)

    def __delitem__(self, key: Any) -> None:
        if key not in self.fixed:
            dict.__delitem__(self, key)

    def update(self, other: Any = None, /, **kwargs: Any) -> None:  # type: ignore[override]
        # Through __setitem__, so fixed entries hold (dict.update would bypass it).
        if other is not None:
            items: Iterable[tuple[Any, Any]] = (
                ((k, other[k]) for k in other) if hasattr(other, "keys") else other
            )
            for key, value in items:
                self[key] = value
        for key, value in kwargs.items():
            self[key] = value

    def revelation(self) -> set[str]:
        """Add the fixed entries never assigned; return their dotted keys, nested ones included."""
        missing: set[str] = set()
        for key, fixed_value in self.fixed.items():
            if not dict.__contains__(self, key):
                dict.__setitem__(self, key, fixed_value)
                missing.add(key)
            value = dict.__getitem__(self, key)
            if isinstance(value, (DogmaticDict, DogmaticList)):
                missing |= {join_paths(key, k) for k in value.revelation()}
        return missing


def _plain_type(value: Any) -> type:
    if isinstance(value, DogmaticDict):
        return dict
    if isinstance(value, DogmaticList):
        return list
    return type(value)


def _dogmatic(value: Any) -> Any:
    if isinstance(value, DogmaticDict | DogmaticList):
        return value
    if isinstance(value, dict):
        return DogmaticDict(value)
    if isinstance(value, list):
        return DogmaticList(_dogmatic(v) for v in value)
    if type(value) is tuple:
        return tuple(_dogmatic(v) for v in value)
    return value


class DogmaticList(list[Any]):
    """A list that silently ignores changes (a fixed list in a config scope); ``pop`` is a TypeError."""

    def append(self, value: Any) -> None:
        pass

    def extend(self, values: Any) -> None:
        pass

    def insert(self, index: Any, value: Any) -> None:
        pass

    def remove(self, value: Any) -> None:
        pass

    def reverse(self) -> None:
        pass

    def sort(self, *args: Any, **kwargs: Any) -> None:
        pass

    def clear(self) -> None:
        pass

    def pop(self, index: Any = -1) -> NoReturn:
        raise TypeError("Cannot pop from a fixed list (DogmaticList)")

    def __setitem__(self, index: Any, value: Any) -> None:
        pass

    def __delitem__(self, index: Any) -> None:
        pass

    def __iadd__(self, other: Any) -> DogmaticList:  # type: ignore[override,misc]
        return self

    def __imul__(self, other: Any) -> DogmaticList:  # type: ignore[override,misc]
        return self

    def revelation(self) -> set[str]:
        """Reveal the dogmatic dicts inside; a list adds no keys of its own."""
        for item in self:
            if isinstance(item, (DogmaticDict, DogmaticList)):
                item.revelation()
        return set()
