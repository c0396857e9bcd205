"""The last value of each metric of a TinyDB run, read from its log lines without decoding the series.

``sacredx runs`` shows every run's final metric values, but a run's metric lines hold its whole series
(steps, values and timestamps: 15 kB for three metrics of 100 points) and decoding them is most of the
cost of listing 10,000 runs. This module *skims* such a line: keys and small values are decoded exactly
(:meth:`json.JSONDecoder.raw_decode` from their position), a flat array of numbers or plain strings is
skipped by finding its closing bracket, and of a ``values`` array only the last element is decoded.
Anything the skim does not expect (a nested value, a string with an escape, an unknown key) makes it
decode that line whole, so the answer is always the one the folded document gives; a run with a metric
whose series is empty gives ``None`` (the caller then loads the metrics).

The lines of a run (a ``doc``, then patches ``set``/``ext``, in log order) change its metrics as
:func:`~pytest_sacredx.observers.tinydb_bases.apply_patch` does; :func:`final_values` follows them.

Cheaper still is not to read the metric lines at all: the observer knows the last value it logged of
each metric, so the line that ends a run carries them as ``"fin": {name: value}`` (outside the
document: folding ignores it, older readers too), and a compaction puts them (:func:`finals_of` its
metrics) on each run's document line with ``"fin_covers": 1``: they hold for the metric line written
right after it. A ``fin`` answers for the run when no line after the ones it covers changes the
metrics; otherwise the lines are skimmed as before.

>>> doc = {"t": "runs", "id": 1, "doc": {"_id": "a", "metrics": {}}}
>>> line = '{"t":"runs","id":1,"ext":[[["metrics","loss","steps"],[0,1]],[["metrics","loss","values"],[0.5,0.25]]]}'
>>> final_values([doc, line], doc_id=1, table="runs")
{'loss': 0.25}
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "final_values", "fast_effects", "skim_effects", "effects_of", "finals_of", "skim_series_map",
    "LOGGED_ORDER", "SORTED_ORDER",
]

_decoder = json.JSONDecoder()
_decode_at = _decoder.raw_decode
_HEAVY = ("captured_out", "metrics")
_NO = (False, None)


class _Unexpected(Exception):
    """The skim met something it does not read (internal: the line is decoded whole instead)."""


# an effect on a run's metrics, in log order:
#   ("doc"|"set", {name: (has_values, last_value)} or None for "not a dict of series")
#   ("ext", path, has_values, last_value)     (an ext of ["metrics", name, key]; last only for values)
Effect = tuple[Any, ...]


def _series_state(series: Any) -> tuple[bool, Any] | None:
    if not isinstance(series, Mapping):
        return None
    values = series.get("values")
    if values is None:
        return _NO
    if not isinstance(values, list):
        return None
    return (True, values[-1]) if values else _NO


def _metrics_state(metrics: Any) -> dict[str, tuple[bool, Any] | None] | None:
    if not isinstance(metrics, Mapping):
        return None
    return {name: _series_state(series) for name, series in metrics.items()}


def finals_of(metrics: Any) -> dict[str, Any] | None:
    """The last value of each series of a run's ``metrics`` (what :func:`final_values` gives of a run
    holding them), or ``None`` when a series is empty or odd.

    >>> finals_of({"loss": {"steps": [0, 1], "values": [0.5, 0.25]}}), finals_of({"acc": {"values": []}})
    ({'loss': 0.25}, None)
    """
    state = _metrics_state(metrics)
    if state is None or not all(got is not None and got[0] for got in state.values()):
        return None
    return {name: got[1] for name, got in state.items() if got is not None}


def effects_of(line: Mapping[str, Any]) -> list[Effect]:
    """The effects of one decoded log line on the run's metrics."""
    out: list[Effect] = []
    if "doc" in line:
        doc = line["doc"]
        metrics = doc.get("metrics") if isinstance(doc, Mapping) else None
        out.append(("doc", {} if metrics is None else _metrics_state(metrics)))
        return out
    set_ = line.get("set")
    if isinstance(set_, Mapping) and "metrics" in set_:
        out.append(("set", _metrics_state(set_["metrics"])))
    for entry in line.get("ext") or ():
        path, items = entry
        if path and path[0] == "metrics":
            if path[-1] == "values" and len(path) == 3 and isinstance(items, list) and items:
                out.append(("ext", list(path), True, items[-1]))
            else:
                out.append(("ext", list(path), False, None))
    return out


