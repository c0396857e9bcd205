"""Hypothesis strategies shared by the test suite (append new ones at the end).

>>> from hypothesis import given
>>> @given(python_literals())
... def test(value): ...
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import strategies as st

# Identifiers as config keys: short ASCII names, not starting with a digit (cheap to generate).
identifiers = st.builds(
    lambda head, tail: head + tail,
    st.sampled_from("abcdxyz_"),
    st.text(alphabet="abcxyz019_", max_size=5),
)

# Dotted keys such as "optimizer.lr".
dotted_keys = st.lists(identifiers, min_size=1, max_size=4).map(".".join)

finite_floats = st.floats(allow_nan=False, allow_infinity=False)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    finite_floats,
    st.text(max_size=20),
)


def python_literals(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    """Values ``ast.literal_eval(repr(v)) == v`` round-trips: scalars and nested lists/tuples/dicts."""
    return st.recursive(
        scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.lists(children, max_size=4).map(tuple),
            st.dictionaries(st.text(max_size=8), children, max_size=4),
        ),
        max_leaves=max_leaves,
    )


def config_values(max_leaves: int = 8) -> st.SearchStrategy[Any]:
    """Values a config may hold (JSON-like; tuples allowed), with identifier keys in nested dicts."""
    return st.recursive(
        scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(identifiers, children, max_size=4),
        ),
        max_leaves=max_leaves,
    )


def configs(max_leaves: int = 8) -> st.SearchStrategy[dict[str, Any]]:
    """Whole configs: dicts with identifier keys."""
    return st.dictionaries(identifiers, config_values(max_leaves), max_size=6)


def same_value(a: Any, b: Any) -> bool:
    """Equality that treats NaN as equal to itself and keeps list/tuple distinct."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def json_results(max_leaves: int = 10) -> st.SearchStrategy[Any]:
    """Run results in stored (JSON) form, NaN and ±inf included: what baselines hold."""
    leaves = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**12), max_value=10**12),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=8),
    )
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(st.text(alphabet="abcxyz_", min_size=1, max_size=4), children, max_size=4),
        ),
        max_leaves=max_leaves,
    )
