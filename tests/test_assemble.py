"""Config assembly (``run/assemble.py``): evaluation order, precedence, hooks, seeds and the checks.

The order under test (Sacred's): updates are fixed → named configs in the order given, each
fixed for what follows but under the explicit updates → config scopes/dicts, sub-ingredients first →
config hooks → seed → checks for added keys and type changes.
"""

# ruff: noqa: F841, UP031 - config scopes: their local variables are the config

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from engine_helpers import QUIET, new_experiment

from pytest_sacredx import Ingredient
from pytest_sacredx.errors import (
    ConfigAddedError,
    ConfigError,
    ConfigKeyError,
    NamedConfigNotFoundError,
    SacredxError,
)
from pytest_sacredx.run.assemble import create_run, get_command

WARN = {"--loglevel": "WARNING"}


def hello():
    ex = new_experiment("hello")

    @ex.config
    def cfg():
        recipient = "world"  # whom to greet
        message = "Hello %s!" % recipient

    @ex.main
    def main(message):
        return message

    return ex


def abc():
    ex = new_experiment("abc")

    @ex.config
    def cfg():
        a = 1
        b = 2
        c = a + b

    @ex.named_config
    def variant():
        a = 10
        b = 20

    @ex.named_config
    def other():
        b = 200

    @ex.main
    def main(a, b, c):
        return a, b, c

    return ex


# --------------------------------------------------------------------------- precedence
def test_entries_computed_from_an_update_follow_it() -> None:
    ex = hello()
    assert ex.run(options=QUIET).result == "Hello world!"
    assert ex.run(config_updates={"recipient": "you"}, options=QUIET).result == "Hello you!"


def test_an_update_of_a_computed_entry_wins_over_the_computation() -> None:
    ex = hello()
    run = ex.run(config_updates={"recipient": "you", "message": "Hi"}, options=QUIET)
    assert run.result == "Hi" and run.config["recipient"] == "you"


def test_named_configs_apply_in_order_later_wins_updates_win_over_all() -> None:
    ex = abc()
    assert ex.run(named_configs=["variant"], options=QUIET).result == (10, 20, 30)
    assert ex.run(named_configs=["variant", "other"], options=QUIET).result == (10, 200, 210)
    assert ex.run(named_configs=["other", "variant"], options=QUIET).result == (10, 20, 30)
    assert ex.run(named_configs=["variant"], config_updates={"a": 23}, options=QUIET).result == (23, 20, 43)


def test_a_named_config_sees_the_updates_and_earlier_named_configs() -> None:
    ex = abc()

    @ex.named_config
    def derived(a, b):
        c = a * b

    assert ex.run(named_configs=["variant", "derived"], options=QUIET).result == (10, 20, 200)
    assert ex.run(named_configs=["derived"], config_updates={"a": 3, "b": 4}, options=QUIET).result == (3, 4, 12)


def test_a_config_file_works_as_a_named_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ex = abc()
    (tmp_path / "mine.json").write_text(json.dumps({"a": 5}))
    monkeypatch.chdir(tmp_path)
    assert ex.run(named_configs=["mine.json"], options=QUIET).result == (5, 2, 7)
    assert ex.run(named_configs=[str(tmp_path / "mine.json"), "other"], options=QUIET).result == (5, 200, 205)


def test_dict_named_configs_and_add_config_dicts() -> None:
    ex = abc()
    ex.add_named_config("fromdict", {"a": 7})
    ex.add_config({"d": 4})

    @ex.command
    def show(a, c, d):
        return a, c, d

    assert ex.run("show", named_configs=["fromdict"], options=QUIET).result == (7, 9, 4)


def _with_dataset():
    data = Ingredient("dataset", interactive=True)

    @data.config
    def data_cfg():
        filename = "default.npy"
        normalize = True

    @data.named_config
    def small():
        filename = "small.npy"

    @data.capture
    def load(filename, normalize):
        return filename, normalize

    ex = new_experiment(ingredients=[data])

    @ex.named_config
    def other_data():
        a = 2
        dataset = {"filename": "other.npy"}

    @ex.config
    def cfg():
        a = 1

    @ex.main
    def main(a):
        return a, load()

    return ex