def _ws(s: str, i: int) -> int:
    while s[i] in " \t\r\n":
        i += 1
    return i


def _expect(s: str, i: int, ch: str) -> int:
    i = _ws(s, i)
    if s[i] != ch:
        raise _Unexpected(f"expected {ch!r} at {i}")
    return i + 1


def _skip_array(s: str, i: int) -> int:
    """The end of the array at ``s[i] == '['`` (found without decoding when it is flat and plain)."""
    j = s.find("]", i)
    if j > 0:
        seg = s[i + 1 : j]
        if "[" not in seg and "{" not in seg and "\\" not in seg and seg.count('"') % 2 == 0:
            return j + 1  # no escape, quotes balanced: that ']' is outside every string
    return _decode_at(s, i)[1]


def _array_last(s: str, i: int) -> tuple[bool, Any, int]:
    """(non-empty, last element, end) of the array at ``s[i] == '['``."""
    j = s.find("]", i)
    if j > 0:
        seg = s[i + 1 : j]
        if "[" not in seg and "{" not in seg and '"' not in seg:
            if not seg.strip():
                return False, None, j + 1
            return True, json.loads(seg[seg.rfind(",") + 1 :]), j + 1
    items, end = _decode_at(s, i)
    if not isinstance(items, list):
        raise _Unexpected("not an array")
    return bool(items), (items[-1] if items else None), end


def _keys(s: str, i: int) -> Any:
    """Iterate ``(key, position of its value)`` of the object at ``s[i] == '{'``; the caller sends
    back the position after the value."""
    i = _expect(s, i, "{")
    i = _ws(s, i)
    if s[i] == "}":
        return i + 1
    while True:
        key, i = _decode_at(s, i)
        if not isinstance(key, str):
            raise _Unexpected("a key that is no string")
        i = _ws(s, _expect(s, i, ":"))
        i = yield key, i
        i = _ws(s, i)
        if s[i] == "}":
            return i + 1
        i = _ws(s, _expect(s, i, ","))


def _walk(s: str, i: int, handle: Any) -> int:
    """Walk the object at ``i``, calling ``handle(key, position) -> end`` per key; its end."""
    gen = _keys(s, i)
    try:
        key, pos = next(gen)
        while True:
            key, pos = gen.send(handle(key, pos))
    except StopIteration as stop:
        return int(stop.value)


def _skim_metrics(s: str, i: int) -> tuple[dict[str, tuple[bool, Any] | None], int]:
    state: dict[str, tuple[bool, Any] | None] = {}

    def series(name: str, pos: int) -> int:
        if s[pos] != "{":
            value, end = _decode_at(s, pos)
            state[name] = _series_state(value)
            return end
        found: list[tuple[bool, Any] | None] = [_NO]

        def part(key: str, at: int) -> int:
            if key == "values":
                if s[at] != "[":
                    value, end = _decode_at(s, at)
                    found[0] = None if value is not None else _NO
                    return end
                has, last, end = _array_last(s, at)
                found[0] = (has, last)
                return end
            return _skip_array(s, at) if s[at] == "[" else _decode_at(s, at)[1]

        end = _walk(s, pos, part)
        state[name] = found[0]
        return end

    return state, _walk(s, i, series)


