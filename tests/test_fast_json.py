"""pytest_sacredx.fast_json: the same answers and the same errors as json.loads, with orjson and without."""

from __future__ import annotations

import json
import math
from typing import Any
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_sacredx import fast_json

pytest.importorskip("orjson")  # the test extra installs it; without it loads is json.loads itself

_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
    | st.text() | st.integers(min_value=-(2**70), max_value=2**70)
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


def _same(a: Any, b: Any) -> bool:
    """Equal, NaN equal to NaN, and of the same types throughout (an int never a float)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


@given(_values, st.booleans())
def test_every_value_json_writes_is_read_back_as_json_reads_it(value: Any, ascii_only: bool) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only)
    raw = text.encode("utf-8", "surrogatepass")
    assert _same(fast_json.loads(raw), json.loads(raw))
    assert _same(fast_json.loads(text), json.loads(text))  # text, as SQL columns give it


@pytest.mark.parametrize(
    "text",
    [b"9223372036854775807", b"-9223372036854775808", b"18446744073709551616", b"[1e400, -1e400]",
     b"NaN", b'"\\udcff"', b'{"a": 1, "a": 2}', b"-0", b"-0.0", b"1E+2", b"5e-324", b" [1] ",
     b"\xef\xbb\xbf[1]", b"[0.0011428193144282783, -0.00000000000000000000123]", b"1234567890123456789.5",
     b"[1.5, 12345678901234567890]", b"1.5e0000000000000000000001", b'"v1.0000000000000000000"'],
)
def test_the_inputs_where_orjson_differs_get_jsons_answer(text: bytes) -> None:
    assert _same(fast_json.loads(text), json.loads(text))
    as_text = text.decode("utf-8-sig")
    assert _same(fast_json.loads(as_text), json.loads(as_text))


@pytest.mark.parametrize("text", [b'{"torn": ', b"", b"[1] x", b"\xff", b"[01]", '{"torn": ', "[1] x",
                                  "\ufeff[1]"])
def test_what_json_refuses_fails_with_jsons_error(text: bytes | str) -> None:
    with pytest.raises(ValueError) as expected:
        json.loads(text)
    with pytest.raises(type(expected.value)) as got:
        fast_json.loads(text)
    assert str(got.value) == str(expected.value)


@given(st.integers(min_value=0, max_value=10**18 - 1), st.text("0123456789", min_size=19, max_size=40))
def test_long_fractions_skip_the_slow_path_and_keep_jsons_answer(whole: int, fraction: str) -> None:
    text = f"[{whole}.{fraction}, -{whole}.{fraction}]"
    expected = json.loads(text)
    with mock.patch.object(fast_json.json, "loads", None):  # no long integer here: orjson alone
        assert _same(fast_json.loads(text.encode()), expected)


@pytest.mark.parametrize("value", [memoryview(b"[1]"), 5, None, bytearray(b"[1, 2]")])
def test_what_json_does_not_take_as_text_gets_jsons_answer(value: Any) -> None:
    try:
        expected: Any = json.loads(value)
    except TypeError as e:
        with pytest.raises(TypeError, match=str(e)):
            fast_json.loads(value)
    else:
        assert fast_json.loads(value) == expected


def test_without_orjson_it_is_json_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fast_json, "_orjson", False)
    assert fast_json.loads(b'{"a": [1, 2.5, NaN]}').keys() == {"a"}
    with pytest.raises(json.JSONDecodeError):
        fast_json.loads(b"[1,")
