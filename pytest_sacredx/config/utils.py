"""Value checks and the fixed-value overlay shared by config scopes and config dicts.

A config holds only what a store can keep as JSON: ``None``, bools, numbers, strings, lists, tuples and
dicts. NumPy scalars become Python scalars; anything else is an :class:`InvalidConfigError` that names
the entry and the fix. Fixed values (command-line updates) are laid over a config key by key.

>>> normalize_value({"lr": 0.1, "layers": (64, 64)}, "model")
{'lr': 0.1, 'layers': (64, 64)}
>>> apply_fixed({"opt": {"lr": 0.1, "m": 0.9}}, {"opt": {"lr": 1.0}})
{'opt': {'lr': 1.0, 'm': 0.9}}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from ..errors import InvalidConfigError
from ..settings import SETTINGS
from .paths import iterate_flattened, join_paths

__all__ = [
    "KeyRules",
    "apply_fixed",
    "copy_config",
    "fill_in",
    "mark_fixed",
    "normalize_or_die",
    "normalize_value",
    "type_changed",
]

SCALAR_TYPES = frozenset({str, int, float, bool, type(None)})
_JSON_KEY_TYPES = (str, int, float, bool, type(None))


class KeyRules(NamedTuple):
    """The key checks of ``SETTINGS.CONFIG``, read once per evaluation instead of once per key."""

    mongo: bool
    jsonpickle: bool
    no_equals: bool
    strings: bool
    identifiers: bool

    @classmethod
    def current(cls) -> KeyRules:
        c = SETTINGS.CONFIG
        return cls(
            c.ENFORCE_KEYS_MONGO_COMPATIBLE,
            c.ENFORCE_KEYS_JSONPICKLE_COMPATIBLE,
            c.ENFORCE_KEYS_NO_EQUALS,
            c.ENFORCE_STRING_KEYS,
            c.ENFORCE_VALID_PYTHON_IDENTIFIER_KEYS,
        )


def check_key(key: Any, parent: str, rules: KeyRules) -> None:
    """Raise :class:`InvalidConfigError` when ``key`` breaks one of the enabled key rules."""
    if type(key) is not str:
        if isinstance(key, str):
            key = str(key)
        elif rules.strings or not isinstance(key, _JSON_KEY_TYPES):
            raise _bad_key(
                key, parent, "keys must be strings", "use a string key", "ENFORCE_STRING_KEYS"
            )
        else:
            return
    if rules.mongo:
        if "." in key:
            fix = f"rename it, e.g. {key.replace('.', '_')!r}"
            raise _bad_key(
                key, parent, "keys must not contain '.'", fix, "ENFORCE_KEYS_MONGO_COMPATIBLE"
            )
        if key.startswith("$"):
            fix = f"rename it, e.g. {key.lstrip('$')!r}"
            raise _bad_key(
                key, parent, "keys must not start with '$'", fix, "ENFORCE_KEYS_MONGO_COMPATIBLE"
            )
    if rules.no_equals and "=" in key:
        fix = f"rename it, e.g. {key.replace('=', '_')!r}"
        raise _bad_key(key, parent, "keys must not contain '='", fix, "ENFORCE_KEYS_NO_EQUALS")
    if rules.jsonpickle and (key.startswith("py/") or key.startswith("json://")):
        raise _bad_key(
            key,
            parent,
            "keys must not look like jsonpickle tags",
            "rename it",
            "ENFORCE_KEYS_JSONPICKLE_COMPATIBLE",
        )
    if rules.identifiers and not key.isidentifier():
        raise _bad_key(
            key,
            parent,
            "keys must be Python identifiers",
            "rename it",
            "ENFORCE_VALID_PYTHON_IDENTIFIER_KEYS",
        )


def _bad_key(key: Any, parent: str, rule: str, fix: str, setting: str) -> InvalidConfigError:
    where = f" in {parent!r}" if parent else ""
    return InvalidConfigError(
        f"Invalid config key {key!r}{where}: {rule}; {fix}, or set SETTINGS.CONFIG.{setting} = False"
    )


def normalize_value(
    value: Any, path: str, rules: KeyRules | None = None, *, hint_private: bool = False
) -> Any:
    """Return a fresh, storable copy of ``value`` (the entry at ``path``) or raise InvalidConfigError.

    Dicts and lists are rebuilt (so the config never shares containers with user code), tuples stay
    tuples, NumPy scalars become Python scalars. ``hint_private`` adds the "name it _x" fix, which only
    makes sense for a config scope's local variables.
    """
    t = type(value)
    if t in SCALAR_TYPES:
        return value
    if t is list:  # the common case first, without ABC isinstance checks
        return [
            v if type(v) in SCALAR_TYPES else normalize_value(v, f"{path}[{i}]", rules)
            for i, v in enumerate(value)
        ]
    if rules is None:
        rules = KeyRules.current()
    if t is dict or isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            check_key(k, path, rules)
            out[k] = (
                v
                if type(v) in SCALAR_TYPES
                else normalize_value(v, join_paths(path, str(k)), rules)
            )
        return out
    if isinstance(value, (list, tuple)):
        items = [
            v if type(v) in SCALAR_TYPES else normalize_value(v, f"{path}[{i}]", rules)
            for i, v in enumerate(value)
        ]
        return items if isinstance(value, list) else tuple(items)
    if t.__module__ == "numpy":
        if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
            return normalize_value(value.item(), path, rules)
        raise InvalidConfigError(
            f"Config entry {path!r} is a numpy {t.__name__}, which cannot be stored; "
            f"use a list instead (e.g. {path.rpartition('.')[2]}.tolist())"
        )
    if isinstance(value, (str, int, float)):  # str/int/float subclasses such as enums
        return value
    private = f" (or name it '_{path}' to keep it out of the config)" if hint_private else ""
    raise InvalidConfigError(
        f"Config entry {path!r} is a {t.__name__}, which cannot be stored; "
        f"use a number, string, list or dict{private}"
    )


def normalize_or_die(value: Any) -> Any:
    """Sacred's name: the normalized copy of a whole config value."""
    return normalize_value(value, "")


