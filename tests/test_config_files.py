"""Config files: formats, round trips, safety, and errors that name the file and the fix."""

from __future__ import annotations

import json
import os
import pickle

import pytest

from pytest_sacredx.config import load_config_file, make_read_only, save_config_file
from pytest_sacredx.config.config_files import HANDLER_BY_EXT, HANDLERS, get_handler
from pytest_sacredx.errors import ConfigFileError, MissingExtraError
from pytest_sacredx.settings import SETTINGS

CONFIG = {
    "lr": 0.1,
    "layers": [64, 64],
    "opt": {"name": "sgd", "nesterov": True, "decay": None},
    "n": -3,
}


@pytest.mark.parametrize("ext", [".json", ".yaml", ".yml"])
def test_round_trip(tmp_path, ext):
    if ext != ".json":
        pytest.importorskip("yaml")
    path = tmp_path / f"cfg{ext}"
    save_config_file(CONFIG, path)
    assert load_config_file(path) == CONFIG
    assert load_config_file(str(path)) == CONFIG
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left


def test_json_is_sorted_and_indented(tmp_path):
    path = tmp_path / "cfg.json"
    save_config_file({"b": 1, "a": {"y": 2, "x": (1, 2)}}, path)
    assert path.read_text() == json.dumps({"a": {"x": [1, 2], "y": 2}, "b": 1}, indent=2) + "\n"


def test_read_only_configs_can_be_saved(tmp_path):
    pytest.importorskip("yaml")
    frozen = make_read_only(CONFIG)
    for name in ("ro.json", "ro.yaml"):
        save_config_file(frozen, tmp_path / name)
        assert load_config_file(tmp_path / name) == CONFIG


def test_toml_is_read(tmp_path):
    path = tmp_path / "cfg.toml"
    path.write_text('lr = 0.1\nlayers = [64, 64]\n\n[opt]\nname = "sgd"\n')
    assert load_config_file(path) == {"lr": 0.1, "layers": [64, 64], "opt": {"name": "sgd"}}


def test_toml_writing_needs_tomli_w(tmp_path):
    try:
        import tomli_w  # noqa: F401
    except ImportError:
        with pytest.raises(MissingExtraError, match="tomli-w"):
            save_config_file({"a": 1}, tmp_path / "cfg.toml")
    else:
        save_config_file({"a": 1}, tmp_path / "cfg.toml")
        assert load_config_file(tmp_path / "cfg.toml") == {"a": 1}


def test_jsonpickle_tags_are_not_decoded(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(os, "getcwd", lambda: calls.append(1))
    data = {"x": {"py/reduce": [{"py/function": "os.getcwd"}, {"py/tuple": []}]}}
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(data))
    assert load_config_file(path) == data and calls == []


def test_yaml_uses_the_safe_loader(tmp_path):
    pytest.importorskip("yaml")
    path = tmp_path / "cfg.yaml"
    path.write_text("x: !!python/object/apply:os.system ['touch PWNED']\n")
    with pytest.raises(ConfigFileError, match="cfg.yaml"):
        load_config_file(path)
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("bad.json", '{"a": 1,\n "b": }', r"malformed: Expecting value \(line 2, column 7\)"),
        ("bad.yaml", "a: [1, 2\nb: 3\n", r"malformed: .*\(line 2, column 2\)"),
        ("bad.toml", "a = \n", r"malformed: .*line 1"),
        ("list.json", "[1, 2]", "holds a list at the top level, not a mapping"),
        ("empty.yaml", "", "holds a NoneType at the top level"),
        ("latin.json", b'{"a": "\xe9"}', "is not UTF-8"),
    ],
)
def test_malformed_files(tmp_path, name, content, expected):
    if name.endswith(".yaml"):
        pytest.importorskip("yaml")
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(ConfigFileError, match=expected) as info:
        load_config_file(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ConfigFileError, match="does not exist"):
        load_config_file(tmp_path / "nope.json")
    (tmp_path / "dir.json").mkdir()
    with pytest.raises(ConfigFileError, match="is a directory"):
        load_config_file(tmp_path / "dir.json")


def test_unknown_extension(tmp_path):
    with pytest.raises(ConfigFileError, match=r'unsupported extension "\.txt"\. Use one of \.json') as info:
        load_config_file(tmp_path / "cfg.txt")
    assert isinstance(info.value, ValueError)  # Sacred's type and wording
    with pytest.raises(ConfigFileError, match='unsupported extension ""'):
        save_config_file({}, tmp_path / "cfg")


def test_pickle_only_when_allowed(tmp_path, monkeypatch):
    path = tmp_path / "cfg.pickle"
    path.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(ConfigFileError, match="SETTINGS.CONFIG.ALLOW_PICKLE_FILES"):
        load_config_file(path)
    monkeypatch.setattr(SETTINGS.CONFIG, "ALLOW_PICKLE_FILES", True)
    assert load_config_file(path) == {"a": 1}
    save_config_file({"b": 2}, tmp_path / "out.pkl")
    assert load_config_file(tmp_path / "out.pkl") == {"b": 2}


def test_unserializable_config_is_a_config_file_error(tmp_path):
    with pytest.raises(ConfigFileError, match="not JSON serializable"):
        save_config_file({"a": object()}, tmp_path / "cfg.json")
    assert list(tmp_path.iterdir()) == []


def test_missing_yaml_is_a_missing_extra_error(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_yaml(name, *args, **kwargs):
        if name == "yaml":
            raise ImportError("no yaml")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_yaml)
    with pytest.raises(MissingExtraError, match=r"PyYAML.*pytest-sacredx\[yaml\]"):
        save_config_file({"a": 1}, tmp_path / "cfg.yaml")
    (tmp_path / "in.yml").write_text("a: 1\n")
    with pytest.raises(MissingExtraError):
        load_config_file(tmp_path / "in.yml")


def test_handler_table():
    assert list(HANDLER_BY_EXT) == [".json", ".pickle", ".yaml", ".yml"]  # Sacred's, in its order
    assert {".json", ".yaml", ".yml", ".toml", ".pickle", ".pkl"} <= set(HANDLERS)
    assert get_handler("X.JSON") is HANDLER_BY_EXT[".json"]
