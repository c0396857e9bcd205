"""Comparing what a run gave with what was expected: nested results, per-key tolerances, NaN and inf.

Pure logic, no pytest hooks: the baselines, the determinism check and the tests use it.

- Values are compared in their stored (JSON) form: dicts key by key, lists item by item, numbers with a
  tolerance, everything else (strings, None, bools) by equality. ``NaN`` equals ``NaN``; ``inf`` equals
  only an ``inf`` of the same sign; ``True`` is not ``1``.
- A tolerance is ``rtol``/``atol`` (``math.isclose``'s rule: ``|got - expected| <= max(atol,
  rtol * max(|got|, |expected|))``); exact (0, 0) by default.
- Tolerances are looked up per value, most specific key first: for a metric, its name; for a part of
  the result, its dotted dict path without list indices (``scores.top1``, then ``scores``), then
  ``result``; then ``*`` (a default for everything).

Ini lines (``sacredx_tolerance``) read ``KEY rtol=R atol=A``, either part optional::

    [pytest]
    sacredx_tolerance =
        accuracy rtol=1e-3
        loss     rtol=1e-2 atol=1e-6
        *        atol=1e-12

>>> tols = Tolerances.from_ini(["accuracy rtol=0.01"])
>>> compare({"accuracy": 0.95, "n": 3}, {"accuracy": 0.951, "n": 3}, tols)
[]
>>> [d.key for d in compare({"accuracy": 0.95}, {"accuracy": 0.9}, tols)]
['result.accuracy']
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, final

import attrs

__all__ = ["Tolerance", "Tolerances", "Difference", "compare", "compare_run", "close", "format_differences"]

EXACT_TEXT = "exact"


@final
@attrs.frozen
class Tolerance:
    """How far a number may move: relative and absolute, as ``math.isclose``."""

    rtol: float = 0.0
    atol: float = 0.0

    def __attrs_post_init__(self) -> None:
        for name in ("rtol", "atol"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and not isinstance(value, bool)) or not value >= 0:
                raise ValueError(f"{name}={value!r}: a tolerance is a number >= 0, e.g. {name}=1e-3.")

    @classmethod
    def from_value(cls, key: str, value: Any) -> Tolerance:
        """A marker's value: a float is an ``rtol``; a dict gives ``rtol`` and/or ``atol``."""
        if isinstance(value, Tolerance):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return cls(rtol=float(value))
        if isinstance(value, Mapping):
            unknown = set(value) - {"rtol", "atol"}
            if unknown:
                raise ValueError(
                    f"tolerance {key!r}: unknown {sorted(unknown)}; give {{'rtol': R, 'atol': A}}."
                )
            return cls(rtol=float(value.get("rtol", 0.0)), atol=float(value.get("atol", 0.0)))
        raise ValueError(
            f"tolerance {key!r}={value!r}: give a float (rtol) or {{'rtol': R, 'atol': A}}."
        )

    def __str__(self) -> str:
        if self.rtol == 0 and self.atol == 0:
            return EXACT_TEXT
        parts = [f"rtol={self.rtol:g}"] if self.rtol else []
        parts += [f"atol={self.atol:g}"] if self.atol else []
        return " ".join(parts)


EXACT = Tolerance()


@final
@attrs.frozen
class Tolerances:
    """Tolerances by key (a metric name, a dotted result path, ``result`` or ``*``)."""

    by_key: Mapping[str, Tolerance] = attrs.field(factory=dict)

    @classmethod
    def from_ini(cls, lines: Iterable[str]) -> Tolerances:
        """Parse ``KEY rtol=R atol=A`` lines; blank lines and ``#`` comments are skipped."""
        by_key: dict[str, Tolerance] = {}
        for raw in lines:
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            key, *parts = line.split()
            values: dict[str, float] = {}
            for part in parts:
                name, eq, text = part.partition("=")
                if not eq or name not in ("rtol", "atol"):
                    raise ValueError(
                        f"sacredx_tolerance line {raw.strip()!r}: {part!r} is not rtol=R or atol=A "
                        "(e.g. 'accuracy rtol=1e-3 atol=0')."
                    )
                try:
                    values[name] = float(text)
                except ValueError:
                    raise ValueError(
                        f"sacredx_tolerance line {raw.strip()!r}: {text!r} is not a number."
                    ) from None
            if not values:
                raise ValueError(
                    f"sacredx_tolerance line {raw.strip()!r}: give rtol=R and/or atol=A after the key."
                )
            by_key[key] = Tolerance(**values)
        return cls(by_key)

    @classmethod
    def from_marker(cls, value: Any) -> Tolerances:
        """``@pytest.mark.experiment(ex, tolerance={"accuracy": 1e-3, "loss": {"atol": 1e-6}})``;
        a bare float is the tolerance of everything (``*``)."""
        if value is None:
            return cls()
        if not isinstance(value, Mapping):
            return cls({"*": Tolerance.from_value("*", value)})
        return cls({str(k): Tolerance.from_value(str(k), v) for k, v in value.items()})

    def merged(self, other: Tolerances) -> Tolerances:
        """``other`` wins key by key (the marker over the ini lines)."""
        return Tolerances({**self.by_key, **other.by_key})

    def lookup(self, candidates: Iterable[str]) -> Tolerance:
        for key in (*candidates, "*"):
            tol = self.by_key.get(key)
            if tol is not None:
                return tol
        return EXACT