def copy_config(value: Any) -> Any:
    """A copy of nested dicts, lists and tuples, cheaper than ``copy.deepcopy`` for config data."""
    t = type(value)
    if t in SCALAR_TYPES:
        return value
    if isinstance(value, dict):
        return {k: copy_config(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_config(v) for v in value]
    if t is tuple:
        return tuple(copy_config(v) for v in value)
    return value


def apply_fixed(target: dict[str, Any], fixed: Mapping[str, Any]) -> dict[str, Any]:
    """Lay ``fixed`` over ``target`` in place: fixed wins per nested key, other entries stay; return target.

    The dicts on the way to a fixed entry are copied, so a dict the user's code still holds is not changed.
    """
    for key, fv in fixed.items():
        current = target.get(key)
        if isinstance(fv, Mapping) and isinstance(current, dict):
            target[key] = apply_fixed(dict(current), fv)
        else:
            target[key] = copy_config(fv)
    return target


def fill_in(target: dict[str, Any], preset: Mapping[str, Any]) -> dict[str, Any]:
    """Add the entries of ``preset`` that ``target`` lacks, recursively (existing entries win); return target."""
    for key, pv in preset.items():
        if key not in target:
            target[key] = copy_config(pv)
        else:
            current = target[key]
            if isinstance(pv, Mapping) and isinstance(current, dict):
                fill_in(current, pv)
    return target


def _kind(value: Any) -> Any:
    if isinstance(value, bool):
        return bool
    if isinstance(value, (int, float)):
        return float
    if isinstance(value, Mapping):
        return dict
    if isinstance(value, (list, tuple)):
        return list
    return type(value)


def type_changed(old: Any, new: Any) -> bool:
    """Whether replacing ``old`` by ``new`` changes the kind of value (int↔float and None→x do not)."""
    return old is not None and _kind(old) is not _kind(new)


_MISSING = object()


def mark_fixed(
    defined: Mapping[str, Any], fixed: Mapping[str, Any], summary: Any, prefix: str = ""
) -> None:
    """Record in ``summary`` what laying ``fixed`` over ``defined`` does, per dotted leaf key.

    Not defined → ``added``; defined → ``modified`` (and ``typechanged`` when the kind differs).
    """
    for key, fv in fixed.items():
        path = f"{prefix}{key}"
        old = defined.get(key, _MISSING) if isinstance(defined, Mapping) else _MISSING
        if old is _MISSING:
            if isinstance(fv, Mapping) and fv:
                summary.added.update(f"{path}.{leaf}" for leaf, _ in iterate_flattened(fv))
            else:
                summary.added.add(path)
        elif isinstance(fv, Mapping) and isinstance(old, Mapping):
            mark_fixed(old, fv, summary, path + ".")
        else:
            summary.modified.add(path)
            if type_changed(old, fv):
                summary.typechanged[path] = (type(old), type(fv))
