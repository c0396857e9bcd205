"""Host info: default keys, settings, per-process caching, gatherers and the legacy decorator."""

from __future__ import annotations

import os
import platform
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_sacredx import host_info as sacred_host_info
from pytest_sacredx.errors import HostInfoError, SacredxError
from pytest_sacredx.provenance import host
from pytest_sacredx.provenance.host import (
    HostInfoGetter,
    IgnoreHostInfo,
    check_additional_host_info,
    get_host_info,
    host_info_gatherer,
    host_info_gatherers,
    host_info_getter,
    parse_nvidia_smi_xml,
)
from pytest_sacredx.settings import SETTINGS

GPU_XML = """<?xml version="1.0" ?>
<nvidia_smi_log>
  <driver_version>535.104.05</driver_version>
  <attached_gpus>2</attached_gpus>
  <gpu id="00000000:00:04.0">
    <product_name>Tesla T4</product_name>
    <persistence_mode>Enabled</persistence_mode>
    <fb_memory_usage><total>15360 MiB</total><used>0 MiB</used></fb_memory_usage>
  </gpu>
  <gpu id="00000000:00:05.0">
    <product_name>NVIDIA A100-SXM4-40GB</product_name>
    <persistence_mode>Disabled</persistence_mode>
    <fb_memory_usage><total>Insufficient Permissions</total></fb_memory_usage>
    <mig_devices><mig_device><fb_memory_usage><total>4864 MiB</total></fb_memory_usage></mig_device></mig_devices>
  </gpu>
</nvidia_smi_log>
"""


@pytest.fixture(autouse=True)
def fresh_cache():
    host.clear_host_info_cache()
    saved = dict(host_info_gatherers)
    yield
    host.clear_host_info_cache()
    host_info_gatherers.clear()
    host_info_gatherers.update(saved)


@pytest.fixture
def no_gpu_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SETTINGS.HOST_INFO, "INCLUDE_GPU_INFO", False)


