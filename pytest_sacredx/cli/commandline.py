"""``python exp.py [COMMAND] [with UPDATE…] [FLAGS]``: Sacred's command line, parsed with argparse.

Bad input (unknown flag or command, ``with a=``, an unknown named config, a broken config file…) prints
one line — what is wrong and how to fix it — and exits with status 2; a failing run prints the
traceback trimmed to the user's frames and exits with 1.

>>> # python hello_config.py with recipient=you -l WARNING
>>> # python hello_config.py print_config with message='"Hi"'
"""

from __future__ import annotations

import argparse
import inspect
import os
import shlex
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from ..config.values import is_update, parse_update
from ..errors import (
    ArtifactNameError,
    CommandLineError,
    MissingConfigError,
    ObserverError,
    SacredInterrupt,
    SacredxError,
    did_you_mean,
    one_line,
)
from ..run.signals import Terminated
from .options import BUILTIN_OPTIONS, CommandLineOption

if TYPE_CHECKING:
    from ..experiment import Experiment
    from ..run.run import Run

__all__ = ["run_commandline", "parse_command_line", "get_usage", "ParsedCommandLine"]


class ParsedCommandLine:
    """What a command line asks for."""

    def __init__(self) -> None:
        self.command: str | None = None
        self.help = False
        self.help_command: str | None = None
        self.updates: dict[str, Any] = {}
        self.named_configs: list[str] = []
        self.options: dict[str, Any] = {}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise CommandLineError(message)


def _all_options(ex: Experiment) -> list[CommandLineOption]:
    return [*BUILTIN_OPTIONS, *ex.additional_cli_options]


def _build_parser(ex: Experiment, prog: str) -> _Parser:
    parser = _Parser(prog=prog, add_help=False, allow_abbrev=False)
    for opt in _all_options(ex):
        kwargs: dict[str, Any] = {"dest": opt.long_flag}
        if opt.is_flag:
            kwargs["action"] = "store_true"
        elif opt.long_flag == "--observer":
            kwargs["action"] = "append"
        parser.add_argument(*opt.flag_names, **kwargs)
    parser.add_argument("positionals", nargs="*")
    return parser


def parse_command_line(ex: Experiment, argv: Sequence[str], prog: str = "exp.py") -> ParsedCommandLine:
    """Split ``argv`` into command, updates, named configs and options (raises CommandLineError and
    UpdateSyntaxError with one-line messages)."""
    parser = _build_parser(ex, prog)
    known_flags = sorted({name for opt in _all_options(ex) for name in opt.flag_names})
    for token in argv:
        if token.startswith("-") and len(token) > 1 and not token.lstrip("-").replace(".", "").isdigit():
            flag = token.split("=", 1)[0]
            if flag not in known_flags and not (
                len(flag) > 2 and flag[1] != "-" and flag[:2] in known_flags
            ):
                raise CommandLineError(
                    f"Unknown flag {flag!r}.{did_you_mean(flag, known_flags)} "
                    f"Run '{prog} --help' to see the flags."
                )
    try:
        ns = parser.parse_intermixed_args(list(argv))
    except CommandLineError as e:
        raise CommandLineError(f"{_tidy(str(e))}. Run '{prog} --help' to see the usage.") from None
    parsed = ParsedCommandLine()
    values = vars(ns)
    tokens: list[str] = values.pop("positionals")
    parsed.options = values
    parsed.help = bool(values.get("--help"))
    if tokens and tokens[0] == "help":
        parsed.help = True
        parsed.help_command = tokens[1] if len(tokens) > 1 else None
        return parsed
    if tokens and tokens[0] != "with":
        parsed.command = tokens.pop(0)
    if tokens:
        if tokens[0] != "with":
            raise CommandLineError(
                f"Unexpected argument {tokens[0]!r}: config updates go after 'with', e.g. "
                f"{prog} with {tokens[0]}"
            )
        parsed.options["with"] = True
        for item in tokens[1:]:
            if item == "with":
                continue
            if is_update(item):
                key, value = parse_update(item)
                parsed.updates[key] = value
            else:
                parsed.named_configs.append(item)
    parsed.options["UPDATE"] = list(tokens[1:])
    parsed.options["COMMAND"] = parsed.command
    return parsed


def _tidy(message: str) -> str:
    if message.startswith("argument "):
        flag, _, rest = message[len("argument "):].partition(": ")
        return f"Flag {flag.split('/')[-1]}: {rest}"
    return message[:1].upper() + message[1:]


def _program_name(ex: Experiment) -> str:
    """The main file relative to the experiment's folder, as Sacred names it in the usage."""
    main = ex.mainfile
    if main:
        try:
            return os.path.relpath(main, ex.base_dir or None)
        except ValueError:
            return os.path.basename(main)
    return ex.path


