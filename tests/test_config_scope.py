"""Config scopes: fixed/preset/fallback semantics, markers, docs, values, key checks, tracebacks."""

# Config scopes are functions whose unused locals and imports are the point.
# ruff: noqa: F841, F401, UP031

from __future__ import annotations

import pickle
import traceback
from pathlib import Path

import pytest

from pytest_sacredx.config import ConfigScope, ConfigSummary, ReadOnlyDict
from pytest_sacredx.config.config_scope import (
    chain_evaluate_config_scopes,
    dedent_function_body,
    evaluate_config_chain,
    get_function_body,
)
from pytest_sacredx.errors import (
    ConfigKeyError,
    ConfigScopeError,
    InvalidConfigError,
    InvalidConfigKeyError,
    ReadOnlyConfigError,
)
from pytest_sacredx.settings import SETTINGS

MODULE_CONSTANT = 42


def greeting():
    """A friendly greeting."""
    recipient = "world"  # whom to greet
    message = "Hello %s!" % recipient


def with_imports_and_helpers():
    import os
    import os.path as osp
    from math import sqrt

    def helper():
        return 1

    class Model:
        pass

    method = "abc".upper
    _private = 1
    n = sqrt(16)
    from_global = MODULE_CONSTANT


def test_locals_become_the_config():
    cfg = ConfigScope(greeting)()
    assert dict(cfg) == {
        "__doc__": "A friendly greeting.",
        "recipient": "world",
        "message": "Hello world!",
    }
    assert isinstance(cfg, ConfigSummary)
    assert cfg.added == set() and cfg.modified == set() and cfg.typechanged == {}


def test_every_local_is_config_modules_functions_classes_and_private_names_too():
    import math
    import os

    cfg = ConfigScope(with_imports_and_helpers)()
    assert set(cfg) == {"os", "osp", "sqrt", "helper", "Model", "method", "_private", "n", "from_global"}
    assert cfg["os"] is os and cfg["osp"] is os.path and cfg["sqrt"] is math.sqrt
    assert cfg["helper"]() == 1 and cfg["Model"].__name__ == "Model" and cfg["method"]() == "ABC"
    assert cfg["_private"] == 1 and cfg["n"] == 4.0 and cfg["from_global"] == 42


def test_fixed_values_win_and_dependent_entries_follow():
    cfg = ConfigScope(greeting)(fixed={"recipient": "you"})
    assert cfg["recipient"] == "you"
    assert cfg["message"] == "Hello you!"
    assert cfg.modified == {"recipient"}
    assert cfg.added == set()


def test_fixed_keys_the_scope_does_not_define_are_added_with_their_parents():
    cfg = ConfigScope(greeting)(fixed={"extra": 1, "nested": {"a": 1, "b": {"c": 2}}, "empty": {}})
    assert cfg["extra"] == 1 and cfg["nested"] == {"a": 1, "b": {"c": 2}} and cfg["empty"] == {}
    assert cfg.added == {"extra", "nested", "nested.a", "nested.b", "nested.b.c", "empty"}
    assert type(cfg["nested"]) is dict and type(cfg["nested"]["b"]) is dict  # no dogmatic leftovers


def nested_dicts():
    optimizer = {"lr": 0.1, "momentum": 0.9, "schedule": {"kind": "step", "gamma": 0.5}}
    lr_copy = optimizer["lr"]


def test_nested_fixed_values_merge_with_the_scope_dict():
    fixed = {"optimizer": {"lr": 1.0, "schedule": {"gamma": 0.1}}}
    cfg = ConfigScope(nested_dicts)(fixed=fixed)
    assert cfg["optimizer"] == {
        "lr": 1.0,
        "momentum": 0.9,
        "schedule": {"kind": "step", "gamma": 0.1},
    }
    assert cfg["lr_copy"] == 1.0  # computed from the merged dict
    assert {"optimizer.lr", "optimizer.schedule.gamma"} <= cfg.modified
    assert "optimizer" in cfg.modified  # parents of changed entries, for printing
    assert cfg.added == set() and cfg.typechanged == {}
    assert fixed == {
        "optimizer": {"lr": 1.0, "schedule": {"gamma": 0.1}}
    }  # caller's dict untouched


def dict_and_scalar():
    optimizer = {"lr": 0.1}
    lr = 0.1


