"""docs/ci-sharding.md runs: each workflow's jobs, steps and matrix, executed here.

A small runner plays GitHub Actions: jobs in ``needs`` order, every matrix entry of a job as a
concurrent process tree, each job in its own copy of the checkout (jobs run on separate machines, so
stores move between them only as artifacts), ``${{ … }}`` expressions substituted, ``run:`` steps in
bash with ``-eo pipefail`` as GitHub does. ``actions/checkout`` and ``setup-python`` are no-ops (this
interpreter and the copied checkout are the environment), steps named ``Install`` are skipped (the
package is installed), ``upload-artifact``/``download-artifact`` copy folders. Unknown actions and
expressions fail the test, so the document can only say what the runner understands. The shared store
is a fresh database on the PostgreSQL server of ``.ci/services.sh``.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "ci-sharding.md"
EXPR = re.compile(r"\$\{\{\s*([^}]+?)\s*\}\}")


def workflows() -> list[dict[str, Any]]:
    yaml = pytest.importorskip("yaml")
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    return [yaml.safe_load(b) for b in blocks]


class Runner:
    """One workflow run: its artifacts folder, run id and secrets."""

    def __init__(self, workflow: dict[str, Any], base: Path, secrets: dict[str, str]) -> None:
        self.workflow = workflow
        self.base = base
        self.secrets = secrets
        self.artifacts = base / "artifacts"
        self.artifacts.mkdir()
        self.run_id = str(random.randint(10**8, 10**9))
        self.log: list[str] = []
        self.lock = threading.Lock()

    def expand(self, text: str, matrix: dict[str, Any]) -> str:
        def value(m: re.Match[str]) -> str:
            expr = m.group(1)
            scope, _, name = expr.partition(".")
            if scope == "matrix" and name in matrix:
                return str(matrix[name])
            if scope == "secrets" and name in self.secrets:
                return self.secrets[name]
            if expr == "github.run_id":
                return self.run_id
            raise AssertionError(f"the test's runner does not know the expression ${{{{ {expr} }}}}")

        return EXPR.sub(value, text)

    def run_workflow(self) -> dict[str, list[int]]:
        jobs: dict[str, Any] = self.workflow["jobs"]
        done: dict[str, list[int]] = {}
        while len(done) < len(jobs):
            ready = [n for n, j in jobs.items() if n not in done and all(d in done for d in _needs(j))]
            assert ready, f"jobs wait for each other: {sorted(set(jobs) - set(done))}"
            for name in ready:
                done[name] = self.run_job(name, jobs[name])
        return done

    def run_job(self, name: str, job: dict[str, Any]) -> list[int]:
        matrix = (job.get("strategy") or {}).get("matrix") or {}
        keys = sorted(matrix)
        entries: list[dict[str, Any]] = [{}]
        for key in keys:
            entries = [{**e, key: v} for e in entries for v in matrix[key]]
        codes = [0] * len(entries)
        errors: list[BaseException] = []

        def one(i: int, entry: dict[str, Any]) -> None:
            try:
                codes[i] = self.run_steps(f"{name}-{i}", job, entry)
            except BaseException as e:  # the runner's own failure fails the test, not just the job
                errors.append(e)

        threads = [threading.Thread(target=one, args=(i, e)) for i, e in enumerate(entries)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        return codes

    def run_steps(self, label: str, job: dict[str, Any], matrix: dict[str, Any]) -> int:
        workspace = self.base / label
        workspace.mkdir()
        shutil.copytree(ROOT / "examples", workspace / "examples", ignore=shutil.ignore_patterns(
            "my_runs", ".sacredx", "__pycache__", "baselines"))
        shutil.copy(ROOT / "pyproject.toml", workspace)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "GITHUB_"))}
        env.update({"CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_RUN_ID": self.run_id,
                    "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"})
        for key, value in (self.workflow.get("env") or {}).items():
            env[key] = self.expand(str(value), matrix)
        for key, value in (job.get("env") or {}).items():
            env[key] = self.expand(str(value), matrix)
        for step in job["steps"]:
            uses = step.get("uses", "")
            step_with = {k: self.expand(str(v), matrix) for k, v in (step.get("with") or {}).items()}
            if uses.startswith(("actions/checkout@", "actions/setup-python@")):
                continue
            if uses.startswith("actions/upload-artifact@"):
                source, target = workspace / step_with["path"], self.artifacts / step_with["name"]
                if source.is_dir():
                    shutil.copytree(source, target)
                else:
                    target.mkdir()
                    shutil.copy(source, target)
                continue
            if uses.startswith("actions/download-artifact@"):
                target = workspace / step_with.get("path", ".")
                for art in self.artifacts.iterdir():
                    shutil.copytree(art, target / art.name)
                continue
            assert not uses, f"the test's runner does not know the action {uses!r}"
            if str(step.get("name", "")).startswith("Install"):
                continue
            script = self.expand(step["run"], matrix)
            proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                                  cwd=workspace, env=env, capture_output=True, text=True, timeout=600)
            with self.lock:
                self.log.append(f"--- {label}: {script}\n{proc.stdout}{proc.stderr}(exit {proc.returncode})")
            if proc.returncode != 0:
                return proc.returncode
        return 0


def _needs(job: dict[str, Any]) -> list[str]:
    needs = job.get("needs") or []
    return [needs] if isinstance(needs, str) else list(needs)


def _sweep_metas(store_uri: str, sweep: str) -> list[dict[str, Any]]:
    """``meta.pytest`` of the sweep's runs, read in a fresh process as the final job would (and away
    from this process's modules, which in-process pytester runs elsewhere may have reloaded)."""
    script = (
        "import json, sys\n"
        "from pytest_sacredx.observers.readers import open_reader\n"
        "reader = open_reader(sys.argv[1])\n"
        "print(json.dumps([r.meta.get('pytest', {}) for r in reader.list_runs()], default=str))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, store_uri], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return [m for m in json.loads(proc.stdout) if m.get("sweep_id") == sweep]


def test_the_document_holds_two_workflows_with_a_matrix_and_a_check_job() -> None:
    flows = workflows()
    assert len(flows) == 2
    for flow in flows:
        assert flow["jobs"]["shard"]["strategy"]["matrix"]["shard"] == [1, 2]
        assert _needs(flow["jobs"]["check"]) == ["shard"]
        assert any("check-sweep" in s.get("run", "") for s in flow["jobs"]["check"]["steps"])


@pytest.mark.slow
@pytest.mark.service
def test_shared_postgresql_workflow_runs_and_its_shards_make_one_sweep(
    tmp_path: Path, fresh_pg_url: str
) -> None:
    pytest.importorskip("sklearn")
    runner = Runner(workflows()[0], tmp_path, {"SACREDX_STORE_URL": fresh_pg_url})
    codes = runner.run_workflow()
    log = "\n".join(runner.log)
    assert codes == {"shard": [0, 0], "check": [0]}, log
    assert "4 expected cases, 4 recorded (COMPLETED 4)" in log and "\nOK" in log
    assert (tmp_path / "artifacts" / "sweep-report" / "runs.json").exists()
    metas = _sweep_metas(fresh_pg_url, f"gh-{runner.run_id}")
    shards = sorted(m["shard"]["index"] for m in metas)
    assert len(metas) == 4 and set(shards) <= {1, 2}
    assert len({m["session"] for m in metas}) == len(set(shards))


@pytest.mark.slow
def test_store_per_shard_workflow_runs_and_the_check_reads_the_union(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    runner = Runner(workflows()[1], tmp_path, {})
    codes = runner.run_workflow()
    log = "\n".join(runner.log)
    assert codes == {"shard": [0, 0], "check": [0]}, log
    assert "4 expected cases, 4 recorded (COMPLETED 4)" in log


@pytest.mark.slow
def test_the_check_job_fails_when_a_shard_did_not_run(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    flow = workflows()[1]
    flow["jobs"]["shard"]["strategy"]["matrix"]["shard"] = [1]  # shard 2 never ran
    flow["jobs"]["check"]["steps"] = [
        s if "check-sweep" not in s.get("run", "") else {**s, "run": s["run"].replace(
            " --store tinydb:stores/store-2", "")}
        for s in flow["jobs"]["check"]["steps"]
    ]
    runner = Runner(flow, tmp_path, {})
    codes = runner.run_workflow()
    log = "\n".join(runner.log)
    assert codes["shard"] == [0] and codes["check"] == [1], log
    assert "missing (" in log and "FAILED" in log
