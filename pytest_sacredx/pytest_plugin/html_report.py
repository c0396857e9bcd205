"""``--exp-report FILE``: this session's runs as one self-contained HTML file, compared with the sweep
before it in the same store (see :mod:`pytest_sacredx.report`).

The file is written once, at the end of the session, by the controller (under xdist the workers only
record): the runs of this session's sweep are read back from the session's first store that lasts
(``tinydb:``, ``file:``, SQL, Mongo, S3) — or taken from a ``memory:`` observer of this process — so the
report shows exactly what the store holds. A report that cannot be written is a warning line, never a
failed session.

Example::

    $ pytest examples/iris_svm.py --exp-config gamma=0.1,0.7 --exp-report report.html
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from .keys import SWEEP_ID

__all__ = ["pytest_addoption", "pytest_configure", "pytest_sessionfinish", "pytest_terminal_summary"]

_WRITTEN = pytest.StashKey[str]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sacredx", "experiments (pytest-sacredx)")
    group.addoption(
        "--exp-report",
        dest="sacredx_report",
        default=None,
        metavar="FILE",
        help="Write this session's runs as one self-contained HTML file (runs table, groups, "
        "comparison with the previous sweep, plots).",
    )
    parser.addini("sacredx_report", "Default of --exp-report.", default=None)


def _path(config: pytest.Config) -> str | None:
    value = config.getoption("sacredx_report") or config.getini("sacredx_report")
    return str(value) if value else None


def pytest_configure(config: pytest.Config) -> None:
    path = _path(config)
    if path is None or hasattr(config, "workerinput"):
        return
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise pytest.UsageError(
            f"--exp-report {path}: folder {folder} does not exist; create it or give another path"
        )
    if os.path.isdir(path):
        raise pytest.UsageError(f"--exp-report {path}: is a folder; give a file name (report.html)")


def _records(config: pytest.Config) -> tuple[str, list[Any]]:
    from ..observers.memory import MemoryObserver
    from ..query.errors import QueryError
    from ..query.stores import read_runs
    from .recording import observer_uris, session_observers

    for uri in observer_uris(config):
        if uri.strip().lower() in ("none", "memory:", "memory"):
            continue
        try:
            return uri, read_runs(uri)
        except QueryError:
            continue
    for observer in session_observers(config):
        if isinstance(observer, MemoryObserver):
            return "memory:", list(observer.list_runs())
    return "", []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    path = _path(config)
    if path is None or hasattr(config, "workerinput"):
        return
    from ..errors import SacredxError
    from ..observers.redact import redact_url
    from ..report import build_report

    try:
        store, records = _records(config)
        sweep = config.stash[SWEEP_ID]
        html = build_report(store or "memory:", records=records, sweep=sweep,
                            title=f"pytest session, sweep {sweep}")
        from ..atomic import atomic_file

        with atomic_file(path, "wb") as fh:
            fh.write(html.encode("utf-8"))
        count = html.split('data-runs="', 1)[1].split('"', 1)[0]
        config.stash[_WRITTEN] = f"sacredx: report of {count} runs written to {path} ({redact_url(store)})"
    except (SacredxError, OSError, ImportError) as e:
        config.stash[_WRITTEN] = f"sacredx: could not write the report {path}: {e}"


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    line = config.stash.get(_WRITTEN, None)
    if line:
        terminalreporter.write_line(line)