def test_fixed_dict_over_scalar_and_scalar_over_dict():
    cfg = ConfigScope(dict_and_scalar)(fixed={"optimizer": "adam", "lr": {"x": 1}})
    assert cfg["optimizer"] == "adam" and cfg["lr"] == {"x": 1}
    assert cfg.typechanged == {"optimizer": (dict, str), "lr": (float, dict)}
    assert cfg.added == {"lr.x"}  # the scope's lr had no entry x


def typed():
    an_int = 1
    a_float = 1.5
    a_none = None
    a_str = "x"
    a_bool = True


def test_typechanged_markers():
    cfg = ConfigScope(typed)(
        fixed={"an_int": 2.5, "a_float": 3, "a_none": "now", "a_str": 5, "a_bool": 1}
    )
    # int and float are different types; replacing None is no type change
    assert cfg.typechanged == {
        "an_int": (int, float),
        "a_float": (float, int),
        "a_str": (str, int),
        "a_bool": (bool, int),
    }
    assert cfg.modified == {"a_none"}


def test_fixed_values_equal_to_the_assigned_ones_are_not_modified():
    cfg = ConfigScope(typed)(fixed={"an_int": 1, "a_str": "x", "a_none": None})
    assert cfg.modified == set() and cfg.typechanged == {} and cfg.added == set()


def lists():
    layers = [64, 64, 32]


def test_a_list_changed_in_one_element_is_modified():
    assert ConfigScope(lists)(fixed={"layers": [64, 64, 16]}).modified == {"layers"}


def in_place():
    layers = [64, 64]
    layers.append(32)
    opts = {"a": 1}
    opts["b"] = 2


def test_in_place_changes_do_not_override_fixed_values():
    cfg = ConfigScope(in_place)(fixed={"layers": [8], "opts": {"a": 10}})
    assert cfg["layers"] == [8]
    assert cfg["opts"] == {"a": 10, "b": 2}


def uses_preset(a):
    b = a * 2
    c = 3


def test_presets_are_readable_filled_in_and_overridable():
    cfg = ConfigScope(uses_preset)(preset={"a": 5, "c": 1, "d": {"x": 1}})
    assert dict(cfg) == {"a": 5, "b": 10, "c": 3, "d": {"x": 1}}
    assert cfg.added == set()


def dict_over_preset():
    d = {"y": 2}


def test_nested_preset_entries_are_filled_into_the_scope_dict():
    preset = {"d": {"x": 1, "y": 0}}
    cfg = ConfigScope(dict_over_preset)(preset=preset)
    assert cfg["d"] == {"x": 1, "y": 2}
    assert preset == {"d": {"x": 1, "y": 0}}


def test_markers_compare_with_what_the_scope_itself_assigned():
    # Presets came from earlier scopes; ConfigSummary.update_from combines the markers of a chain.
    cfg = ConfigScope(dict_over_preset)(
        preset={"p": 1, "d": {"x": 1}}, fixed={"p": 2, "d": {"x": 5, "y": 3}}
    )
    assert cfg["p"] == 2 and cfg["d"] == {"x": 5, "y": 3}
    assert cfg.added == {"p", "d.x"}
    assert cfg.modified == {"d", "d.y"}


def uses_fallback(dataset):
    n = dataset["size"] * 2
    path = dataset["path"]


def test_fallback_is_readable_and_not_part_of_the_result():
    fallback = {"dataset": {"size": 10, "path": "/data"}}
    cfg = ConfigScope(uses_fallback)(fallback=fallback)
    assert dict(cfg) == {"n": 20, "path": "/data"}


def mutates_fallback(dataset):
    dataset["size"] = 3


def test_fallback_is_read_only():
    with pytest.raises(ReadOnlyConfigError, match="dataset.size"):
        ConfigScope(mutates_fallback)(fallback={"dataset": {"size": 1}})


def assigns_fallback(dataset):
    dataset = "mine"
    other = 1


def test_assignments_to_fallback_names_are_reported():
    # The scope's value stays in its result; the run keeps the ingredient's config under that name.
    cfg = ConfigScope(assigns_fallback)(fallback={"dataset": {"size": 1}})
    assert dict(cfg) == {"dataset": "mine", "other": 1}
    assert cfg.ignored_fallbacks == {"dataset"}


