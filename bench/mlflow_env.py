"""The MLflow side of the query benchmark: a private venv at ``bench/.venv-mlflow``.

MLflow is installed from PyPI into its own virtual environment so that it never shares
``site-packages`` (its pins of pandas, SQLAlchemy, alembic, Flask…) with pytest_sacredx.

Usage::

    from mlflow_env import ensure_mlflow_venv
    python = ensure_mlflow_venv()          # creates the venv on first call (a few minutes)

or from a shell: ``python bench/mlflow_env.py`` prints the interpreter path.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import venv
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
VENV_DIR = BENCH_DIR / ".venv-mlflow"
MLFLOW_VERSION = "3.17.2"
REQUIREMENTS: tuple[str, ...] = (f"mlflow=={MLFLOW_VERSION}",)
_MARKER = VENV_DIR / ".bench-requirements"


def venv_python(venv_dir: Path = VENV_DIR) -> Path:
    posix = venv_dir / "bin" / "python"
    return posix if posix.exists() or sys.platform != "win32" else venv_dir / "Scripts" / "python.exe"


def _is_ready(python: Path) -> bool:
    if not python.exists():
        return False
    probe = subprocess.run([str(python), "-c", "import mlflow; print(mlflow.__version__)"],
                           capture_output=True, text=True)
    return probe.returncode == 0 and probe.stdout.strip() == MLFLOW_VERSION


def ensure_mlflow_venv(quiet: bool = True) -> Path:
    """Create ``bench/.venv-mlflow`` with MLflow if missing; return its python (idempotent)."""
    python = venv_python()
    if _is_ready(python):
        return python
    if not python.exists():
        print(f"[mlflow_env] creating {VENV_DIR} ...", file=sys.stderr, flush=True)
        venv.EnvBuilder(with_pip=True, clear=False).create(VENV_DIR)
    print(f"[mlflow_env] installing {' '.join(REQUIREMENTS)} from PyPI ...", file=sys.stderr, flush=True)
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check"]
    if quiet:
        pip.append("-q")
    subprocess.run([*pip, *REQUIREMENTS], check=True)
    _MARKER.write_text("\n".join(REQUIREMENTS) + "\n", encoding="utf-8")
    return python


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="show pip's output")
    args = parser.parse_args(argv)
    print(ensure_mlflow_venv(quiet=not args.verbose))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
