"""The example programs, run the way users run them: as scripts in real subprocesses.

Every ``$ python examples/<file>.py …`` line in an example's module docstring is run from the repository
root, and what the user would see (stdout and the log lines on stderr, interleaved as in a terminal) must
match the lines shown below it. ``...`` in a shown line matches anything (a random seed, a list of
commands) and ``<BLANKLINE>`` stands for an empty line, as in doctests. A shown output whose last line
starts with ``Error:`` must exit with status 2, every other one with 0.

The bad-input cases below check what the README promises of every mistake on the command line: exit
status 2, exactly one ``Error: …`` line on stderr that names the mistake (log lines of a run that had
started may precede it), nothing on stdout, and never a traceback.

All subprocesses are started at once by a module-scoped fixture (they are independent), so the whole
module costs a few seconds rather than one interpreter start-up per case in a row.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
# Sacred's tutorial programs. (Other examples, such as the iris sweep, are tested by their own tests.)
EXAMPLE_FILES = [
    "hello_world.py",
    "hello_config.py",
    "captured_functions.py",
    "my_commands.py",
    "named_configs.py",
    "ingredients.py",
]
LOG_LINE = re.compile(r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL) - [\w.]+ - ")

pytestmark = pytest.mark.slow


# --------------------------------------------------------------------------- shown command lines
@dataclass(frozen=True)
class ShownCommand:
    """One ``$ python examples/x.py …`` line of a docstring and the output shown below it."""

    example: str
    command: str
    expected: str

    @property
    def args(self) -> tuple[str, ...]:
        words = shlex.split(self.command)
        assert words[0] == "python", f"{self.example}: shown commands start with 'python': {self.command}"
        return tuple(words[1:])

    @property
    def exit_code(self) -> int:
        lines = self.expected.splitlines()
        return 2 if lines and lines[-1].startswith("Error:") else 0


def shown_commands(example: str) -> list[ShownCommand]:
    """The command lines of an example's module docstring, read without importing the example."""
    doc = ast.get_docstring(ast.parse((EXAMPLES / example).read_text()), clean=False) or ""
    found: list[ShownCommand] = []
    lines = doc.splitlines()
    i = 0
    while i < len(lines):
        match = re.match(r"^(\s*)\$ (python examples/.*)$", lines[i])
        i += 1
        if not match:
            continue
        indent, command = len(match.group(1)), match.group(2)
        output: list[str] = []
        while i < len(lines) and lines[i].strip():
            output.append(lines[i][indent:])
            i += 1
        found.append(ShownCommand(example, command, "\n".join(output) + "\n"))
    return found


ALL_SHOWN = [cmd for name in EXAMPLE_FILES for cmd in shown_commands(name)]


# --------------------------------------------------------------------------- bad input
@dataclass(frozen=True)
class BadInput:
    """A command line that must be refused with one ``Error:`` line naming ``mentions``."""

    id: str
    example: str
    args: tuple[str, ...]
    mentions: tuple[str, ...]
    files: dict[str, bytes] = field(default_factory=dict, hash=False)


