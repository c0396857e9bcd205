"""The ``--where`` grammar: a small boolean language over run paths, parsed (never ``eval``-ed).

::

    expr        := and ("or" and)*
    and         := unary ("and" unary)*
    unary       := "not" unary | "(" expr ")" | test
    test        := term [OP term [OP term]]          # chained: 0.1 < config.gamma <= 0.5
                 | term ["not"] "in" (list | term ".." term)
    OP          := == | = | != | < | <= | > | >= | ~  (~ is a regular-expression search)
    term        := number | 'string' | "string" | true | false | null | word | list
    list        := "(" term ("," term)* ")" | "[" … "]"

A *word* is a path (see :mod:`pytest_sacredx.query.fields`) when it starts with a known root (``status``,
``config.``…), otherwise a string: ``status == COMPLETED``, ``config.kernel in (rbf, linear)``. Quote a
string that looks like a path. ``sweep == last`` means the most recent sweep among the runs. A test
without an operator asks whether the value is truthy (``not meta.pytest.worker``: script runs).

Semantics, so that the same predicate in Python agrees: a path a run lacks is ``None``; ``==`` is
equality where a bool equals only a bool and ints equal floats; ``!=`` is its negation; ``< <= > >=``
hold only between two numbers or two strings (anything else, and NaN, is false); ``in (…)`` is ``==``
with any element, ``in lo..hi`` is ``lo <= x <= hi``.

>>> from pytest_sacredx.observers.record import RunRecord
>>> runs = [RunRecord(id=str(g), status="COMPLETED", config={"gamma": g, "kernel": k})
...         for g, k in [(0.1, "rbf"), (0.7, "rbf"), (0.9, "linear")]]
>>> [r.id for r in parse_where("config.gamma > 0.5 and config.kernel in (rbf, poly)").filter(runs)]
['0.7']
>>> parse_where("config.gamma >")
Traceback (most recent call last):
...
pytest_sacredx.query.errors.WhereSyntaxError: --where 'config.gamma >': column 15: expected a value after '>'
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs

from ..observers.record import RunRecord
from .errors import UnknownFieldError, WhereSyntaxError
from .fields import ROOTS, Field, check_known, parse_field, sweep_id

__all__ = ["Where", "parse_where", "values_equal", "values_less"]

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<num>[+-]?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?(?![A-Za-z_\d]))
  | (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<word>[A-Za-z_][A-Za-z0-9_\-/]*(?:[.:][A-Za-z0-9_\-/]+)*)
  | (?P<op>==|!=|<=|>=|<|>|=|~)
  | (?P<range>\.\.)
  | (?P<punct>[()\[\],])
    """,
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "in"}
_LITERALS = {"true": True, "false": False, "null": None, "none": None}


@attrs.frozen
class _Tok:
    kind: str  # num str word op range punct kw end
    text: str
    col: int  # 1-based


def _tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise _error(text, pos + 1, f"unexpected character {text[pos]!r}")
        kind = m.lastgroup or ""
        if kind != "ws":
            word = m.group()
            if kind == "word" and word.lower() in _KEYWORDS:
                kind = "kw"
                word = word.lower()
            out.append(_Tok(kind, word, pos + 1))
        pos = m.end()
    out.append(_Tok("end", "", len(text) + 1))
    return out


def _error(text: str, col: int, message: str) -> WhereSyntaxError:
    return WhereSyntaxError(f"--where {text!r}: column {col}: {message}")


# -- the tree ------------------------------------------------------------------------------------------

_Value = Callable[[RunRecord, "_Ctx"], Any]


class _Ctx:
    """What a test may need besides its run: the time that decides DEAD, and ``sweep == last``."""

    def __init__(self, records: Sequence[RunRecord], now: _dt.datetime | None) -> None:
        self.records = records
        self.now = now
        self._last_sweep: Any = _UNSET

    @property
    def last_sweep(self) -> str | None:
        if self._last_sweep is _UNSET:
            self._last_sweep = last_sweep(self.records)
        return self._last_sweep  # type: ignore[no-any-return]


_UNSET = object()


def last_sweep(records: Iterable[RunRecord]) -> str | None:
    """The sweep id whose newest run started last (``sweep == last``)."""
    newest: dict[str, str] = {}
    for rec in records:
        sweep = sweep_id(rec)
        if sweep:
            when = (rec.start_time or rec.queue_time or _dt.datetime.min).isoformat()
            if when >= newest.get(sweep, ""):
                newest[sweep] = when
    return max(newest, key=lambda s: newest[s]) if newest else None


