"""The one redaction rule: which names and values are sensitive, and how messages hide them."""

from __future__ import annotations

import pytest

from shiplane import redaction


@pytest.mark.parametrize(
    "name",
    [
        "DB_PASSWORD",
        "--db-password",
        "requirepass",
        "dbPassword",
        "API_KEY",
        "api-key",
        "BASIC_AUTH",
        "PW",
        "OAUTH_TOKEN",
        "SECRET_KEY_BASE",
        "SENTRY_DSN",
        "aws.secret.access.key",
        "KEY",
        "SESSION_PASS",
    ],
)
def test_sensitive_names(name: str) -> None:
    assert redaction.sensitive_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "DB_PASSWORD_FILE",
        "TOKEN_TTL",
        "AUTHENTICATION_PLUGIN",
        "PASSENGER_ENV",
        "AUTHOR",
        "LOG_LEVEL",
        "AWS_ACCESS_KEY_ID",
        "SECRET_NAME",
        "PATH",
    ],
)
def test_names_that_are_not_secrets(name: str) -> None:
    assert not redaction.sensitive_name(name)


def test_credentials_whatever_their_name() -> None:
    assert redaction.looks_secret("URL", "postgres://app:s3cr3t@db/app")
    assert redaction.looks_secret("CACHE", "redis://:s3cr3t@cache:6379")
    assert not redaction.looks_secret("URL", "http://api:8080/x")
    assert not redaction.looks_secret("DB_PASSWORD", "${DB_PASSWORD}")  # a reference, not a value
    assert redaction.looks_secret("DB_PASSWORD", "hunter2")
    # user:password@host with no scheme is the same credential
    assert redaction.looks_secret("DB_ADDR", "admin:s3cretPW@db:5432")
    assert redaction.looks_secret("ARGS", "--dsn=admin:s3cretPW@db:5432/app")
    assert not redaction.looks_secret("REPO", "git@example.com:org/repo.git")  # no password in it
    assert not redaction.looks_secret("ADDR", "productcatalogservice:3550")


def test_messages_describe_a_sensitive_value_without_it() -> None:
    assert redaction.describe("hunter2", sensitive=True) == "<redacted>"
    assert redaction.describe("postgres://a:b@c/d") == "<redacted>"
    assert redaction.describe("many") == "'many'"
    assert redaction.sensitive_path(("secrets", "db"))
    assert redaction.sensitive_path(("services", "web", "env", "DB_PASSWORD"))
    assert not redaction.sensitive_path(("services", "web", "deploy", "replicas"))


def test_scrub_hides_known_values_and_url_passwords_with_one_pattern() -> None:
    pattern = redaction.pattern(["MARKER-long-value", "MARKER", "ab"])  # two characters: too short to search
    text = "ping -pMARKER-long-value; MARKER; ab; mysql://u:pw@db"
    assert redaction.scrub(text, pattern) == "ping -p<redacted>; <redacted>; ab; mysql://u:<redacted>@db"
    assert redaction.contains({"a": ["x", "y MARKER"]}, pattern)
    assert not redaction.contains({"a": ["x"]}, pattern)