def test_an_experiments_named_config_sets_an_ingredients_entries() -> None:
    ex = _with_dataset()
    run = ex.run(named_configs=["other_data"], options=QUIET)
    assert run.result == (2, ("other.npy", True))
    assert run.config["dataset"] == {"filename": "other.npy", "normalize": True}


def test_named_configs_of_experiment_and_ingredient_apply_in_the_order_given() -> None:
    ex = _with_dataset()
    assert ex.run(named_configs=["dataset.small"], options=QUIET).result == (1, ("small.npy", True))
    assert ex.run(named_configs=["other_data", "dataset.small"], options=QUIET).result[1][0] == "small.npy"
    assert ex.run(named_configs=["dataset.small", "other_data"], options=QUIET).result[1][0] == "other.npy"
    updated = ex.run(
        named_configs=["other_data"], config_updates={"dataset.filename": "mine.npy"}, options=QUIET
    )
    assert updated.result == (2, ("mine.npy", True))


def test_a_named_config_taking_an_entry_no_earlier_config_gives_is_a_key_error() -> None:
    ex = new_experiment()

    @ex.named_config
    def double(a):
        a = a * 2

    @ex.named_config
    def ten():
        a = 10

    @ex.main
    def main(a=1):
        return a

    assert ex.run(named_configs=["ten", "double"], options=QUIET).result == 20
    with pytest.raises(KeyError, match="'a' not in preset for ConfigScope 'test_a_named_config"):
        ex.run(named_configs=["double", "ten"], options=QUIET)


def test_config_scopes_and_named_configs_may_take_the_logger(caplog: pytest.LogCaptureFixture) -> None:
    data = Ingredient("data", interactive=True)

    @data.config
    def data_cfg(_log):
        _log.warning("from the ingredient's scope")
        x = 1

    ex = new_experiment(ingredients=[data])

    @ex.config
    def cfg(_log):
        _log.warning("from the experiment's scope")
        recipient = "world"

    @ex.named_config
    def loud(_log):
        _log.warning("from a named config")
        recipient = "WORLD"

    @ex.main
    def main(recipient):
        return recipient

    with caplog.at_level(logging.WARNING):
        run = ex.run(named_configs=["loud"], options=WARN)
    assert run.result == "WORLD"
    assert "_log" not in run.config and "_log" not in run.config["data"]
    by_message = {r.getMessage(): r.name for r in caplog.records}
    assert by_message["from a named config"] == "sacredx"
    assert by_message["from the experiment's scope"] == "sacredx"
    assert by_message["from the ingredient's scope"] == "sacredx.data"


def test_later_config_scopes_see_earlier_ones_and_the_fixed_values() -> None:
    ex = abc()

    @ex.config
    def second(c):
        d = c * 10

    @ex.command
    def show(d):
        return d

    assert ex.run("show", options=QUIET).result == 30
    assert ex.run("show", config_updates={"a": 2}, options=QUIET).result == 40
    assert ex.run("show", config_updates={"d": 1}, options=QUIET).result == 1


def test_dotted_updates_nest_and_merge_into_config_dicts() -> None:
    ex = new_experiment()

    @ex.config
    def cfg():
        optimizer = {"lr": 0.1, "momentum": 0.9}
        layers = [32]

    @ex.main
    def main(optimizer, layers):
        return dict(optimizer), list(layers)

    run = ex.run(config_updates={"optimizer.lr": 0.5, "layers": [64, 64]}, options=QUIET)
    assert run.result == ({"lr": 0.5, "momentum": 0.9}, [64, 64])
    run = ex.run(config_updates={"optimizer": {"momentum": 0.0}}, options=QUIET)
    assert run.result == ({"lr": 0.1, "momentum": 0.0}, [32])


