"""Host information of a run: hostname, OS, Python, CPU, GPUs, chosen environment variables.

Sacred computed all of it for every run, with py-cpuinfo costing 1–3 s (issues #288, #889) and
``nvidia-smi -q -x`` on top. Here the parts that cannot change while the process lives (platform
strings, CPU model, GPUs) are computed once per process — and per value of the settings that shape
them — from ``/proc/cpuinfo``, ``sysctl`` or ``nvidia-smi`` with short timeouts; never py-cpuinfo.
``ENV`` and the additional gatherers are evaluated on every call, as they are cheap and may change.

Keys: ``hostname``, ``os`` (``[system, platform]``), ``python_version``, ``cpu`` (None when
``SETTINGS.HOST_INFO.INCLUDE_CPU_INFO`` is False), ``gpus`` (only when ``INCLUDE_GPU_INFO`` is set and
``nvidia-smi`` answers), ``ENV``, then one key per additional gatherer.

>>> from pytest_sacredx.host_info import host_info_gatherer
>>> @host_info_gatherer("answer")
... def answer():
...     return 42
>>> info = get_host_info([answer])
>>> info["answer"], sorted(k for k in info if k not in ("gpus", "answer"))
(42, ['ENV', 'cpu', 'hostname', 'os', 'python_version'])
"""

from __future__ import annotations

import copy
import os
import platform
import shutil
import sys
import threading
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar, overload

from ..errors import HostInfoError
from ..settings import SETTINGS

__all__ = [
    "DEFAULT_HOST_INFO_KEYS",
    "HostInfoGetter",
    "IgnoreHostInfo",
    "check_additional_host_info",
    "clear_host_info_cache",
    "get_host_info",
    "host_info_gatherer",
    "host_info_gatherers",
    "host_info_getter",
]

DEFAULT_HOST_INFO_KEYS: tuple[str, ...] = ("hostname", "os", "python_version", "cpu", "gpus", "ENV")
SYSCTL_TIMEOUT = 1.0
NVIDIA_SMI_TIMEOUT = 2.0

F = TypeVar("F", bound=Callable[[], Any])


class IgnoreHostInfo(Exception):
    """Raise inside a gatherer to leave its key out of the host info (Sacred's name and base class).

    >>> @host_info_gatherer("slurm_job")
    ... def slurm_job():
    ...     if "SLURM_JOB_ID" not in os.environ:
    ...         raise IgnoreHostInfo()
    ...     return os.environ["SLURM_JOB_ID"]
    """


class HostInfoGetter:
    """A named function whose return value becomes ``host_info[name]``.

    >>> getter = HostInfoGetter(lambda: "v", "key")
    >>> getter.name, getter(), getter.get_info()
    ('key', 'v', 'v')
    """

    def __init__(self, getter_function: Callable[[], Any], name: str) -> None:
        self.getter_function = getter_function
        self.name = name

    def __call__(self) -> Any:
        return self.getter_function()

    def get_info(self) -> Any:
        return self.getter_function()

    def __repr__(self) -> str:
        return f"HostInfoGetter({self.name!r}, {self.getter_function!r})"


def host_info_gatherer(name: str) -> Callable[[Callable[[], Any]], HostInfoGetter]:
    """Decorator: turn a function into a :class:`HostInfoGetter` for ``Experiment(additional_host_info=…)``.

    >>> @host_info_gatherer("n_workers")
    ... def n_workers():
    ...     return 4
    >>> n_workers.name
    'n_workers'
    """

    def wrap(func: Callable[[], Any]) -> HostInfoGetter:
        return HostInfoGetter(func, name)

    return wrap


#: Sacred's legacy registry ``{key: function}``, filled by :func:`host_info_getter`; every run includes
#: these. As in Sacred it holds the decorated functions themselves (any callable without arguments).
host_info_gatherers: dict[str, Callable[[], Any]] = {}


@overload
def host_info_getter(func: F, name: str | None = None) -> F: ...


@overload
def host_info_getter(func: None = None, name: str | None = None) -> Callable[[F], F]: ...


def host_info_getter(func: F | None = None, name: str | None = None) -> F | Callable[[F], F]:
    """Deprecated: register a gatherer for *every* experiment in ``host_info_gatherers``.

    Works bare (``@host_info_getter``) and with a name (``@host_info_getter(name="gpu_temp")``); the
    function is returned unchanged. Prefer :func:`host_info_gatherer` and ``additional_host_info``.
    """
    if func is None:

        def decorator(f: F) -> F:
            return _register_legacy(f, name)

        return decorator
    return _register_legacy(func, name)


def _register_legacy(func: F, name: str | None) -> F:
    # Both call shapes reach here two frames below the user's decorator line.
    warnings.warn(
        "host_info_getter is deprecated; decorate with @host_info_gatherer(name) and pass the result "
        "as Experiment(additional_host_info=[...])",
        DeprecationWarning,
        stacklevel=3,
    )
    host_info_gatherers[name or func.__name__] = func
    return func


