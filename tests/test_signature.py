"""Signature: how a captured function's parameters are analysed and filled (explicit → config → default)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_sacredx.config.signature import SPECIAL_NAMES, Signature
from pytest_sacredx.errors import MissingConfigError, SignatureError


def f(a, b, c=3, *args, d, e=5, **kwargs):
    pass


def g(x, /, y, _seed, _log):
    pass


def test_analysis() -> None:
    s = Signature(f)
    assert s.name == "f"
    assert s.arguments == ["a", "b", "c", "d", "e"]
    assert s.positional == ("a", "b", "c")
    assert s.defaults == {"c": 3, "e": 5}
    assert s.vararg_name == "args" and s.kw_wildcard_name == "kwargs"
    assert s.specials == () and not s.uses_randomness
    t = Signature(g)
    assert t.positional == ("x", "y", "_seed", "_log")
    assert t.specials == ("_seed", "_log") and t.uses_randomness
    assert set(SPECIAL_NAMES) == {"_config", "_run", "_log", "_seed", "_rnd"}
    assert repr(s).startswith("<Signature at 0x") and repr(s).endswith(" for 'f'>")
    # Sacred's names and text: positional_args lack a default; kwargs are the defaults
    assert s.positional_args == ["a", "b"] and s.kwargs == {"c": 3, "e": 5}
    assert str(s) == "f(a, b, *args, c=3, e=5, **kwargs)"


def test_bound_methods_skip_self() -> None:
    class Model:
        def fit(self, x, lr):
            return x, lr

    s = Signature(Model.fit)
    args, kwargs = s.construct_arguments([1], {}, {"lr": 0.1, "self": "not me"}, bound=True)
    assert args == [1] and kwargs == {"lr": 0.1}
    assert s.get_free_parameters([1], {}, bound=True) == ["lr"]
    with pytest.raises(MissingConfigError, match="lr"):
        s.construct_arguments([1], {}, {}, bound=True)


def test_free_parameters() -> None:
    s = Signature(f)
    assert s.get_free_parameters((1,), {"d": 2}) == ["b", "c", "e"]
    assert s.get_free_parameters((), {}) == ["a", "b", "c", "d", "e"]


def test_config_values_fill_free_parameters_and_beat_defaults() -> None:
    s = Signature(f)
    args, kwargs = s.construct_arguments((1,), {}, {"b": 2, "c": 30, "d": 4, "zzz": 0})
    assert args == (1,)
    assert kwargs == {"b": 2, "c": 30, "d": 4}


def test_explicit_arguments_beat_config_values() -> None:
    s = Signature(f)
    args, kwargs = s.construct_arguments((1, 2), {"d": 9}, {"a": -1, "b": -2, "d": -4})
    assert args == (1, 2) and kwargs == {"d": 9}


def test_missing_values_name_the_function_and_parameters() -> None:
    with pytest.raises(MissingConfigError, match=r"f is missing value\(s\): \['b', 'd'\]"):
        Signature(f).construct_arguments((1,), {}, {})


def test_signature_errors_are_type_errors() -> None:
    def h(a, b=1):
        pass

    s = Signature(h)
    with pytest.raises(SignatureError, match="unexpected positional") as info:
        s.construct_arguments((1, 2, 3), {}, {})
    assert isinstance(info.value, TypeError)
    with pytest.raises(SignatureError, match="unexpected keyword"):
        s.construct_arguments((), {"c": 1}, {"a": 1})
    with pytest.raises(SignatureError, match="multiple values"):
        s.construct_arguments((1,), {"a": 2}, {})


def test_kwargs_wildcard_takes_unknown_keywords() -> None:
    args, kwargs = Signature(f).construct_arguments((1, 2), {"d": 1, "other": 7}, {})
    assert kwargs == {"d": 1, "other": 7}


def test_bind_does_not_change_the_callers_kwargs() -> None:
    given_kwargs = {"a": 1}

    def h(a, b):
        pass

    _, kwargs = Signature(h).bind((), given_kwargs, {"b": 2}.get)
    assert given_kwargs == {"a": 1} and kwargs == {"a": 1, "b": 2}


@given(
    explicit=st.dictionaries(st.sampled_from("abc"), st.integers()),
    config=st.dictionaries(st.sampled_from("abc"), st.integers()),
)
def test_priority_holds_for_any_split(explicit: dict[str, int], config: dict[str, int]) -> None:
    def h(a=-1, b=-2, c=-3):
        return a, b, c

    _, kwargs = Signature(h).construct_arguments((), dict(explicit), config)
    result = h(**kwargs)
    defaults = {"a": -1, "b": -2, "c": -3}
    expected: dict[str, Any] = {k: explicit.get(k, config.get(k, defaults[k])) for k in "abc"}
    assert result == (expected["a"], expected["b"], expected["c"])