def test_unknown_named_config_suggests_the_closest() -> None:
    ex = abc()
    with pytest.raises(NamedConfigNotFoundError, match='Named config not found: "varaint"') as info:
        ex.run(named_configs=["varaint"], options=QUIET)
    assert "Did you mean 'variant'?" in str(info.value)
    assert "Available config values are: ('variant', 'other')" in str(info.value)
    assert isinstance(info.value, KeyError)


def test_unknown_named_config_without_any() -> None:
    ex = hello()
    with pytest.raises(NamedConfigNotFoundError, match=r"Available config values are: \(\)"):
        ex.run(named_configs=["x"], options=QUIET)


def test_get_command_suggests() -> None:
    ex = abc()
    with pytest.raises(KeyError, match="Did you mean 'main'"):
        get_command(ex, "mian")
    assert get_command(ex, "print_config") is ex.commands["print_config"]


# --------------------------------------------------------------------------- config hooks
def test_config_hooks_get_a_copy_of_the_config_and_their_result_is_merged() -> None:
    ex = abc()
    calls = []

    @ex.config_hook
    def hook(config, command_name, logger):
        calls.append((dict(config), command_name))
        config["a"] = "mutating the copy changes nothing"
        return {"c": config["b"] * 100, "e": {"f": 1}}

    @ex.command
    def show(a, c, e):
        return a, c, dict(e)

    run = ex.run("show", options=QUIET)
    assert run.result == (1, 200, {"f": 1})
    assert calls[0][1] == "show"
    assert calls[0][0]["c"] == 3 and "seed" in calls[0][0]


def test_hooks_run_after_their_ingredients_configs() -> None:
    data = Ingredient("data", interactive=True)

    @data.config
    def cfg():
        size = 1

    order = []

    @data.config_hook
    def data_hook(config, command_name, logger):
        order.append(("data", "data" in config))
        return {}

    ex = new_experiment(ingredients=[data])

    @ex.config
    def main_cfg(data):
        total = data["size"]

    @ex.config_hook
    def ex_hook(config, command_name, logger):
        order.append(("ex", config["total"]))
        return {}

    @ex.main
    def main():
        pass

    ex.run(options=QUIET)
    assert order == [("data", True), ("ex", 1)]


# --------------------------------------------------------------------------- seed
def test_seed_is_always_in_the_config() -> None:
    ex = hello()
    run = ex.run(options=QUIET)
    assert isinstance(run.config["seed"], int) and 1 <= run.config["seed"] < 2**31
    assert run.config_modifications.docs["seed"] == "the random seed for this experiment"
    assert ex.run(config_updates={"seed": 5}, options=QUIET).config["seed"] == 5
    assert ex.run(options={**QUIET, "--seed": 9}).config["seed"] == 9
    assert ex.run(config_updates={"seed": 5}, options={**QUIET, "--seed": 9}).config["seed"] == 5


def test_a_config_scope_may_set_the_seed() -> None:
    ex = new_experiment()

    @ex.config
    def cfg():
        seed = 1234

    @ex.main
    def main(seed):
        return seed

    assert ex.run(options=QUIET).result == 1234
    assert ex.run(config_updates={"seed": 1}, options=QUIET).result == 1


# --------------------------------------------------------------------------- checks
def test_adding_an_unused_key_is_an_error_with_a_hint() -> None:
    ex = hello()
    with pytest.raises(ConfigAddedError) as info:
        ex.run(config_updates={"recipent": "you"}, options=QUIET)
    message = str(info.value)
    assert "Added new config entry that is not used anywhere" in message
    assert "\nConflicting configuration values:\n  recipent=you\n" in message
    assert "Did you mean 'recipient'?" in message
    assert info.value.conflicting_configs == ("recipent",)
    assert isinstance(info.value, (ConfigError, ValueError))


def test_force_allows_an_unused_key_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    ex = hello()
    run = ex.run(config_updates={"extra": 1}, options={**WARN, "--force": True})
    assert run.config["extra"] == 1
    assert 'Added new config entry: "extra"' in caplog.messages


