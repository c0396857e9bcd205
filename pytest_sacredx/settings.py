"""Global settings, with Sacred's keys and defaults.

``SETTINGS`` is a tree of groups whose keys are fixed: a misspelt key raises :class:`SettingError`
instead of silently creating a setting nobody reads.

>>> from pytest_sacredx import SETTINGS
>>> SETTINGS.CAPTURE_MODE = "sys"
>>> SETTINGS["CONFIG"]["READ_ONLY_CONFIG"]
True
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Iterator, Mapping
from typing import Any

from .errors import SettingError, did_you_mean

__all__ = ["SETTINGS", "SettingError", "Settings"]


class Settings:
    """A group of settings: attribute and item access over a fixed set of keys."""

    __slots__ = ("_values", "_path")

    def __init__(self, values: Mapping[str, Any], path: str = "SETTINGS") -> None:
        object.__setattr__(self, "_path", path)
        object.__setattr__(
            self,
            "_values",
            {
                k: Settings(v, f"{path}.{k}") if isinstance(v, Mapping) else v
                for k, v in values.items()
            },
        )

    def __getattr__(self, key: str) -> Any:
        try:
            return self._values[key]
        except KeyError:
            raise self._unknown(key) from None

    def __setattr__(self, key: str, value: Any) -> None:
        if key not in self._values:
            raise self._unknown(key)
        current = self._values[key]
        if isinstance(current, Settings):
            if not isinstance(value, Mapping):
                raise SettingError(
                    f"{self._path}.{key} is a group of settings; set one of its keys "
                    f"({', '.join(current._values)}) instead of assigning {value!r}"
                )
            for k, v in value.items():
                setattr(current, k, v)
            return
        self._values[key] = value

    __getitem__ = __getattr__
    __setitem__ = __setattr__

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def get(self, key: str, default: Any = None) -> Any:
        return self._values.get(key, default)

    def keys(self) -> Any:
        return self._values.keys()

    def items(self) -> Any:
        return self._values.items()

    def __len__(self) -> int:
        return len(self._values)

    def to_dict(self) -> dict[str, Any]:
        return {
            k: v.to_dict() if isinstance(v, Settings) else copy.deepcopy(v)
            for k, v in self._values.items()
        }

    def __deepcopy__(self, memo: dict[int, Any]) -> Settings:
        return Settings(self.to_dict(), self._path)

    def __repr__(self) -> str:
        return f"Settings({self.to_dict()!r})"

    def _unknown(self, key: str) -> SettingError:
        return SettingError(
            f"{self._path} has no setting {key!r}.{did_you_mean(key, self._values)}"
            f" Known: {', '.join(self._values)}"
        )


def _numpy_legacy_default() -> bool:
    # Only decide from an already-imported numpy: importing it here would make `import pytest_sacredx` heavy.
    np = sys.modules.get("numpy")
    if np is None:
        return False
    major, minor = (int(p) for p in np.__version__.split(".")[:2])
    return (major, minor) < (1, 19)


SETTINGS = Settings(
    {
        "CONFIG": {
            "ENFORCE_KEYS_MONGO_COMPATIBLE": True,
            "ENFORCE_KEYS_JSONPICKLE_COMPATIBLE": True,
            "ENFORCE_VALID_PYTHON_IDENTIFIER_KEYS": False,
            "ENFORCE_STRING_KEYS": False,
            "ENFORCE_KEYS_NO_EQUALS": True,
            "READ_ONLY_CONFIG": True,
            "IGNORED_COMMENTS": ["^pylint:", "^noinspection"],
            "NUMPY_RANDOM_LEGACY_API": _numpy_legacy_default(),
            # Ours: how the run's seed fans out to _seed/_rnd, "sacred" (Sacred's draws) or "name"
            # (a function's draws depend on its name only); see pytest_sacredx.run.seeding.
            "SEED_DERIVATION": "sacred",
            # Ours: pickle config files run arbitrary code when loaded, so they are opt-in.
            "ALLOW_PICKLE_FILES": False,
        },
        "HOST_INFO": {
            "INCLUDE_GPU_INFO": True,
            "INCLUDE_CPU_INFO": True,
            "CAPTURED_ENV": [],
        },
        "COMMAND_LINE": {
            "STRICT_PARSING": False,
            "SHOW_DISABLED_OPTIONS": True,
        },
        "CAPTURE_MODE": "sys" if sys.platform.startswith("win") else "fd",
        "DISCOVER_DEPENDENCIES": "imported",
        "DISCOVER_SOURCES": "imported",
        "DEFAULT_BEAT_INTERVAL": 10.0,
        # Ours: more words that make a key secret (besides password, secret, token, key, …; see
        # pytest_sacredx.redact): its value shows as *** in a run's meta, in case ids and reports.
        "SECRET_WORDS": [],
    }
)
