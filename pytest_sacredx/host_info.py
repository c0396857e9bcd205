"""Sacred's ``sacred.host_info`` module: host information and its gatherers (re-exported).

The code lives in :mod:`pytest_sacredx.provenance.host`; this module keeps Sacred's import path working.

>>> from pytest_sacredx.host_info import host_info_gatherer, get_host_info
>>> @host_info_gatherer("cluster")
... def cluster():
...     return "local"
>>> get_host_info([cluster])["cluster"]
'local'
"""

from __future__ import annotations

from .provenance.host import (
    DEFAULT_HOST_INFO_KEYS,
    HostInfoGetter,
    IgnoreHostInfo,
    check_additional_host_info,
    get_host_info,
    host_info_gatherer,
    host_info_gatherers,
    host_info_getter,
)

__all__ = [
    "DEFAULT_HOST_INFO_KEYS",
    "HostInfoGetter",
    "IgnoreHostInfo",
    "check_additional_host_info",
    "get_host_info",
    "host_info_gatherer",
    "host_info_gatherers",
    "host_info_getter",
]
