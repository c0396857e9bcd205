"""Sweep grammar: ``--exp-config KEY=VALUES`` and ``--exp-named-config`` → an ordered list of variants.

The values grammar is the subset of Hydra's basic sweeper that users know::

    gamma=0.1,0.7                 a comma list (each item a Python literal, else a plain string)
    lr=range(0, 1, 0.25)          0, 0.25, 0.5, 0.75 — floats allowed, stop excluded
    kernel=choice(rbf, linear)    the listed items
    name='a,b'   layers=[64,64]   one value: quotes and brackets protect commas
    optimizer.lr=0.1,0.01         dotted keys address nested entries

Several keys give the Cartesian product, in command-line order (the first key varies slowest).
``--exp-named-config fast,accurate`` gives one variant per name, ``fast+big`` applies both together.
Expansion is pure and deterministic, so every xdist worker derives the same items in the same order.

>>> [v.id for v in expand([parse_axis("gamma=0.1,0.7"), parse_axis("C=1,10")])]
['C=1-gamma=0.1', 'C=10-gamma=0.1', 'C=1-gamma=0.7', 'C=10-gamma=0.7']
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from ..config.values import parse_value
from ..errors import UpdateSyntaxError

__all__ = [
    "Axis",
    "Variant",
    "parse_axis",
    "parse_values",
    "parse_named_sets",
    "expand",
    "merge_axes",
    "format_value",
]

_KEY = re.compile(r"[^\W\d]\w*(?:\.[^\W\d]\w*)*\Z")
_CALL = re.compile(r"(range|choice)\s*\((.*)\)\s*\Z", re.S)
_OPEN, _CLOSE = "([{", ")]}"


@attrs.frozen
class Axis:
    """One swept key and its values, in order."""

    key: str
    values: tuple[Any, ...]


@attrs.frozen(eq=True, hash=False)
class Variant:
    """One config variant: updates (in sweep order) and named configs; ``id`` is what pytest shows."""

    updates: tuple[tuple[str, Any], ...] = ()
    named: tuple[str, ...] = ()
    #: > 0 only when values with the same text (1 and '1') would give two cases one id
    dup: int = 0
    #: the i-th seed of ``--exp-seeds N`` (``…-seed0``), None outside a seed sweep
    seed_index: int | None = None

    @property
    def config_updates(self) -> dict[str, Any]:
        return dict(self.updates)

    @property
    def id(self) -> str:
        parts = ["+".join(self.named)] if self.named else []
        parts += [f"{k}={format_value(v)}" for k, v in sorted(self.updates, key=lambda kv: kv[0])]
        if self.dup:
            parts.append(f"dup{self.dup}")
        if self.seed_index is not None:
            parts.append(f"seed{self.seed_index}")
        return "-".join(parts)

    def with_updates(self, extra: Mapping[str, Any]) -> Variant:
        merged = dict(self.updates)
        merged.update(extra)
        return Variant(tuple(merged.items()), self.named, self.dup, self.seed_index)


def format_value(value: Any) -> str:
    """Short, stable text for ids: ``0.1``, ``rbf``, ``[64,64]``."""
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple, dict, set)):
        return repr(value).replace(" ", "")
    return repr(value)


def _split_top_level(text: str, what: str) -> list[str]:
    """Split on commas outside quotes and brackets."""
    items: list[str] = []
    depth = 0
    quote: str | None = None
    start = 0
    escaped = False
    for i, ch in enumerate(text):
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth -= 1
            if depth < 0:
                raise UpdateSyntaxError(f"Unbalanced {ch!r} in {what}; check the brackets.")
        elif ch == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
    if quote or depth:
        raise UpdateSyntaxError(f"Unclosed {'quote' if quote else 'bracket'} in {what}; close it.")
    items.append(text[start:])
    return items


def _number(text: str, what: str) -> float | int:
    value = parse_value(text)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UpdateSyntaxError(f"range() takes numbers, got {text.strip()!r} in {what}.")
    return value


def _range(args: str, what: str) -> list[Any]:
    parts = [p for p in _split_top_level(args, what)]
    if not 2 <= len(parts) <= 3 or any(not p.strip() for p in parts):
        raise UpdateSyntaxError(f"range() takes (start, stop[, step]) in {what}, e.g. range(0, 1, 0.25).")
    start, stop = _number(parts[0], what), _number(parts[1], what)
    step = _number(parts[2], what) if len(parts) == 3 else 1
    if step == 0:
        raise UpdateSyntaxError(f"range() step must not be 0 in {what}.")
    if all(isinstance(x, int) for x in (start, stop, step)):
        values: list[Any] = list(range(int(start), int(stop), int(step)))
    else:
        count = max(0, math.ceil((stop - start) / step - 1e-9))
        values = [round(start + i * step, 12) for i in range(count)]
    if not values:
        raise UpdateSyntaxError(f"range() in {what} is empty; check start, stop and step.")
    return values


def parse_values(text: str, what: str = "the sweep") -> list[Any]:
    """The values of one ``KEY=VALUES`` item."""
    text = text.strip()
    if not text:
        raise UpdateSyntaxError(f"No values in {what}; give e.g. gamma=0.1,0.7.")
    call = _CALL.match(text)
    if call:
        if call.group(1) == "range":
            return _range(call.group(2), what)
        items = _split_top_level(call.group(2), what)
    else:
        items = _split_top_level(text, what)
    if any(not item.strip() for item in items):
        raise UpdateSyntaxError(f"Empty value in {what}; remove the extra comma or quote an empty string ('').")
    return [parse_value(item) for item in items]


def parse_axis(item: str) -> Axis:
    """``"gamma=0.1,0.7"`` → ``Axis("gamma", (0.1, 0.7))``."""
    key, sep, values = item.partition("=")
    key = key.strip()
    what = f"--exp-config {item!r}"
    if not sep:
        raise UpdateSyntaxError(f"{what} has no '='; write KEY=VALUES, e.g. gamma=0.1,0.7.")
    if not _KEY.match(key):
        raise UpdateSyntaxError(
            f"{what}: {key!r} is not a config key; use a name or dotted path such as optimizer.lr."
        )
    return Axis(key, tuple(parse_values(values, what)))


def parse_named_sets(items: Iterable[str]) -> list[tuple[str, ...]]:
    """``["fast,accurate", "fast+big"]`` → ``[("fast",), ("accurate",), ("fast", "big")]``."""
    sets: list[tuple[str, ...]] = []
    for item in items:
        for part in item.split(","):
            names = tuple(n.strip() for n in part.split("+"))
            if not part.strip() or any(not n for n in names):
                raise UpdateSyntaxError(
                    f"--exp-named-config {item!r} has an empty name; write e.g. fast,accurate or fast+big."
                )
            if names not in sets:
                sets.append(names)
    return sets


def merge_axes(*layers: Sequence[Axis]) -> list[Axis]:
    """Later layers override earlier ones key by key (ini < marker < command line); order of first
    appearance is kept, a key given again in a later layer moves to that layer's position."""
    merged: dict[str, Axis] = {}
    for layer in layers:
        for axis in layer:
            merged.pop(axis.key, None)
            merged[axis.key] = axis
    return list(merged.values())


def expand(axes: Sequence[Axis], named_sets: Sequence[tuple[str, ...]] = ()) -> list[Variant]:
    """The Cartesian product of named-config sets and axes, in a stable order."""
    named_choices: list[tuple[str, ...]] = list(named_sets) or [()]
    variants: list[Variant] = []
    seen: dict[str, int] = {}
    for named in named_choices:
        for combo in itertools.product(*(axis.values for axis in axes)):
            v = Variant(tuple(zip((a.key for a in axes), combo, strict=True)), named)
            count = seen.get(v.id, 0)
            seen[v.id] = count + 1
            if count:  # e.g. 1 and '1': keep both cases, with distinct ids
                v = attrs.evolve(v, dup=count)
            variants.append(v)
    return variants
