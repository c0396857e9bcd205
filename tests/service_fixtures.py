"""Fixtures for the real servers that ``.ci/services.sh`` starts (PostgreSQL, moto S3, nx-27017).

Each fixture reads the URL ``services_start`` exported and checks that the port answers. When it does
not: with ``SACREDX_SERVICES_REQUIRED=1`` (set in CI) the test **fails** — CI must never skip silently —
otherwise it is skipped with the command that starts the servers. Servers are shared by xdist workers,
so every database and bucket is named after the worker and a random suffix; nothing global (such as
moto's ``/moto-api/reset``) is ever touched.

Fixtures: ``pg_url`` (a database per worker for the session), ``fresh_pg_url`` (a new database per
test), ``s3_endpoint`` (the endpoint URL), ``s3_bucket`` (a fresh, valid bucket name per test, not yet
created), ``mongo_wire_url`` (the nx-27017 URL). Mark tests that use them ``@pytest.mark.service``.
Store factories, which get no fixtures, call :func:`new_pg_database_url` and :func:`new_s3_location`.

>>> @pytest.mark.service
... def test_roundtrip(fresh_pg_url):
...     SqlObserver(fresh_pg_url).started_event(...)
"""

from __future__ import annotations

import atexit
import os
import socket
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

START_COMMAND = "source .ci/services.sh && services_start"

__all__ = [
    "pg_url",
    "fresh_pg_url",
    "s3_endpoint",
    "s3_bucket",
    "mongo_wire_url",
    "new_pg_database_url",
    "new_s3_location",
    "START_COMMAND",
]


def _unavailable(what: str) -> None:
    message = f"{what}; start the servers with: {START_COMMAND}"
    if os.environ.get("SACREDX_SERVICES_REQUIRED") == "1":
        pytest.fail(
            f"{message} (SACREDX_SERVICES_REQUIRED=1: service tests must not be skipped)",
            pytrace=False,
        )
    pytest.skip(message)


def _service_url(env: str, name: str, default_port: int) -> str:
    url = os.environ.get(env, "")
    if not url:
        _unavailable(f"{name}: ${env} is not set")
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or default_port
    try:
        with socket.create_connection((host, port), timeout=2):
            pass
    except OSError as error:
        _unavailable(f"{name}: nothing answers on {host}:{port} (${env}): {error}")
    return url


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _unique(prefix: str) -> str:
    return f"{prefix}_{_worker()}_{uuid.uuid4().hex[:8]}".lower()


def _with_database(url: str, database: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=database).render_as_string(hide_password=False)


def _admin(url: str) -> object:
    import sqlalchemy as sa

    return sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def _create_database(admin_url: str) -> str:
    import sqlalchemy as sa

    name = _unique("sacredx")
    engine = _admin(admin_url)
    with engine.connect() as conn:  # type: ignore[attr-defined]
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    return name


def _drop_database(admin_url: str, name: str) -> None:
    import sqlalchemy as sa

    engine = _admin(admin_url)
    with engine.connect() as conn:  # type: ignore[attr-defined]
        # FORCE ends the connections observers' pools still hold (PostgreSQL 13+).
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


_CREATED_DATABASES: list[tuple[str, str]] = []


def _drop_created_databases() -> None:
    for admin_url, name in reversed(_CREATED_DATABASES):
        try:
            _drop_database(admin_url, name)
        except Exception:  # the server may be gone already; nothing to clean up then
            pass
    _CREATED_DATABASES.clear()


def new_pg_database_url() -> str:
    """A new, empty PostgreSQL database for code that cannot use fixtures (store factories).

    Skips (or fails, in CI) like the fixtures; every database made here is dropped at process exit.
    """
    pytest.importorskip("sqlalchemy")
    pytest.importorskip("psycopg")
    admin_url = _service_url("SACREDX_PG_URL", "PostgreSQL", 5432)
    name = _create_database(admin_url)
    if not _CREATED_DATABASES:
        atexit.register(_drop_created_databases)
    _CREATED_DATABASES.append((admin_url, name))
    return _with_database(admin_url, name)


def new_s3_location() -> tuple[str, str]:
    """``(endpoint_url, fresh bucket name)`` for code that cannot use fixtures (store factories)."""
    pytest.importorskip("boto3")
    endpoint = _service_url("SACREDX_S3_ENDPOINT", "S3 (moto server)", 80)
    _aws_test_credentials()
    return endpoint, _unique("sacredx").replace("_", "-")


def _aws_test_credentials() -> None:
    # moto accepts any key pair; boto3 still insists on having one.
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture(scope="session")
def _pg_admin_url() -> str:
    pytest.importorskip("sqlalchemy")
    pytest.importorskip("psycopg")
    return _service_url("SACREDX_PG_URL", "PostgreSQL", 5432)


@pytest.fixture(scope="session")
def pg_url(_pg_admin_url: str) -> Iterator[str]:
    """A PostgreSQL database of this xdist worker (``sacredx_<worker>_<random>``), dropped at the end."""
    name = _create_database(_pg_admin_url)
    yield _with_database(_pg_admin_url, name)
    _drop_database(_pg_admin_url, name)


@pytest.fixture
def fresh_pg_url(_pg_admin_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database for one test, dropped after it."""
    name = _create_database(_pg_admin_url)
    yield _with_database(_pg_admin_url, name)
    _drop_database(_pg_admin_url, name)


@pytest.fixture(scope="session")
def s3_endpoint() -> str:
    """The moto S3 server's endpoint URL; AWS test credentials are filled in when missing."""
    pytest.importorskip("boto3")
    url = _service_url("SACREDX_S3_ENDPOINT", "S3 (moto server)", 80)
    _aws_test_credentials()
    return url


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> str:
    """A fresh, valid bucket name for one test (the observer creates the bucket)."""
    return _unique("sacredx").replace("_", "-")


@pytest.fixture(scope="session")
def mongo_wire_url() -> str:
    """The MongoDB wire-protocol server's URL (``$SACREDX_MONGO_WIRE_URL``, nx-27017 in CI)."""
    return _service_url("SACREDX_MONGO_WIRE_URL", "MongoDB wire server (nx-27017)", 27017)
