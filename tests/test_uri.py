"""Observer URIs: every scheme builds the right observer with the right arguments; every mistake is one
line of ObserverURIError (or MissingExtraError for a missing optional package); backends load lazily."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_sacredx.errors import MissingExtraError, ObserverURIError
from pytest_sacredx.observers import base
from pytest_sacredx.observers.uri import KNOWN_SCHEMES, from_uri, parse_observer_uris


def cls_name(obj: Any) -> str:
    return type(obj).__name__


# -- every scheme ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "basedir"),
    [("file:runs", "runs"), ("file:some/dir", "some/dir"), ("file:///tmp/abs dir", "/tmp/abs dir"),
     ("file://localhost/tmp/x", "/tmp/x"), ("FILE:runs", "runs"), ("  file:runs  ", "runs")],
)
def test_file(uri: str, basedir: str) -> None:
    obs = from_uri(uri)
    assert cls_name(obs) == "FileStorageObserver" and obs.basedir == basedir


def test_tinydb(tmp_path: Any) -> None:
    obs = from_uri(f"tinydb:{tmp_path}/db")
    assert cls_name(obs) == "TinyDbObserver" and obs.root == f"{tmp_path}/db"
    assert not (tmp_path / "db").exists()  # nothing is created before a run starts


@pytest.mark.parametrize(
    ("uri", "url"),
    [
        ("sqlite:///runs.db", "sqlite:///runs.db"),
        ("sqlite://", "sqlite://"),
        ("postgresql+psycopg://alice:pw@127.0.0.1:55432/runs",
         "postgresql+psycopg://alice:***@127.0.0.1:55432/runs"),
        ("postgresql+psycopg://alice@h/runs?sslmode=disable&queue=0",
         "postgresql+psycopg://alice@h/runs?sslmode=disable"),
    ],
)
def test_sql(uri: str, url: str) -> None:
    pytest.importorskip("sqlalchemy")
    obs = from_uri(uri)
    assert cls_name(obs) == "SqlObserver" and obs.url == url


def test_bare_postgresql_uses_psycopg3_when_psycopg2_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("sqlalchemy")
    pytest.importorskip("psycopg")
    import pytest_sacredx.observers.uri as uri_mod

    monkeypatch.setattr(uri_mod, "_installed", lambda m: m == "psycopg")
    monkeypatch.setitem(sys.modules, "psycopg2", None)
    assert from_uri("postgresql://u@h/db").url.startswith("postgresql+psycopg://")
    with pytest.raises(ObserverURIError, match=r"write postgresql\+psycopg://"):
        from_uri("postgresql+psycopg2://u@h/db")
    monkeypatch.setattr(uri_mod, "_installed", lambda m: False)
    with pytest.raises(MissingExtraError, match=r"postgresql\+psycopg://.*pytest-sacredx\[sql\]"):
        from_uri("postgresql://u@h/db")


@pytest.mark.parametrize(
    ("uri", "url", "db_name"),
    [
        ("mongodb://127.0.0.1:27117", "mongodb://127.0.0.1:27117", "sacred"),
        ("mongodb://127.0.0.1:27117/", "mongodb://127.0.0.1:27117/", "sacred"),
        ("mongodb://u:pw@h1:1,h2:2/exps?authSource=admin", "mongodb://u:pw@h1:1,h2:2/exps?authSource=admin",
         "exps"),
        ("mongodb+srv://cluster0.example.net/exps", "mongodb+srv://cluster0.example.net/exps", "exps"),
    ],
)
def test_mongodb(uri: str, url: str, db_name: str) -> None:
    pytest.importorskip("pymongo")
    obs = from_uri(uri)
    assert cls_name(obs) == "MongoObserver"
    assert (obs._url, obs._db_name) == (url, db_name)
    assert "pw" not in repr(obs)


def test_s3() -> None:
    pytest.importorskip("boto3")
    obs = from_uri("s3://my-bucket/runs/exp1?endpoint_url=http://127.0.0.1:55000&region=eu-west-1")
    assert cls_name(obs) == "S3Observer"
    assert (obs.bucket, obs.basedir, obs.endpoint_url, obs.region) == (
        "my-bucket", "runs/exp1", "http://127.0.0.1:55000", "eu-west-1")


def test_s3_arguments_reach_the_observer(monkeypatch: pytest.MonkeyPatch) -> None:
    """The mapping itself, whatever the backend does with it (no boto3 needed)."""
    import types

    seen: dict[str, Any] = {}

    class FakeS3(base.RunObserver):
        def __init__(self, **kwargs: Any) -> None:
            seen.update(kwargs)

    fake = types.ModuleType("pytest_sacredx.observers.s3_observer")
    fake.S3Observer = FakeS3  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pytest_sacredx.observers.s3_observer", fake)
    assert isinstance(from_uri("s3://bkt/a/b/"), FakeS3)
    assert seen == {"bucket": "bkt", "basedir": "a/b"}
    seen.clear()
    from_uri("s3://bkt?region=us-east-1")
    assert seen == {"bucket": "bkt", "basedir": "", "region": "us-east-1"}


def test_memory_and_none() -> None:
    assert cls_name(from_uri("memory:")) == "MemoryObserver"
    assert cls_name(from_uri("memory")) == "MemoryObserver"
    assert from_uri("none") is None and from_uri("None") is None and from_uri("queue:none") is None


def test_queue_wrapping() -> None:
    obs = from_uri("file:runs?queue=1")
    assert cls_name(obs) == "QueueObserver" and cls_name(obs._covered_observer) == "FileStorageObserver"
    assert obs._covered_observer.basedir == "runs"
    assert (obs.interval, obs.retry_interval) == (20.0, 10.0)
    obs = from_uri("memory:?queue=true&interval=0.5&retry_interval=2&max_retries=5")
    assert (obs.interval, obs.retry_interval, obs._max_retries) == (0.5, 2.0, 5)
    obs = from_uri("queue:file:runs")
    assert cls_name(obs) == "QueueObserver" and obs._covered_observer.basedir == "runs"
    obs = from_uri("queue:memory:?queue=1")  # queued once, not twice
    assert cls_name(obs._covered_observer) == "MemoryObserver"
    assert cls_name(from_uri("memory:?queue=0")) == "MemoryObserver"


def test_queued_mongo_raises_into_the_queue() -> None:
    pytest.importorskip("pymongo")
    obs = from_uri("mongodb://127.0.0.1:27117/x?queue=1")
    assert cls_name(obs) == "QueueObserver" and obs._covered_observer.on_error == "raise"


def test_parse_observer_uris() -> None:
    observers = parse_observer_uris(["memory:", "none", "file:a", "file:a", "queue:file:b"])
    assert [cls_name(o) for o in observers] == ["MemoryObserver", "FileStorageObserver", "QueueObserver"]
    assert parse_observer_uris([]) == []
    with pytest.raises(ObserverURIError):
        parse_observer_uris(["memory:", "bogus:x"])


# -- errors ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "fragment"),
    [
        ("mongo://localhost", "Did you mean 'mongodb'?"),
        ("fil:runs", "Did you mean 'file'?"),
        ("postgres://u@h/db", "Did you mean 'postgresql'?"),
        ("tinydbb:x", "Did you mean 'tinydb'?"),
        ("runs", "write 'file:runs'"),
        ("./runs/x", "has no scheme"),
        ("", "Empty observer URI"),
        ("file:", "names no path"),
        ("tinydb:", "names no path"),
        ("file://remote/x", "names host 'remote'"),
        ("memory:foo", "memory: takes no path"),
        ("file:runs?color=red", "unknown parameters ['color']"),
        ("file:runs?queue=maybe", "expected queue=1 or queue=0"),
        ("file:runs?interval=5", "without queue=1"),
        ("file:runs?queue=1&interval=-1", "non-negative number"),
        ("file:runs?queue=1&max_retries=x", "non-negative number"),
        ("s3://", "names no S3 bucket"),
        ("s3://b/p?acl=public", "unknown parameters ['acl']"),
        ("mongodb://h/a.b", "invalid MongoDB database"),
        ("mongodb://u:secret@h:99999/x", "Invalid MongoDB URL"),
        ("mongodb://h/x?noSuchOption=1", "Invalid MongoDB URL"),
        ("sqlite:relative.db", "Cannot build SqlObserver"),
        ("xyz:1", "known: file:DIR, tinydb:PATH"),
    ],
)
def test_errors_are_one_line(uri: str, fragment: str) -> None:
    with pytest.raises(ObserverURIError) as info:
        from_uri(uri)
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message and "secret" not in message
    assert isinstance(info.value, ValueError)


def test_unknown_scheme_lists_the_known_ones() -> None:
    with pytest.raises(ObserverURIError) as info:
        from_uri("ftp://host/runs")
    for form in ("file:DIR", "tinydb:PATH", "sqlite:///PATH", "postgresql+psycopg://", "mongodb://",
                 "s3://BUCKET/PREFIX", "memory:", "none", "queue"):
        assert form in str(info.value)
    assert set(KNOWN_SCHEMES) >= {"file", "tinydb", "sqlite", "mongodb", "s3", "memory", "none"}


@pytest.mark.parametrize(
    ("uri", "module", "extra"),
    [
        ("mongodb://h/x", "pymongo", "mongo"),
        ("sqlite:///x.db", "sqlalchemy", "sql"),
        ("s3://bkt/p?region=us-east-1", "boto3", "s3"),
    ],
)
def test_missing_extra(monkeypatch: pytest.MonkeyPatch, uri: str, module: str, extra: str) -> None:
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(MissingExtraError) as info:
        from_uri(uri)
    assert f"pip install 'pytest-sacredx[{extra}]'" in str(info.value)
    assert "\n" not in str(info.value) and isinstance(info.value, ImportError)


def test_backends_load_only_when_their_scheme_is_used() -> None:
    code = (
        "import sys\n"
        "from pytest_sacredx.observers.uri import from_uri\n"
        "heavy = ('pymongo', 'sqlalchemy', 'boto3')\n"
        "from_uri('memory:'); from_uri('file:runs'); from_uri('none')\n"
        "assert not [m for m in heavy if m in sys.modules], [m for m in heavy if m in sys.modules]\n"
        "assert 'pytest_sacredx.observers.mongo' not in sys.modules\n"
        "assert 'pytest_sacredx.observers.sql' not in sys.modules\n"
        "from_uri('mongodb://127.0.0.1:1/x')\n"
        "assert 'sqlalchemy' not in sys.modules and 'boto3' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# -- anything at all ------------------------------------------------------------------------------------

_PREFIXES = ["file:", "tinydb:", "sqlite:", "sqlite:///", "postgresql+psycopg://", "postgresql://",
             "mysql://", "mongodb://", "mongodb+srv://", "s3://", "memory:", "none", "queue:", "file:x?",
             "mongodb://h/", "s3://bucket/"]


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(uri=st.one_of(
    st.text(max_size=40),
    st.builds(lambda p, t: p + t, st.sampled_from(_PREFIXES), st.text(max_size=30)),
))
def test_any_text_gives_an_observer_none_or_a_uri_error(
    uri: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a stray file: path stays in the temp folder
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    try:
        result = from_uri(uri)
    except (ObserverURIError, MissingExtraError) as exc:
        assert "\n" not in str(exc), str(exc)
        return
    assert result is None or isinstance(result, base.RunObserver)
    if result is None:
        assert uri.strip().lower() in ("none", "queue:none")
    assert os.listdir(tmp_path) == []  # building an observer creates nothing
