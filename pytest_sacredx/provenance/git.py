"""Git state of the repository that holds a source file, without GitPython.

Sacred asks GitPython (``Repo(dir, search_parent_directories=True)``, ``is_dirty()``) for every source of
every ingredient, which costs an import, several processes per file and a full ``is_dirty`` scan each
time. Here the ``.git`` entry is found by walking up the directory tree (no process at all when a file is
not in a repository), and ``git`` itself runs at most a few times per repository per process:

- ``git rev-parse --show-toplevel HEAD`` for the working tree and the commit,
- ``git remote get-url origin`` (else the first remote; ``git:/<toplevel>`` when there is none),
- ``git status --porcelain --untracked-files=no`` for the dirty flag (untracked files don't count,
  as in Sacred).

The answer is cached per repository for the life of the process: a sweep of 1,000 runs costs three
``git`` processes, not 3,000. The price is that a file edited *during* a long session is not noticed;
call :func:`clear_git_cache` (or ``pytest_sacredx.provenance.clear_caches()``) to look again.

>>> info = git_info(__file__)  # None when this file is not in a git work tree (an installed package)
>>> info is None or sorted(info) == ['commit', 'dirty', 'url']
True
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    from .sources import Source

__all__ = ["GitInfo", "git_info", "find_git_toplevel", "gather_repositories", "clear_git_cache"]

#: seconds for the quick commands (rev-parse, remote); ``status`` may walk a large tree
QUICK_TIMEOUT = 2.0
STATUS_TIMEOUT = 10.0

# Variables that make git look at another repository or index than the one at ``-C dir``. They are
# set while git hooks run (pytest in a pre-commit hook), and would make us report the wrong repo.
_LOCATING_ENV = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
)


class GitInfo(TypedDict):
    """What :func:`git_info` returns (the keys of Sacred's ``repositories`` entries)."""

    url: str
    commit: str
    dirty: bool | None


_lock = threading.RLock()
# directory (realpath) -> toplevel candidate holding ``.git`` or None; keeps the walk-up to once per dir
_toplevel_by_dir: dict[str, str | None] = {}
# toplevel candidate -> git info or None (not a repo for git, no commit yet, git failed)
_info_by_toplevel: dict[str, GitInfo | None] = {}
_git_exe: list[str | None] = []  # [path] once looked up


def clear_git_cache() -> None:
    """Forget everything learnt about repositories, so the next call asks ``git`` again.

    >>> clear_git_cache()
    """
    with _lock:
        _toplevel_by_dir.clear()
        _info_by_toplevel.clear()
        _git_exe.clear()


def find_git_toplevel(path: str) -> str | None:
    """Return the directory holding the ``.git`` entry above ``path``, or None; starts no process.

    ``.git`` may be a directory (a normal clone) or a file (worktrees and submodules).

    >>> find_git_toplevel("/") is None or True
    True
    """
    start = os.path.realpath(path)
    if not os.path.isdir(start):
        start = os.path.dirname(start)
    with _lock:
        if start in _toplevel_by_dir:
            return _toplevel_by_dir[start]
    visited: list[str] = []
    current = start
    found: str | None = None
    while True:
        with _lock:
            if current in _toplevel_by_dir:
                found = _toplevel_by_dir[current]
                break
        visited.append(current)
        if os.path.exists(os.path.join(current, ".git")):
            found = current
            break
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    with _lock:
        for d in visited:
            _toplevel_by_dir[d] = found
    return found


def git_info(path: str) -> GitInfo | None:
    """Return ``{"url", "commit", "dirty"}`` for the repository holding ``path``, or None.

    None means: ``git`` is not installed, ``path`` is not inside a work tree, the repository has no
    commit yet, or git refused (e.g. "dubious ownership"). The result is cached per repository for the
    life of the process (see the module docstring); each call returns a fresh dict.

    >>> git_info("/") is None
    True
    """
    candidate = find_git_toplevel(path)
    if candidate is None:
        return None
    with _lock:
        if candidate not in _info_by_toplevel:
            _info_by_toplevel[candidate] = _ask_git(candidate)
        info = _info_by_toplevel[candidate]
    return (
        None
        if info is None
        else GitInfo(url=info["url"], commit=info["commit"], dirty=info["dirty"])
    )


def gather_repositories(sources: Iterable[Source]) -> list[dict[str, Any]]:
    """Sacred's ``repositories`` list: one ``{"url", "commit", "dirty"}`` per distinct repo state.

    Sources outside any repository (``repo is None``) are left out; the list is sorted for stable output.

    >>> gather_repositories([])
    []
    """
    seen = {
        (s.repo, s.commit, s.is_dirty)
        for s in sources
        if s.repo is not None and s.commit is not None
    }
    return [
        {"url": url, "commit": commit, "dirty": dirty}
        for url, commit, dirty in sorted(seen, key=lambda t: (t[0], t[1], t[2] is None, t[2]))
    ]


def _git() -> str | None:
    with _lock:
        if not _git_exe:
            _git_exe.append(shutil.which("git"))
        return _git_exe[0]


def _run(args: Sequence[str], cwd: str, timeout: float) -> str | None:
    """Run ``git -C cwd *args``; stdout on success, None on any failure (missing, error, timeout)."""
    import subprocess

    exe = _git()
    if exe is None:
        return None
    env = {k: v for k, v in os.environ.items() if k not in _LOCATING_ENV}
    # `git status` refreshes and rewrites the index under index.lock; never take that lock behind the
    # user's back (it would make their own concurrent `git commit` fail).
    env["GIT_OPTIONAL_LOCKS"] = "0"
    env["GIT_TERMINAL_PROMPT"] = "0"
    try:
        proc = subprocess.run(
            [exe, "-C", cwd, *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=timeout,
            env=env,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout if proc.returncode == 0 else None


def _ask_git(candidate: str) -> GitInfo | None:
    out = _run(["rev-parse", "--show-toplevel", "HEAD"], candidate, QUICK_TIMEOUT)
    if out is None:
        return None  # not a work tree for git (bare, broken, no commit yet, unsafe owner)
    lines = out.split("\n")
    if len(lines) < 2 or not lines[1].strip():
        return None
    toplevel, commit = lines[0].strip(), lines[1].strip()
    url = _remote_url(toplevel)
    status = _run(["status", "--porcelain", "--untracked-files=no"], toplevel, STATUS_TIMEOUT)
    dirty = None if status is None else bool(status.strip())
    return GitInfo(url=url, commit=commit, dirty=dirty)


def _remote_url(toplevel: str) -> str:
    url = _run(["remote", "get-url", "origin"], toplevel, QUICK_TIMEOUT)
    if url is None or not url.strip():
        # No "origin": take the first remote in config order, in the same process-count as `git remote`.
        listing = _run(["config", "--get-regexp", r"^remote\..*\.url$"], toplevel, QUICK_TIMEOUT)
        first = (listing or "").strip().split("\n", 1)[0]
        url = first.split(" ", 1)[1] if " " in first else None
    if url is None or not url.strip():
        return "git:/" + toplevel
    return url.strip()