def values_equal(a: Any, b: Any) -> bool:
    """``==`` of the grammar: a bool equals only a bool; ints and floats compare as numbers."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return bool(a == b)
    if isinstance(a, (int, float)) or isinstance(b, (int, float)):
        return False
    try:
        return bool(a == b)
    except Exception:  # pragma: no cover - exotic values
        return False


def _orderable(a: Any, b: Any) -> bool:
    num = (int, float)
    if isinstance(a, bool) or isinstance(b, bool):
        return False
    return (isinstance(a, num) and isinstance(b, num)) or (isinstance(a, str) and isinstance(b, str))


def values_less(a: Any, b: Any, or_equal: bool = False) -> bool:
    """``<`` (``<=``) of the grammar: only between two numbers or two strings."""
    if not _orderable(a, b):
        return False
    return bool(a <= b) if or_equal else bool(a < b)


def _compare(op: str, a: Any, b: Any) -> bool:
    if op in ("==", "="):
        return values_equal(a, b)
    if op == "!=":
        return not values_equal(a, b)
    if op == "<":
        return values_less(a, b)
    if op == "<=":
        return values_less(a, b, True)
    if op == ">":
        return values_less(b, a)
    if op == ">=":
        return values_less(b, a, True)
    raise AssertionError(op)  # pragma: no cover


@attrs.frozen
class Where:
    """A parsed ``--where`` expression; ``filter`` keeps the runs it holds for.

    ``fields`` are the paths it reads (checked against the runs: a ``config.``/``metrics.`` path no run
    has is an error with a did-you-mean).
    """

    text: str
    fields: tuple[Field, ...]
    _test: Callable[[RunRecord, _Ctx], bool]

    def matcher(
        self, records: Sequence[RunRecord], now: _dt.datetime | None = None
    ) -> Callable[[RunRecord], bool]:
        """A predicate over single runs; ``records`` resolve ``last`` and check the paths."""
        try:
            check_known(self.fields, records)
        except UnknownFieldError as e:
            raise UnknownFieldError(f"--where {self.text!r}: {e}") from None
        ctx = _Ctx(records, now)
        test = self._test
        return lambda rec: bool(test(rec, ctx))

    def filter(
        self, records: Sequence[RunRecord], now: _dt.datetime | None = None
    ) -> list[RunRecord]:
        match = self.matcher(records, now)
        return [rec for rec in records if match(rec)]


def parse_where(text: str) -> Where:
    """Parse a ``--where`` expression (see the module docstring)."""
    parser = _Parser(text)
    test = parser.expr()
    tok = parser.peek()
    if tok.kind != "end":
        hint = " (join tests with and/or)" if tok.kind in ("word", "num", "str") else ""
        raise _error(text, tok.col, f"unexpected {tok.text!r}{hint}")
    return Where(text, tuple(parser.fields), test)


class _Parser:
    def __init__(self, text: str) -> None:
        if not text.strip():
            raise WhereSyntaxError(f"--where {text!r}: empty expression; e.g. --where 'config.gamma > 0.5'")
        self.text = text
        self.toks = _tokens(text)
        self.i = 0
        self.fields: list[Field] = []
        self.last_field: Field | None = None  # the path of the test being parsed (sweep == last)

    def peek(self, ahead: int = 0) -> _Tok:
        return self.toks[min(self.i + ahead, len(self.toks) - 1)]

    def take(self) -> _Tok:
        tok = self.peek()
        self.i += 1
        return tok

    def expect(self, kind: str, text: str, what: str) -> _Tok:
        tok = self.peek()
        if tok.kind != kind or tok.text != text:
            found = "the end" if tok.kind == "end" else repr(tok.text)
            raise _error(self.text, tok.col, f"expected {what}, found {found}")
        return self.take()

    # expr := and ("or" and)*
    def expr(self) -> Callable[[RunRecord, _Ctx], bool]:
        parts = [self.conj()]
        while self.peek().kind == "kw" and self.peek().text == "or":
            self.take()
            parts.append(self.conj())
        if len(parts) == 1:
            return parts[0]
        return lambda r, c: any(p(r, c) for p in parts)

    def conj(self) -> Callable[[RunRecord, _Ctx], bool]:
        parts = [self.unary()]
        while self.peek().kind == "kw" and self.peek().text == "and":
            self.take()
            parts.append(self.unary())
        if len(parts) == 1:
            return parts[0]
        return lambda r, c: all(p(r, c) for p in parts)

    def unary(self) -> Callable[[RunRecord, _Ctx], bool]:
        tok = self.peek()
        if tok.kind == "kw" and tok.text == "not":
            self.take()
            inner = self.unary()
            return lambda r, c: not inner(r, c)
        if tok.kind == "punct" and tok.text == "(":
            self.take()
            inner = self.expr()
            self.expect("punct", ")", f"')' to close the '(' at column {tok.col}")
            return inner
        return self.test()

    def test(self) -> Callable[[RunRecord, _Ctx], bool]:
        self.last_field = None
        left_tok = self.peek()
        fields_before = len(self.fields)
        test = self._test(left_tok)
        if len(self.fields) == fields_before:  # `gamma > 1`, `1 == 1`: nothing of the run is read
            raise _error(self.text, left_tok.col,
                         f"expected a path to test, found {left_tok.text!r}"
                         + (" (a path starts with config., metrics., status, …)"
                            if left_tok.kind == "word" else ""))
        return test

    def _test(self, left_tok: _Tok) -> Callable[[RunRecord, _Ctx], bool]:
        left = self.term(None)
        tok = self.peek()
        negate = False
        if tok.kind == "kw" and tok.text == "not" and self.peek(1).text == "in":
            self.take()
            negate = True
            tok = self.peek()
        if tok.kind == "kw" and tok.text == "in":
            self.take()
            member = self.membership(tok)
            return (lambda r, c: not member(left(r, c), r, c)) if negate else (
                lambda r, c: member(left(r, c), r, c))
        if tok.kind != "op":
            if left_tok.kind not in ("word",) or not self._is_path(left_tok.text):
                raise _error(self.text, left_tok.col,
                             f"expected a path to test, found {left_tok.text!r}"
                             + (" (a path starts with config., metrics., status, …)"
                                if left_tok.kind == "word" else ""))
            return lambda r, c: _truthy(left(r, c))
        self.take()
        if tok.text == "~":
            pattern = self.regex(tok)
            return lambda r, c: _search(pattern, left(r, c))
        right = self.term(tok)
        op2 = self.peek()
        if op2.kind == "op" and op2.text in ("<", "<=", ">", ">=") and tok.text in ("<", "<=", ">", ">="):
            self.take()
            third = self.term(op2)
            op1 = tok.text
            return lambda r, c: _compare(op1, left(r, c), (mid := right(r, c))) and _compare(
                op2.text, mid, third(r, c))
        op = tok.text
        return lambda r, c: _compare(op, left(r, c), right(r, c))

    def membership(self, in_tok: _Tok) -> Callable[[Any, RunRecord, _Ctx], bool]:
        tok = self.peek()
        if tok.kind == "punct" and tok.text in "([":
            items = self.sequence()
            return lambda v, r, c: any(values_equal(v, item(r, c)) for item in items)
        lo = self.term(in_tok)
        self.expect("range", "..", "'..' of a range (lo..hi) or a list (a, b)")
        hi = self.term(in_tok)
        return lambda v, r, c: values_less(lo(r, c), v, True) and values_less(v, hi(r, c), True)

    def sequence(self) -> list[_Value]:
        open_tok = self.take()
        close = ")" if open_tok.text == "(" else "]"
        items: list[_Value] = []
        while True:
            if self.peek().text == close and self.peek().kind == "punct":
                self.take()
                return items
            items.append(self.term(open_tok))
            tok = self.peek()
            if tok.kind == "punct" and tok.text == ",":
                self.take()
            elif not (tok.kind == "punct" and tok.text == close):
                raise _error(self.text, tok.col,
                             f"expected ',' or {close!r} in the list opened at column {open_tok.col}")

    def regex(self, op: _Tok) -> re.Pattern[str]:
        tok = self.take()
        if tok.kind not in ("str", "word", "num"):
            raise _error(self.text, tok.col, f"expected a pattern after {op.text!r}")
        source = _unquote(tok.text) if tok.kind == "str" else tok.text
        try:
            return re.compile(source)
        except re.error as e:
            raise _error(self.text, tok.col, f"bad regular expression {source!r}: {e}") from None

    def term(self, after: _Tok | None) -> _Value:
        tok = self.take()
        if tok.kind == "num":
            number = float(tok.text) if any(ch in tok.text for ch in ".eE") else int(tok.text)
            return lambda r, c: number
        if tok.kind == "str":
            text = _unquote(tok.text)
            return lambda r, c: text
        if tok.kind == "punct" and tok.text == "[":
            self.i -= 1
            items = self.sequence()
            return lambda r, c: [item(r, c) for item in items]
        if tok.kind == "word":
            lowered = tok.text.lower()
            if lowered in _LITERALS:
                literal = _LITERALS[lowered]
                return lambda r, c: literal
            if self._is_path(tok.text):
                try:
                    field = parse_field(tok.text)
                except UnknownFieldError as e:
                    raise _error(self.text, tok.col, str(e)) from None
                self.fields.append(field)
                self.last_field = field
                return _field_value(field)
            if "." in tok.text and tok.text.split(".", 1)[0] not in ROOTS and after is None:
                try:
                    parse_field(tok.text)
                except UnknownFieldError as e:
                    raise _error(self.text, tok.col, str(e)) from None
            word = tok.text
            if word == "last" and self.last_field is not None and self.last_field.root == "sweep":
                return lambda r, c: c.last_sweep
            return lambda r, c: word
        if tok.kind == "end":
            where = f" after {after.text!r}" if after is not None else ""
            raise _error(self.text, tok.col, f"expected a value{where}")
        raise _error(self.text, tok.col, f"expected a value, found {tok.text!r}")

    @staticmethod
    def _is_path(word: str) -> bool:
        return word.split(".", 1)[0].split(":", 1)[0] in ROOTS


def _field_value(field: Field) -> _Value:
    get = field.getter()
    return lambda r, c: get(r, c.now)


def _truthy(value: Any) -> bool:
    return bool(value)


def _search(pattern: re.Pattern[str], value: Any) -> bool:
    return value is not None and pattern.search(str(value)) is not None


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", r"\1", body)
