"""Git state of sources through the ``git`` command: real repositories made in tmp_path."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pytest_sacredx.provenance import Source, gather_repositories
from pytest_sacredx.provenance.git import clear_git_cache, find_git_toplevel, git_info

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs the git command")

# Isolated from the developer's git config (signing, hooks, default branch noise).
GIT_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
}


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV}
    for k in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        env.pop(k, None)
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture(autouse=True)
def fresh_cache():
    clear_git_cache()
    yield
    clear_git_cache()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    (root / "main.py").write_text("x = 1\n")
    (root / "pkg" / "mod.py").write_text("y = 2\n")
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "init")
    return root


@pytest.fixture
def count_processes(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    calls: list[list[str]] = []
    real = subprocess.run

    def counting(args, *a, **kw):
        calls.append(list(args))
        return real(args, *a, **kw)

    monkeypatch.setattr(subprocess, "run", counting)
    return calls


def test_clean_repository_without_remote(repo: Path) -> None:
    info = git_info(str(repo / "main.py"))
    assert info == {
        "url": "git:/" + os.path.realpath(repo),
        "commit": git(repo, "rev-parse", "HEAD"),
        "dirty": False,
    }


def test_modified_tracked_file_makes_it_dirty_untracked_does_not(repo: Path) -> None:
    (repo / "new.py").write_text("untracked\n")
    assert git_info(str(repo / "main.py"))["dirty"] is False
    (repo / "pkg" / "mod.py").write_text("y = 3\n")
    clear_git_cache()
    assert git_info(str(repo / "main.py"))["dirty"] is True


def test_origin_url_then_first_remote(repo: Path) -> None:
    git(repo, "remote", "add", "upstream", "https://example.com/up.git")
    assert git_info(str(repo))["url"] == "https://example.com/up.git"
    git(repo, "remote", "add", "origin", "git@example.com:me/repo.git")
    clear_git_cache()
    assert git_info(str(repo))["url"] == "git@example.com:me/repo.git"


def test_not_a_repository_costs_no_process(tmp_path: Path, count_processes) -> None:
    if find_git_toplevel(str(tmp_path)) is not None:
        pytest.skip("the temporary directory lies inside a git repository")
    f = tmp_path / "loose.py"
    f.write_text("")
    assert git_info(str(f)) is None
    assert count_processes == []


def test_cached_per_repository(repo: Path, count_processes) -> None:
    first = git_info(str(repo / "main.py"))
    spawned = len(count_processes)
    assert 1 <= spawned <= 4  # rev-parse, remote (+ fallback), status
    for _ in range(50):
        assert git_info(str(repo / "pkg" / "mod.py")) == first
    assert len(count_processes) == spawned


def test_cached_answer_is_a_fresh_dict(repo: Path) -> None:
    info = git_info(str(repo))
    info["dirty"] = "mutated"
    assert git_info(str(repo))["dirty"] is False


def test_repository_without_commit_is_none(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    (tmp_path / "a.py").write_text("")
    assert git_info(str(tmp_path / "a.py")) is None


def test_missing_git_command_is_none(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    assert git_info(str(repo / "main.py")) is None


def test_git_dir_of_a_hook_does_not_leak(repo: Path, tmp_path: Path, monkeypatch) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "f").write_text("f")
    git(other, "init", "-q")
    git(other, "add", ".")
    git(other, "commit", "-q", "-m", "other")
    # As inside a git hook (pytest run from pre-commit) of another repository.
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    monkeypatch.setenv("GIT_INDEX_FILE", str(other / ".git" / "index"))
    assert git_info(str(repo / "main.py"))["commit"] == git(repo, "rev-parse", "HEAD")


def test_worktree_dot_git_file_is_found(repo: Path, tmp_path: Path) -> None:
    wt = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", "--detach", str(wt))
    assert find_git_toplevel(str(wt / "main.py")) == os.path.realpath(wt)
    assert git_info(str(wt / "main.py"))["commit"] == git(repo, "rev-parse", "HEAD")


def test_sources_carry_git_state_and_repositories_are_unique(repo: Path) -> None:
    a = Source.create(str(repo / "main.py"))
    b = Source.create(str(repo / "pkg" / "mod.py"))
    head = git(repo, "rev-parse", "HEAD")
    assert (a.repo, a.commit, a.is_dirty) == ("git:/" + os.path.realpath(repo), head, False)
    loose = Source("/elsewhere/x.py", "d41d8cd98f00b204e9800998ecf8427e")
    assert gather_repositories([a, b, loose]) == [
        {"url": a.repo, "commit": a.commit, "dirty": False}
    ]


def test_source_without_git_info(repo: Path) -> None:
    src = Source.create(str(repo / "main.py"), save_git_info=False)
    assert (src.repo, src.commit, src.is_dirty) == (None, None, None)


def test_sacred_get_commit_if_possible(repo: Path, tmp_path: Path) -> None:
    from pytest_sacredx.dependencies import get_commit_if_possible

    url, commit, dirty = get_commit_if_possible(str(repo / "main.py"), True)
    assert (commit, dirty) == (git(repo, "rev-parse", "HEAD"), False)
    assert get_commit_if_possible(str(repo / "main.py"), False) == (None, None, None)
