"""Record, once, what real Sacred 0.8.7 prints for each case of ``compat/examples.py``.

Usage::

    python compat/record_examples.py            # writes compat/sacred_examples.json
    python compat/record_examples.py --check    # records to memory, exits 1 if the file is stale

Sacred runs in its own venv (``bench/sacred_env.py`` builds ``bench/.venv-sacred`` with sacred==0.8.7
from the package index; scikit-learn is added for examples 07 and 08), through the same runner as the
checker (``compat/examples.py run --real-sacred``), and its output is normalised the same way. Only
that normalised output is committed, never Sacred's code.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "bench"))
from sacred_env import ensure_sacred_venv  # noqa: E402

import examples  # noqa: E402

# 07_magic.py and 08_less_magic.py import scikit-learn; the same version as ours keeps the scores alike.
EXTRA = ("scikit-learn",)


def sacred_python() -> str:
    """Sacred 0.8.7's interpreter, with the examples' extra packages installed."""
    python = ensure_sacred_venv()
    probe = subprocess.run([str(python), "-c", "import sklearn"], capture_output=True)
    if probe.returncode != 0:
        wanted = []
        for dist in EXTRA:
            try:
                wanted.append(f"{dist}=={metadata.version(dist)}")
            except metadata.PackageNotFoundError:
                wanted.append(dist)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *wanted],
            check=True,
        )
    return str(python)


def record(sacred: Path, python: str, jobs: int) -> dict:
    """Every case under real Sacred, normalised: the JSON document that is committed."""
    version = subprocess.run(
        [python, "-c", "import sacred, sys; print(sacred.__version__, sys.version.split()[0])"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="sacred-examples-") as tmp:
        folder = examples.copy_examples(sacred, Path(tmp))
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            outcomes = list(
                pool.map(
                    lambda case: examples.run_case(case, folder, python, real_sacred=True),
                    examples.CASES,
                )
            )
    return {
        "recorded_with": {"sacred": version[0], "python": version[1]},
        "cases": [
            {"case": case.name, **outcome.as_dict()}
            for case, outcome in zip(examples.CASES, outcomes, strict=True)
        ],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sacred", help="folder with Sacred 0.8.7's examples/")
    parser.add_argument("--jobs", type=int, default=2, help="cases run at once (default 2)")
    parser.add_argument("--check", action="store_true", help="compare with the file, write nothing")
    args = parser.parse_args(argv)
    sacred = examples.find_sacred(args.sacred)
    document = record(sacred, sacred_python(), args.jobs)
    text = json.dumps(document, indent=1, ensure_ascii=False) + "\n"
    if args.check:
        stale = not examples.RECORDED.exists() or examples.RECORDED.read_text("utf-8") != text
        print(f"{examples.RECORDED.name}: {'stale' if stale else 'up to date'}")
        return 1 if stale else 0
    examples.RECORDED.write_text(text, encoding="utf-8")
    print(f"recorded {len(document['cases'])} cases to {examples.RECORDED}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
