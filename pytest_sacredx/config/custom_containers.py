"""Read-only views of a config for captured functions: ``ReadOnlyDict``, ``ReadOnlyList``, ``make_read_only``.

They are real dicts and lists (``isinstance`` checks, JSON, ``yaml.safe_dump`` work), every mutation raises
:class:`ReadOnlyConfigError` naming the key, and ``copy``, ``deepcopy`` and ``pickle`` give plain mutable
containers, so handing the config to multiprocessing or ray just works.

>>> cfg = make_read_only({"model": {"layers": [64, 64]}})
>>> cfg["model"]["units"] = 3
Traceback (most recent call last):
...
pytest_sacredx.errors.ReadOnlyConfigError: The configuration is read-only in a captured function! (tried to set 'model.units')
>>> import copy; type(copy.deepcopy(cfg)["model"]["layers"])
<class 'list'>
"""

from __future__ import annotations

import copy
import sys
from typing import Any, NoReturn

from ..errors import ReadOnlyConfigError

__all__ = ["ReadOnlyDict", "ReadOnlyList", "make_read_only"]

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