def get_usage(ex: Experiment, program_name: str | None = None) -> tuple[str, str, str]:
    """(short usage, long usage, internal usage) as Sacred returns them."""
    prog = program_name or _program_name(ex)
    short = (
        "Usage:\n"
        f"  {prog} [(with UPDATE...)] [options]\n"
        f"  {prog} help [COMMAND]\n"
        f"  {prog} (-h | --help)\n"
        f"  {prog} COMMAND [(with UPDATE...)] [options]\n"
    )
    # Sacred's layout: the usage, the experiment's doc, the options, the arguments, the commands.
    lines = [short, *([ex.doc.strip(), ""] if ex.doc else []), "Options:"]
    for opt in _all_options(ex):
        flags = ", ".join(n for n in (opt.short_flag, opt.long_flag) if n)
        if opt.arg:
            flags += f" {opt.arg}"
        lines.append(f"  {flags:<34} {opt.help}")
    lines += [
        "",
        "",
        "Arguments:",
        "  COMMAND   Name of command to run (see below for list of commands)",
        "  UPDATE    Configuration assignments of the form foo.bar=17",
        "",
        "",
        "Commands:",
    ]
    commands = list(ex.gather_commands())
    width = max([len(name) for name, _ in commands] + [8])
    for name, cmd in commands:
        doc = (inspect.getdoc(cmd.__wrapped__) or "").split("\n")[0]
        lines.append(f"  {name:<{width}}  {doc}")
    long = "\n".join(lines) + "\n"
    return short, long, short


def _help_for_command(ex: Experiment, name: str, prog: str) -> str:
    commands = dict(ex.gather_commands())
    if name not in commands:
        raise CommandLineError(
            f"Unknown command {name!r}.{did_you_mean(name, commands)} Available commands are: "
            f"{', '.join(commands)}"
        )
    from ..run.commands import help_for_command

    return help_for_command(commands[name])


def run_commandline(ex: Experiment, argv: str | Sequence[str] | None = None) -> Run | None:
    if argv is None:
        argv = sys.argv
    elif isinstance(argv, str):
        argv = shlex.split(argv)
    argv = list(argv)
    prog = _program_name(ex)
    args = argv[1:]
    debug = "-d" in args or "--debug" in args
    try:
        parsed = parse_command_line(ex, args, prog)
        if parsed.help:
            if parsed.help_command:
                print(_help_for_command(ex, parsed.help_command, prog))
            else:
                print(get_usage(ex, prog)[1])
            return None
        command = parsed.command or ex.default_command
        if command is None:
            raise CommandLineError(
                f"No command given and no main function defined. Available commands are: "
                f"{', '.join(n for n, _ in ex.gather_commands())}"
            )
        run = ex._create_run(
            command,
            config_updates=parsed.updates,
            named_configs=parsed.named_configs,
            options=parsed.options,
        )
        run.meta_info["argv"] = _redact_argv(argv)
    except SacredxError as e:
        if debug:
            raise
        _fail(e, prog)
    except Exception as e:  # the user's config scopes or hooks failed: show their traceback
        if debug:
            raise
        _print_failure(e)
        sys.exit(1)
    try:
        run()
        return run
    except SacredxError as e:
        if run.debug:
            raise
        if run.status is None or isinstance(e, (MissingConfigError, ObserverError, ArtifactNameError)):
            # Refused before the main function ran (an observer that cannot record the start ends
            # the run as FAILED before anything ran), the config lacks an argument, or an artifact
            # name no store can keep (refused before any store saw it): bad input, not a bug in the
            # user's code, so one line and exit 2 instead of a traceback (the run is FAILED).
            _fail(e, prog)
        _print_failure(e)
        sys.exit(1)
    except BaseException as e:
        if isinstance(e, (KeyboardInterrupt, SacredInterrupt, Terminated)):
            # Recorded as INTERRUPTED (or the interrupt's status); no traceback for a deliberate stop.
            # 143 for SIGTERM, 130 for Ctrl-C: what a shell reports for a process the signal ended.
            print(f"Interrupted: run ended with status {run.status}", file=sys.stderr)
            sys.exit(143 if isinstance(e, Terminated) else 130)
        if run.debug or isinstance(e, SystemExit):
            raise
        if run.pdb:
            import pdb
            import traceback

            traceback.print_exception(e)
            pdb.post_mortem(e.__traceback__)
            sys.exit(1)
        _print_failure(e)
        sys.exit(1)


def _fail(error: BaseException, prog: str) -> NoReturn:
    message = one_line(error) if isinstance(error, SacredxError) else f"{type(error).__name__}: {error}"
    print(f"Error: {message}", file=sys.stderr)
    sys.exit(2)


def _print_failure(error: BaseException) -> None:
    from ..run.tracebacks import format_trimmed_for_people

    print(format_trimmed_for_people(error), file=sys.stderr)  # and a blank line, as Sacred


def _redact_argv(argv: list[str]) -> list[str]:
    try:
        from ..redact import redact_argv
    except ImportError:  # pragma: no cover
        return argv
    return redact_argv(argv)
