"""``ConfigDict``: a plain dict used as a config source (``ex.add_config({"lr": 0.1})``).

It follows the config-scope protocol: call it with ``(fixed, preset, fallback)`` and get a
:class:`ConfigSummary` whose fixed values win per nested key, with the same markers.

>>> cd = ConfigDict({"opt": {"lr": 0.1, "momentum": 0.9}})
>>> s = cd(fixed={"opt": {"lr": 1.0}})
>>> s["opt"], sorted(s.modified)
({'lr': 1.0, 'momentum': 0.9}, ['opt', 'opt.lr'])
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import InvalidConfigError
from .summary import ConfigSummary
from .utils import KeyRules, apply_fixed, copy_config, fill_in, mark_fixed, normalize_value

__all__ = ["ConfigDict"]


class ConfigDict:
    """Wrap a dict as a config source; the dict is checked and copied now, so later edits don't leak in."""

    def __init__(self, d: Mapping[str, Any]) -> None:
        if not isinstance(d, Mapping):
            raise InvalidConfigError(
                f"A config dict must be a dict, not {type(d).__name__} {d!r}; pass e.g. {{'lr': 0.1}}"
            )
        self._conf: dict[str, Any] = normalize_value(dict(d), "")
        self.__doc__ = None

    def __call__(
        self,
        fixed: Mapping[str, Any] | None = None,
        preset: Mapping[str, Any] | None = None,
        fallback: Mapping[str, Any] | None = None,
    ) -> ConfigSummary:
        summary = ConfigSummary(copy_config(self._conf))
        if preset:
            fill_in(summary, preset)
        if fixed:
            fixed = normalize_value(dict(fixed), "", KeyRules.current())
            mark_fixed(self._conf, fixed, summary)  # against the dict itself, as for a scope
            apply_fixed(summary, fixed)
        summary.ensure_coherence()
        return summary

    def __repr__(self) -> str:
        return f"ConfigDict({self._conf!r})"
