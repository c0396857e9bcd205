"""Ingredient: decorators, config sources, provenance hooks, traversal, and namespaced config in runs."""

# ruff: noqa: F841, UP031 - config scopes: their local variables are the config

from __future__ import annotations

import json
from pathlib import Path

import pytest
from engine_helpers import QUIET, new_experiment

from pytest_sacredx import Ingredient
from pytest_sacredx.config import ConfigDict, ConfigScope
from pytest_sacredx.errors import CircularDependencyError, ConfigKeyError, SacredxError
from pytest_sacredx.run.captured import CapturedFunction


def ingredient(path: str, **kwargs) -> Ingredient:
    return Ingredient(path, interactive=True, **kwargs)


# --------------------------------------------------------------------------- decorators
def test_decorators_work_with_and_without_arguments() -> None:
    ing = ingredient("data")

    @ing.capture
    def plain(a):
        return a

    @ing.capture(prefix="opt")
    def with_prefix(lr):
        return lr

    @ing.command
    def cmd():
        pass

    @ing.command(prefix="opt", unobserved=True)
    def quiet_cmd():
        pass

    assert isinstance(plain, CapturedFunction) and plain.prefix is None
    assert with_prefix.prefix == "opt"
    assert ing.commands == {"cmd": cmd, "quiet_cmd": quiet_cmd}
    assert not cmd.unobserved and quiet_cmd.unobserved
    assert [cf.__name__ for cf in ing.captured_functions] == ["plain", "with_prefix", "cmd", "quiet_cmd"]
    assert plain.__name__ == "plain" and plain.__doc__ is None and plain.__wrapped__ is not None


def test_capturing_twice_is_a_no_op() -> None:
    ing = ingredient("data")

    def f(a):
        return a

    first = ing.capture(f)
    assert ing.capture(first) is first
    assert ing.captured_functions == [first]


def test_config_and_named_config_make_scopes() -> None:
    ing = ingredient("data")

    @ing.config
    def cfg():
        size = 3

    @ing.named_config
    def big():
        """Many samples."""
        size = 1000

    assert isinstance(cfg, ConfigScope) and ing.configurations == [cfg]
    assert ing.named_configs == {"big": big}
    assert big.__doc__ == "Many samples."


def test_a_named_config_name_is_unique() -> None:
    ing = ingredient("data")

    @ing.named_config
    def big():
        size = 1000

    with pytest.raises(KeyError, match="big"):
        ing.add_named_config("big", {"size": 2})
    with pytest.raises(ConfigKeyError):

        @ing.named_config
        def big():  # noqa: F811 - the point of the test
            size = 1


def test_config_hook_signature_is_checked() -> None:
    ing = ingredient("data")
    with pytest.raises(ValueError, match=r"\(config, command_name, logger\)"):

        @ing.config_hook
        def hook(config, command):
            return {}

    @ing.config_hook
    def good(config, command_name, logger):
        return {}

    assert ing.config_hooks == [good]


# --------------------------------------------------------------------------- add_config
def test_add_config_accepts_a_dict_keywords_or_a_file(tmp_path: Path) -> None:
    ing = ingredient("data")
    ing.add_config({"a": 1})
    ing.add_config(b=2)
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"c": 3}))
    ing.add_config(str(path))
    ing.add_config(path)  # os.PathLike too
    assert all(isinstance(c, ConfigDict) for c in ing.configurations)
    assert [dict(c()) for c in ing.configurations] == [{"a": 1}, {"b": 2}, {"c": 3}, {"c": 3}]


def test_add_config_copies_the_dict() -> None:
    ing = ingredient("data")
    d = {"a": {"x": 1}}
    ing.add_config(d)
    d["a"]["x"] = 2
    assert ing.configurations[0]()["a"] == {"x": 1}


def test_add_config_errors() -> None:
    ing = ingredient("data")
    with pytest.raises(ValueError, match="not both"):
        ing.add_config({"a": 1}, b=2)
    with pytest.raises(ValueError, match="needs"):
        ing.add_config()
    with pytest.raises(OSError, match="does not exist") as info:
        ing.add_config("no_such_file.json")
    assert isinstance(info.value, SacredxError)
    with pytest.raises(TypeError, match="int"):
        ing.add_config(5)
    with pytest.raises(ValueError):
        ing.add_named_config("x")


