"""The built-in commands (``run/commands.py``; Sacred's ``sacred.commands``): print_config,
print_named_configs, save_config, print_dependencies and the help text of a command."""

# ruff: noqa: F841 - config scopes: their local variables are the config

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from engine_helpers import QUIET, new_experiment

from pytest_sacredx import Ingredient
from pytest_sacredx.commands import help_for_command, print_named_configs


def typed():
    ex = new_experiment("typed")

    @ex.config
    def cfg():
        lr = 0.1  # learning rate
        layers = 2
        opt = {"momentum": 0.9}

    @ex.main
    def main(lr, layers, opt):
        pass

    return ex


def test_print_config_without_colour_marks_every_kind_of_change(capsys: pytest.CaptureFixture[str]) -> None:
    ex = typed()
    ex.run(
        "print_config",
        config_updates={"lr": 0.5, "layers": "two", "opt.nesterov": True, "seed": 3},
        options={**QUIET, "--force": True},
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "Configuration (~ modified, + added, ! typechanged, # doc):",
        "! layers = 'two'",
        "~ lr = 0.5                           # learning rate",
        "~ seed = 3                           # the random seed for this experiment",
        "~ opt:",
        "    momentum = 0.9",
        "+   nesterov = True",
    ]


def test_print_config_on_a_terminal_uses_sacreds_colours(monkeypatch, capsys) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setattr("pytest_sacredx.run.commands.use_color", lambda stream: True)
    typed().run("print_config", config_updates={"lr": 0.5}, options=QUIET)
    out = capsys.readouterr().out
    assert "\033[34m  lr = 0.5" in out and "~" not in out


def test_print_named_configs_lists_the_tree_with_docs(capsys: pytest.CaptureFixture[str]) -> None:
    data = Ingredient("data", interactive=True)

    @data.named_config
    def tiny():
        """Ten samples."""
        size = 10

    data.add_named_config("from_dict", {"size": 3})
    ex = new_experiment(ingredients=[data])

    @ex.named_config
    def fast():
        """Fewer epochs,
        for a quick look."""
        epochs = 1

    @ex.main
    def main():
        pass

    ex.run("print_named_configs", options=QUIET)
    assert capsys.readouterr().out.splitlines() == [
        "Named Configurations (# doc):",
        "  fast",
        '    """Fewer epochs,',
        '          for a quick look."""',
        "  data.tiny   # Ten samples.",
        "  data.from_dict",
    ]
    print_named_configs(new_experiment())()
    assert capsys.readouterr().out.splitlines()[1] == "  No named configs"


def test_save_config_writes_the_config_without_its_file_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    ex = typed()
    with caplog.at_level(logging.INFO):
        ex.run("save_config", config_updates={"lr": 0.2, "seed": 5}, options={"--loglevel": "INFO"})
    assert json.loads((tmp_path / "config.json").read_text()) == {
        "lr": 0.2, "layers": 2, "opt": {"momentum": 0.9}, "seed": 5
    }
    assert 'Saving config to "config.json"' in caplog.messages
    ex.run("save_config", config_updates={"config_filename": "other.json"}, options=QUIET)
    assert "config_filename" not in json.loads((tmp_path / "other.json").read_text())


def test_print_dependencies_lists_packages_and_sources(capsys: pytest.CaptureFixture[str]) -> None:
    ex = typed()
    ex.add_package_dependency("somepackage", "1.2.3")
    ex.run("print_dependencies", options=QUIET)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Dependencies:"
    assert "  somepackage          == 1.2.3" in out
    assert "Sources:" in out


def test_help_for_a_command_shows_its_signature_and_doc() -> None:
    ex = new_experiment()

    @ex.command
    def train(epochs, lr=0.1):
        """Train the model.

        Runs for the configured epochs."""

    text = help_for_command(train)
    assert text.splitlines()[:2] == ["train(epochs, lr=0.1)", "    Train the model."]
    assert "Runs for the configured epochs." in text and "\b" not in text


def test_the_seed_is_documented_only_when_the_experiment_has_a_config_scope(capsys) -> None:
    ex = new_experiment()
    ex.add_config({"a": 1})

    @ex.main
    def main(a):
        pass

    ex.run("print_config", config_updates={"seed": 1}, options=QUIET)
    assert "~ seed = 1" in capsys.readouterr().out.splitlines()

    @ex.config
    def cfg():
        b = 2

    ex.run("print_config", config_updates={"seed": 1}, options=QUIET)
    assert "~ seed = 1                           # the random seed for this experiment" in capsys.readouterr().out
