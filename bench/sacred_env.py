"""The Sacred 0.8.7 side of the benchmark: a private venv at ``bench/.venv-sacred``.

The anchor library is installed from PyPI into its own virtual environment so
that it never shares ``site-packages`` with pytest_sacredx. It holds
``sacred==0.8.7`` plus what its FileStorage and TinyDB observers need
(``tinydb``, ``tinydb-serialization``, ``hashfs``), ``numpy`` (so both sides import the same heavy
optional dependency Sacred pulls in when present), and ``pytest`` for the
"Sacred inside pytest" sweep workload.

Usage::

    from sacred_env import ensure_sacred_venv
    python = ensure_sacred_venv()          # creates the venv on first call
    subprocess.run([str(python), "-c", "import sacred"])

or from a shell: ``python bench/sacred_env.py`` prints the interpreter path.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import venv
from importlib import metadata
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
VENV_DIR = BENCH_DIR / ".venv-sacred"
SACRED_VERSION = "0.8.7"


def _same_as_here(dist: str) -> str:
    """``dist==<version installed in this interpreter>``, or plain ``dist`` when absent.

    Pinning numpy, tinydb and pytest to the versions our side runs with keeps the
    two environments alike, so the figures compare the libraries, not their deps.
    """
    try:
        return f"{dist}=={metadata.version(dist)}"
    except metadata.PackageNotFoundError:
        return dist


# tinydb, tinydb-serialization, hashfs: Sacred's TinyDbObserver; pymongo and SQLAlchemy < 2 (what
# Sacred 0.8.7 supports): its Mongo and SQL observers; numpy: same environment on both sides; pytest:
# the "Sacred-in-pytest" sweep workload.
REQUIREMENTS: tuple[str, ...] = (
    f"sacred=={SACRED_VERSION}",
    _same_as_here("tinydb"),
    "tinydb-serialization",
    "hashfs",
    _same_as_here("numpy"),
    _same_as_here("pytest"),
    _same_as_here("pymongo"),
    "sqlalchemy<2",
)

_MARKER = VENV_DIR / ".bench-requirements"


def venv_python(venv_dir: Path = VENV_DIR) -> Path:
    """Path of the interpreter inside *venv_dir* (POSIX or Windows layout)."""
    posix = venv_dir / "bin" / "python"
    return (
        posix if posix.exists() or sys.platform != "win32" else venv_dir / "Scripts" / "python.exe"
    )


def _is_ready(python: Path) -> bool:
    if not python.exists() or not _MARKER.exists():
        return False
    if _MARKER.read_text(encoding="utf-8").split() != list(REQUIREMENTS):
        return False
    probe = subprocess.run(
        [
            str(python),
            "-c",
            "import sacred, tinydb, tinydb_serialization, hashfs, numpy, pytest; print(sacred.__version__)",
        ],
        capture_output=True,
        text=True,
    )
    return probe.returncode == 0 and probe.stdout.strip() == SACRED_VERSION


def ensure_sacred_venv(quiet: bool = True) -> Path:
    """Create ``bench/.venv-sacred`` with Sacred 0.8.7 if missing; return its python.

    Idempotent and cheap when the venv already exists (one import probe).
    Raises ``subprocess.CalledProcessError`` when pip cannot install the packages.
    """
    python = venv_python()
    if _is_ready(python):
        return python
    return build_venv(VENV_DIR, REQUIREMENTS, "sacred_env", quiet)


def build_venv(venv_dir: Path, requirements: tuple[str, ...], tag: str, quiet: bool = True) -> Path:
    """Create ``venv_dir`` if missing, pip-install ``requirements`` into it and record them in its
    marker file; return its python. Shared by the anchors' venvs (Sacred's here, MLflow's)."""
    python = venv_python(venv_dir)
    if not python.exists():
        print(f"[{tag}] creating {venv_dir} ...", file=sys.stderr, flush=True)
        venv.EnvBuilder(with_pip=True, clear=False).create(venv_dir)
    print(f"[{tag}] installing {' '.join(requirements)} from PyPI ...", file=sys.stderr, flush=True)
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check"]
    if quiet:
        pip.append("-q")
    subprocess.run([*pip, *requirements], check=True)
    (venv_dir / ".bench-requirements").write_text("\n".join(requirements) + "\n", encoding="utf-8")
    return python


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="show pip's output")
    args = parser.parse_args(argv)
    print(ensure_sacred_venv(quiet=not args.verbose))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