def reads_undeclared():
    b = a * 2  # noqa: F821


@pytest.mark.parametrize("where", ["preset", "fallback"])
def test_undeclared_presets_and_fallbacks_are_name_errors(where):
    with pytest.raises(NameError, match="'a'"):
        ConfigScope(reads_undeclared)(**{where: {"a": 1}})


def test_undeclared_presets_are_kept_in_the_result():
    cfg = ConfigScope(greeting)(preset={"a": 1, "recipient": "old"})
    assert cfg["a"] == 1 and cfg["recipient"] == "world"


def test_missing_parameter_is_a_clear_key_error():
    with pytest.raises(ConfigKeyError) as info:
        ConfigScope(uses_preset)(preset={"b": 1})
    message = str(info.value)
    assert "'a'" in message and "uses_preset" in message and "available: b" in message
    assert isinstance(info.value, KeyError)


def test_parameter_may_come_from_fixed():
    assert ConfigScope(uses_preset)(fixed={"a": 1})["b"] == 2


@pytest.mark.parametrize(
    "source",
    ["def f(a=1):\n    x = a\n", "def f(*args):\n    x = 1\n", "def f(**kw):\n    x = 1\n"],
)
def test_defaults_and_varargs_are_refused(tmp_path, source):
    func = _function_from_file(tmp_path, source)
    with pytest.raises(InvalidConfigError, match="remove the default"):
        ConfigScope(func)


@pytest.mark.parametrize(
    ("body", "word", "line"),
    [("return 1", "return", 3), ("yield 1", "yield", 3), ("if x:\n        return", "return", 4)],
)
def test_return_and_yield_are_refused(tmp_path, body, word, line):
    func = _function_from_file(tmp_path, f"def f():\n    x = 1\n    {body}\n")
    with pytest.raises(ConfigScopeError) as info:
        ConfigScope(func)
    assert isinstance(info.value, SyntaxError)
    assert f"'{word}'" in str(info.value) and info.value.lineno == line


def test_nested_functions_may_return():
    def scope():
        def helper():
            return 1

        gen = [i for i in range(2)]

    cfg = ConfigScope(scope)()
    assert cfg["gen"] == [0, 1] and cfg["helper"]() == 1


def _function_from_file(tmp_path: Path, source: str, name: str = "f"):
    path = tmp_path / f"scope_{abs(hash(source))}.py"
    path.write_text(source)
    namespace: dict = {"__name__": "scope_module"}
    exec(compile(source, str(path), "exec"), namespace)
    return namespace[name]


def documented():
    # the learning rate
    lr = 0.1
    momentum = 0.9  # heavy ball

    # not attached: a blank line follows

    epochs = 10
    # first line
    # second line
    batch = 32
    # pylint: disable=invalid-name
    N = 3  # noinspection PyUnusedLocal
    hidden = 4  # pylint: disable=x
    _private = 1  # private doc
    url = "http://x#not-a-comment"


def test_docs_from_inline_and_preceding_comments():
    # Inline first, else the nearest comment line above (blank lines skipped); a code line or an
    # ignored comment above ends the search. seed always has its doc.
    docs = ConfigScope(documented)().docs
    assert docs == {
        "seed": "the random seed for this experiment",
        "lr": "the learning rate",
        "momentum": "heavy ball",
        "epochs": "not attached: a blank line follows",
        "batch": "second line",
        "_private": "private doc",
    }


def test_docs_honour_ignored_comments_setting(monkeypatch):
    monkeypatch.setattr(SETTINGS.CONFIG, "IGNORED_COMMENTS", ["^the"])
    docs = ConfigScope(documented)().docs
    assert "lr" not in docs and docs["hidden"] == "pylint: disable=x"


def test_closure_variables_resolve():
    size = 7

    def scope():
        doubled = size * 2

    assert dict(ConfigScope(scope)()) == {"doubled": 14}


class Model:
    pass


def stores_objects():
    model = Model()
    opts = {"ok": [1, {"deep": {1, 2}}], "pair": (1, (2, 3))}


def test_values_of_any_type_are_kept_and_tuples_become_lists():
    cfg = ConfigScope(stores_objects)()
    assert isinstance(cfg["model"], Model)
    assert cfg["opts"] == {"ok": [1, {"deep": {1, 2}}], "pair": [1, [2, 3]]}