@pytest.fixture
def fake_nvidia_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Put an ``nvidia-smi`` script first on PATH; returns a function setting its output and exit code."""
    if sys.platform.startswith("win"):
        pytest.skip("shell script stands in for nvidia-smi")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / "nvidia-smi"
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setattr(SETTINGS.HOST_INFO, "INCLUDE_GPU_INFO", True)

    def install(output: str, code: int = 0) -> None:
        (tmp_path / "out.xml").write_text(output)
        script.write_text(f"#!/bin/sh\ncat '{tmp_path / 'out.xml'}'\nexit {code}\n")
        script.chmod(script.stat().st_mode | stat.S_IEXEC)

    return install


def test_default_keys_and_types(no_gpu_probe) -> None:
    info = get_host_info()
    assert set(info) == {"hostname", "os", "python_version", "cpu", "ENV"}
    assert info["hostname"] == platform.node()
    assert info["os"] == [platform.system(), platform.platform()]
    assert info["python_version"] == platform.python_version()
    assert info["cpu"] is None or (isinstance(info["cpu"], str) and info["cpu"])
    assert info["ENV"] == {}


@pytest.mark.skipif(not os.path.exists("/proc/cpuinfo"), reason="Linux /proc/cpuinfo")
def test_cpu_model_from_proc_cpuinfo(no_gpu_probe) -> None:
    with open("/proc/cpuinfo") as f:
        models = [ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")]
    if models:
        assert get_host_info()["cpu"] == models[0]


def test_cpu_info_can_be_switched_off(monkeypatch, no_gpu_probe) -> None:
    monkeypatch.setattr(SETTINGS.HOST_INFO, "INCLUDE_CPU_INFO", False)
    assert get_host_info()["cpu"] is None
    monkeypatch.setattr(SETTINGS.HOST_INFO, "INCLUDE_CPU_INFO", True)  # cached per setting value
    assert get_host_info()["cpu"] == host._cpu()


def test_captured_env_is_read_on_every_call(monkeypatch, no_gpu_probe) -> None:
    monkeypatch.setattr(SETTINGS.HOST_INFO, "CAPTURED_ENV", ["SXPROV_A", "SXPROV_MISSING"])
    monkeypatch.setenv("SXPROV_A", "1")
    monkeypatch.delenv("SXPROV_MISSING", raising=False)
    assert get_host_info()["ENV"] == {"SXPROV_A": "1"}
    monkeypatch.setenv("SXPROV_A", "2")
    assert get_host_info()["ENV"] == {"SXPROV_A": "2"}


def test_static_parts_are_computed_once_per_process(monkeypatch, fake_nvidia_smi) -> None:
    fake_nvidia_smi(GPU_XML)
    calls: list[object] = []
    real_run, real_platform = subprocess.run, platform.platform
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append(a) or real_run(*a, **k))
    monkeypatch.setattr(
        platform, "platform", lambda *a: calls.append("platform") or real_platform()
    )
    first = get_host_info()
    assert "gpus" in first and len(calls) >= 2  # nvidia-smi and platform.platform()
    before = len(calls)
    for _ in range(100):
        assert get_host_info() == first
    assert len(calls) == before


def test_each_call_returns_a_new_dict(no_gpu_probe) -> None:
    info = get_host_info()
    info["os"].append("mutated")
    info["extra"] = 1
    again = get_host_info()
    assert "extra" not in again and again["os"] == [platform.system(), platform.platform()]


def test_gpus_from_nvidia_smi(fake_nvidia_smi) -> None:
    fake_nvidia_smi(GPU_XML)
    assert get_host_info()["gpus"] == {
        "gpus": [
            {"model": "Tesla T4", "total_memory": 15360, "persistence_mode": True},
            {"model": "NVIDIA A100-SXM4-40GB", "total_memory": 4864, "persistence_mode": False},
        ],
        "driver_version": "535.104.05",
    }


@pytest.mark.parametrize(("output", "code"), [(GPU_XML, 9), ("<not xml", 0), ("", 0)])
def test_failing_nvidia_smi_omits_the_key(fake_nvidia_smi, output, code) -> None:
    fake_nvidia_smi(output, code)
    assert "gpus" not in get_host_info()


def test_gpu_info_can_be_switched_off(fake_nvidia_smi, monkeypatch) -> None:
    fake_nvidia_smi(GPU_XML)
    monkeypatch.setattr(SETTINGS.HOST_INFO, "INCLUDE_GPU_INFO", False)
    assert "gpus" not in get_host_info()


def test_missing_nvidia_smi_omits_the_key(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(SETTINGS.HOST_INFO, "INCLUDE_GPU_INFO", True)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert "gpus" not in get_host_info()


def test_parse_nvidia_smi_without_gpus() -> None:
    assert parse_nvidia_smi_xml("<nvidia_smi_log/>") == {"gpus": [], "driver_version": None}


def test_additional_gatherers_and_ignore(no_gpu_probe) -> None:
    @host_info_gatherer("answer")
    def answer():
        return 42

    @host_info_gatherer("absent")
    def absent():
        raise IgnoreHostInfo()

    assert isinstance(answer, HostInfoGetter) and answer.name == "answer"
    assert answer() == answer.get_info() == 42
    info = get_host_info([answer, absent])
    assert info["answer"] == 42 and "absent" not in info


def test_gatherers_run_on_every_call(no_gpu_probe) -> None:
    counter = iter(range(10))
    getter = HostInfoGetter(lambda: next(counter), "n")
    assert [get_host_info([getter])["n"] for _ in range(3)] == [0, 1, 2]


@pytest.mark.parametrize("name", ["cpu", "ENV", "hostname", "gpus"])
def test_gatherer_named_like_a_default_key(name) -> None:
    getter = HostInfoGetter(lambda: 1, name)
    with pytest.raises(KeyError, match=f"'{name}' clashes with a default key") as info:
        check_additional_host_info([getter])
    assert isinstance(info.value, HostInfoError) and isinstance(info.value, SacredxError)
    with pytest.raises(HostInfoError):
        get_host_info([getter])


def test_gatherer_name_given_twice() -> None:
    getters = [HostInfoGetter(lambda: 1, "x"), HostInfoGetter(lambda: 2, "x")]
    with pytest.raises(HostInfoError, match="'x' is given twice"):
        check_additional_host_info(getters)
    check_additional_host_info([HostInfoGetter(lambda: 1, "x")])


def test_legacy_host_info_getter_warns_at_the_callers_line(no_gpu_probe) -> None:
    with pytest.warns(DeprecationWarning, match="host_info_gatherer") as record:

        @host_info_getter
        def sxprov_bare():
            return "bare"

    assert record[0].filename == __file__
    with pytest.warns(DeprecationWarning) as record:

        @host_info_getter(name="sxprov_named")
        def whatever():
            return "named"

    assert record[0].filename == __file__
    assert sxprov_bare() == "bare"  # the function itself is returned
    # The registry holds the functions themselves, under the given name or the function's own.
    assert host_info_gatherers["sxprov_bare"] is sxprov_bare
    assert host_info_gatherers["sxprov_named"] is whatever and "whatever" not in host_info_gatherers
    info = get_host_info()
    assert info["sxprov_bare"] == "bare" and info["sxprov_named"] == "named"


def test_sacred_import_path() -> None:
    assert sacred_host_info.get_host_info is get_host_info
    assert sacred_host_info.host_info_gatherers is host_info_gatherers
    for name in ("host_info_gatherer", "host_info_getter", "HostInfoGetter", "IgnoreHostInfo"):
        assert getattr(sacred_host_info, name) is getattr(host, name)
