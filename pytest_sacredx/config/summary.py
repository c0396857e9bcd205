"""``ConfigSummary``: the config a scope or dict produced, plus markers of what the fixed values did.

The markers use dotted keys: ``added`` (fixed entries no scope defined), ``modified`` (fixed entries that
replaced a defined one), ``typechanged`` (``{key: (defined type, fixed type)}``), ``ignored_fallbacks``
(assignments to read-only fallback names) and ``docs`` (``{key: comment}``).

>>> s = ConfigSummary({"lr": 0.1}, added={"lr"})
>>> total = ConfigSummary()
>>> total.update_add(s, path="optimizer")
>>> sorted(total.added), sorted(total.modified)
(['optimizer.lr'], ['optimizer'])
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .paths import iter_prefixes, join_paths

__all__ = ["ConfigSummary"]


class ConfigSummary(dict[str, Any]):
    """A config dict with marker sets; Sacred's ``ConfigScope(f)(fixed, preset, fallback)`` result."""

    def __init__(
        self,
        config: Mapping[str, Any] | None = None,
        added: Iterable[str] = (),
        modified: Iterable[str] = (),
        typechanged: Mapping[str, tuple[type, type]] | None = None,
        ignored_fallbacks: Iterable[str] = (),
        docs: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(config or {})
        self.added: set[str] = set(added)
        self.modified: set[str] = set(modified)
        self.typechanged: dict[str, tuple[type, type]] = dict(typechanged or {})
        self.ignored_fallbacks: set[str] = set(ignored_fallbacks)
        self.docs: dict[str, str] = dict(docs or {})
        # Whether update_from has merged a summary yet (see there).
        self._merged = False

    def update_from(self, other: ConfigSummary, path: str = "") -> None:
        """Merge the markers of the next scope of a chain (scopes of one ingredient, in order).

        A key stays *added* only while no scope defined it, so ``added`` is intersected with the other's
        (the first merge into a fresh summary takes the other's set, so starting from
        ``ConfigSummary()`` or from ``ConfigSummary(added=<all update keys>)`` gives the same result).
        The other markers are unions.
        """
        added = {join_paths(path, k) for k in other.added}
        if self._merged:
            self.added &= added
        else:
            self.added = added
            self._merged = True
        self._merge_rest(other, path)

    def update_add(self, other: ConfigSummary, path: str = "") -> None:
        """Merge the markers of an independent summary (another ingredient's, under ``path``): unions."""
        self.added |= {join_paths(path, k) for k in other.added}
        self._merge_rest(other, path)

    def _merge_rest(self, other: ConfigSummary, path: str) -> None:
        self.modified |= {join_paths(path, k) for k in other.modified}
        self.typechanged.update({join_paths(path, k): v for k, v in other.typechanged.items()})
        self.ignored_fallbacks |= {join_paths(path, k) for k in other.ignored_fallbacks}
        self.docs.update({join_paths(path, k): v for k, v in other.docs.items()})
        self.ensure_coherence()

    def ensure_coherence(self) -> None:
        """Mark parents of changed keys as modified, and give each key one marker at most.

        So a printed tree colours ``optimizer:`` when ``optimizer.lr`` changed.
        """
        changed = self.added | self.modified | set(self.typechanged)
        self.modified |= {p for key in changed for p in iter_prefixes(key)}
        self.added -= set(self.typechanged)
        self.modified -= set(self.typechanged)
        self.modified -= self.added

    def __repr__(self) -> str:
        return (
            f"ConfigSummary({dict.__repr__(self)}, added={self.added!r}, modified={self.modified!r}, "
            f"typechanged={self.typechanged!r}, docs={self.docs!r})"
        )

    def __reduce__(self) -> Any:
        state = dict(self.__dict__)
        return (self.__class__, (dict(self),), state)