def test_add_named_config_from_a_file(tmp_path: Path) -> None:
    ing = ingredient("data")
    path = tmp_path / "big.json"
    path.write_text(json.dumps({"size": 1000}))
    ing.add_named_config("big", str(path))
    ing.add_named_config("small", size=1)
    assert dict(ing.named_configs["big"]()) == {"size": 1000}
    assert dict(ing.named_configs["small"]()) == {"size": 1}


# --------------------------------------------------------------------------- provenance hooks
def test_add_source_file_and_package_dependency(tmp_path: Path) -> None:
    ing = ingredient("data")
    with pytest.raises(ValueError, match="does not exist"):
        ing.add_source_file(str(tmp_path / "missing.py"))
    with pytest.raises(ValueError, match="PEP 440"):
        ing.add_package_dependency("foo", "not a version")
    src = tmp_path / "helper.py"
    src.write_text("x = 1\n")
    ing.add_source_file(str(src))
    ing.add_package_dependency("foo", "1.2.3")
    assert any(str(s[0] if isinstance(s, tuple) else s).endswith("helper.py") or "helper.py" in repr(s)
               for s in ing.sources)
    assert "foo==1.2.3" in {str(d) for d in ing.dependencies} or any(
        getattr(d, "name", None) == "foo" and getattr(d, "version", None) == "1.2.3" for d in ing.dependencies
    )


def test_experiment_info_has_sacreds_keys() -> None:
    ex = new_experiment("info_demo")
    info = ex.get_experiment_info()
    assert {"name", "base_dir", "sources", "dependencies", "repositories", "mainfile"} <= set(info)
    assert info["name"] == "info_demo"


# --------------------------------------------------------------------------- traversal
def test_traverse_ingredients_is_preorder_with_depth() -> None:
    leaf = ingredient("leaf")
    mid = ingredient("mid", ingredients=[leaf])
    other = ingredient("other")
    ex = new_experiment("root", ingredients=[mid, other])
    assert [(i.path, d) for i, d in ex.traverse_ingredients()] == [
        ("root", 0), ("mid", 1), ("leaf", 2), ("other", 1)
    ]


def test_a_cycle_of_ingredients_is_named() -> None:
    a = ingredient("a")
    ex = new_experiment("exp", ingredients=[a])
    a.ingredients.append(ex)
    with pytest.raises(CircularDependencyError, match=r"exp->a->exp"):
        list(ex.traverse_ingredients())


def test_commands_and_named_configs_of_sub_ingredients_get_dotted_names() -> None:
    data = ingredient("dataset")

    @data.command
    def stats():
        pass

    @data.named_config
    def big():
        size = 1000

    ex = new_experiment(ingredients=[data])
    assert ("dataset.stats", stats) in list(ex.gather_commands())
    assert [name for name, _ in ex.gather_named_configs()] == ["dataset.big"]


def test_an_ingredient_names_its_own_items_with_its_path_an_experiment_does_not() -> None:
    inner = ingredient("inner")
    outer = ingredient("outer", ingredients=[inner])

    @inner.command
    def deep():
        pass

    @outer.command
    def top():
        pass

    @outer.named_config
    def variant():
        x = 1

    assert [n for n, _ in outer.gather_commands()] == ["outer.top", "inner.deep"]
    assert [n for n, _ in outer.gather_named_configs()] == ["outer.variant"]
    ex = new_experiment(ingredients=[outer])

    @ex.command
    def own():
        pass

    names = [n for n, _ in ex.gather_commands()]
    assert "own" in names and "outer.top" in names and "inner.deep" in names


# --------------------------------------------------------------------------- config in runs
def _dataset() -> Ingredient:
    data = ingredient("dataset")

    @data.config
    def cfg():
        filename = "data.csv"
        size = 3

    @data.named_config
    def big():
        size = 1000

    @data.capture
    def load(filename, size):
        return filename, size

    @data.capture
    def seed_of(seed=None):
        return seed

    @data.command
    def stats(size):
        return f"{size} samples"

    data.load, data.seed_of = load, seed_of  # type: ignore[attr-defined]
    return data


def test_ingredient_config_lives_under_its_path_and_its_functions_read_it() -> None:
    data = _dataset()
    ex = new_experiment(ingredients=[data])

    @ex.config
    def cfg():
        size = "the experiment's own size"

    @ex.main
    def main(size):
        return size, data.load()

    run = ex.run(options=QUIET)
    assert run.config["dataset"] == {"filename": "data.csv", "size": 3}
    assert run.result == ("the experiment's own size", ("data.csv", 3))


