"""The print_config tree and the named-config list (``config/printing.py``): Sacred's layout and
colours on a terminal, text markers without colour."""

from __future__ import annotations

import io

import pytest

from pytest_sacredx.config import ConfigSummary
from pytest_sacredx.config.printing import format_config, format_named_configs, use_color

CONFIG = {
    "__doc__": "My experiment.",
    "seed": 1,
    "lr": 0.1,
    "name": "a_rather_long_value",
    "new": 3,
    "opt": {"m": 0.9, "nested": {"x": [1, 2]}},
    "empty": {},
}
SUMMARY = ConfigSummary(
    CONFIG,
    added={"new"},
    modified={"lr", "opt", "opt.m"},
    typechanged={"name": (int, str)},
    docs={
        "seed": "the random seed for this experiment",
        "lr": "learning rate",
        "opt": "optimizer settings",
        "name": "a name",
    },
)


def test_plain_tree_marks_each_changed_line_in_its_first_column():
    assert format_config(CONFIG, SUMMARY, color=False) == "\n".join(
        [
            "Configuration (~ modified, + added, ! typechanged, # doc):",
            '  """My experiment."""',
            "  empty = {}",
            "~ lr = 0.1                           # learning rate",
            "! name = 'a_rather_long_value'       # a name",
            "+ new = 3",
            "  seed = 1                           # the random seed for this experiment",
            "~ opt:                               # optimizer settings",
            "~   m = 0.9",
            "    nested:",
            "      x = [1, 2]",
        ]
    )


def test_coloured_tree_in_sacreds_colours():
    B, G, R, D, E = "\033[34m", "\033[32m", "\033[31m", "\033[2m", "\033[0m"
    assert format_config(CONFIG, SUMMARY, color=True) == "\n".join(
        [
            f"Configuration ({B}modified{E}, {G}added{E}, {R}typechanged{E}, {D}doc{E}):",
            f'{D}  """My experiment."""{E}',
            "  empty = {}",
            f"{B}  lr = 0.1                           {D}# learning rate{E}{E}",
            f"{R}  name = 'a_rather_long_value'       {D}# a name{E}{E}",
            f"{G}  new = 3{E}",
            f"  seed = 1                           {D}# the random seed for this experiment{E}",
            f"{B}  opt:                               {D}# optimizer settings{E}{E}",
            f"{B}    m = 0.9{E}",
            "    nested:",
            "      x = [1, 2]",
        ]
    )


def test_long_assignments_get_four_spaces_before_the_doc():
    cfg = {"a_long_key_name": "a value that is long"}
    summary = ConfigSummary(cfg, docs={"a_long_key_name": "doc"})
    assert format_config(cfg, summary, color=False).splitlines()[1] == (
        "  a_long_key_name = 'a value that is long'    # doc"
    )


def test_without_summary_and_multiline_doc():
    cfg = {"__doc__": "Line one.\nLine two.", "b": {"c": "x"}, "a": None}
    assert format_config(cfg, None, color=False) == "\n".join(
        [
            "Configuration (~ modified, + added, ! typechanged, # doc):",
            '  """Line one.',
            '  Line two."""',
            "  a = None",
            "  b:",
            "    c = 'x'",
        ]
    )


def test_named_configs():
    text = format_named_configs(
        {"fast": "fewer epochs", "big": None, "multi": "line one\nline two"}
    )
    assert text == "\n".join(
        [
            "Named Configurations (# doc):",
            "  fast   # fewer epochs",
            "  big",
            "  multi",
            '    """line one',
            '  line two"""',
        ]
    )
    assert format_named_configs({}) == "Named Configurations (# doc):\n  No named configs"


def test_named_configs_accept_objects_with_docstrings():
    def variant():
        """Bigger model."""

    assert (
        format_named_configs({"variant": variant}).splitlines()[1] == "  variant   # Bigger model."
    )
    assert "\033[2m   # Bigger model.\033[0m" in format_named_configs({"variant": variant}, color=True)


def test_a_dict_named_config_has_no_doc_of_its_own():
    from pytest_sacredx.config import ConfigDict

    assert format_named_configs({"d": ConfigDict({"v": 1})}).splitlines()[1] == "  d"


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        if self.closed:
            raise ValueError("I/O operation on closed file")  # as real files do
        return True


def test_use_color(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_color(FakeTTY()) is True
    assert use_color(io.StringIO()) is False
    assert use_color(object()) is False
    closed = FakeTTY()
    closed.close()
    assert use_color(closed) is False
    monkeypatch.setenv("NO_COLOR", "1")
    assert use_color(FakeTTY()) is False


@pytest.mark.parametrize("color", [True, False])
def test_every_line_of_a_nested_config_is_indented_by_depth(color):
    cfg = {"a": {"b": {"c": {"d": 1}}}}
    lines = format_config(cfg, None, color=color).splitlines()[1:]
    assert lines == ["  a:", "    b:", "      c:", "        d = 1"]
