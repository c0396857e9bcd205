"""Sacred's ``sacred.arg_parser``: the usage text of an experiment script and its ``with`` updates.

:func:`format_usage` writes the usage text in the form docopt parses (Sacred parses its command line
with docopt; we parse ours with argparse, and the text is the help an experiment prints).
:func:`get_config_updates` turns the words after ``with`` into config updates and named configs. The
values are parsed as Python literals only — never decoded as jsonpickle or run as code — and text that
is no literal stays a string.

>>> get_config_updates(["lr=0.1", "optimizer.name='adam'", "fast", "kernel=rbf"])
({'lr': 0.1, 'optimizer': {'name': 'adam'}, 'kernel': 'rbf'}, ['fast'])
>>> print(format_usage("train.py", "Train a model.", {}, []))  # doctest: +NORMALIZE_WHITESPACE
Usage:
  train.py [(with UPDATE...)] [options]
  train.py help [COMMAND]
  train.py (-h | --help)
  train.py COMMAND [(with UPDATE...)] [options]
<BLANKLINE>
Train a model.
<BLANKLINE>
Options:
<BLANKLINE>
Arguments:
  COMMAND   Name of command to run (see below for list of commands)
  UPDATE    Configuration assignments of the form foo.bar=17
<BLANKLINE>
"""

from __future__ import annotations

import inspect
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from shlex import quote
from typing import Any

from .config.paths import set_by_dotted_path
from .config.values import parse_update, parse_value

__all__ = ["format_usage", "get_config_updates"]

_USAGE = """Usage:
  {program} [(with UPDATE...)] [options]
  {program} help [COMMAND]
  {program} (-h | --help)
  {program} COMMAND [(with UPDATE...)] [options]

{description}

Options:
{options}
Arguments:
  COMMAND   Name of command to run (see below for list of commands)
  UPDATE    Configuration assignments of the form foo.bar=17
{arguments}{commands}"""


def get_config_updates(updates: Sequence[str] | None) -> tuple[dict[str, Any], list[str]]:
    """Split the words after ``with`` into nested config updates and the names of named configs.

    ``key=value`` is an update (dotted keys nest: ``a.b=1`` gives ``{"a": {"b": 1}}``); a word without
    ``=`` names a named config; empty words are skipped. A malformed update (``a=``, ``=1``) is an
    :class:`~pytest_sacredx.errors.UpdateSyntaxError` naming the word.
    """
    config_updates: dict[str, Any] = {}
    named_configs: list[str] = []
    for word in updates or ():
        if word == "":
            continue
        if "=" in word:
            key, value = parse_update(word)
            set_by_dotted_path(config_updates, key, value)
        else:
            named_configs.append(word.strip())
    return config_updates, named_configs


def _convert_value(value: str) -> Any:
    """The Python literal ``value`` spells, else ``value`` as a string (``STRICT_PARSING`` refuses that)."""
    return parse_value(value)


def format_usage(
    program_name: str,
    description: str | None,
    commands: Mapping[str, Any] | None = None,
    options: Iterable[Any] = (),
) -> str:
    """The usage text of an experiment script, in the form docopt parses.

    ``commands`` maps command names to their functions (the first line of each docstring is shown);
    ``options`` are the command-line flags (``gather_command_line_options()``).
    """
    options = list(options)
    return _USAGE.format(
        program=quote(program_name),
        description=description.strip() if description else "",
        options=_options_usage(options),
        arguments=_arguments_usage(options),
        commands=_commands_usage(commands or {}),
    )


def _flags(option: Any) -> str:
    short, long = getattr(option, "short_flag", None), option.long_flag
    arg = getattr(option, "arg", None)
    if arg:
        return f"{short} {arg} {long}={arg}" if short else f"{long}={arg}"
    return f"{short} {long}" if short else long


def _description(option: Any) -> str:
    text = getattr(option, "help", None) or inspect.cleandoc(
        getattr(option, "__doc__", None) or ""
    )
    lines = textwrap.wrap(text, width=79, initial_indent=" " * 32, subsequent_indent=" " * 32)
    return "\n".join(lines).strip()


def _options_usage(options: list[Any]) -> str:
    return "".join(f"  {_flags(op):28}  {_description(op)}\n" for op in options)


def _arguments_usage(options: list[Any]) -> str:
    text = ""
    for op in options:
        arg, about = getattr(op, "arg", None), getattr(op, "arg_description", None)
        if arg and about:
            wrapped = textwrap.wrap(about, width=79, initial_indent=" " * 12, subsequent_indent=" " * 12)
            text += f"  {arg:8}  {chr(10).join(wrapped).strip()}\n"
    return text


def _commands_usage(commands: Mapping[str, Any]) -> str:
    if not commands:
        return ""
    width = max([len(name) for name in commands] + [8])
    lines = "".join(
        f"  {name:{width}}  {_first_doc_line(function)}\n" for name, function in commands.items()
    )
    return "\nCommands:\n" + lines


def _first_doc_line(function: Any) -> str:
    return textwrap.dedent(getattr(function, "__doc__", None) or "").strip().split("\n")[0]