@final
@attrs.frozen
class Difference:
    """One value that is not as expected; ``note`` explains differences that are not numeric."""

    key: str
    expected: Any
    got: Any
    tolerance: Tolerance = EXACT
    note: str = ""

    @property
    def abs_diff(self) -> float | None:
        if not (_is_number(self.expected) and _is_number(self.got)):
            return None
        try:
            return abs(float(self.got) - float(self.expected))
        except OverflowError:  # ints beyond float range
            return math.inf

    @property
    def rel_diff(self) -> float | None:
        diff = self.abs_diff
        if diff is None or math.isnan(diff):
            return None
        expected = abs(float(self.expected))
        if expected == 0:
            return math.inf if diff else 0.0
        return diff / expected


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def close(expected: Any, got: Any, tol: Tolerance = EXACT) -> bool:
    """Whether two numbers are equal within ``tol``; NaN equals NaN, inf only itself."""
    if isinstance(expected, int) and isinstance(got, int) and tol == EXACT:
        return expected == got  # exactly, also beyond float precision
    try:
        a, b = float(expected), float(got)
    except OverflowError:
        return expected == got
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return a == b or math.isclose(a, b, rel_tol=tol.rtol, abs_tol=tol.atol)


def compare(
    expected: Any, got: Any, tolerances: Tolerances | None = None, key: str = "result"
) -> list[Difference]:
    """Every difference between ``expected`` and ``got`` (stored forms), depth first, in key order.

    ``key`` is the label of the top level (``result``, or a metric's name); nested values are labelled
    ``result.scores[2].top1``.
    """
    tolerances = tolerances or Tolerances()
    top = key if key != "result" else None
    return list(_walk(expected, got, key, (top,) if top else (), top is None, tolerances))


def _candidates(path: tuple[str, ...], in_result: bool) -> list[str]:
    keys = [".".join(path[:i]) for i in range(len(path), 0, -1)]
    return [*keys, "result"] if in_result else keys


def _walk(
    expected: Any, got: Any, label: str, path: tuple[str, ...], in_result: bool, tols: Tolerances
) -> Iterator[Difference]:
    if isinstance(expected, Mapping) and isinstance(got, Mapping):
        for k in sorted(set(expected) | set(got), key=str):
            sub = f"{label}.{k}"
            if k not in got:
                yield Difference(sub, expected[k], None, note="missing")
            elif k not in expected:
                yield Difference(sub, None, got[k], note="not in the baseline")
            else:
                yield from _walk(expected[k], got[k], sub, (*path, str(k)), in_result, tols)
        return
    if isinstance(expected, list) and isinstance(got, list):
        if len(expected) != len(got):
            yield Difference(label, f"{len(expected)} items", f"{len(got)} items", note="length")
        for i, (e, g) in enumerate(zip(expected, got, strict=False)):
            yield from _walk(e, g, f"{label}[{i}]", path, in_result, tols)
        return
    if _is_number(expected) and _is_number(got):
        tol = tols.lookup(_candidates(path, in_result))
        if not close(expected, got, tol):
            yield Difference(label, expected, got, tol)
        return
    if type(expected) is not type(got) or expected != got:
        note = "" if type(expected) is type(got) else "type"
        yield Difference(label, expected, got, note=note)


def compare_run(
    expected: Mapping[str, Any], got: Mapping[str, Any], tolerances: Tolerances | None = None
) -> list[Difference]:
    """Compare ``{"result": …, "metrics": {name: final value}}`` pairs (a baseline and a new run)."""
    diffs = compare(expected.get("result"), got.get("result"), tolerances)
    old_m: Mapping[str, Any] = expected.get("metrics") or {}
    new_m: Mapping[str, Any] = got.get("metrics") or {}
    for name in sorted(set(old_m) | set(new_m)):
        if name not in new_m:
            diffs.append(Difference(name, old_m[name], None, note="metric not logged"))
        elif name not in old_m:
            diffs.append(Difference(name, None, new_m[name], note="metric not in the baseline"))
        else:
            diffs.extend(compare(old_m[name], new_m[name], tolerances, key=name))
    old_s: Mapping[str, Any] = expected.get("series") or {}
    new_s: Mapping[str, Any] = got.get("series") or {}
    for name in sorted(old_s):  # whole series, when the baseline pinned them
        if name not in new_s:
            diffs.append(Difference(f"{name} (series)", old_s[name], None, note="metric not logged"))
            continue
        diffs.extend(compare(old_s[name].get("steps"), new_s[name].get("steps"), None, key=f"{name}.steps"))
        diffs.extend(compare(old_s[name].get("values"), new_s[name].get("values"), tolerances, key=name))
    return diffs


def _cell(value: Any, width: int = 24) -> str:
    import json

    text = f"{value:.10g}" if isinstance(value, float) else json.dumps(value, default=repr)
    return text if len(text) <= width else text[: width - 1] + "…"


def _diff_cell(value: float | None, percent: bool = False) -> str:
    if value is None:
        return "—"
    if percent:
        return "inf" if math.isinf(value) else f"{value * 100:.4g}%"
    return f"{value:.4g}"


def format_differences(
    diffs: Iterable[Difference], limit: int = 30, names: tuple[str, str] = ("expected", "got")
) -> str:
    """A table: key, expected, got, absolute and relative difference, tolerance (or what differs);
    ``names`` relabels the two value columns (``("first run", "second run")``)."""
    diffs = list(diffs)
    header = ["key", *names, "abs diff", "rel diff", "tolerance"]
    rows = [
        [
            d.key,
            _cell(d.expected),
            _cell(d.got),
            _diff_cell(d.abs_diff),
            _diff_cell(d.rel_diff, percent=True),
            d.note or str(d.tolerance),
        ]
        for d in diffs[:limit]
    ]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    lines = ["  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in [header, *rows]]
    if len(diffs) > limit:
        lines.append(f"  … {len(diffs) - limit} more differences")
    return "\n".join(lines)