def check_additional_host_info(additional_host_info: Iterable[HostInfoGetter]) -> None:
    """Raise :class:`HostInfoError` (a ``KeyError``) for a gatherer named like a default key or another.

    >>> check_additional_host_info([HostInfoGetter(lambda: 1, "cpu")])
    Traceback (most recent call last):
    ...
    pytest_sacredx.errors.HostInfoError: additional host info 'cpu' clashes with a default key; ...
    """
    seen: set[str] = set()
    for getter in additional_host_info:
        name = getter.name
        if name in DEFAULT_HOST_INFO_KEYS:
            raise HostInfoError(
                f"additional host info {name!r} clashes with a default key; rename it "
                f"(taken: {', '.join(DEFAULT_HOST_INFO_KEYS)})"
            )
        if name in seen:
            raise HostInfoError(
                f"additional host info {name!r} is given twice; give each gatherer its own name"
            )
        seen.add(name)


def get_host_info(additional_host_info: Sequence[HostInfoGetter] = ()) -> dict[str, Any]:
    """Return the host info of this process as a new dict (see the module docstring).

    Gatherers registered with the legacy :func:`host_info_getter` come after the defaults, then the
    ``additional_host_info`` ones; a gatherer raising :class:`IgnoreHostInfo` is left out.
    """
    additional = list(additional_host_info or ())
    check_additional_host_info(additional)
    hi = SETTINGS.HOST_INFO
    info = _static_info(bool(hi.INCLUDE_CPU_INFO), bool(hi.INCLUDE_GPU_INFO))
    info["ENV"] = {k: os.environ[k] for k in hi.CAPTURED_ENV if k in os.environ}
    getters: dict[str, Callable[[], Any]] = dict(host_info_gatherers)
    getters.update((g.name, g) for g in additional)
    for key, getter in getters.items():
        try:
            info[key] = getter()
        except IgnoreHostInfo:
            continue
    return info


_static_lock = threading.Lock()
_static_cache: dict[tuple[bool, bool], dict[str, Any]] = {}


def clear_host_info_cache() -> None:
    """Forget the per-process host info (a test that fakes ``nvidia-smi`` needs it)."""
    with _static_lock:
        _static_cache.clear()


def _static_info(include_cpu: bool, include_gpu: bool) -> dict[str, Any]:
    key = (include_cpu, include_gpu)
    with _static_lock:  # held while computing, so concurrent first runs don't each start nvidia-smi
        cached = _static_cache.get(key)
        if cached is None:
            cached = {
                "hostname": platform.node(),
                "os": [platform.system(), platform.platform()],
                "python_version": platform.python_version(),
                "cpu": _cpu() if include_cpu else None,
            }
            if include_gpu:
                gpus = _gpus()
                if gpus is not None:
                    cached["gpus"] = gpus
            _static_cache[key] = cached
    return copy.deepcopy(cached)  # callers (observers, users) may mutate what they get


def _cpu() -> str | None:
    if sys.platform.startswith("linux"):
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
                for line in f:
                    if line.startswith("model name"):
                        return line.split(":", 1)[1].strip()
        except OSError:
            pass
    elif sys.platform == "darwin":
        out = _run(["sysctl", "-n", "machdep.cpu.brand_string"], SYSCTL_TIMEOUT)
        if out and out.strip():
            return out.strip()
    return platform.processor() or None


def _gpus() -> dict[str, Any] | None:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    out = _run([exe, "-q", "-x"], NVIDIA_SMI_TIMEOUT)
    if not out:
        return None
    try:
        return parse_nvidia_smi_xml(out)
    except Exception:  # malformed or unexpected output must not fail a run
        return None


def parse_nvidia_smi_xml(xml: str) -> dict[str, Any]:
    """Parse ``nvidia-smi -q -x`` into ``{"gpus": [{model, total_memory, persistence_mode}], "driver_version"}``.

    ``total_memory`` is in MiB; for a MIG instance, whose own total reads "Insufficient Permissions",
    it is the memory of its MIG device.

    >>> parse_nvidia_smi_xml('''<nvidia_smi_log><driver_version>550.1</driver_version>
    ... <gpu><product_name>Tesla T4</product_name><persistence_mode>Enabled</persistence_mode>
    ... <fb_memory_usage><total>15360 MiB</total></fb_memory_usage></gpu></nvidia_smi_log>''')
    {'gpus': [{'model': 'Tesla T4', 'total_memory': 15360, 'persistence_mode': True}], 'driver_version': '550.1'}
    """
    from xml.etree import ElementTree  # output of a local binary, not untrusted input

    root = ElementTree.fromstring(xml)
    info: dict[str, Any] = {"gpus": []}
    driver = root.findtext("driver_version")
    for gpu in root.findall("gpu"):
        total = gpu.findtext("fb_memory_usage/total") or ""
        if not total[:1].isdigit():
            total = gpu.findtext("mig_devices/mig_device/fb_memory_usage/total") or ""
        info["gpus"].append(
            {
                "model": (gpu.findtext("product_name") or "").strip() or None,
                "total_memory": int(total.split()[0]) if total[:1].isdigit() else None,
                "persistence_mode": (gpu.findtext("persistence_mode") or "").strip() == "Enabled",
            }
        )
    info["driver_version"] = driver.strip() if driver else None
    return info


def _run(cmd: list[str], timeout: float) -> str | None:
    import subprocess

    try:
        proc = subprocess.run(
            cmd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout if proc.returncode == 0 else None
