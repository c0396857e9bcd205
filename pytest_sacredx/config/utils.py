"""Config values and keys: checks, normalization and the fixed-value overlay of scopes and dicts.

:func:`normalize_or_die` returns the value a config keeps: dicts are rebuilt with every key checked
against the rules of ``SETTINGS.CONFIG`` (a bad key is an :class:`InvalidConfigKeyError`, a
``KeyError``), lists and tuples become lists, NumPy scalars become Python scalars, and anything else —
functions, modules, arrays — is kept as it is (observers store a readable form of it).
:func:`dogmatize` and :func:`undogmatize` convert between plain and dogmatic containers
(``custom_containers``), which lay fixed values over a config.

>>> normalize_or_die({"lr": 0.1, "layers": (64, 64)})
{'lr': 0.1, 'layers': [64, 64]}
>>> normalize_or_die({"a.b": 1})
Traceback (most recent call last):
...
pytest_sacredx.errors.InvalidConfigKeyError: Invalid config key 'a.b': keys must not contain '.'; rename it, e.g. 'a_b', or set SETTINGS.CONFIG.ENFORCE_KEYS_MONGO_COMPATIBLE = False
>>> recursive_fill_in({"opt": {"lr": 1}}, {"opt": {"lr": 0, "m": 0.9}, "seed": 3})
{'opt': {'lr': 1, 'm': 0.9}, 'seed': 3}
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from typing import Any, NamedTuple

from ..errors import InvalidConfigKeyError
from ..settings import SETTINGS
from .custom_containers import DogmaticDict, DogmaticList
from .paths import join_paths

__all__ = [
    "KeyRules",
    "apply_fixed",
    "assert_is_valid_key",
    "copy_config",
    "dogmatize",
    "normalize_numpy",
    "normalize_or_die",
    "normalize_value",
    "recursive_fill_in",
    "undogmatize",
]

SCALAR_TYPES = frozenset({str, int, float, bool, type(None)})
_PYTHON_IDENTIFIER = re.compile(r"^[a-zA-Z_][_a-zA-Z0-9]*$")


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


def assert_is_valid_key(key: Any) -> None:
    """Raise :class:`InvalidConfigKeyError` (a ``KeyError``) when ``key`` breaks an enabled key rule."""
    check_key(key, "", KeyRules.current())


def check_key(key: Any, parent: str, rules: KeyRules) -> None:
    """:func:`assert_is_valid_key` for a key inside ``parent``, with the rules read already."""
    if not isinstance(key, str):
        if rules.strings:
            raise _bad_key(
                key, parent, "keys must be strings", "use a string key", "ENFORCE_STRING_KEYS"
            )
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
    if rules.jsonpickle and (key.startswith("py/") or key.startswith("json://")):
        raise _bad_key(
            key,
            parent,
            "keys must not look like jsonpickle tags (py/…, json://…)",
            "rename it",
            "ENFORCE_KEYS_JSONPICKLE_COMPATIBLE",
        )
    if rules.identifiers and not _PYTHON_IDENTIFIER.match(key):
        raise _bad_key(
            key,
            parent,
            "keys must be Python identifiers",
            "rename it",
            "ENFORCE_VALID_PYTHON_IDENTIFIER_KEYS",
        )
    if rules.no_equals and "=" in key:
        fix = f"rename it, e.g. {key.replace('=', '_')!r}"
        raise _bad_key(key, parent, "keys must not contain '='", fix, "ENFORCE_KEYS_NO_EQUALS")


def _bad_key(key: Any, parent: str, rule: str, fix: str, setting: str) -> InvalidConfigKeyError:
    where = f" in {parent!r}" if parent else ""
    return InvalidConfigKeyError(
        f"Invalid config key {key!r}{where}: {rule}; {fix}, or set SETTINGS.CONFIG.{setting} = False"
    )


def normalize_numpy(obj: Any) -> Any:
    """A NumPy scalar as the Python scalar it holds; anything else unchanged (NumPy is never imported)."""
    np = sys.modules.get("numpy") if type(obj).__module__ == "numpy" else None
    if np is not None and isinstance(obj, np.generic):
        try:
            return obj.item()
        except ValueError:
            pass
    return obj


def normalize_or_die(obj: Any) -> Any:
    """The value a config keeps (see the module docstring); raises InvalidConfigKeyError for bad keys."""
    if type(obj) in SCALAR_TYPES:
        return obj
    return normalize_value(obj, "", KeyRules.current())


def normalize_value(obj: Any, path: str, rules: KeyRules) -> Any:
    """:func:`normalize_or_die` for the entry at ``path`` (named in errors), with the rules read already."""
    t = type(obj)
    if t in SCALAR_TYPES:
        return obj
    if isinstance(obj, dict):
        out = {}
        for key, value in obj.items():
            check_key(key, path, rules)
            out[key] = (
                value
                if type(value) in SCALAR_TYPES
                else normalize_value(value, join_paths(path, str(key)), rules)
            )
        return out
    if isinstance(obj, (list, tuple)):
        return [
            v if type(v) in SCALAR_TYPES else normalize_value(v, f"{path}[{i}]", rules)
            for i, v in enumerate(obj)
        ]
    return normalize_numpy(obj)


def copy_config(value: Any) -> Any:
    """A copy of nested dicts, lists and tuples (plain ones), cheaper than ``copy.deepcopy``."""
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


def recursive_fill_in(config: dict[Any, Any], preset: Mapping[Any, Any]) -> dict[Any, Any]:
    """Add the entries of ``preset`` that ``config`` lacks, into nested dicts too; return ``config``.

    Entries ``config`` has win. The entries added are copies, so later changes to ``config`` do not
    reach ``preset``.
    """
    for key in preset:
        if key not in config:
            config[key] = copy_config(preset[key])
        else:
            current, pv = config[key], preset[key]
            if isinstance(current, dict) and isinstance(pv, dict):
                recursive_fill_in(current, pv)
    return config


def dogmatize(obj: Any) -> Any:
    """Fixed (dogmatic) containers for ``obj``: dicts become :class:`DogmaticDict` with ``obj`` fixed,
    lists :class:`DogmaticList`; tuples keep their type with dogmatic items."""
    if isinstance(obj, DogmaticDict | DogmaticList):
        return obj
    if isinstance(obj, dict):
        return DogmaticDict({k: dogmatize(v) for k, v in obj.items()})
    if isinstance(obj, list):
        return DogmaticList([dogmatize(v) for v in obj])
    if isinstance(obj, tuple):
        return tuple(dogmatize(v) for v in obj)
    return obj


def undogmatize(obj: Any) -> Any:
    """Plain containers again: dogmatic dicts and lists (and read-only views) become dicts and lists."""
    if isinstance(obj, dict):
        return {k: undogmatize(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [undogmatize(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(undogmatize(v) for v in obj)
    return obj