BAD_INPUTS = [
    BadInput("empty value", "hello_config.py", ("with", "recipient="), ("recipient=", "empty")),
    BadInput("empty key", "hello_config.py", ("with", "=1"), ("'=1'", "key is empty")),
    BadInput("bad key", "hello_config.py", ("with", "a..b=1"), ("'a..b'", "not a key")),
    BadInput(
        "dotted update into a string",
        "hello_config.py",
        ("with", "message.b=1"),
        ("message.b", "'message'", "not a dict", "str"),
    ),
    BadInput(
        "dotted update into an ingredient's number",
        "ingredients.py",
        ("with", "dataset.size.x=1"),
        ("dataset.size.x", "'dataset.size'", "not a dict", "int"),
    ),
    BadInput(
        "added key nobody uses",
        "hello_config.py",
        ("with", "recipent=you"),
        ("recipent", "not used anywhere", "Did you mean 'recipient'", "--force"),
    ),
    BadInput("unknown command", "my_commands.py", ("gret",), ('"gret" not found', "Did you mean 'greet'")),
    BadInput("help for an unknown command", "my_commands.py", ("help", "gret"), ("'gret'", "greet")),
    BadInput("unknown long flag", "hello_config.py", ("--nmae", "x"), ("'--nmae'", "Did you mean '--name'")),
    BadInput("unknown short flag", "hello_config.py", ("-Z",), ("'-Z'", "--help")),
    BadInput("flag without its value", "hello_config.py", ("-l",), ("--loglevel", "argument")),
    BadInput("unknown log level", "hello_config.py", ("-l", "LOUD"), ("'LOUD'", "DEBUG")),
    BadInput(
        "unknown named config",
        "named_configs.py",
        ("with", "variatn"),
        ('Named config not found: "variatn"', "Did you mean 'variant'"),
    ),
    BadInput(
        "malformed json config file",
        "hello_config.py",
        ("with", "broken.json"),
        ("broken.json", "malformed"),
        {"broken.json": b'{"recipient": '},
    ),
    BadInput(
        "malformed yaml config file",
        "hello_config.py",
        ("with", "broken.yaml"),
        ("broken.yaml", "malformed"),
        {"broken.yaml": b"recipient: [you\n"},
    ),
    BadInput(
        "config file that is not text",
        "hello_config.py",
        ("with", "binary.json"),
        ("binary.json", "UTF-8"),
        {"binary.json": b"\xff\xfe\x00\x81"},
    ),
    BadInput(
        "config file of an unknown format",
        "hello_config.py",
        ("with", "settings.ini"),
        ("settings.ini", "extension", ".json"),
        {"settings.ini": b"recipient=you\n"},
    ),
    BadInput(
        "config key that breaks a key rule",
        "hello_config.py",
        ("with", "recipient={'a$': 1, '$b': 2}"),
        ("Invalid config key '$b' in 'recipient'", "ENFORCE_KEYS_MONGO_COMPATIBLE"),
    ),
    BadInput(
        "observer that cannot record the start",
        "hello_config.py",
        ("-F", "/proc/no_such_dir/runs"),
        ("FileStorageObserver", "could not record the start", "/proc/no_such_dir"),
    ),
    BadInput(
        "captured function missing an argument",
        "captured_functions.py",
        ("missing",),
        ("some_function", "['a', 'b']"),
    ),
]


# --------------------------------------------------------------------------- running
@dataclass(frozen=True)
class Job:
    example: str
    args: tuple[str, ...]
    merged: bool  # stderr into stdout, as a terminal shows them
    cwd: str


def _run(job: Job) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONIOENCODING": "utf-8"}
    env.pop("NO_COLOR", None)  # not a terminal: plain output either way
    script = os.path.relpath(EXAMPLES / job.example, job.cwd)
    return subprocess.run(
        [sys.executable, script, *job.args],
        cwd=job.cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if job.merged else subprocess.PIPE,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[Job, Future[subprocess.CompletedProcess[str]]]]:
    """Start every subprocess of this module at once; tests wait for the one they check."""
    bad_dir = tmp_path_factory.mktemp("bad_input")
    for case in BAD_INPUTS:
        for name, content in case.files.items():
            (bad_dir / name).write_bytes(content)
    jobs = [Job(cmd.example, cmd.args[1:], True, str(ROOT)) for cmd in ALL_SHOWN]
    jobs += [Job(case.example, case.args, False, str(bad_dir)) for case in BAD_INPUTS]
    with ThreadPoolExecutor(max_workers=max(2, (os.cpu_count() or 2) * 2)) as pool:
        yield {job: pool.submit(_run, job) for job in jobs}


def _result_of(results: dict[Job, Future[subprocess.CompletedProcess[str]]], job: Job) -> subprocess.CompletedProcess[str]:
    return results[job].result()


# --------------------------------------------------------------------------- tests
def test_the_tutorial_examples_exist_and_show_command_lines() -> None:
    for name in EXAMPLE_FILES:
        commands = shown_commands(name)
        assert 2 <= len(commands), f"{name} shows {len(commands)} command lines"
        assert all(c.args[0] == f"examples/{name}" for c in commands), name


def test_examples_import_from_pytest_sacredx_only() -> None:
    for name in EXAMPLE_FILES:
        source = (EXAMPLES / name).read_text()
        assert "from pytest_sacredx import" in source, name
        assert not re.search(r"^\s*(from|import) sacred\b", source, re.M), name
        assert "@ex.automain" in source, name