def bad_nested_key():
    opts = {"ok": [1, {"$deep": 1}]}


def test_a_bad_key_deep_inside_names_its_path():
    with pytest.raises(InvalidConfigKeyError, match=r"'\$deep' in 'opts\.ok\[1\]'"):
        ConfigScope(bad_nested_key)()


def bad_keys():
    opts = {"a.b": 1}


def test_key_rules(monkeypatch):
    with pytest.raises(
        InvalidConfigKeyError, match="must not contain '.'.*ENFORCE_KEYS_MONGO_COMPATIBLE"
    ) as info:
        ConfigScope(bad_keys)()
    assert isinstance(info.value, KeyError) and isinstance(info.value, InvalidConfigError)
    monkeypatch.setattr(SETTINGS.CONFIG, "ENFORCE_KEYS_MONGO_COMPATIBLE", False)
    assert ConfigScope(bad_keys)()["opts"] == {"a.b": 1}
    with pytest.raises(InvalidConfigError, match=r"'\$x'"):
        monkeypatch.setattr(SETTINGS.CONFIG, "ENFORCE_KEYS_MONGO_COMPATIBLE", True)
        ConfigScope(greeting)(fixed={"d": {"$x": 1}})
    with pytest.raises(InvalidConfigError, match="'='"):
        ConfigScope(greeting)(fixed={"d": {"a=b": 1}})
    with pytest.raises(InvalidConfigError, match="jsonpickle"):
        ConfigScope(greeting)(fixed={"d": {"py/object": 1}})
    assert ConfigScope(greeting)(fixed={"d": {1: "x"}})["d"] == {1: "x"}
    monkeypatch.setattr(SETTINGS.CONFIG, "ENFORCE_STRING_KEYS", True)
    with pytest.raises(InvalidConfigError, match="ENFORCE_STRING_KEYS"):
        ConfigScope(greeting)(fixed={"d": {1: "x"}})
    monkeypatch.setattr(SETTINGS.CONFIG, "ENFORCE_VALID_PYTHON_IDENTIFIER_KEYS", True)
    with pytest.raises(InvalidConfigError, match="identifiers"):
        ConfigScope(greeting)(fixed={"d": {"not valid": 1}})


def numpy_values():
    import numpy as np

    f = np.float32(0.5)
    i = np.int64(3)
    b = np.bool_(True)
    t = (np.int8(1), 2)


def test_numpy_scalars_become_python_scalars_and_tuples_lists():
    np = pytest.importorskip("numpy")
    cfg = ConfigScope(numpy_values)()
    assert cfg == {"np": np, "f": 0.5, "i": 3, "b": True, "t": [1, 2]}
    assert [type(cfg[k]) for k in ("f", "i", "b")] == [float, int, bool]
    assert type(cfg["t"][0]) is int


def numpy_array():
    import numpy as np

    arr = np.zeros(3)


def test_numpy_arrays_are_kept():
    np = pytest.importorskip("numpy")
    arr = ConfigScope(numpy_array)()["arr"]
    assert isinstance(arr, np.ndarray) and arr.tolist() == [0.0, 0.0, 0.0]


def raises_inside():
    a = 1
    b = a / 0  # LINE-MARKER-1


def _marker_line(marker: str) -> int:
    for number, line in enumerate(Path(__file__).read_text().splitlines(), start=1):
        if marker in line and "_marker_line" not in line:
            return number
    raise AssertionError(marker)


def test_traceback_points_at_the_users_line():
    with pytest.raises(ZeroDivisionError) as info:
        ConfigScope(raises_inside)()
    last = traceback.extract_tb(info.value.__traceback__)[-1]
    assert last.filename == __file__
    assert last.lineno == _marker_line("LINE-MARKER-1")
    assert last.line.strip().startswith("b = a / 0")


def test_traceback_line_of_an_indented_decorated_scope():
    def decorate(f):
        return f

    class Holder:
        @decorate
        def scope():  # noqa: N805
            """doc"""
            x = 1
            y = undefined_name  # LINE-MARKER-2  # noqa: F821

    with pytest.raises(NameError) as info:
        ConfigScope(Holder.scope)()
    last = traceback.extract_tb(info.value.__traceback__)[-1]
    assert (last.filename, last.lineno) == (__file__, _marker_line("LINE-MARKER-2"))


