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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sacred_env import build_venv, venv_python  # noqa: E402 - the path above

BENCH_DIR = Path(__file__).resolve().parent
VENV_DIR = BENCH_DIR / ".venv-mlflow"
MLFLOW_VERSION = "3.17.2"
REQUIREMENTS: tuple[str, ...] = (f"mlflow=={MLFLOW_VERSION}",)


def _is_ready(python: Path) -> bool:
    if not python.exists():
        return False
    probe = subprocess.run([str(python), "-c", "import mlflow; print(mlflow.__version__)"],
                           capture_output=True, text=True)
    return probe.returncode == 0 and probe.stdout.strip() == MLFLOW_VERSION


def ensure_mlflow_venv(quiet: bool = True) -> Path:
    """Create ``bench/.venv-mlflow`` with MLflow if missing; return its python (idempotent)."""
    python = venv_python(VENV_DIR)
    if _is_ready(python):
        return python
    return build_venv(VENV_DIR, REQUIREMENTS, "mlflow_env", quiet)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="show pip's output")
    args = parser.parse_args(argv)
    print(ensure_mlflow_venv(quiet=not args.verbose))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
