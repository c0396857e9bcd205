"""Run Sacred 0.8.7's own test suite against pytest_sacredx and count what passes.

Usage::

    python compat/run.py                       # every file, the table, the public-API pass rate
    python compat/run.py --floor 97            # exit 1 when the public pass rate is below 97 %
    python compat/run.py tests/test_run.py -v  # one file, with each failing test and its message
    python compat/run.py --json compat.json    # outcomes of every listed test, for tools
    python compat/run.py --examples            # Sacred's example programs instead (compat/examples.py)

Where the tests come from: ``--sacred DIR``, else ``$SACREDX_SACRED_DIR``, else ``../shared/sacred-0.8.7``
next to this checkout — a folder holding Sacred's unmodified ``tests/`` and ``examples/``. They are copied
into a scratch folder (so nothing is written next to them) and each test file runs in a fresh
``python -m pytest`` process with ``-p sacred_alias``, which makes ``import sacred`` return
``pytest_sacredx``. A file that crashes its process costs only its own tests.

Which tests count: ``compat/sacred_tests.txt`` lists every test Sacred 0.8.7 collects, each in a
``[public]`` section or a ``[private] reason`` section. The rate is public tests passed over public tests
listed; a listed test that did not run (its file failed to import, its process crashed) has failed.

The tests need Sacred's test dependencies: ``pip install -e '.[compat]'``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
LIST_FILE = HERE / "sacred_tests.txt"
DEFAULT_SACRED = REPO.parent / "shared" / "sacred-0.8.7"
# Imported by Sacred's tests (or by the observers they test); ``pip install -e '.[compat]'`` brings them.
NEEDED = (
    "mock",
    "docopt",
    "mongomock",
    "moto",
    "hashfs",
    "tinydb_serialization",
    "pandas",
    "pytest_timeout",
)
# A file of Sacred's tests reads ``setup.py`` from the working directory as "some existing file"; in
# Sacred's checkout that is its own setup.py. Any file does.
PLACEHOLDER_SETUP_PY = (
    "# stands in for Sacred's setup.py, which some of its tests open as an example file\n"
)
# The TinyDB reader's tests store sacred/__about__.py and sacred/__init__.py of the checkout as an
# artifact and a resource. Placeholders stand in (any content does); `import sacred` still finds
# pytest_sacredx, because the alias finder comes first on sys.meta_path.
PLACEHOLDER_FILES = {
    "setup.py": PLACEHOLDER_SETUP_PY,
    "sacred/__about__.py": "# stands in for a file of Sacred's checkout that its tests store\n",
    "sacred/__init__.py": "# stands in for a file of Sacred's checkout that its tests store\n",
}
TEST_TIMEOUT_S = 120


def load_list(path: Path = LIST_FILE) -> dict[str, str | None]:
    """node id -> None for a public test, or the reason it is private."""
    tests: dict[str, str | None] = {}
    section: str | None = None
    public = True
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            public = line == "[public]"
            section = None if public else line.partition("]")[2].strip()
            if not public and not section:
                raise SystemExit(f"Error: {path}: a [private] section needs a reason: {raw!r}")
            continue
        if line in tests:
            raise SystemExit(f"Error: {path}: {line} is listed twice")
        tests[line] = section
    return tests


def find_sacred(arg: str | None) -> Path:
    where = Path(arg or os.environ.get("SACREDX_SACRED_DIR") or DEFAULT_SACRED)
    if not (where / "tests").is_dir():
        print(
            f"Error: Sacred 0.8.7's tests are expected at {where}/tests (unmodified tests/ and "
            "examples/ of IDSIA/sacred 0.8.7); pass --sacred DIR or set SACREDX_SACRED_DIR.",
            file=sys.stderr,
        )
        raise SystemExit(2)
    return where


def check_dependencies() -> None:
    import importlib.util

    missing = [name for name in NEEDED if importlib.util.find_spec(name) is None]
    if missing:
        print(
            f"Error: Sacred's tests need {', '.join(missing)}; install them with: "
            "pip install -e '.[compat]'",
            file=sys.stderr,
        )
        raise SystemExit(2)


def run_file(scratch: Path, test_file: str, results_dir: Path) -> tuple[str, Path, str]:
    """Run one test file in its own process; return (file, its results file, tail of its output)."""
    results = results_dir / (test_file.replace("/", "__") + ".jsonl")
    env = dict(os.environ)
    env["SACREDX_COMPAT_RESULTS"] = str(results)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.pop("PYTEST_ADDOPTS", None)
    command = [
        sys.executable, "-m", "pytest", test_file, "-p", "sacred_alias", "-p", "no:cacheprovider",
        "-p", "no:randomly", "-p", "no:xdist", f"--timeout={TEST_TIMEOUT_S}", "-q",
        "--no-header", "-o", "addopts=", "--rootdir", str(scratch),
    ]  # fmt: skip
    done = subprocess.run(command, cwd=scratch, env=env, capture_output=True, text=True)
    tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-3:])
    return test_file, results, tail


def outcomes(results: Path) -> tuple[dict[str, tuple[str, str]], str]:
    """node id -> (passed|failed|skipped, message); and a collection error of the file, if any."""
    seen: dict[str, tuple[str, str]] = {}
    collect_error = ""
    if not results.exists():
        return seen, collect_error
    for line in results.read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        node, outcome, message = event["nodeid"], event["outcome"], event["message"]
        if event["when"] == "collect":
            collect_error = message or "collection failed"
            continue
        rank = {"passed": 0, "skipped": 1, "failed": 2}
        before = seen.get(node)
        if before is None or rank[outcome] > rank[before[0]]:
            seen[node] = (outcome, message)
    return seen, collect_error


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "files", nargs="*", help="test files (paths as listed, e.g. tests/test_run.py)"
    )
    parser.add_argument("--sacred", help="folder with Sacred 0.8.7's tests/ and examples/")
    parser.add_argument("--floor", type=float, help="fail below this public pass rate (percent)")
    parser.add_argument("--jobs", type=int, default=2, help="test files run at once (default 2)")
    parser.add_argument("--json", help="write every listed test's outcome to this file")
    parser.add_argument("-v", "--verbose", action="store_true", help="list failing public tests")
    parser.add_argument(
        "--examples", action="store_true",
        help="check Sacred's example programs' output instead (compat/examples.py; FILES are examples)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.examples:
        sys.path.insert(0, str(HERE))
        import examples

        forwarded = [*args.files, "--jobs", str(args.jobs)]
        return examples.main(forwarded + (["--sacred", args.sacred] if args.sacred else []))

    sacred = find_sacred(args.sacred)
    check_dependencies()
    listed = load_list()
    files = sorted({node.split("::")[0] for node in listed})
    if args.files:
        unknown = sorted(set(args.files) - set(files))
        if unknown:
            print(f"Error: not a listed test file: {', '.join(unknown)}", file=sys.stderr)
            return 2
        files = sorted(args.files)

    with tempfile.TemporaryDirectory(prefix="sacredx-compat-") as tmp:
        scratch = Path(tmp) / "sacred"
        shutil.copytree(sacred / "tests", scratch / "tests")
        if (sacred / "examples").is_dir():
            shutil.copytree(sacred / "examples", scratch / "examples")
        for name, text in PLACEHOLDER_FILES.items():
            (scratch / name).parent.mkdir(parents=True, exist_ok=True)
            (scratch / name).write_text(text, encoding="utf-8")
        results_dir = Path(tmp) / "results"
        results_dir.mkdir()
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            runs = list(pool.map(lambda f: run_file(scratch, f, results_dir), files))
        report = summarise(listed, runs)

    print_table(report, verbose=args.verbose)
    if args.json:
        Path(args.json).write_text(
            json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
    rate = report["public_rate"]
    if args.floor is not None and not args.files and rate < args.floor:
        print(f"FAIL: public-API pass rate {rate:.1f} % is below the floor of {args.floor:g} %")
        return 1
    return 0


def summarise(listed: dict[str, str | None], runs: list[tuple[str, Path, str]]) -> dict:
    per_file: dict[str, dict] = {}
    tests: dict[str, dict] = {}
    unlisted: list[str] = []
    for test_file, results, tail in runs:
        seen, collect_error = outcomes(results)
        unlisted += sorted(node for node in seen if node not in listed)
        row = defaultdict(int)
        for node, reason in listed.items():
            if node.split("::")[0] != test_file:
                continue
            outcome, message = seen.get(node, ("failed", ""))
            if node not in seen:
                message = (
                    collect_error
                    or f"did not run ({tail.splitlines()[-1] if tail else 'no output'})"
                )
            kind = "public" if reason is None else "private"
            row[f"{kind}_total"] += 1
            row[f"{kind}_{outcome}"] += 1
            tests[node] = {"public": reason is None, "outcome": outcome, "message": message}
        per_file[test_file] = dict(row)
    public = [t for t in tests.values() if t["public"]]
    passed = sum(t["outcome"] == "passed" for t in public)
    return {
        "files": per_file,
        "tests": tests,
        "unlisted": unlisted,
        "public_total": len(public),
        "public_passed": passed,
        "public_rate": 100.0 * passed / len(public) if public else 0.0,
    }


def print_table(report: dict, verbose: bool) -> None:
    width = max(len(f) for f in report["files"]) if report["files"] else 10
    print(f"{'file':<{width}}  public passed/total  private passed/total")
    for name, row in report["files"].items():
        pub = f"{row.get('public_passed', 0)}/{row.get('public_total', 0)}"
        priv = f"{row.get('private_passed', 0)}/{row.get('private_total', 0)}"
        print(f"{name:<{width}}  {pub:>19}  {priv:>20}")
    print(
        f"public API: {report['public_passed']} of {report['public_total']} passed "
        f"({report['public_rate']:.1f} %)"
    )
    if report["unlisted"]:
        print(
            f"warning: {len(report['unlisted'])} tests ran that compat/sacred_tests.txt does not list"
        )
    if verbose:
        for node, test in sorted(report["tests"].items()):
            if test["public"] and test["outcome"] != "passed":
                print(f"  {test['outcome'].upper()} {node}: {test['message']}")


if __name__ == "__main__":
    sys.exit(main())