def test_fallback_and_fixed_values_are_not_mutated_and_result_is_fresh():
    fixed = {"layers": [1, 2]}
    cfg = ConfigScope(in_place)(fixed=fixed)
    cfg["layers"].append(99)
    assert fixed == {"layers": [1, 2]}


def test_attributes_and_sacred_compat():
    scope = ConfigScope(uses_preset)
    assert scope.func is uses_preset
    assert scope.parameters == ("a",)
    assert scope.arg_spec.args == ["a"]
    assert ConfigScope(greeting).__doc__ == "A friendly greeting."
    summary = ConfigScope(greeting)({"recipient": "x"}, {}, {})
    assert summary.added == set() and summary.typechanged == {} and "recipient" in summary.docs


def test_summary_pickles_with_markers():
    cfg = ConfigScope(greeting)(fixed={"extra": 1})
    back = pickle.loads(pickle.dumps(cfg))
    assert back == cfg and back.added == {"extra"} and back.docs == cfg.docs


def test_preset_read_only_values_become_plain():
    cfg = ConfigScope(dict_over_preset)(preset={"e": ReadOnlyDict({"k": 1})})
    assert type(cfg["e"]) is dict


def test_scope_is_compiled_once(monkeypatch):
    scope = ConfigScope(greeting)

    def fail(*args, **kwargs):
        raise AssertionError("compiled again")

    monkeypatch.setattr("builtins.compile", fail)
    assert scope()["message"] == "Hello world!"
    assert scope(fixed={"recipient": "y"})["message"] == "Hello y!"


def test_thousand_entries_evaluate_quickly(tmp_path):
    import time

    source = "def big():\n" + "".join(f"    v{i} = {i} * 2  # doc {i}\n" for i in range(1000))
    scope = ConfigScope(_function_from_file(tmp_path, source, "big"))
    start = time.perf_counter()
    for _ in range(20):
        cfg = scope(fixed={"v1": 5})
    per_call = (time.perf_counter() - start) / 20
    assert cfg["v999"] == 1998 and cfg["v1"] == 5 and len(cfg.docs) == 1001  # and seed
    assert per_call < 0.05  # ~0.6 ms here; a generous bound against pathological slowness


def comprehensions():
    factor = 2
    scaled = [factor * i for i in range(3)]
    table = {k: factor for k in "ab"}
    total = sum(factor * i for i in range(3))
    add = lambda v: v + factor + MODULE_CONSTANT  # noqa: E731
    applied = add(1)


def test_comprehensions_and_lambdas_see_the_scope_locals():
    # Plain exec(body, globals, locals) raises NameError here on Python 3.11.
    cfg = ConfigScope(comprehensions)(fixed={"factor": 3})
    assert cfg["scaled"] == [0, 3, 6] and cfg["table"] == {"a": 3, "b": 3}
    assert cfg["total"] == 9 and cfg["applied"] == 46 and cfg["add"](0) == 45


def uses_unknown_name():
    a = not_defined_anywhere  # noqa: F821


def test_undefined_names_raise_name_error():
    with pytest.raises(NameError, match="not_defined_anywhere"):
        ConfigScope(uses_unknown_name)()


def test_empty_and_odd_fixed_keys_do_not_crash():
    monkey = {"": 1}
    with pytest.raises(InvalidConfigKeyError):
        SETTINGS.CONFIG.ENFORCE_VALID_PYTHON_IDENTIFIER_KEYS = True
        try:
            ConfigScope(greeting)(fixed=monkey)
        finally:
            SETTINGS.CONFIG.ENFORCE_VALID_PYTHON_IDENTIFIER_KEYS = False
    assert ConfigScope(greeting)(fixed=monkey)[""] == 1


def test_summary_chain_of_scopes_keeps_added_only_if_no_scope_defined_it():
    first = ConfigScope(greeting)(fixed={"recipient": "you", "extra": 1})
    second = ConfigScope(uses_preset)(
        fixed={"recipient": "you", "extra": 1}, preset={**first, "a": 1}
    )
    start = ConfigSummary(added={"recipient", "extra"})  # every fixed leaf, as a run starts
    start.update_from(first)
    start.update_from(second)
    assert start.added == {"extra"}
    assert "recipient" in start.modified
    assert start.docs["recipient"] == "whom to greet"


