"""``ConfigDict``: a plain dict used as a config source (``ex.add_config({"lr": 0.1})``).

It follows the config-scope protocol: call it with ``(fixed, preset, fallback)`` and get a
:class:`ConfigSummary`. Fixed values win per nested key, the dict's entries come next, presets fill in
what is still missing, and fallbacks are ignored. The markers are those of a scope that assigned the
dict's entries.

>>> cd = ConfigDict({"opt": {"lr": 0.1, "momentum": 0.9}, "f": len})
>>> s = cd(fixed={"opt": {"lr": 1.0}})
>>> s["opt"], sorted(s.modified), s["f"] is len
({'lr': 1.0, 'momentum': 0.9}, ['opt', 'opt.lr'], True)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import InvalidConfigError
from .config_summary import ConfigSummary
from .utils import dogmatize, normalize_or_die, recursive_fill_in, undogmatize

__all__ = ["ConfigDict"]


class ConfigDict:
    """Wrap a dict as a config source; the dict is checked and copied now, so later edits don't leak in.

    A key that breaks the key rules is an :class:`~pytest_sacredx.errors.InvalidConfigKeyError` (a
    ``KeyError``) here already. Values may be anything, functions and modules included.
    """

    def __init__(self, d: Mapping[str, Any]) -> None:
        if not isinstance(d, Mapping):
            raise InvalidConfigError(
                f"A config dict must be a dict, not {type(d).__name__} {d!r}; pass e.g. {{'lr': 0.1}}"
            )
        self._conf: dict[str, Any] = normalize_or_die(dict(d))
        self.__doc__ = None

    def __call__(
        self,
        fixed: Mapping[str, Any] | None = None,
        preset: Mapping[str, Any] | None = None,
        fallback: Mapping[str, Any] | None = None,
    ) -> ConfigSummary:
        result = dogmatize(normalize_or_die(dict(fixed)) if fixed else {})
        recursive_fill_in(result, self._conf)  # assignments of the dict's entries, fixed ones held
        recursive_fill_in(result, preset or {})
        added = result.revelation()
        return ConfigSummary(undogmatize(result), added, result.modified, result.typechanges)

    def __repr__(self) -> str:
        return f"ConfigDict({self._conf!r})"
