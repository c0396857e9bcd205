"""Secret redaction: no password survives redact_url / redact_argv / redact_options."""

from __future__ import annotations

import string
from urllib.parse import quote

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from pytest_sacredx.observers.redact import (
    REDACTED,
    is_secret_name,
    redact_argv,
    redact_options,
    redact_url,
)

UNRESERVED = string.ascii_letters + string.digits + "-._~"
#: passwords as they appear in a URL: unreserved characters, or any text percent-encoded
url_safe_passwords = st.one_of(
    st.text(alphabet=UNRESERVED, min_size=1, max_size=40),
    st.text(min_size=1, max_size=20).map(lambda s: quote(s, safe="")),
)
users = st.text(alphabet=string.ascii_lowercase + string.digits + "_", min_size=1, max_size=12)
schemes = st.sampled_from(
    [
        "postgresql+psycopg",
        "postgresql",
        "mysql+pymysql",
        "mongodb",
        "mongodb+srv",
        "redis",
        "https",
    ]
)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgresql+psycopg://user:s3cret@127.0.0.1:5432/runs",
            "postgresql+psycopg://user:***@127.0.0.1:5432/runs",
        ),
        ("mongodb://u:p@ss:w@rd@host/db", "mongodb://u:***@host/db"),  # raw '@' in a password
        (
            "mongodb://u:pw@h1,h2:27018/db?authSource=admin",
            "mongodb://u:***@h1,h2:27018/db?authSource=admin",
        ),
        ("sqlite:///runs.db", "sqlite:///runs.db"),
        ("postgresql://only_user@host/db", "postgresql://only_user@host/db"),
        (
            "postgresql://user:@host/db",
            "postgresql://user:@host/db",
        ),  # empty password: nothing to hide
        (
            "s3://bucket/p?region=eu&secret=abc&token=t0k",
            "s3://bucket/p?region=eu&secret=***&token=***",
        ),
        (
            "https://h/x?aws_secret_access_key=K&api_key=K2&keyspace=ks",
            "https://h/x?aws_secret_access_key=***&api_key=***&keyspace=ks",
        ),
        ("db?password=hunter2#frag", "db?password=***#frag"),
        (
            "--sql=postgresql://a:b@h/db and mongodb://c:d@h2",
            "--sql=postgresql://a:***@h/db and mongodb://c:***@h2",
        ),
        ("", ""),
        ("no url here: a:b@c", "no url here: a:b@c"),
    ],
)
def test_redact_url_examples(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_redact_url_is_idempotent_and_keeps_non_strings() -> None:
    once = redact_url("postgresql://u:pw@h/db?token=x")
    assert redact_url(once) == once
    assert redact_url(None) is None  # type: ignore[arg-type]


@given(scheme=schemes, user=users, password=url_safe_passwords)
def test_no_password_survives_in_a_url(scheme: str, user: str, password: str) -> None:
    url = f"{scheme}://{user}:{password}@db.example.org:5432/runs?sslmode=require"
    out = redact_url(url)
    assert out == f"{scheme}://{user}:{REDACTED}@db.example.org:5432/runs?sslmode=require"
    assume(password not in out.replace(REDACTED, ""))  # a password like "s" also spells "sslmode"
    assert password not in out


@given(
    name=st.sampled_from(["password", "secret", "token", "key", "X-Amz-Signature"]),
    value=url_safe_passwords,
)
def test_no_secret_query_value_survives(name: str, value: str) -> None:
    out = redact_url(f"s3://bucket/prefix?region=us-east-1&{name}={value}&x=1")
    assert out == f"s3://bucket/prefix?region=us-east-1&{name}={REDACTED}&x=1"


@given(user=users, password=url_safe_passwords)
def test_no_password_survives_in_argv_or_options(user: str, password: str) -> None:
    url = f"postgresql+psycopg://{user}:{password}@db.example.org/runs"
    argv = ["exp.py", "run", "-s", url, f"--sql={url}", "with", "lr=0.1"]
    options = {
        "--sql": url,
        "UPDATE": ["lr=0.1"],
        "nested": {"uris": [url, 3]},
        "--beat-interval": 10.0,
    }
    out_argv = redact_argv(argv)
    out_options = redact_options(options)
    clean = f"postgresql+psycopg://{user}:{REDACTED}@db.example.org/runs"
    assert out_argv == ["exp.py", "run", "-s", clean, f"--sql={clean}", "with", "lr=0.1"]
    assert out_options == {
        "--sql": clean,
        "UPDATE": ["lr=0.1"],
        "nested": {"uris": [clean, 3]},
        "--beat-interval": 10.0,
    }
    assert options["--sql"] == url  # the input is not modified


def test_secret_named_options_lose_their_values() -> None:
    argv = ["exp.py", "--password", "hunter2", "--api-token=abc", "--keep", "x", "-p"]
    assert redact_argv(argv) == [
        "exp.py",
        "--password",
        REDACTED,
        "--api-token=***",
        "--keep",
        "x",
        "-p",
    ]
    assert redact_options({"password": "p", "apiKey": "k", "token": None, "name": "n"}) == {
        "password": REDACTED,
        "apiKey": REDACTED,
        "token": None,
        "name": "n",
    }


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("password", True),
        ("--db-password", True),
        ("aws_secret_access_key", True),
        ("accessToken", True),
        ("keyspace", False),
        ("authSource", False),
        ("sort_keys", False),
        ("--comment", False),
    ],
)
def test_is_secret_name(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret


def test_secret_words_count_at_once_also_when_the_list_changes_in_place() -> None:
    from pytest_sacredx.settings import SETTINGS

    assert not is_secret_name("pin_code")
    words = ["pin"]
    SETTINGS.SECRET_WORDS = words
    try:
        assert is_secret_name("pin_code") and not is_secret_name("otp")
        words[0] = "otp"  # the same list object, changed
        assert is_secret_name("otp") and not is_secret_name("pin_code")
    finally:
        SETTINGS.SECRET_WORDS = []
    assert not is_secret_name("otp")