def skim_effects(s: str, doc_id: int, table: str) -> list[Effect]:
    """The effects on metrics of one *heavy* log line (a patch of ``metrics``/``captured_out`` only),
    read without decoding the series; :class:`ValueError` for a line that is not one."""
    out: list[Effect] = []
    seen: dict[str, Any] = {}

    def top(key: str, pos: int) -> int:
        if key in ("t", "id"):
            seen[key], end = _decode_at(s, pos)
            return end
        if key == "set":
            def field(name: str, at: int) -> int:
                if name == "metrics":
                    state, end = _skim_metrics(s, at) if s[at] == "{" else (None, _decode_at(s, at)[1])
                    out.append(("set", state))
                    return end
                if name == "captured_out":
                    return _decode_at(s, at)[1]
                raise _Unexpected(f"set of {name!r}")
            return _walk(s, pos, field)
        if key == "ext":
            at = _expect(s, pos, "[")
            at = _ws(s, at)
            if s[at] == "]":
                return at + 1
            while True:
                at = _expect(s, at, "[")
                path, at = _decode_at(s, _ws(s, at))
                if not isinstance(path, list) or not path or path[0] not in _HEAVY:
                    raise _Unexpected(f"ext of {path!r}")
                at = _ws(s, _expect(s, at, ","))
                if s[at] != "[":
                    raise _Unexpected("ext items that are no array")
                if path[0] == "metrics" and len(path) == 3 and path[2] == "values":
                    has, last, at = _array_last(s, at)
                    out.append(("ext", path, has, last))
                else:
                    at = _skip_array(s, at)
                    if path[0] == "metrics":
                        out.append(("ext", path, False, None))
                at = _ws(s, _expect(s, at, "]"))
                if s[at] == "]":
                    return at + 1
                at = _expect(s, at, ",")
        if key == "cat":
            def cat(name: str, at: int) -> int:
                if name != "captured_out":
                    raise _Unexpected(f"cat of {name!r}")
                return _decode_at(s, at)[1]
            return _walk(s, pos, cat)
        raise _Unexpected(f"key {key!r}")

    try:
        end = _walk(s, 0, top)
        if s[end:].strip():
            raise _Unexpected("text after the line's object")
    except (_Unexpected, ValueError, IndexError) as e:
        raise ValueError(f"not a heavy line of this run: {e}") from None
    if seen.get("t") != table or seen.get("id") != doc_id or isinstance(seen.get("id"), bool):
        raise ValueError("not a line of this run")
    return out


def flat_numbers(seg: str) -> bool:
    """Whether ``seg`` (the text between an array's ``[`` and the first ``]`` after it) is the whole
    array: no nested value, no string (so no ``]`` inside one), no empty item (a damaged ``[1,,2]`` is
    left to the decoder, which refuses it)."""
    return ('"' not in seg and "[" not in seg and "{" not in seg and ",," not in seg
            and not seg.startswith(",") and not seg.endswith(","))


def _scalar(tok: str) -> Any:
    """A JSON number (or literal) as ``json.loads`` gives it, without its call for the usual ones."""
    if "_" not in tok:  # Python's int() and float() take digit separators, JSON does not
        try:
            return int(tok)
        except ValueError:
            pass
        if "." in tok or "e" in tok or "E" in tok:
            try:
                return float(tok)
            except ValueError:
                pass
    return json.loads(tok)


def last_number(seg: str) -> tuple[bool, Any]:
    """``(non-empty, last element)`` of a flat array's text between its brackets (:func:`flat_numbers`)."""
    return (True, _scalar(seg[seg.rfind(",") + 1 :].strip())) if seg.strip() else _NO


def _path(text: str) -> Any:
    """The decoded ``"metrics","NAME","KEY"`` of an ext entry."""
    if "\\" not in text:
        parts = text[1:-1].split('","')
        if len(parts) == 3:
            return parts
    return json.loads(f"[{text}]")


_EXT = '[["metrics",'
#: the key order of a series: in a compacted TinyDB line (as logged), in ``metrics.jsonl`` (sorted)
LOGGED_ORDER = ("steps", "values", "timestamps")
SORTED_ORDER = ("steps", "timestamps", "values")