def test_adding_a_key_a_captured_function_uses_is_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    ex = hello()

    @ex.capture
    def shout(volume=1):
        return volume

    @ex.capture(prefix="style")
    def styled(bold=False):
        return bold

    ex.run(config_updates={"volume": 11, "style.bold": True}, options=WARN)
    assert 'Added new config entry: "volume"' in caplog.messages
    assert 'Added new config entry: "style.bold"' in caplog.messages


def test_adding_into_an_existing_dict_is_allowed() -> None:
    ex = new_experiment()

    @ex.config
    def cfg():
        optimizer = {"lr": 0.1}

    @ex.main
    def main(optimizer):
        return dict(optimizer)

    assert ex.run(config_updates={"optimizer.beta": 0.5}, options=QUIET).result == {"lr": 0.1, "beta": 0.5}


def test_adding_into_a_dict_nobody_takes_is_an_error() -> None:
    ex = new_experiment()

    @ex.config
    def cfg():
        used = {"x": 1}
        unused = {"y": 2}

    @ex.main
    def main(used):
        return dict(used)

    assert ex.run(config_updates={"unused": {"y": 3}}, options=QUIET).result == {"x": 1}
    with pytest.raises(ConfigAddedError, match=r"\n  unused\.z=4\n"):
        ex.run(config_updates={"unused": {"z": 4}}, options=QUIET)
    with pytest.raises(ConfigAddedError, match=r"unused\.z=4"):
        ex.run(config_updates={"unused.z": 4}, options=QUIET)


def test_a_prefixed_captured_function_takes_only_keys_under_its_prefix() -> None:
    ex = new_experiment()

    @ex.config
    def cfg():
        opt = {"lr": 0.1}

    @ex.capture(prefix="opt")
    def rate(lr):
        return lr

    @ex.main
    def main():
        return rate()

    assert ex.run(config_updates={"opt": {"lr": 0.5}}, options=QUIET).result == 0.5
    with pytest.raises(ConfigAddedError, match=r"\n  lr=0\.5\n"):
        ex.run(config_updates={"lr": 0.5}, options=QUIET)  # rate takes opt.lr, not lr
    with pytest.raises(ConfigAddedError, match=r"opt\.momentum=0\.9"):
        ex.run(config_updates={"opt": {"momentum": 0.9}}, options=QUIET)


def test_unused_keys_in_ingredients_are_checked_under_their_path() -> None:
    data = Ingredient("data", interactive=True)

    @data.config
    def cfg():
        size = 1

    ex = new_experiment(ingredients=[data])

    @ex.main
    def main():
        pass

    with pytest.raises(ConfigAddedError, match=r"data\.sise=2\nDid you mean 'size'"):
        ex.run(config_updates={"data.sise": 2}, options=QUIET)


def test_type_changes_are_warned_about_except_int_and_float(caplog: pytest.LogCaptureFixture) -> None:
    ex = new_experiment()

    @ex.config
    def cfg():
        n = 1
        rate = 0.5
        name = "x"
        opt = {"lr": 1}

    @ex.main
    def main():
        pass

    run = ex.run(config_updates={"n": "many", "rate": 1, "name": "y", "opt.lr": [1]}, options=WARN)
    assert 'Changed type of config entry "n" from int to str' in caplog.messages
    assert 'Changed type of config entry "opt.lr" from int to list' in caplog.messages
    assert not any("rate" in m or '"name"' in m for m in caplog.messages)
    # int and float are different types (recorded), but the change is not warned about
    assert run.config_modifications.typechanged == {
        "n": (int, str), "opt.lr": (int, list), "rate": (float, int)
    }
    assert "name" in run.config_modifications.modified


def test_modification_markers() -> None:
    ex = hello()

    @ex.capture
    def uses(volume):
        return volume

    run = ex.run(config_updates={"recipient": "you", "volume": 3}, options=QUIET)
    mods = run.config_modifications
    assert "recipient" in mods.modified
    assert "volume" in mods.added
    assert mods.docs["recipient"] == "whom to greet"


