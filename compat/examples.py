"""Run Sacred 0.8.7's example programs under pytest_sacredx and diff their output against Sacred's.

Usage::

    python compat/examples.py                     # every case: one line each, a diff for each difference
    python compat/examples.py ingredient.py       # the cases of one example
    python compat/examples.py run FILE [ARGS...]  # one example as a script, ``sacred`` served by us
    python compat/examples.py --no-pytest         # the scripts only, not the sweeps under pytest
    python compat/run.py --examples               # the same check, from the test-suite runner

Where the examples come from: ``--sacred DIR``, else ``$SACREDX_SACRED_DIR``, else
``../shared/sacred-0.8.7`` next to this checkout (its unmodified ``examples/``). They are copied to a
scratch folder, and each case runs in a fresh process in a fresh working directory (07/08 write
``my_runs`` there), as ``python compat/examples.py run <example> <args>``: the alias of
``compat/sacred_alias.py`` makes ``from sacred import Experiment`` return ``pytest_sacredx``, and the
file runs as ``__main__`` (``runpy``), as a script does.

What Sacred printed is recorded once, by ``compat/record_examples.py`` in Sacred's own environment,
with the same cases, the same runner and the same :func:`normalise`, into
``compat/sacred_examples.json``. A case is the same when its normalised stdout, stderr and exit status
equal the recorded ones. A difference fails (exit 1) unless :data:`DELIBERATE` explains it, with its
reason from ``COMPAT.md``.

Then each example runs under pytest (``pytest -p sacred_alias <example> --exp-config key=v1,v2``: files
named on the command line are collected) with a sweep of one of its config keys (:data:`SWEEPS`);
every case must pass and be recorded in the default TinyDB store with its config values.

Only the standard library is imported at the top: the recorder runs this file in Sacred's venv.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RECORDED = HERE / "sacred_examples.json"
DEFAULT_SACRED = REPO.parent / "shared" / "sacred-0.8.7"
CASE_TIMEOUT_S = 180


@dataclass(frozen=True)
class Case:
    """One command line of one example.

    ``argv`` is what the shell passes (quotes already removed). ``seed_drawn``: nothing fixes the
    seed, so the printed seed is a fresh draw and is normalised. ``no_numpy``: NumPy cannot be
    imported, as on a machine without it (what 06's docstring shows: ``_rnd`` is a
    ``random.Random`` then; with NumPy, Sacred 0.8.7 gives a ``Generator``, which has no ``randint``).
    """

    example: str
    argv: tuple[str, ...] = ()
    seed_drawn: bool = False
    no_numpy: bool = False

    @property
    def name(self) -> str:
        words = [self.example, *self.argv]
        if self.no_numpy:
            words.append("(no numpy)")
        return " ".join(words)


def _c(example: str, *argv: str, seed_drawn: bool = False, no_numpy: bool = False) -> Case:
    return Case(example, tuple(argv), seed_drawn, no_numpy)


# Each command line the examples' docstrings show, plus print_config, `with` updates and the named
# configs where an example has them.
CASES: tuple[Case, ...] = (
    _c("01_hello_world.py"),
    _c("01_hello_world.py", "-l", "WARNING"),
    _c("01_hello_world.py", "help"),
    _c("01_hello_world.py", "print_config", seed_drawn=True),
    _c("02_hello_config_dict.py"),
    _c("02_hello_config_dict.py", "with", "message=Ciao world!"),
    _c("02_hello_config_dict.py", "print_config", "with", "message=Ciao world!", seed_drawn=True),
    _c("03_hello_config_scope.py"),
    _c("03_hello_config_scope.py", "with", "message=Ciao world!"),
    _c("03_hello_config_scope.py", "with", "recipient=Bob"),
    _c("03_hello_config_scope.py", "print_config", "with", "recipient=Bob", seed_drawn=True),
    _c("04_captured_functions.py", "-l", "WARNING"),
    _c("04_captured_functions.py"),
    _c("04_captured_functions.py", "print_config", seed_drawn=True),
    _c("05_my_commands.py", "greet"),
    _c("05_my_commands.py", "shout"),
    _c("05_my_commands.py", "greet", "with", "name=Jane", "-l", "WARNING"),
    _c("05_my_commands.py", "main"),
    _c("05_my_commands.py"),
    _c("05_my_commands.py", "help"),
    _c("05_my_commands.py", "help", "greet"),
    _c("05_my_commands.py", "print_config", "with", "name=Jane", seed_drawn=True),
    _c("06_randomness.py", "with", "seed=12345", "-l", "WARNING", no_numpy=True),
    _c("06_randomness.py", "with", "seed=12345", "numbers=3", "-l", "WARNING", no_numpy=True),
    _c("06_randomness.py", "with", "seed=12345", "reverse=True", "numbers=3", "-l", "WARNING",
       no_numpy=True),  # fmt: skip
    _c("06_randomness.py", "with", "seed=12345", "-l", "WARNING"),
    _c("06_randomness.py", "print_config", "with", "numbers=3", seed_drawn=True),
    _c("07_magic.py"),
    _c("07_magic.py", "with", "C=2.0", "gamma=0.001"),
    _c("07_magic.py", "print_config", "with", "kernel=linear"),
    _c("08_less_magic.py"),
    _c("captured_out_filter.py"),
    _c("ingredient.py"),
    _c("ingredient.py", "with", "fbb"),
    _c("ingredient.py", "with", "dataset.normalize=False"),
    _c("ingredient.py", "print_config", seed_drawn=True),
    _c("ingredient.py", "print_config", "with", "fbb", seed_drawn=True),
    _c("ingredient.py", "print_named_configs"),
    _c("ingredient.py", "dataset.stats"),
    _c("log_example.py"),
    _c("log_example.py", "with", "got_gizmo=True", "number=3"),
    _c("log_example.py", "-l", "DEBUG", "with", "got_gizmo=True"),
    _c("modular.py"),
    _c("modular.py", "with", "a=3", "dataset.paths.base=/data/"),
    _c("modular.py", "print_config", "with", "a=3", "dataset.paths.base=/data/", seed_drawn=True),
    _c("named_config.py"),
    _c("named_config.py", "with", "rude"),
    _c("named_config.py", "with", "rude", "recipient=Bob"),
    _c("named_config.py", "print_config", "with", "rude", seed_drawn=True),
    _c("named_config.py", "print_named_configs"),
)



@dataclass(frozen=True)
class Deliberate:
    """A difference ``COMPAT.md`` lists as deliberate, with its reason there.

    ``line``: a regular expression for the lines of Sacred's output that we deliberately do not print
    (they are dropped from both sides before comparing, so anything else still differs); ``None``
    accepts any difference in the cases named.
    """

    cases: tuple[str, ...]
    reason: str
    line: str | None = None


# Kept small: each entry is one line of COMPAT.md.
DELIBERATE: tuple[Deliberate, ...] = (
    Deliberate(
        ("01_hello_world.py help", "05_my_commands.py help"),
        "COMPAT.md, Command line and logging: help's option and command descriptions are our own "
        "words (no Sacred text is copied), one line each, and -O/--observer is one more option",
    ),
    Deliberate(
        ("named_config.py with rude", "named_config.py with rude recipient=Bob",
         "named_config.py print_config with rude"),  # fmt: skip
        "COMPAT.md, Config scopes: a named config's docstring is its doc, not a config entry, so "
        'there is no root-logger warning Added new config entry: "__doc__"',
        line=r'^WARNING - root - Added new config entry: "__doc__"$',
    ),
)

# --- under pytest -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sweep:
    """``pytest -p sacred_alias <example> <options>``: the cases it must collect and what each records.

    ``expected``: per case, the config entries its stored run must hold (dotted keys), in any order.
    """

    example: str
    options: tuple[str, ...]
    expected: tuple[dict[str, Any], ...]
    no_numpy: bool = False

    @property
    def name(self) -> str:
        return " ".join(["pytest", self.example, *self.options] + (["(no numpy)"] if self.no_numpy else []))


# A sweep of one config key per example that has config; the others run their one case.
SWEEPS: tuple[Sweep, ...] = (
    Sweep("01_hello_world.py", (), ({},)),
    Sweep("02_hello_config_dict.py", ("--exp-config", "message=Hi,Ciao"),
          ({"message": "Hi"}, {"message": "Ciao"})),
    Sweep("03_hello_config_scope.py", ("--exp-config", "recipient=Bob,Alice"),
          ({"recipient": "Bob", "message": "Hello Bob!"},
           {"recipient": "Alice", "message": "Hello Alice!"})),
    Sweep("04_captured_functions.py", ("--exp-config", "message=A {}.,B {}."),
          ({"message": "A {}."}, {"message": "B {}."})),
    Sweep("05_my_commands.py", ("--exp-config", "name=Jane,Joe"), ({"name": "Jane"}, {"name": "Joe"})),
    Sweep("06_randomness.py", ("--exp-config", "numbers=1,3", "--exp-config", "seed=12345"),
          ({"numbers": 1, "seed": 12345}, {"numbers": 3, "seed": 12345}), no_numpy=True),
    Sweep("07_magic.py", ("--exp-config", "C=1.0,2.0"),
          ({"C": 1.0, "seed": 42, "kernel": "rbf"}, {"C": 2.0, "seed": 42, "kernel": "rbf"})),
    Sweep("08_less_magic.py", ("--exp-config", "gamma=0.7,0.001"),
          ({"gamma": 0.7, "seed": 42}, {"gamma": 0.001, "seed": 42})),
    Sweep("captured_out_filter.py", (), ({},)),
    Sweep("ingredient.py", ("--exp-config", "a=1,2"), ({"a": 1, "b": 42}, {"a": 2, "b": 42})),
    Sweep("ingredient.py", ("--exp-named-config", "fbb", "--exp-config", "b=1,2"),
          ({"a": 22, "b": 1, "dataset.filename": "AwwwJiss.py"},
           {"a": 22, "b": 2, "dataset.filename": "AwwwJiss.py"})),
    Sweep("log_example.py", ("--exp-config", "number=1,3"), ({"number": 1}, {"number": 3})),
    Sweep("modular.py", ("--exp-config", "a=1,2"),
          ({"a": 1, "c": 18, "dataset.paths.base": "/home/sacred/"}, {"a": 2, "c": 19})),
    Sweep("named_config.py", ("--exp-named-config", "rude", "--exp-config", "recipient=Bob,Al"),
          ({"message": "Fuck off you Bob!"}, {"message": "Fuck off you Al!"})),
)


def _dotted(config: dict[str, Any], key: str) -> Any:
    value: Any = config
    for part in key.split("."):
        value = value[part] if isinstance(value, dict) and part in value else "<missing>"
    return value


def run_sweep(sweep: Sweep, examples: Path) -> list[str]:
    """Run *sweep* in a fresh folder; return its problems ('' list when every case passed as recorded).

    The runs are read back from the default store (``tinydb:<rootdir>/.sacredx``) with our reader.
    """
    from pytest_sacredx.observers.readers import open_reader

    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="sacredx-example-pytest-") as cwd:
        target = Path(cwd) / sweep.example
        shutil.copy(examples / sweep.example, target)
        command = [sys.executable, str(Path(__file__).resolve()), "pytest"]
        command += ["--no-numpy"] if sweep.no_numpy else []
        command += [str(target), *sweep.options, "-p", "sacred_alias", "-p", "no:cacheprovider",
                    "-p", "no:randomly", "-q", "--rootdir", cwd, "-o", "addopts="]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTHONPATH")}
        env["PYTHONPATH"] = str(HERE)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        try:
            done = subprocess.run(
                command, cwd=cwd, env=env, capture_output=True, text=True,
                timeout=CASE_TIMEOUT_S, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            return [f"timed out after {CASE_TIMEOUT_S} s"]
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        if done.returncode != 0:
            return [f"pytest exited {done.returncode}:\n{tail}"]
        store = Path(cwd) / ".sacredx"
        if not store.is_dir():
            return [f"nothing recorded in {store}:\n{tail}"]
        runs = list(open_reader(f"tinydb:{store}").list_runs())
        if len(runs) != len(sweep.expected):
            problems.append(f"{len(runs)} runs recorded, {len(sweep.expected)} expected")
        unmatched = [dict(want) for want in sweep.expected]
        for record in runs:
            if record.status != "COMPLETED":
                problems.append(f"run {record.id} is {record.status}")
            got = {key: _dotted(record.config, key) for want in sweep.expected for key in want}
            match = next((w for w in unmatched if all(got[k] == v for k, v in w.items())), None)
            if match is None:
                problems.append(f"run {record.id} recorded an unexpected config: {got}")
            else:
                unmatched.remove(match)
        problems += [f"no run recorded the config {want}" for want in unmatched]
    return problems


def run_sweeps(sweeps: list[Sweep], sacred: Path, jobs: int = 2) -> list[tuple[Sweep, list[str]]]:
    """Every sweep, *jobs* at a time: (sweep, its problems)."""
    with tempfile.TemporaryDirectory(prefix="sacredx-examples-") as tmp:
        examples = copy_examples(sacred, Path(tmp))
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            found = list(pool.map(lambda sweep: run_sweep(sweep, examples), sweeps))
    return list(zip(sweeps, found, strict=True))


# --- normalising ------------------------------------------------------------------------------------

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Sacred colours a config entry's whole line; we mark its first column (printing.py's markers).
_LINE_MARKS = {"34": "~", "32": "+", "31": "!"}
_LINE_COLOUR = re.compile(r"^\x1b\[(34|32|31)m ?")
_LEGEND_WORD = re.compile(r"\x1b\[(34|32|31|2)m(modified|added|typechanged|doc)\x1b\[0m")
_LEGEND_MARKS = {"34": "~", "32": "+", "31": "!", "2": "#"}
_DURATION = re.compile(r"\b(after|took) \d+:\d\d:\d\d(\.\d+)?")
_DATETIME = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?")
_RUN_ID = re.compile(r'(run with ID )"[^"]*"')
# The padding before the doc comment follows the seed's length.
_SEED_LINE = re.compile(r"^([ ~+!]\s*seed = )-?\d+( +(?=#))?", re.MULTILINE)
_HEX_ID = re.compile(r"\b[0-9a-f]{32}\b")


def normalise(
    text: str,
    *,
    paths: dict[str, str] | None = None,
    seed_drawn: bool = False,
    host: str | None = None,
) -> str:
    """What stays the same between two runs of the same command line.

    Colour becomes the text markers ``print_config`` writes without a terminal (``~`` modified,
    ``+`` added, ``!`` typechanged in the first column; the legend ``(~ modified, + added, …)``), so
    a wrongly marked entry still differs. Durations, times, run ids, the host name and the folders
    in ``paths`` (real path -> placeholder) are replaced; a drawn seed only when ``seed_drawn``.

    >>> normalise("INFO - x - Completed after 0:00:03")
    'INFO - x - Completed after <duration>'
    >>> normalise("\\x1b[34m  a = 3\\x1b[0m\\n  b = 2", seed_drawn=True)
    '~ a = 3\\n  b = 2'
    >>> normalise("  seed = 42", seed_drawn=True), normalise("  seed = 42")
    ('  seed = <seed>', '  seed = 42')
    """
    text = text.replace("\r\n", "\n")
    text = _LEGEND_WORD.sub(lambda m: f"{_LEGEND_MARKS[m.group(1)]} {m.group(2)}", text)
    lines = []
    for line in text.split("\n"):
        match = _LINE_COLOUR.match(line)
        if match:
            mark = _LINE_MARKS[match.group(1)]
            line = mark + line[match.end() :]
        lines.append(_ANSI.sub("", line))
    text = "\n".join(lines)
    for real, placeholder in sorted((paths or {}).items(), key=lambda kv: -len(kv[0])):
        if real:
            text = text.replace(real, placeholder)
    text = _DURATION.sub(lambda m: f"{m.group(1)} <duration>", text)
    text = _DATETIME.sub("<time>", text)
    text = _RUN_ID.sub(r'\1"<id>"', text)
    text = _HEX_ID.sub("<hex>", text)
    if host:
        text = re.sub(rf"\b{re.escape(host)}\b", "<host>", text)
    if seed_drawn:
        text = _SEED_LINE.sub(lambda m: m.group(1) + "<seed>" + (" " if m.group(2) else ""), text)
    return text


# --- running ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """The normalised output of one case."""

    stdout: str
    stderr: str
    returncode: int

    def as_dict(self) -> dict[str, Any]:
        return {"stdout": self.stdout, "stderr": self.stderr, "returncode": self.returncode}


def _hide_numpy() -> None:
    import importlib.abc

    class _NoNumpy(importlib.abc.MetaPathFinder):
        def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
            if name == "numpy" or name.startswith("numpy."):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, _NoNumpy())


def launch(argv: list[str]) -> None:
    """``run [--no-numpy] [--real-sacred] FILE ARGS...``: run FILE as ``__main__`` with ARGS.

    Without ``--real-sacred`` (what the recorder passes in Sacred's venv) ``sacred`` is served by
    pytest_sacredx. The example's folder is ``sys.path[0]``, as for ``python FILE``.
    """
    import runpy

    parser = argparse.ArgumentParser(prog="compat/examples.py run")
    parser.add_argument("--no-numpy", action="store_true", help="make `import numpy` fail")
    parser.add_argument("--real-sacred", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("file")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    options = parser.parse_args(argv)
    if options.no_numpy:
        _hide_numpy()
    if not options.real_sacred:
        sys.path.insert(0, str(HERE))
        import sacred_alias  # noqa: F401  (installs the finder)

        sys.path.remove(str(HERE))
    path = os.path.abspath(options.file)
    sys.argv = [path, *options.args]
    sys.path[0] = os.path.dirname(path)
    runpy.run_path(path, run_name="__main__")


def launch_pytest(argv: list[str]) -> int:
    """``pytest [--no-numpy] ARGS...``: ``pytest.main(ARGS)``, NumPy hidden when asked."""
    if argv[:1] == ["--no-numpy"]:
        _hide_numpy()
        argv = argv[1:]
    import pytest

    return int(pytest.main(argv))


def run_case(
    case: Case, examples: Path, python: str = sys.executable, *, real_sacred: bool = False
) -> Outcome:
    """Run one case in a fresh working directory and normalise what it printed."""
    with tempfile.TemporaryDirectory(prefix="sacredx-example-") as cwd:
        command = [python, str(Path(__file__).resolve()), "run"]
        command += ["--no-numpy"] if case.no_numpy else []
        command += ["--real-sacred"] if real_sacred else []
        command += [str(examples / case.example), *case.argv]
        env = dict(os.environ)
        for name in ("PYTHONPATH", "PYTEST_ADDOPTS", "NO_COLOR", "FORCE_COLOR", "COLUMNS"):
            env.pop(name, None)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["PYTHONHASHSEED"] = "0"
        try:
            done = subprocess.run(
                command, cwd=cwd, env=env, capture_output=True, text=True,
                timeout=CASE_TIMEOUT_S, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            return Outcome("", f"<timed out after {CASE_TIMEOUT_S} s>", -1)
        paths = {
            str(examples): "<examples>",
            os.path.realpath(cwd): "<cwd>",
            cwd: "<cwd>",
            sys.prefix: "<prefix>",
            str(Path(python).resolve().parent.parent): "<prefix>",
        }
        host = socket.gethostname()

        def norm(text: str) -> str:
            return normalise(text, paths=paths, seed_drawn=case.seed_drawn, host=host)

        return Outcome(norm(done.stdout), norm(done.stderr), done.returncode)


def copy_examples(sacred: Path, into: Path) -> Path:
    """Sacred's examples copied to *into*/examples (nothing is ever written next to the originals)."""
    target = into / "examples"
    shutil.copytree(sacred / "examples", target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def find_sacred(arg: str | None) -> Path:
    """The folder holding Sacred 0.8.7's ``examples/``, or one error line and exit 2."""
    where = Path(arg or os.environ.get("SACREDX_SACRED_DIR") or DEFAULT_SACRED)
    if not (where / "examples").is_dir():
        print(
            f"Error: Sacred 0.8.7's examples are expected at {where}/examples (unmodified examples/ "
            "of IDSIA/sacred 0.8.7); pass --sacred DIR or set SACREDX_SACRED_DIR.",
            file=sys.stderr,
        )
        raise SystemExit(2)
    return where


def select(names: list[str]) -> list[Case]:
    """The cases of the examples named (all when none); an unknown name is one error line."""
    known = sorted({case.example for case in CASES})
    unknown = [name for name in names if name not in known]
    if unknown:
        print(
            f"Error: not one of Sacred's examples: {', '.join(unknown)} (known: {', '.join(known)})",
            file=sys.stderr,
        )
        raise SystemExit(2)
    return [case for case in CASES if not names or case.example in names]


# --- comparing --------------------------------------------------------------------------------------


def load_recorded(path: Path = RECORDED) -> dict[str, Outcome]:
    """Case name -> what Sacred printed, from the recorder's file."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return {row["case"]: Outcome(row["stdout"], row["stderr"], row["returncode"]) for row in data["cases"]}


def diff(expected: Outcome, got: Outcome) -> str:
    """A unified diff of the two outcomes ('' when they are the same)."""

    def lines(outcome: Outcome) -> list[str]:
        out = [f"exit status {outcome.returncode}\n"]
        out += [f"stdout| {line}\n" for line in outcome.stdout.splitlines()]
        out += [f"stderr| {line}\n" for line in outcome.stderr.splitlines()]
        return out

    if expected == got:
        return ""
    return "".join(
        difflib.unified_diff(lines(expected), lines(got), "Sacred 0.8.7", "pytest_sacredx")
    )


def _without(outcome: Outcome, line: str) -> Outcome:
    pattern = re.compile(line)

    def drop(text: str) -> str:
        return "\n".join(x for x in text.split("\n") if not pattern.search(x))

    return Outcome(drop(outcome.stdout), drop(outcome.stderr), outcome.returncode)


def explain(
    case: str, expected: Outcome, got: Outcome, deliberate: tuple[Deliberate, ...] = DELIBERATE
) -> str | None:
    """The reason of the deliberate difference that explains all of *got*'s difference, if any."""
    for entry in deliberate:
        if case not in entry.cases:
            continue
        if entry.line is None or _without(expected, entry.line) == _without(got, entry.line):
            return entry.reason
    return None


def check(
    cases: list[Case],
    recorded: dict[str, Outcome],
    results: dict[str, Outcome],
    deliberate: tuple[Deliberate, ...] = DELIBERATE,
) -> tuple[list[str], int]:
    """Report lines for *results* against *recorded*, and how many differences are not deliberate."""
    report: list[str] = []
    failing = 0
    for case in cases:
        expected = recorded.get(case.name)
        if expected is None:
            report.append(f"missing  {case.name}: not recorded; run python compat/record_examples.py")
            failing += 1
            continue
        got = results[case.name]
        delta = diff(expected, got)
        reason = explain(case.name, expected, got, deliberate) if delta else None
        if not delta:
            report.append(f"same     {case.name}")
        elif reason:
            report.append(f"differs  {case.name} (deliberate: {reason})")
        else:
            failing += 1
            report.append(f"differs  {case.name}\n{delta.rstrip()}")
    return report, failing


def run_all(cases: list[Case], sacred: Path, jobs: int = 2) -> dict[str, Outcome]:
    """Every case under pytest_sacredx, *jobs* at a time."""
    with tempfile.TemporaryDirectory(prefix="sacredx-examples-") as tmp:
        examples = copy_examples(sacred, Path(tmp))
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            outcomes = list(pool.map(lambda case: run_case(case, examples), cases))
    return {case.name: outcome for case, outcome in zip(cases, outcomes, strict=True)}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["run"]:
        launch(argv[1:])
        return 0
    if argv[:1] == ["pytest"]:
        return launch_pytest(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("examples", nargs="*", help="example files (e.g. ingredient.py); all if none")
    parser.add_argument("--sacred", help="folder with Sacred 0.8.7's examples/")
    parser.add_argument("--jobs", type=int, default=2, help="cases run at once (default 2)")
    parser.add_argument("--no-pytest", action="store_true", help="only the scripts, not the sweeps")
    args = parser.parse_args(argv)
    sacred = find_sacred(args.sacred)
    cases = select(args.examples)
    recorded = load_recorded()
    report, failing = check(cases, recorded, run_all(cases, sacred, args.jobs))
    print("\n".join(report))
    same = sum(line.startswith("same ") for line in report)
    print(
        f"examples: {same} of {len(cases)} cases print what Sacred 0.8.7 prints, "
        f"{len(cases) - same - failing} differ deliberately (COMPAT.md), {failing} differ otherwise"
    )
    if args.no_pytest:
        return 1 if failing else 0
    sweeps = [sweep for sweep in SWEEPS if not args.examples or sweep.example in args.examples]
    bad = 0
    for sweep, problems in run_sweeps(sweeps, sacred, args.jobs):
        print(f"{'passes ' if not problems else 'FAILS  '} {sweep.name}")
        for problem in problems:
            print("    " + problem.replace("\n", "\n    "))
        bad += bool(problems)
    print(f"examples under pytest: {len(sweeps) - bad} of {len(sweeps)} sweeps pass and record their configs")
    return 1 if failing or bad else 0


if __name__ == "__main__":
    sys.exit(main())
