"""Dotted-path helpers: config keys such as ``"optimizer.lr"`` address entries of nested dicts.

>>> cfg = {}
>>> set_by_dotted_path(cfg, "optimizer.lr", 0.1)
>>> cfg, get_by_dotted_path(cfg, "optimizer.lr")
({'optimizer': {'lr': 0.1}}, 0.1)
>>> list(iterate_flattened({"b": 1, "a": {"x": 2, "y": {}}}))
[('a.x', 2), ('a.y', {}), ('b', 1)]
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ..errors import ConfigKeyError

__all__ = [
    "convert_to_nested_dict",
    "get_by_dotted_path",
    "is_prefix",
    "iter_prefixes",
    "iterate_flattened",
    "join_paths",
    "recursive_update",
    "set_by_dotted_path",
]


def join_paths(*parts: str) -> str:
    """Join path parts with dots, skipping empty ones: ``join_paths("", "a", "b") == "a.b"``."""
    return ".".join(str(p) for p in parts if p != "" and p is not None)


def iter_prefixes(path: str) -> Iterator[str]:
    """Yield ``"a"``, ``"a.b"``, ``"a.b.c"`` for ``"a.b.c"`` (the path itself last)."""
    parts = path.split(".")
    for i in range(1, len(parts) + 1):
        yield ".".join(parts[:i])


def is_prefix(pre: str, path: str) -> bool:
    """Whether ``pre`` is ``path`` or one of its parents (``"a"`` is a prefix of ``"a.b"``, not of ``"ab"``)."""
    return pre == "" or path == pre or path.startswith(pre + ".")


def get_by_dotted_path(d: Mapping[str, Any], path: str, default: Any = None) -> Any:
    """Return the entry at ``path`` (``d`` itself for ``""``), or ``default`` when any part is missing."""
    if not path:
        return d
    current: Any = d
    for part in path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return default
        current = current[part]
    return current


def set_by_dotted_path(d: dict[str, Any], path: str, value: Any) -> None:
    """Set the entry at ``path``, creating missing intermediate dicts.

    An intermediate entry that exists but is not a dict is not silently replaced: that would throw
    away a value the user set, so it is a :class:`ConfigKeyError`.
    """
    parts = path.split(".")
    current = d
    for i, part in enumerate(parts[:-1]):
        nxt = current.get(part) if isinstance(current, Mapping) else None
        if nxt is None and part not in current:
            nxt = current[part] = {}
        elif not isinstance(nxt, dict):
            where = ".".join(parts[: i + 1])
            raise ConfigKeyError(
                f"Cannot set {path!r}: {where!r} is {nxt!r} ({type(nxt).__name__}), not a dict. "
                f"Set {where!r} itself, or choose another key."
            )
        current = nxt
    current[parts[-1]] = value


def iterate_flattened(d: Mapping[Any, Any]) -> Iterator[tuple[str, Any]]:
    """Yield ``(dotted_key, value)`` for every leaf in sorted key order; an empty dict is a leaf."""
    for key in sorted(d, key=str):
        value = d[key]
        if isinstance(value, Mapping) and value:
            for sub, leaf in iterate_flattened(value):
                yield f"{key}.{sub}", leaf
        else:
            yield str(key), value


def convert_to_nested_dict(dotted: Mapping[str, Any]) -> dict[str, Any]:
    """``{"a.b": 1, "c": 2}`` → ``{"a": {"b": 1}, "c": 2}``; dict values are merged, not replaced."""
    nested: dict[str, Any] = {}
    for key in sorted(dotted, key=lambda k: k.count(".")):
        value = dotted[key]
        existing = get_by_dotted_path(nested, key)
        if isinstance(existing, dict) and isinstance(value, Mapping):
            recursive_update(existing, value)
        else:
            set_by_dotted_path(nested, key, _copy_dicts(value))
    return nested


def _copy_dicts(value: Any) -> Any:
    # Later dotted keys write into these dicts; never into the caller's.
    if isinstance(value, Mapping):
        return {k: _copy_dicts(v) for k, v in value.items()}
    return value


def recursive_update(d: dict[str, Any], u: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``u`` into ``d`` (nested dicts are merged key by key, everything else replaced); return ``d``."""
    for key, value in u.items():
        current = d.get(key)
        if isinstance(value, Mapping) and isinstance(current, dict):
            recursive_update(current, value)
        else:
            d[key] = value
    return d
