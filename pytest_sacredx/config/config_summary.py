"""``ConfigSummary``: the config a scope or dict produced, plus markers of what the fixed values did.

The markers use dotted keys: ``added`` (fixed entries no scope defined, with their parents: fixing
``h={"i": 1}`` adds ``h`` and ``h.i``), ``modified`` (fixed entries that replaced a different value, and
the parents of every changed key), ``typechanged`` (``{key: (defined type, fixed type)}``),
``ignored_fallbacks`` (assignments to read-only fallback names) and ``docs`` (``{key: comment}``).

A run merges the summaries of one ingredient's scopes with :meth:`ConfigSummary.update_from`, starting
from ``added`` = every fixed leaf, so a key stays added only while no scope defines it; the
ingredients' merged summaries are then combined with :meth:`ConfigSummary.update_add` under their paths.

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
    """A config dict with marker sets; what ``ConfigScope(f)(fixed, preset, fallback)`` returns."""

    def __init__(
        self,
        config: Mapping[str, Any] | None = None,
        added: Iterable[str] = (),
        modified: Iterable[str] = (),
        typechanged: Mapping[str, tuple[type, type]] | Iterable[Any] = (),
        ignored_fallbacks: Iterable[str] = (),
        docs: Mapping[str, str] | Iterable[Any] = (),
    ) -> None:
        super().__init__(config or {})
        self.added: set[str] = set(added)
        self.modified: set[str] = set(modified)
        self.typechanged: dict[str, tuple[type, type]] = dict(typechanged)
        self.ignored_fallbacks: set[str] = set(ignored_fallbacks)
        self.docs: dict[str, str] = dict(docs)
        self.ensure_coherence()

    def update_from(self, other: ConfigSummary, path: str = "") -> None:
        """Merge the markers of the next scope of a chain (the scopes of one ingredient, in order).

        ``added`` is intersected with the other's (start from a summary whose ``added`` holds every
        fixed leaf); ``modified``, ``typechanged`` and ``ignored_fallbacks`` are unions; a doc is taken
        only for a key that has none yet, so the first scope's comment wins.
        """
        self.added &= {join_paths(path, k) for k in other.added}
        self._merge_changes(other, path)
        for key, doc in other.docs.items():
            key = join_paths(path, key)
            if not self.docs.get(key, ""):
                self.docs[key] = doc

    def update_add(self, other: ConfigSummary, path: str = "") -> None:
        """Merge the markers of an independent summary (another ingredient's, under ``path``): unions.

        An ingredient's ``seed`` doc is not copied: only the experiment's ``seed`` is documented.
        """
        self.added |= {join_paths(path, k) for k in other.added}
        self._merge_changes(other, path)
        self.docs.update(
            {join_paths(path, k): v for k, v in other.docs.items() if path == "" or k != "seed"}
        )

    def _merge_changes(self, other: ConfigSummary, path: str) -> None:
        self.modified |= {join_paths(path, k) for k in other.modified}
        self.typechanged.update({join_paths(path, k): v for k, v in other.typechanged.items()})
        self.ignored_fallbacks |= {join_paths(path, k) for k in other.ignored_fallbacks}
        self.ensure_coherence()

    def ensure_coherence(self) -> None:
        """Mark the parents of changed keys as modified, and give each key one marker at most.

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
        return (self.__class__, (dict(self),), dict(self.__dict__))
