"""Config files: ``load_config_file(path) -> dict`` and ``save_config_file(config, path)``.

The format follows the extension: ``.json`` (plain JSON: jsonpickle ``py/`` tags are *not* decoded),
``.yaml``/``.yml`` (safe loader and dumper, needs PyYAML), ``.toml`` (read with ``tomllib``; writing needs
``tomli-w``) and ``.pickle``/``.pkl`` (only with ``SETTINGS.CONFIG.ALLOW_PICKLE_FILES``, since loading a
pickle runs code). Every failure is a one-line :class:`ConfigFileError` naming the file and the fix.

>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "cfg.json")
>>> save_config_file({"lr": 0.1, "layers": [64, 64]}, path)
>>> load_config_file(path)
{'layers': [64, 64], 'lr': 0.1}
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping
from typing import IO, Any, NamedTuple

from ..atomic import atomic_file
from ..errors import ConfigFileError, MissingExtraError, missing_extra
from ..settings import SETTINGS

__all__ = ["HANDLERS", "HANDLER_BY_EXT", "Handler", "get_handler", "load_config_file", "save_config_file"]


class Handler(NamedTuple):
    """How to read and write one format: ``load(file) -> obj``, ``dump(obj, file)``, file mode suffix."""

    load: Callable[[IO[Any]], Any]
    dump: Callable[[Any, IO[Any]], None]
    mode: str  # "" for text files, "b" for binary ones


def _json_load(f: IO[str]) -> Any:
    return json.load(f)


def _json_dump(obj: Any, f: IO[str]) -> None:
    json.dump(obj, f, sort_keys=True, indent=2)
    f.write("\n")


def _yaml() -> Any:
    try:
        import yaml
    except ImportError:
        raise missing_extra("yaml", "PyYAML") from None
    from .custom_containers import register_yaml_representers

    register_yaml_representers()
    return yaml


def _yaml_load(f: IO[str]) -> Any:
    return _yaml().safe_load(f)


def _yaml_dump(obj: Any, f: IO[str]) -> None:
    _yaml().safe_dump(obj, f, default_flow_style=False, sort_keys=True)


def _toml_load(f: IO[bytes]) -> Any:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        try:
            import tomli as tomllib
        except ImportError:
            raise MissingExtraError(
                "Reading TOML on Python 3.10 needs tomli: pip install tomli"
            ) from None
    return tomllib.load(f)


def _toml_dump(obj: Any, f: IO[bytes]) -> None:
    try:
        import tomli_w
    except ImportError:
        raise MissingExtraError(
            "Writing TOML needs the tomli-w package: pip install tomli-w (or save the config as .json or .yaml)"
        ) from None
    tomli_w.dump(obj, f)


def _pickle_load(f: IO[bytes]) -> Any:
    import pickle

    return pickle.load(f)


def _pickle_dump(obj: Any, f: IO[bytes]) -> None:
    import pickle

    pickle.dump(obj, f, protocol=4)


# Sacred's formats, under Sacred's name and in its order.
HANDLER_BY_EXT: dict[str, Handler] = {
    ".json": Handler(_json_load, _json_dump, ""),
    ".pickle": Handler(_pickle_load, _pickle_dump, "b"),
    ".yaml": Handler(_yaml_load, _yaml_dump, ""),
    ".yml": Handler(_yaml_load, _yaml_dump, ""),
}
# Every format we read and write: Sacred's, and TOML and the .pkl spelling of pickle.
HANDLERS: dict[str, Handler] = {
    **HANDLER_BY_EXT,
    ".toml": Handler(_toml_load, _toml_dump, "b"),
    ".pkl": HANDLER_BY_EXT[".pickle"],
}
_PICKLE_EXTS = {".pickle", ".pkl"}


def _encoding(handler: Handler) -> str | None:
    return None if handler.mode else "utf-8"


def get_handler(path: str | os.PathLike[str]) -> Handler:
    """The handler for ``path``'s extension, or a ConfigFileError listing the known ones."""
    ext = os.path.splitext(os.fspath(path))[1].lower()
    handler = HANDLERS.get(ext)
    if handler is None:
        raise ConfigFileError(
            f'Configuration file "{path}" has invalid or unsupported extension "{ext}". '
            f"Use one of {', '.join(HANDLERS)}"
        )
    if ext in _PICKLE_EXTS and not SETTINGS.CONFIG.ALLOW_PICKLE_FILES:
        raise ConfigFileError(
            f"Config file '{path}' is a pickle, and loading a pickle can run arbitrary code; use .json, .yaml "
            f"or .toml, or set SETTINGS.CONFIG.ALLOW_PICKLE_FILES = True if you trust the file"
        )
    return handler


def load_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a config file into a dict (see the module docstring for formats and errors)."""
    handler = get_handler(path)
    try:
        with open(path, "r" + handler.mode, encoding=_encoding(handler)) as f:
            data = handler.load(f)
    except FileNotFoundError:
        raise ConfigFileError(
            f"Config file '{path}' does not exist (looked in {os.getcwd()}); check the path"
        ) from None
    except IsADirectoryError:
        raise ConfigFileError(
            f"Config file '{path}' is a directory; give the path of a file"
        ) from None
    except PermissionError:
        raise ConfigFileError(
            f"Config file '{path}' cannot be read: permission denied; check its permissions"
        ) from None
    except UnicodeDecodeError as e:
        raise ConfigFileError(
            f"Config file '{path}' is not UTF-8 text ({e.reason} at byte {e.start}); save it as UTF-8"
        ) from None
    except (MissingExtraError, ConfigFileError):
        raise
    except Exception as e:  # the parsers' own errors
        raise ConfigFileError(
            f"Config file '{path}' is malformed: {_describe(e)}; fix the file"
        ) from None
    if not isinstance(data, Mapping):
        raise ConfigFileError(
            f"Config file '{path}' holds a {type(data).__name__} at the top level, not a mapping; "
            f"a config file must map names to values, e.g. lr: 0.1"
        )
    return dict(data)


def _describe(e: Exception) -> str:
    if isinstance(e, json.JSONDecodeError):
        return f"{e.msg} (line {e.lineno}, column {e.colno})"
    mark = getattr(e, "problem_mark", None)  # yaml's MarkedYAMLError
    if mark is not None:
        problem = getattr(e, "problem", None) or type(e).__name__
        return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
    return " ".join(str(e).split()) or type(e).__name__


def save_config_file(config: Mapping[str, Any], path: str | os.PathLike[str]) -> None:
    """Write ``config`` to ``path`` atomically (a temporary file renamed into place)."""
    handler = get_handler(path)
    try:
        with atomic_file(path, "w" + handler.mode, encoding=_encoding(handler)) as f:
            handler.dump(_plain(config), f)
    except OSError as e:
        raise ConfigFileError(
            f"Cannot write config file '{path}': {e.strerror}; check the directory"
        ) from None
    except (TypeError, ValueError) as e:
        if isinstance(e, ConfigFileError):
            raise
        raise ConfigFileError(
            f"Cannot write config file '{path}': {_describe(e)}; keep the config to numbers, strings, "
            f"lists and dicts"
        ) from None


def _plain(value: Any) -> Any:
    # Read-only views and tuples become the plain types every format writes.
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