def skim_series_map(
    s: str, at: int, keys: tuple[str, ...]
) -> tuple[dict[str, tuple[bool, Any]], int] | None:
    """``({name: (has values, last value)}, end)`` of the JSON object ``s[at:end]`` whose members are
    series objects with exactly ``keys`` in that order (flat arrays: numbers for ``steps`` and
    ``values``, strings for ``timestamps``), read by plain text search; None for any other text.

    Exact for JSON, or the start of it: every ``"`` inside a string is escaped and a name holding ``"``
    or ``\\`` is refused, so each marker found is the text's structure (a ``]`` inside a string cannot
    be followed by the next marker).

    >>> skim_series_map('{"loss":{"steps":[0,1],"timestamps":["a","b"],"values":[0.5,0.25]}}', 0, SORTED_ORDER)
    ({'loss': (True, 0.25)}, 67)
    >>> skim_series_map('{"loss":{"steps":[0],"timestamps":["a]"],"values":[0.5]}}', 0, SORTED_ORDER) is None
    True
    """
    if s.startswith("{}", at):
        return {}, at + 2
    first = f'":{{"{keys[0]}":['
    ends = [f'],"{key}":[' for key in keys[1:]] + ["]}"]
    out: dict[str, tuple[bool, Any]] = {}
    pos = at + 1
    while s.startswith('"', pos):
        name_end = s.find(first, pos + 1)
        name = s[pos + 1 : name_end]
        if name_end < 0 or '"' in name or "\\" in name:
            return None
        start = name_end + len(first)
        last: tuple[bool, Any] = _NO
        for key, after in zip(keys, ends, strict=True):
            end = s.find("]", start)
            seg = s[start:end]
            if end < 0 or not s.startswith(after, end):
                return None
            if key == "timestamps":
                if "[" in seg or "{" in seg:
                    return None
            elif not flat_numbers(seg):
                return None
            elif key == "values":
                try:
                    last = last_number(seg)
                except ValueError:
                    return None
            start = end + len(after)
        out[name] = last
        if s.startswith("}", start):
            return out, start + 1
        if not s.startswith(",", start):
            return None
        pos = start + 1
    return None


def fast_effects(s: str, doc_id: int, table: str) -> list[Effect] | None:
    """:func:`skim_effects` for the two layouts our writer gives a heavy line (``ext`` of series;
    ``set`` of all metrics, after a compaction: :func:`skim_series_map`) with flat arrays of numbers,
    by plain text search; ``None`` for anything else. Exact because a ``"`` inside a JSON string is
    always escaped: the markers searched for can only be the line's structure."""
    head = f'{{"t":{json.dumps(table)},"id":{doc_id},'
    if not s.startswith(head):
        return None
    at = len(head)
    out: list[Effect] = []
    if s.startswith('"ext":[', at):
        pos = s.find(_EXT, at)
        while pos >= 0:
            close = s.find('"],[', pos)
            if close < 0:
                return None
            try:
                path = _path(s[pos + 2 : close + 1])
            except ValueError:
                return None
            if len(path) != 3 or not all(isinstance(p, str) for p in path):
                return None
            start = close + 4
            if path[2] == "values":
                end = s.find("]", start)
                seg = s[start:end]
                if end < 0 or not flat_numbers(seg):
                    return None
                has, last = last_number(seg)
                out.append(("ext", path, has, last))
            else:
                out.append(("ext", path, False, None))
            pos = s.find(_EXT, start)
        return out
    if s.startswith('"set":{"metrics":{', at):
        got = skim_series_map(s, at + len('"set":{"metrics":'), LOGGED_ORDER)
        return [("set", got[0])] if got is not None and s[got[1]:] == "}}" else None
    return None


def final_values(
    lines: Iterable[Mapping[str, Any] | str | list[Effect]], doc_id: int, table: str
) -> dict[str, Any] | None:
    """The last value of each metric after ``lines`` (decoded lines, the text of heavy ones, or the
    :func:`effects_of` a decoded line, in log order; the first is the run's ``doc``), or ``None`` when
    a metric has an empty or odd series (or a line cannot be skimmed: the caller decodes then)."""
    state: dict[str, tuple[bool, Any] | None] = {}
    for line in lines:
        if isinstance(line, str):
            effects = fast_effects(line, doc_id, table)
            if effects is None:
                effects = skim_effects(line, doc_id, table)
        elif isinstance(line, list):
            effects = line
        else:
            effects = effects_of(line)
        for effect in effects:
            if effect[0] in ("doc", "set"):
                if effect[1] is None:
                    return None
                state = dict(effect[1])
                continue
            _, path, has, last = effect
            if len(path) != 3 or not all(isinstance(p, str) for p in path):
                return None
            name = path[1]
            current = state.get(name, _NO)
            if current is None:
                return None
            if path[2] == "values":
                state[name] = (True, last) if has else current
            else:
                state[name] = current
    out: dict[str, Any] = {}
    for name, got in state.items():
        if got is None or not got[0]:
            return None
        out[name] = got[1]
    return out
