"""A real Dask cluster on 127.0.0.1 for the executor tests: ``dask scheduler`` and two ``dask worker``
processes (PyPI ``distributed``), started once per test module and stopped by PID when the module
is done: an idle cluster is five processes ticking their event loops, CPU that the rest of the suite
waits for on a 2-core machine. Under ``--dist loadfile`` (as .ci/test runs) the module's tests run one
after the other on one worker, under one cluster.

The worker named ``gpu`` offers the resource ``GPU=1``, the one named ``cpu`` none; both run one
thread. Each worker runs under its nanny, which restarts it when a test kills it (SIGKILL by PID).
The scheduler picks a free port (``--port 0``) and writes its address to a scheduler file, so two
xdist processes each get their own cluster. Without ``distributed`` the tests skip — or fail, when
``SACREDX_SERVICES_REQUIRED=1`` (CI) — saying what to install.

>>> def test_on_cluster(dask_cluster):  # doctest: +SKIP
...     subprocess.run(["pytest", "exp.py", "--exp-executor", dask_cluster.uri])
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

__all__ = ["DaskCluster", "dask_cluster"]


@attrs.define
class DaskCluster:
    address: str
    uri: str
    folder: Path
    processes: list[subprocess.Popen[bytes]]
    gpu_worker: str = ""

    def workers(self) -> dict[str, Any]:
        from distributed import Client

        with Client(self.address, timeout=30) as client:
            return dict(client.scheduler_info(n_workers=-1)["workers"])

    def wait_for_workers(self, n: int = 2, timeout: float = 90) -> dict[str, Any]:
        """Block until ``n`` workers are registered (a killed one is back); returns them by address."""
        from distributed import Client

        with Client(self.address, timeout=30) as client:
            client.wait_for_workers(n, timeout=timeout)
            workers = dict(client.scheduler_info(n_workers=-1)["workers"])
        self.gpu_worker = next(a for a, w in workers.items() if w.get("name") == "gpu")
        return workers


def _unavailable(message: str) -> None:
    if os.environ.get("SACREDX_SERVICES_REQUIRED") == "1":
        pytest.fail(f"{message} (SACREDX_SERVICES_REQUIRED=1: executor tests must not be skipped)", pytrace=False)
    pytest.skip(message)


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for proc in processes:  # workers first, then the scheduler
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 20
    for proc in processes:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCluster]:
    try:
        import distributed  # noqa: F401
    except ImportError:
        _unavailable("Dask distributed is not installed; pip install -e '.[test]' (or '.[dask]')")
    folder = tmp_path_factory.mktemp("dask-cluster")
    scheduler_file = folder / "scheduler.json"
    dask = [sys.executable, "-m", "dask"]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTEST_ADDOPTS")}
    processes: list[subprocess.Popen[bytes]] = []

    def start(name: str, *args: str) -> None:
        log = open(folder / f"{name}.log", "wb")  # noqa: SIM115 - the process keeps it
        processes.insert(0, subprocess.Popen([*dask, *args], cwd=folder, env=env, stdout=log,
                                             stderr=subprocess.STDOUT))

    try:
        start("scheduler", "scheduler", "--host", "127.0.0.1", "--port", "0", "--dashboard-address",
              "127.0.0.1:0", "--scheduler-file", str(scheduler_file))
        deadline = time.monotonic() + 60
        address = ""
        while not address:
            if time.monotonic() > deadline or processes[-1].poll() is not None:
                log = (folder / "scheduler.log").read_text(errors="replace")[-2000:]
                pytest.fail(f"dask scheduler did not start:\n{log}", pytrace=False)
            try:
                address = json.loads(scheduler_file.read_text())["address"]
            except (OSError, ValueError, KeyError):  # not written yet, or half written
                time.sleep(0.1)
        common = ["--scheduler-file", str(scheduler_file), "--host", "127.0.0.1", "--nworkers", "1",
                  "--nthreads", "1", "--no-dashboard"]
        start("worker-gpu", "worker", *common, "--name", "gpu", "--resources", "GPU=1")
        start("worker-cpu", "worker", *common, "--name", "cpu")
        cluster = DaskCluster(address, address.replace("tcp://", "dask://"), folder, processes)
        cluster.wait_for_workers(2)
        yield cluster
    finally:
        _stop(processes)
