"""Sweep grammar: ``--exp-config KEY=VALUES`` and ``--exp-named-config`` → an ordered list of variants.

The values grammar is the subset of Hydra's basic sweeper that users know::

    gamma=0.1,0.7                 a comma list (each item a Python literal, else a plain string)
    lr=range(0, 1, 0.25)          0, 0.25, 0.5, 0.75 — floats allowed, stop excluded
    kernel=choice(rbf, linear)    the listed items
    name='a,b'   layers=[64,64]   one value: quotes and brackets protect commas
    optimizer.lr=0.1,0.01         dotted keys address nested entries

Several keys give the Cartesian product, in command-line order (the first key varies slowest); each
``--exp-config`` (and each ini line) holds one key, and the same key twice in one place is a mistake.
``--exp-named-config fast,accurate`` gives one variant per name, ``fast+big`` applies both together.
Expansion is pure and deterministic, so every xdist worker derives the same items in the same order.
Ranges stay lazy (``range(0, 10**11)`` costs nothing until expanded), so a sweep's size is counted
before any case is built (:func:`count_cases`).

>>> [v.id for v in expand([parse_axis("gamma=0.1,0.7"), parse_axis("C=1,10")])]
['C=1-gamma=0.1', 'C=10-gamma=0.1', 'C=1-gamma=0.7', 'C=10-gamma=0.7']
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, overload

import attrs

from ..config.values import parse_value
from ..errors import UpdateSyntaxError
from ..redact import shown_value

__all__ = [
    "Axis",
    "FloatRange",
    "Variant",
    "count_cases",
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


def _values(values: Iterable[Any]) -> Sequence[Any]:
    return values if isinstance(values, (range, FloatRange, tuple)) else tuple(values)


@attrs.frozen
class Axis:
    """One swept key and its values, in order (a tuple, or a lazy ``range``/:class:`FloatRange`)."""

    key: str
    values: Sequence[Any] = attrs.field(converter=_values)
    #: the values as written (for messages), when parsed from text
    text: str = attrs.field(default="", eq=False)


class FloatRange(Sequence[float]):
    """``range()`` with float bounds or step, computed on demand (``len`` is free, nothing is stored).

    >>> r = FloatRange(0, 1, 0.25)
    >>> len(r), list(r), r[-1]
    (4, [0.0, 0.25, 0.5, 0.75], 0.75)
    """

    def __init__(self, start: float, stop: float, step: float) -> None:
        self.start, self.stop, self.step = start, stop, step
        count = (stop - start) / step
        if not math.isfinite(count):
            raise OverflowError("range() has no finite number of values")
        self._len = max(0, math.ceil(count - 1e-9))

    def __len__(self) -> int:
        return self._len

    @overload
    def __getitem__(self, index: int) -> float: ...
    @overload
    def __getitem__(self, index: slice) -> list[float]: ...
    def __getitem__(self, index: int | slice) -> float | list[float]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._len))]
        if index < 0:
            index += self._len
        if not 0 <= index < self._len:
            raise IndexError("FloatRange index out of range")
        return round(self.start + index * self.step, 12)

    def __iter__(self) -> Iterator[float]:
        return (self[i] for i in range(self._len))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FloatRange):
            return (self.start, self.stop, self.step) == (other.start, other.stop, other.step)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.start, self.stop, self.step))

    def __repr__(self) -> str:
        return f"FloatRange({self.start!r}, {self.stop!r}, {self.step!r})"


@attrs.frozen(eq=True, hash=False)
class Variant:
    """One config variant: updates (in sweep order) and named configs; ``id`` is what pytest shows."""

    updates: tuple[tuple[str, Any], ...] = ()
    named: tuple[str, ...] = ()
    #: > 0 only when values with the same text (1 and '1', two values of a secret key, both shown
    #: as ***) would give two cases one id
    dup: int = 0
    #: the i-th seed of ``--exp-seeds N`` (``…-seed0``), None outside a seed sweep
    seed_index: int | None = None

    @property
    def config_updates(self) -> dict[str, Any]:
        return dict(self.updates)

    @functools.cached_property
    def id(self) -> str:  # cached: collection and every case's hooks ask for it
        parts = ["+".join(self.named)] if self.named else []
        # a secret-named key shows *** (two values of it differ by their dup suffix)
        parts += [
            f"{k}={format_value(shown_value(k, v))}" for k, v in sorted(self.updates, key=lambda kv: kv[0])
        ]
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


def _range(args: str, what: str) -> Sequence[Any]:
    parts = [p for p in _split_top_level(args, what)]
    if not 2 <= len(parts) <= 3 or any(not p.strip() for p in parts):
        raise UpdateSyntaxError(f"range() takes (start, stop[, step]) in {what}, e.g. range(0, 1, 0.25).")
    start, stop = _number(parts[0], what), _number(parts[1], what)
    step = _number(parts[2], what) if len(parts) == 3 else 1
    if step == 0:
        raise UpdateSyntaxError(f"range() step must not be 0 in {what}.")
    values: Sequence[Any]
    if all(isinstance(x, int) for x in (start, stop, step)):
        values = range(int(start), int(stop), int(step))
    else:
        try:
            values = FloatRange(start, stop, step)
        except OverflowError:
            raise UpdateSyntaxError(
                f"range() in {what} has no finite number of values; check start, stop and step."
            ) from None
    if not len(values):
        raise UpdateSyntaxError(f"range() in {what} is empty; check start, stop and step.")
    return values


def parse_values(text: str, what: str = "the sweep") -> Sequence[Any]:
    """The values of one ``KEY=VALUES`` item: a list, or a lazy range.

    >>> parse_values("0.1,rbf"), parse_values("range(0, 3)"), len(parse_values("range(0, 1e12)"))
    ([0.1, 'rbf'], range(0, 3), 1000000000000)
    """
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


def _mask(text: str) -> str:
    """``text`` with everything inside quotes and brackets (and those characters) blanked out."""
    out: list[str] = []
    depth = 0
    quote: str | None = None
    escaped = False
    for ch in text:
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = None
            out.append("\0")
        elif ch in "'\"":
            quote = ch
            out.append("\0")
        elif ch in _OPEN:
            depth += 1
            out.append("\0")
        elif ch in _CLOSE:
            depth = max(0, depth - 1)
            out.append("\0")
        else:
            out.append("\0" if depth else ch)
    return "".join(out)


_SECOND_KEY = re.compile(r"[\s,]([^\W\d]\w*(?:\.[^\W\d]\w*)*)\s*=(?!=)")


def parse_axis(item: str, origin: str = "--exp-config") -> Axis:
    """``"gamma=0.1,0.7"`` → ``Axis("gamma", (0.1, 0.7))``.

    ``origin`` names where the text came from in error messages (``--exp-config``, or an ini line
    such as ``sacredx_config in pytest.ini``); one item holds one key.

    >>> parse_axis("gamma=0.1,0.7 C=1", origin="sacredx_config in pytest.ini")
    Traceback (most recent call last):
    ...
    pytest_sacredx.errors.UpdateSyntaxError: sacredx_config in pytest.ini: 'gamma=0.1,0.7 C=1' holds a second key 'C='; write one KEY=VALUES per line (quote a value that contains '=').
    """
    key, sep, values = item.partition("=")
    key = key.strip()
    what = f"{origin} {item!r}"
    per = "per line" if origin != "--exp-config" else "per --exp-config"
    if not sep:
        raise UpdateSyntaxError(f"{what} has no '='; write KEY=VALUES, e.g. gamma=0.1,0.7.")
    if not _KEY.match(key):
        raise UpdateSyntaxError(
            f"{what}: {key!r} is not a config key; use a name or dotted path such as optimizer.lr."
        )
    second = _SECOND_KEY.search(_mask(values))
    if second:
        raise UpdateSyntaxError(
            f"{origin}: {item!r} holds a second key {second.group(1) + '='!r}; write one KEY=VALUES "
            f"{per} (quote a value that contains '=')."
        )
    return Axis(key, parse_values(values, what), values)


def check_repeated_keys(axes: Sequence[Axis], origin: str = "--exp-config") -> None:
    """The same key twice in one place (``--exp-config C=1,10 --exp-config C=5``) is a usage error:
    neither "the last one wins" nor "the union" is what every user expects.

    >>> check_repeated_keys([parse_axis("C=1,10"), parse_axis("C=5")])
    Traceback (most recent call last):
    ...
    pytest_sacredx.errors.UpdateSyntaxError: --exp-config C=… is given twice (C=1,10 and C=5); give each key once, e.g. --exp-config C=1,10,5.
    """
    seen: dict[str, Axis] = {}
    for axis in axes:
        first = seen.setdefault(axis.key, axis)
        if first is axis:
            continue
        texts = [first.text.strip(), axis.text.strip()]
        lists = not any(_CALL.match(t) for t in texts)
        example = ("--exp-config " if origin == "--exp-config" else "the one line ") + f"{axis.key}={','.join(texts)}"
        raise UpdateSyntaxError(
            f"{origin} {axis.key}=… is given twice ({axis.key}={texts[0]} and {axis.key}={texts[1]}); "
            f"give each key once" + (f", e.g. {example}." if lists else ".")
        )


def count_cases(axes: Sequence[Axis], named_sets: Sequence[tuple[str, ...]] = ()) -> int:
    """How many variants :func:`expand` would build, without building them.

    >>> count_cases([parse_axis("a=range(0, 100000000000)"), parse_axis("b=1,2")], [("fast",), ("big",)])
    400000000000
    """
    return math.prod(len(a.values) for a in axes) * max(1, len(named_sets))


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