@pytest.mark.parametrize("value", ["Hello", 3, 2.5, True, [1]])
def test_a_dotted_update_into_a_value_that_is_not_a_dict_is_refused(value: object) -> None:
    ex = new_experiment()
    ex.add_config(message=value)

    @ex.main
    def main(message):
        return message

    with pytest.raises(ConfigKeyError, match=r"Cannot set 'message\.b': 'message' is not a dict") as info:
        ex.run(config_updates={"message.b": 1}, options=QUIET)
    assert isinstance(info.value, SacredxError)
    assert "Set 'message' itself" in str(info.value)


def test_replacing_a_value_by_a_dict_is_a_type_change_not_an_error() -> None:
    ex = hello()
    run = ex.run(config_updates={"message": {"b": 1}}, options=QUIET)
    assert run.result == {"b": 1}


def test_a_dotted_update_into_none_makes_a_dict() -> None:
    ex = new_experiment()
    ex.add_config(extra=None)

    @ex.main
    def main(extra):
        return dict(extra)

    assert ex.run(config_updates={"extra.b": 1}, options=QUIET).result == {"b": 1}


def test_a_dotted_update_into_a_named_configs_string_is_refused() -> None:
    ex = abc()
    ex.add_named_config("texty", {"a": "ten"})
    with pytest.raises(ConfigKeyError, match="'a' is not a dict"):
        ex.run(named_configs=["texty"], config_updates={"a.x": 1}, options=QUIET)


def test_a_dotted_update_into_an_ingredient_value_is_refused() -> None:
    data = Ingredient("data", interactive=True)
    data.add_config(size=3)
    ex = new_experiment(ingredients=[data])

    @ex.main
    def main():
        pass

    with pytest.raises(ConfigKeyError, match=r"'data\.size' is not a dict in the config but of type int"):
        ex.run(config_updates={"data.size.x": 1}, options=QUIET)


def test_values_of_any_type_are_kept_and_bad_keys_refused() -> None:
    ex = hello()
    run = ex.run(config_updates={"recipient": {1, 2}}, options=QUIET)
    assert run.config["recipient"] == {1, 2}  # as in Sacred; observers store a readable form
    with pytest.raises(KeyError, match=r"'\$x'"):
        ex.run(config_updates={"recipient": {"$x": 1}}, options=QUIET)


def test_a_named_configs_docstring_is_not_an_unused_key() -> None:
    ex = abc()

    @ex.named_config
    def documented():
        """Bigger numbers."""
        a = 100

    run = ex.run(named_configs=["documented"], options=QUIET)
    assert run.result == (100, 2, 102)


def test_create_run_builds_a_run_without_starting_it() -> None:
    ex = hello()
    run = create_run(ex, "main", {"recipient": "you"}, log_level=logging.ERROR)
    assert run.status is None and run.config["message"] == "Hello you!"
    assert run.main_function is ex.commands["main"]
    assert run() == "Hello you!"


def test_config_scopes_and_named_configs_may_declare_the_logger() -> None:
    data = Ingredient("data", interactive=True)
    seen: dict[str, str] = {}

    @data.config
    def data_cfg(_log):
        seen["data"] = _log.name
        size = 1

    ex = new_experiment(ingredients=[data])

    @ex.config
    def cfg(_log, data):
        seen["main"] = _log.name
        size = data["size"] * 2

    @ex.named_config
    def big(_log):
        seen["named"] = _log.name
        size = 10

    @ex.main
    def main(size, _config):
        return size, sorted(_config)

    run = ex.run(named_configs=["big"], options=QUIET)
    assert run.result == (10, ["data", "seed", "size"])  # _log is no config entry
    root = run.run_logger.parent  # the run's logger is the experiment's child of the root logger
    assert root is not None
    assert seen == {"main": root.name, "named": root.name, "data": f"{root.name}.data"}
