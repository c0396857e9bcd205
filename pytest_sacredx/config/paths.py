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
    "PATHCHANGE",
    "convert_to_nested_dict",
    "get_by_dotted_path",
    "is_prefix",
    "iter_prefixes",
    "iterate_flattened",
    "iterate_flattened_separately",
    "join_paths",
    "recursive_update",
    "rel_path",
    "set_by_dotted_path",
]

# Yielded by iterate_flattened_separately before the entries of a nested dict.
PATHCHANGE: Any = object()


def join_paths(*parts: str) -> str:
    """Join path parts with dots, skipping empty ones: ``join_paths("", "a.", "b") == "a.b"``."""
    return ".".join(str(p).strip(".") for p in parts if p != "" and p is not None)


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


def iterate_flattened_separately(
    d: Mapping[Any, Any], manually_sorted_keys: list[Any] | None = None
) -> Iterator[tuple[str, Any]]:
    """Like :func:`iterate_flattened`, in print order: ``manually_sorted_keys`` first (in that order),
    then plain values, then nested dicts, each announced by ``(key, PATHCHANGE)``.

    >>> [k for k, _ in iterate_flattened_separately({"b": {"x": 1}, "a": 2, "seed": 3}, ["seed"])]
    ['seed', 'a', 'b', 'b.x']
    """
    first = manually_sorted_keys or []

    def order(item: tuple[Any, Any]) -> tuple[int, Any]:
        key, value = item
        if key in first:
            return 0, first.index(key)
        return (2 if isinstance(value, dict) and value else 1), key

    for key, value in sorted(d.items(), key=order):
        if isinstance(value, dict) and value:
            yield key, PATHCHANGE
            for sub, leaf in iterate_flattened_separately(value, first):
                yield join_paths(key, sub), leaf
        else:
            yield key, value


def rel_path(base: str, path: str) -> str:
    """``path`` relative to its prefix ``base``: ``rel_path("a", "a.b.c") == "b.c"``."""
    if base == path:
        return ""
    if not is_prefix(base, path):
        raise ValueError(f"{base!r} is not a prefix of {path!r}")
    return path[len(base):].strip(".")


def convert_to_nested_dict(dotted: Mapping[str, Any]) -> dict[str, Any]:
    """``{"a.b": 1, "c": 2}`` → ``{"a": {"b": 1}, "c": 2}``; dotted keys inside dict values nest too.

    >>> convert_to_nested_dict({"a.b": {"c.d": 1}, "a.b.c.e": 2})
    {'a': {'b': {'c': {'d': 1, 'e': 2}}}}
    """
    nested: dict[str, Any] = {}
    for key, value in iterate_flattened(dotted):
        set_by_dotted_path(nested, key, {} if value == {} and isinstance(value, Mapping) else value)
    return nested


def recursive_update(d: dict[str, Any], u: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``u`` into ``d`` (nested dicts are merged key by key, everything else replaced); return ``d``."""
    for key, value in u.items():
        current = d.get(key)
        if isinstance(value, Mapping) and isinstance(current, dict):
            recursive_update(current, value)
        else:
            d[key] = value
    return d