def test_chain_returns_the_config_and_a_summary_per_scope():
    config, summaries = chain_evaluate_config_scopes(
        [ConfigScope(greeting), ConfigScope(uses_preset)], fixed={"a": 2}
    )
    assert config["b"] == 4 and config["message"] == "Hello world!"
    assert [s.added for s in summaries] == [{"a"}, set()]
    merged = evaluate_config_chain([ConfigScope(greeting), ConfigScope(uses_preset)], fixed={"a": 2})
    assert dict(merged) == config and merged.added == set()


def test_a_chain_without_scopes_is_the_presets_under_the_fixed_values():
    config, summaries = chain_evaluate_config_scopes([], fixed={"a": 0}, preset={"a": 1, "b": 2})
    assert config == {"a": 0, "b": 2} and summaries == []
    assert evaluate_config_chain([], fixed={"a": {"x": 0}}).added == {"a.x"}


def test_summary_update_add_prefixes_paths_and_marks_parents():
    total = ConfigSummary()
    part = ConfigSummary(
        {"lr": 2}, added={"lr"}, typechanged={"kind": (int, str)}, docs={"lr": "rate"}
    )
    part.ignored_fallbacks = {"dataset"}
    total.update_add(part, path="opt")
    assert total.added == {"opt.lr"}
    assert total.typechanged == {"opt.kind": (int, str)}
    assert total.modified == {"opt"}
    assert total.docs == {"opt.lr": "rate"}
    assert total.ignored_fallbacks == {"opt.dataset"}


def header_with_colons(a=lambda: 1, b={1: 2}) -> dict[str, int]:  # the body starts here  # noqa: B006
    x = {"k": 1}


def test_the_body_starts_after_the_colon_that_ends_the_def_line():
    body, offset = get_function_body(header_with_colons)
    assert body == '  # the body starts here  # noqa: B006\n    x = {"k": 1}\n'
    first = header_with_colons.__code__.co_firstlineno
    assert offset == first - 1  # body line 1 is the def line


def test_dedenting_strips_the_first_statements_indentation_only_where_shared():
    body = '  # c\n        s = """a\n    b\n            c"""\n\tt = 1\n'
    assert dedent_function_body(body) == '# c\ns = """a\nb\n    c"""\n\tt = 1\n'


def test_multi_line_strings_hold_the_dedented_text():
    def scope():
        text = """first
        second
            third"""

    assert ConfigScope(scope)()["text"] == "first\nsecond\n    third"


def test_a_scope_on_one_line():
    def scope(a): b = 2 * a  # noqa: E701,E704

    assert ConfigScope(scope)(preset={"a": 21})["b"] == 42


def test_tracebacks_keep_the_file_lines_after_dedenting():
    def scope():
        text = """x
        y"""
        z = 1 / 0  # LINE-MARKER-3

    with pytest.raises(ZeroDivisionError) as info:
        ConfigScope(scope)()
    last = traceback.extract_tb(info.value.__traceback__)[-1]
    assert (last.filename, last.lineno) == (__file__, _marker_line("LINE-MARKER-3"))


def test_a_body_that_does_not_parse_dedented_is_compiled_as_written(monkeypatch):
    from pytest_sacredx.config import config_scope

    monkeypatch.setattr(config_scope, "dedent_function_body", lambda body: "x = (\n")
    cfg = ConfigScope(greeting)()
    assert cfg["message"] == "Hello world!" and cfg.docs["recipient"] == "whom to greet"


def test_a_scope_is_not_named_like_a_function(pytester: pytest.Pytester) -> None:
    # pytest names a parametrized case after an object's __name__; a scope gets the parameter's.
    pytester.makepyfile(
        """
        import pytest
        from pytest_sacredx.config import ConfigScope

        def variant():
            a = 1

        @pytest.mark.parametrize("scope", [ConfigScope(variant)])
        def test_it(scope):
            assert scope.__qualname__ == "variant"
        """
    )
    result = pytester.runpytest_inprocess("--collect-only", "-q", "-p", "no:randomly")
    result.stdout.fnmatch_lines(["*test_it[[]scope0[]]"])
