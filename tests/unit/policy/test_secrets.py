"""Secret detection: what counts as a literal secret, and what is only a name that sounds like one."""

from __future__ import annotations

import pytest

from shiplane.policy.rules.secrets import looks_secret


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DB_PASSWORD", "hunter2"),
        ("PGPASSWORD", "postgres"),
        ("STRIPE_API_KEY", "sk_live_abcdef"),
        ("ANYTHING", "-----BEGIN RSA PRIVATE KEY-----\nMIIE..."),
        ("DATABASE_URL", "postgres://app:s3cret@db:5432/app"),
        ("NOTE", "AKIAABCDEFGHIJKLMNOP"),
    ],
)
def test_secret(name, value):
    assert looks_secret(name, value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DB_PASSWORD_FILE", "/run/secrets/db"),
        ("DB_PASSWORD", "${DB_PASSWORD}"),
        ("API_TOKEN", "{{ .Values.token }}"),
        ("TOKEN_TTL", "3600"),
        ("JWT_SECRET_EXPIRES", "86400"),
        ("TOKEN_ENDPOINT", "https://auth.example.com/oauth/token"),
        ("DATABASE_URL", "postgres://db:5432/app"),
        ("AUTH_TYPE", "oidc"),
        ("REQUIRE_PASSWORD", "true"),
        ("LOG_LEVEL", "debug"),
    ],
)
def test_not_secret(name, value):
    assert not looks_secret(name, value)