def test_updates_and_named_configs_of_an_ingredient_by_dotted_name() -> None:
    data = _dataset()
    ex = new_experiment(ingredients=[data])

    @ex.main
    def main():
        return data.load()

    assert ex.run(config_updates={"dataset.size": 5}, options=QUIET).result == ("data.csv", 5)
    assert ex.run(config_updates={"dataset": {"size": 6}}, options=QUIET).result == ("data.csv", 6)
    assert ex.run(named_configs=["dataset.big"], options=QUIET).result == ("data.csv", 1000)
    assert ex.run(named_configs=["dataset.big"], config_updates={"dataset.size": 7}, options=QUIET).result == (
        "data.csv",
        7,
    )


def test_ingredient_commands_run_by_dotted_name() -> None:
    data = _dataset()
    ex = new_experiment(ingredients=[data])
    assert ex.run("dataset.stats", config_updates={"dataset.size": 2}, options=QUIET).result == "2 samples"


def test_the_experiment_config_reads_an_ingredient_config_by_name() -> None:
    data = _dataset()
    ex = new_experiment(ingredients=[data])

    @ex.config
    def cfg(dataset):
        batches = dataset["size"] * 2

    @ex.main
    def main(batches, dataset):
        return batches, dict(dataset)

    run = ex.run(config_updates={"dataset.size": 10}, options=QUIET)
    assert run.result == (20, {"filename": "data.csv", "size": 10})


def test_a_sub_ingredient_is_reachable_by_its_name_from_its_parent() -> None:
    inner = ingredient("inner")

    @inner.config
    def inner_cfg():
        n = 2

    outer = ingredient("outer", ingredients=[inner])

    @outer.config
    def outer_cfg(inner):
        m = inner["n"] * 10

    @outer.capture
    def both(m, inner):
        return m, inner["n"]

    ex = new_experiment(ingredients=[outer])

    @ex.main
    def main(inner):  # a sub-ingredient's sub-ingredient is reachable from the experiment too
        return both(), inner["n"]

    run = ex.run(config_updates={"inner.n": 4}, options=QUIET)
    assert run.config["outer"] == {"m": 40}
    assert run.config["inner"] == {"n": 4}
    assert run.result == ((40, 4), 4)


def test_a_dotted_ingredient_path_nests_its_config_and_a_sibling_is_reachable_by_its_last_name() -> None:
    paths = ingredient("dataset.paths")

    @paths.config
    def paths_cfg():
        root = "/data"

    data = ingredient("dataset", ingredients=[paths])

    @data.config
    def data_cfg(paths):
        train = paths["root"] + "/train"

    ex = new_experiment(ingredients=[data])

    @ex.main
    def main(dataset):
        return dict(dataset)

    run = ex.run(config_updates={"dataset.paths.root": "/mnt"}, options=QUIET)
    assert run.config["dataset"]["paths"] == {"root": "/mnt"}
    assert run.config["dataset"]["train"] == "/mnt/train"


def test_setting_an_ingredient_itself_is_ignored_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    data = _dataset()
    ex = new_experiment(ingredients=[data])

    @ex.main
    def main():
        return data.load()

    run = ex.run(config_updates={"dataset": 5}, options={"--loglevel": "WARNING"})
    assert run.result == ("data.csv", 3)
    assert 'Ignored attempt to set value of "dataset", because it is an ingredient.' in caplog.messages


def test_an_ingredient_config_hook_updates_its_own_config_and_sees_the_whole_config() -> None:
    data = _dataset()
    seen = {}

    @data.config_hook
    def hook(config, command_name, logger):
        seen.update(command=command_name, size=config["dataset"]["size"], logger=logger.name)
        return {"doubled": config["dataset"]["size"] * 2}

    ex = new_experiment(ingredients=[data])

    @ex.main
    def main(dataset):
        return dataset["doubled"]

    run = ex.run(config_updates={"dataset.size": 4}, options=QUIET)
    assert run.result == 8
    assert run.config["dataset"]["doubled"] == 8
    assert seen["command"] == "main" and seen["size"] == 4
    assert seen["logger"].endswith("demo")


def test_ingredients_have_no_seed_entry_but_derived_seeds() -> None:
    data = _dataset()
    ex = new_experiment(ingredients=[data])

    @ex.main
    def main():
        return data.seed_of()

    run = ex.run(config_updates={"seed": 1}, options=QUIET)
    assert "seed" not in run.config["dataset"]
    assert run.result is None  # no seed entry, so the default
