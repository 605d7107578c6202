"""Image reference grammar (pure), Docker config parsing, challenge parsing."""

from __future__ import annotations

import base64
import json

import pytest

from shiplane.errors import BadReference, InputError
from shiplane.registry import Credentials, DockerConfig, Reference
from shiplane.registry.auth import parse_challenge

D = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest", "canonical"),
    [
        ("nginx", "docker.io", "library/nginx", "latest", None, "docker.io/library/nginx:latest"),
        ("nginx:1.27", "docker.io", "library/nginx", "1.27", None, "docker.io/library/nginx:1.27"),
        ("bitnami/redis:7", "docker.io", "bitnami/redis", "7", None, "docker.io/bitnami/redis:7"),
        ("index.docker.io/library/nginx", "docker.io", "library/nginx", "latest", None, None),
        ("127.0.0.1:5000/app/web:1.2", "127.0.0.1:5000", "app/web", "1.2", None, "127.0.0.1:5000/app/web:1.2"),
        ("localhost/app", "localhost", "app", "latest", None, "localhost/app:latest"),
        ("ghcr.io/org/a/b/c@" + D, "ghcr.io", "org/a/b/c", None, D, f"ghcr.io/org/a/b/c@{D}"),
        ("quay.io/x/y:v1@" + D, "quay.io", "x/y", "v1", D, f"quay.io/x/y:v1@{D}"),
        ("reg.example:443/a__b/c-d.e_f:T_1.x-y", "reg.example:443", "a__b/c-d.e_f", "T_1.x-y", None, None),
        ("[::1]:5000/app:1", "[::1]:5000", "app", "1", None, "[::1]:5000/app:1"),
    ],
)
def test_parse(text, registry, repository, tag, digest, canonical) -> None:
    ref = Reference.parse(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repository, tag, digest)
    if canonical:
        assert str(ref) == canonical
    assert Reference.parse(str(ref)) == ref  # str round-trips


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("Nginx", "lowercase"),
        ("docker.io/Library/nginx", "lowercase"),
        ("app:", "tag ''"),
        ("app:-bad", "tag"),
        ("app:" + "x" * 129, "tag"),
        ("app@sha256:abc", "not a valid digest"),
        ("app@sha256:" + "AB" * 32, "not a valid digest"),
        ("a b", "whitespace"),
        ("reg.example//app", "not valid"),
        ("app/", "not valid"),
        ("bad_host.example:x/app:1", "registry host"),
        ("-host.example/app", "registry host"),
    ],
)
def test_bad_references_are_input_errors(text, why) -> None:
    with pytest.raises(BadReference, match=why) as err:
        Reference.parse(text)
    assert err.value.exit_code == 2


def test_with_digest_and_properties() -> None:
    ref = Reference.parse("nginx:1.27")
    pinned = ref.with_digest(D)
    assert str(pinned) == f"docker.io/library/nginx:1.27@{D}" and pinned.identifier == D
    assert ref.identifier == "1.27" and ref.api_host == "registry-1.docker.io"
    assert pinned.name == "docker.io/library/nginx"
    with pytest.raises(BadReference):
        ref.with_digest("sha256:short")
    moved = ref.in_repository("mirror/library/nginx", "127.0.0.1:5000")
    assert str(moved) == "127.0.0.1:5000/mirror/library/nginx:1.27"


def test_docker_config_forms(tmp_path) -> None:
    path = tmp_path / "config.json"
    path.write_text(
        json.dumps(
            {
                "auths": {
                    "https://index.docker.io/v1/": {"auth": base64.b64encode(b"hubuser:hub:pass").decode()},
                    "reg.example:5000": {"username": "u", "password": "p"},
                    "http://tok.example": {"identitytoken": "refresh-xyz"},
                    "empty.example": {},
                },
                "credsStore": "desktop",
            }
        )
    )
    config = DockerConfig.load(path)
    assert config.credentials("docker.io") == Credentials("hubuser", "hub:pass")
    assert config.credentials("registry-1.docker.io") == Credentials("hubuser", "hub:pass")
    assert config.credentials("reg.example:5000") == Credentials("u", "p")
    assert config.credentials("tok.example").identity_token == "refresh-xyz"
    assert config.credentials("empty.example") is None
    assert "hub:pass" not in repr(config) and "refresh-xyz" not in repr(config)


def test_docker_config_from_env_and_missing(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    assert DockerConfig.load().auths == {}  # no file: anonymous
    (tmp_path / "config.json").write_text('{"auths": {"r.example": {"username": "a", "password": "b"}}}')
    assert DockerConfig.load().credentials("r.example") == Credentials("a", "b")
    with pytest.raises(InputError, match="no such file"):
        DockerConfig.load(tmp_path / "missing.json")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("{", "not valid JSON"),
        ("[]", "top level"),
        ('{"auths": []}', "auths"),
        ('{"auths": {"r": "x"}}', "auths.r"),
        ('{"auths": {"r": {"auth": "!!!"}}}', "not base64"),
        ('{"auths": {"r": {"auth": "' + base64.b64encode(b"nocolon-secretvalue").decode() + '"}}}', "no ':'"),
    ],
)
def test_docker_config_errors_name_the_file_never_the_secret(tmp_path, text, why) -> None:
    path = tmp_path / "config.json"
    path.write_text(text)
    with pytest.raises(InputError, match=why) as err:
        DockerConfig.load(path)
    assert str(path) in str(err.value) and "secretvalue" not in str(err.value)


def test_challenges() -> None:
    c = parse_challenge(
        'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"'
    )
    assert c.scheme == "bearer" and c.realm == "https://auth.example/token"
    assert c.params == {
        "realm": "https://auth.example/token",
        "service": "registry.example",
        "scope": "repository:a/b:pull",
    }
    assert parse_challenge('Basic realm="x"').scheme == "basic"
    assert parse_challenge('Bearer realm="a\\"b", error=insufficient_scope').params["error"] == "insufficient_scope"
    assert parse_challenge("") is None


@pytest.mark.parametrize("text", ["bob:hunter22@reg.example/app:1", "https://bob:hunter22@reg.example/app:1"])
def test_credentials_in_a_reference_are_refused_and_never_echoed(text) -> None:
    with pytest.raises(BadReference, match="credentials do not belong") as err:
        Reference.parse(text)
    assert "hunter22" not in str(err.value) and "reg.example/app:1" in str(err.value)


def test_a_url_is_not_a_reference() -> None:
    with pytest.raises(BadReference, match="no URL scheme"):
        Reference.parse("https://reg.example/app:1")