def output_matches(expected: str, got: str) -> bool:
    """Line by line: exact, except that ``...`` matches any text (and the spaces around it any
    padding, since a random seed changes the column a doc comment starts in)."""
    want, have = expected.splitlines(), got.splitlines()
    if len(want) != len(have):
        return False
    for w, h in zip(want, have, strict=True):
        if w == "<BLANKLINE>":
            w = ""
        if "..." not in w:
            if w != h:
                return False
            continue
        parts = [re.escape(p) for p in re.split(r" *\.\.\. *", w)]
        if not re.fullmatch(" *.*? *".join(parts), h):
            return False
    return True


@pytest.mark.parametrize(
    "shown",
    ALL_SHOWN,
    ids=lambda c: f"{c.example[:-3]}: {c.command.split(' ', 2)[2] if c.command.count(' ') > 1 else '(no args)'}",
)
def test_shown_command_line(shown: ShownCommand, results: dict[Job, Future[subprocess.CompletedProcess[str]]]) -> None:
    proc = _result_of(results, Job(shown.example, shown.args[1:], True, str(ROOT)))
    if not output_matches(shown.expected, proc.stdout):
        pytest.fail(f"$ {shown.command}\nExpected:\n{shown.expected}Got:\n{proc.stdout}", pytrace=False)
    assert proc.returncode == shown.exit_code, proc.stdout
    assert "Traceback" not in proc.stdout


def test_output_matcher() -> None:
    assert output_matches("a = ...   # doc\n", "a = 123456789 # doc\n")
    assert output_matches("x\n<BLANKLINE>\ny\n", "x\n\ny\n")
    assert not output_matches("a = ...   # doc\n", "a = 1 # other\n")
    assert not output_matches("a\n", "a\nb\n")
    assert not output_matches("a = 1\n", "a = 2\n")


@pytest.mark.parametrize("case", BAD_INPUTS, ids=lambda c: c.id)
def test_bad_input_is_one_error_line_and_exit_2(
    case: BadInput, results: dict[Job, Future[subprocess.CompletedProcess[str]]]
) -> None:
    job = next(j for j in results if j.example == case.example and j.args == case.args and not j.merged)
    proc = _result_of(results, job)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    errors = [line for line in lines if line.startswith("Error: ")]
    assert len(errors) == 1, proc.stderr
    assert lines[-1] == errors[0], "the error is the last thing printed"
    others = [line for line in lines[:-1] if not LOG_LINE.match(line)]
    assert others == [], proc.stderr
    for text in case.mentions:
        assert text in errors[0], (text, errors[0])


def test_missing_argument_is_refused_after_the_run_started(
    results: dict[Job, Future[subprocess.CompletedProcess[str]]],
) -> None:
    """The run had started, so its log says it failed; the explanation is still a single line."""
    job = next(j for j in results if j.args == ("missing",) and not j.merged)
    lines = _result_of(results, job).stderr.splitlines()
    assert lines == [
        "INFO - captured_functions - Running command 'missing'",
        "INFO - captured_functions - Started",
        "ERROR - captured_functions - Failed after 0:00:00!",
        lines[-1],
    ]


def test_code_in_a_value_is_a_plain_string_and_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    value = f'recipient=__import__("pathlib").Path({str(marker)!r}).touch()'
    proc = _run(Job("hello_config.py", ("with", value, "-l", "ERROR"), False, str(tmp_path)))
    assert proc.returncode == 0, proc.stderr
    assert not marker.exists()
    assert proc.stdout == f'Hello __import__("pathlib").Path({str(marker)!r}).touch()!\n'


def test_print_config_colours_only_a_terminal_and_honours_no_color(tmp_path: Path) -> None:
    import pty

    def run_on_terminal(extra_env: dict[str, str]) -> str:
        leader, follower = pty.openpty()
        env = {**os.environ, **extra_env}
        env.pop("NO_COLOR", None) if "NO_COLOR" not in extra_env else None
        proc = subprocess.Popen(
            [sys.executable, str(EXAMPLES / "hello_config.py"), "print_config", "with", "recipient=you",
             "-l", "ERROR"],
            stdout=follower, stderr=subprocess.DEVNULL, cwd=tmp_path, env=env,
        )
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        proc.wait(timeout=60)
        os.close(leader)
        return b"".join(chunks).decode()

    coloured = run_on_terminal({})
    assert "\033[" in coloured
    assert "recipient" in coloured
    plain = run_on_terminal({"NO_COLOR": "1"})
    assert "\033[" not in plain
    assert "~ recipient = 'you'" in plain  # the text marker stands in for the colour
