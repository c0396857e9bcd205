"""Sacred's ``sacred.serializer`` names (``serializer.py``): Sacred's forms out, a closed set of them back."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_sacredx.serializer import flatten, json, restore


def test_json_round_trips_plain_values() -> None:
    value = {"a": 1, "b": [1.5, "x", None, True], "c": {"d": {}}}
    assert json.decode(json.encode(value)) == value
    assert flatten(value) == value and restore(value) == value


def test_flatten_writes_sacreds_forms_for_tuples_sets_bytes_and_keys() -> None:
    assert flatten({"t": (1, 2), 3: {2, 1}, "b": b"\xff"}) == {
        "t": {"py/tuple": [1, 2]},
        "json://3": {"py/set": [1, 2]},
        "b": {"py/b64": "/w=="},
    }


def test_restore_gives_back_tuples_sets_bytes_int_keys_and_complex() -> None:
    value = {1: "one", (1, 2): "pair", "t": (1, ("two", 3)), "s": {1, 2}, "b": b"\x00\xff", "z": 1 + 2j}
    back = json.decode(json.encode(value))
    assert back == value
    assert isinstance(back["t"], tuple) and isinstance(back["t"][1], tuple)


@pytest.mark.parametrize(
    "form",
    [
        {"py/object": "os.system", "py/newargs": ["echo"]},
        {"py/reduce": [{"py/function": "os.system"}, ["echo hi"]]},
        {"py/function": "builtins.eval"},
        {"py/type": "subprocess.Popen"},
        {"py/object": "numpy.ndarray", "dtype": "object", "values": "AAAA", "shape": [1]},
    ],
)
def test_restore_never_rebuilds_other_objects(form: dict[str, Any]) -> None:
    # everything outside the closed set comes back as the plain JSON it is
    assert restore(form) == form
    assert json.decode(json.encode(form)) == form


def test_numpy_arrays_and_scalars_round_trip_with_dtype_and_shape() -> None:
    np = pytest.importorskip("numpy")
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = restore(flatten(a))
    assert b.dtype == a.dtype and b.shape == a.shape and (b == a).all()
    empty = restore(flatten(np.zeros((0, 3), dtype=np.int16)))
    assert empty.shape == (0, 3) and empty.dtype == np.int16
    scalar = json.decode(json.encode({"x": np.float32(1.5)}))["x"]
    assert type(scalar) is np.float32 and scalar == 1.5


def test_numpy_binary_form_is_read() -> None:
    np = pytest.importorskip("numpy")
    import base64

    raw = np.array([1, 2, 3], dtype="<i4")
    form = {"py/object": "numpy.ndarray", "dtype": "int32", "shape": [3],
            "values": base64.b64encode(raw.tobytes()).decode()}  # fmt: skip
    assert restore(form).tolist() == [1, 2, 3]


def test_pandas_frames_and_series_round_trip() -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(
        {"x": [1.5, 2.0], 3: [1, 2], "c": pd.Categorical(["a", "b"]), "o": ["s", None]},
        index=[10, 20],
    )
    back = json.decode(json.encode(df))
    pd.testing.assert_frame_equal(back, df)
    series = pd.Series([1, 2], index=["a", "b"], name="n")
    pd.testing.assert_series_equal(restore(flatten(series)), series)


values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text() | st.binary(),
    lambda inner: st.lists(inner, max_size=3)
    | st.tuples(inner, inner)
    | st.dictionaries(st.text() | st.integers() | st.tuples(st.integers()), inner, max_size=3),
    max_leaves=12,
)


@given(values)
def test_json_round_trips_what_sacreds_serializer_round_trips(value: Any) -> None:
    assert json.decode(json.encode(value)) == value


def test_nan_survives_the_round_trip() -> None:
    assert math.isnan(json.decode(json.encode({"x": float("nan")}))["x"])
