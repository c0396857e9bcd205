"""Safe parsing of command-line values (pytest_sacredx.config.values)."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import dotted_keys, python_literals, same_value

from pytest_sacredx import settings as settings_module
from pytest_sacredx.config.values import is_update, parse_update, parse_value
from pytest_sacredx.errors import UpdateSyntaxError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", 1),
        ("-2.5", -2.5),
        ("1e-3", 0.001),
        ("'rbf'", "rbf"),
        ('"it\'s"', "it's"),
        ("[64, 64]", [64, 64]),
        ("(1, 'a')", (1, "a")),
        ("{'a': [1, {'b': None}]}", {"a": [1, {"b": None}]}),
        ("True", True),
        ("None", None),
        ("  7  ", 7),
        ("rbf", "rbf"),
        ("true", "true"),  # Python literals only
        ("null", "null"),
        ("a=b", "a=b"),
    ],
)
def test_parse_value(text, expected):
    value = parse_value(text)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize("text", ["123_456", "1_000.5", "[1_0, 2]", "0x_ff"])
def test_underscored_numbers_stay_strings(text):
    # Sacred turned 123_456 into the int 123456; ids like that must stay text.
    assert parse_value(text) == text


def test_underscore_inside_a_quoted_string_is_fine():
    assert parse_value("'1_000'") == "1_000"


def test_strict_parsing_refuses_bare_words(monkeypatch):
    with pytest.raises(UpdateSyntaxError, match="quote it"):
        parse_value("rbf", strict=True)
    monkeypatch.setattr(settings_module.SETTINGS.COMMAND_LINE, "STRICT_PARSING", True)
    with pytest.raises(UpdateSyntaxError):
        parse_value("123_456")
    assert parse_value("'rbf'") == "rbf"


def test_parse_update_basic():
    assert parse_update("a.b=1") == ("a.b", 1)
    assert parse_update("layers=[64, 64]") == ("layers", [64, 64])
    assert parse_update("s=a=b") == ("s", "a=b")
    assert parse_update("name=''") == ("name", "")
    assert parse_update("kernel=rbf") == ("kernel", "rbf")


@pytest.mark.parametrize(
    ("item", "hint"),
    [
        ("a=", "use a='' for an empty string"),
        ("=1", "the key is empty"),
        ("a..b=1", "'a..b' is not a key"),
        ("1a=2", "'1a' is not a key"),
        ("a.=2", "'a.' is not a key"),
    ],
)
def test_parse_update_errors_name_item_and_fix(item, hint):
    with pytest.raises(UpdateSyntaxError) as info:
        parse_update(item)
    message = str(info.value)
    assert hint in message and repr(item) in message and "\n" not in message


def test_is_update():
    assert is_update("a=1") and not is_update("variant1")


@settings(max_examples=60)
@given(dotted_keys, python_literals())
def test_literals_round_trip(key, value):
    assert same_value(parse_update(f"{key}={value!r}"), (key, value))


@given(st.integers())
def test_negative_and_positive_ints_round_trip(n):
    assert parse_value(str(n)) == n or "_" in str(n)


@settings(max_examples=200)
@given(st.text())
def test_arbitrary_text_never_raises_anything_else(text):
    try:
        parse_value(text)
        parse_update("k=" + text) if text.strip() else None
    except UpdateSyntaxError:
        pass


@given(st.text())
def test_strict_arbitrary_text_raises_only_update_syntax_error(text):
    try:
        parse_value(text, strict=True)
    except UpdateSyntaxError:
        pass


@pytest.mark.parametrize(
    "text",
    [
        "(" * 5000 + ")" * 5000,
        "[" * 100 + "1" + "]" * 100,
        "-" * 10000 + "1",
        "9" * 4300,  # longer: an error (test_an_integer_over_pythons_digit_limit_is_an_error_not_a_string)
        "'" + "a" * 200_000 + "'",
        "\x00",
        "1" + "e9" * 3,
    ],
)
def test_pathological_inputs_are_returned_or_parsed(text):
    value = parse_value(text)
    assert value is not None


def test_code_is_never_executed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "X"
    payloads = [
        f"__import__('os').system('touch {marker}')",
        f"open('{marker}', 'w')",
        "(lambda: __import__('os').system('touch X'))()",
        "[x for x in ().__class__.__base__.__subclasses__()]",
    ]
    for payload in payloads:
        assert parse_value(payload) == payload
        assert parse_update("x=" + payload) == ("x", payload)
    assert not marker.exists() and not os.listdir(tmp_path)


def test_jsonpickle_tags_are_not_decoded(monkeypatch):
    calls = []
    monkeypatch.setattr(os, "getcwd", lambda: calls.append(1))
    text = '{"py/reduce": [{"py/function": "os.getcwd"}, {"py/tuple": []}]}'
    key, value = parse_update("x=" + text)
    assert value == {"py/reduce": [{"py/function": "os.getcwd"}, {"py/tuple": []}]}
    assert calls == []


# --------------------------------------------------------------------------- Python's int-text limit
def test_an_integer_over_pythons_digit_limit_is_an_error_not_a_string() -> None:
    limit = __import__("sys").get_int_max_str_digits()
    with pytest.raises(UpdateSyntaxError, match=rf"Cannot parse update n=…: .* integer of {limit + 700} digits"):
        parse_update("n=" + "9" * (limit + 700))
    with pytest.raises(UpdateSyntaxError, match="PYTHONINTMAXSTRDIGITS=0"):
        parse_value("[1, " + "9" * (limit + 1) + "]")
    assert parse_value("9" * limit) == int("9" * limit)  # at the limit: a number
    assert parse_value("'" + "9" * (limit + 1) + "'") == "9" * (limit + 1)  # quoted: a string
    assert parse_value("x" + "9" * (limit + 1)) == "x" + "9" * (limit + 1)  # not a number: text


def test_config_ints_no_store_could_write_are_named() -> None:
    from pytest_sacredx.config.values import check_int_sizes
    from pytest_sacredx.errors import InvalidConfigError

    check_int_sizes({"n": 10**4000, "a": [True, 2.5, "x" * 10_000]})  # within the limit: fine
    with pytest.raises(InvalidConfigError, match=r"Config entry 'a\.b\[1\]' is an integer of \d+ digits"):
        check_int_sizes({"a": {"b": [0, int("f" * 5000, 16)]}})
