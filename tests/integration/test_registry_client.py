"""shiplane.registry against real registries (crane serve), with an auth proxy where auth is the point."""

from __future__ import annotations

import base64
import json
import uuid

import pytest

from shiplane.errors import (
    DigestMismatch,
    ImageNotFound,
    RegistryDenied,
    RegistryError,
    RegistryUnreachable,
)
from shiplane.localcluster.processes import free_ports
from shiplane.registry import OCI_MANIFEST, Client, DockerConfig, Reference
from tests.ociimages import image, index_of, push, push_index, sha256
from tests.registryproxy import AuthProxy

pytestmark = pytest.mark.integration


def repo() -> str:
    return f"t/{uuid.uuid4().hex[:8]}"


def test_push_resolve_and_read_back(local_registry: str) -> None:
    img = image([{"a.txt": b"one"}, {"b.txt": b"two" * 1000}], seed="read")
    ref = Reference.parse(f"{local_registry}/{repo()}:1.0")
    with Client(insecure={local_registry}) as client:
        assert push(client, ref, img) == img.digest
        assert client.resolve(ref) == img.digest
        got = client.manifest(ref)
        assert got.digest == img.digest and got.media_type == OCI_MANIFEST and got.raw == img.manifest
        assert [d["digest"] for d in got.layers] == [sha256(b) for b in img.layers]
        assert client.index(ref) is None
        for digest, data in img.blobs.items():
            assert client.has_blob(ref, digest)
            assert client.blob(ref, digest) == data
        # streamed: several chunks for a large blob, same bytes
        big = b"x" * (3 * 1024 * 1024 + 17)
        client.put_blob(ref, iter([big[:1000], big[1000:]]), sha256(big))
        assert b"".join(client.open_blob(ref, sha256(big))) == big
        assert not client.has_blob(ref, sha256(b"never pushed"))
    with Client(insecure={local_registry}) as other:  # a fresh client asks the registry, not a cache
        assert other.resolve(ref.with_tag("1.0")) == img.digest


def test_index_platform_pick_and_missing_platform(local_registry: str) -> None:
    amd, arm = image(seed="amd"), image(seed="arm", platform="linux/arm64/v8")
    ref = Reference.parse(f"{local_registry}/{repo()}:multi")
    with Client(insecure={local_registry}) as client:
        digest = push_index(client, ref, [amd, arm])
        assert client.resolve(ref) == digest == sha256(index_of([amd, arm]))
        assert client.manifest(ref).digest == amd.digest
        assert client.manifest(ref, platform="linux/arm64").digest == arm.digest
        assert client.index(ref).digest == digest
        assert client.manifest(ref, platform=None).is_index
        with pytest.raises(ImageNotFound, match=r"no linux/s390x image .*linux/amd64, linux/arm64/v8"):
            client.manifest(ref, platform="linux/s390x")


def test_missing_tag_names_the_reference(local_registry: str) -> None:
    ref = Reference.parse(f"{local_registry}/{repo()}:nope")
    with Client(insecure={local_registry}) as client, pytest.raises(ImageNotFound) as err:
        client.resolve(ref)
    assert str(ref) in str(err.value) and err.value.exit_code == 2


def test_tampered_blob_is_refused(local_registry: str) -> None:
    ref = Reference.parse(f"{local_registry}/{repo()}:x")
    with Client(insecure={local_registry}) as client:
        with pytest.raises(DigestMismatch):
            client.put_blob(ref, b"some bytes", sha256(b"other bytes"))
        # a manifest fetched by a digest it does not have is refused, whatever the registry says
        img = image(seed="tamper")
        push(client, ref, img)
        wrong = "sha256:" + "0" * 64
        with pytest.raises((DigestMismatch, ImageNotFound)):
            client.manifest(ref.with_digest(wrong))


def test_copy_index_between_registries_skips_present_blobs(local_registry: str, second_registry: str) -> None:
    shared = {"base.txt": b"shared base layer" * 100}
    amd = image([shared, {"app": b"amd"}], seed="amd")
    arm = image([shared, {"app": b"arm"}], platform="linux/arm64", seed="arm")
    src = Reference.parse(f"{local_registry}/{repo()}:2.0")
    dst = Reference.parse(f"{second_registry}/{repo()}:2.0")
    with Client(insecure={local_registry, second_registry}) as client:
        digest = push_index(client, src, [amd, arm])
        events = list(client.copying(src, dst))
        assert events[-1].completed == events[-1].total == 5  # shared layer once, 2 configs, 2 app layers
    with Client(insecure={second_registry}) as reader:
        assert reader.resolve(dst) == digest
        assert reader.manifest(dst, platform="linux/arm64").digest == arm.digest
        for img in (amd, arm):
            for blob_digest, data in img.blobs.items():
                assert reader.blob(dst, blob_digest) == data
    # a second copy finds every blob present and uploads nothing
    with AuthProxy(second_registry, mode="none") as proxy, Client(insecure={local_registry, proxy.host}) as client:
        again = Reference.parse(f"{proxy.host}/{dst.repository}:2.0")
        assert client.copy(src, again) == digest
        assert not [p for m, p in proxy.log if m in ("POST", "PATCH") or (m == "PUT" and "/blobs/" in p)]


def test_copy_within_a_registry_asks_for_a_mount(local_registry: str) -> None:
    img = image([{"m": b"mount me" * 50}], seed="mount")
    with AuthProxy(local_registry, mode="none") as proxy, Client(insecure={proxy.host}) as client:
        src = Reference.parse(f"{proxy.host}/{repo()}:1")
        dst = Reference.parse(f"{proxy.host}/{repo()}:1")
        push(client, src, img)
        proxy.hide_blobs_in.add(dst.repository)  # as registries that scope blobs per repository answer
        proxy.log.clear()
        assert client.copy(src, dst) == img.digest
        mounts = [p for m, p in proxy.log if m == "POST" and "mount=" in p]
        assert len(mounts) == 2 and all(f"from={src.repository.replace('/', '%2F')}" in p for p in mounts)
        assert client.manifest(dst).raw == img.manifest


def test_referrers_fall_back_to_the_tag_schema(local_registry: str) -> None:
    subject = image(seed="subject")
    ref = Reference.parse(f"{local_registry}/{repo()}:signed")
    with Client(insecure={local_registry}) as client:
        push(client, ref, subject)
        pinned = ref.with_digest(subject.digest)
        assert client.referrers(pinned) == []
        empty = b"{}"
        client.put_blob(ref, empty, sha256(empty))
        artifact = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "artifactType": "application/vnd.example.sig",
                "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": sha256(empty), "size": 2},
                "layers": [{"mediaType": "application/vnd.oci.empty.v1+json", "digest": sha256(empty), "size": 2}],
                "subject": {"mediaType": OCI_MANIFEST, "digest": subject.digest, "size": len(subject.manifest)},
            }
        ).encode()
        pushed = client.attach(pinned, artifact, OCI_MANIFEST)
        assert pushed == sha256(artifact)
        found = client.referrers(pinned)
        assert [(r["digest"], r["artifactType"]) for r in found] == [(pushed, "application/vnd.example.sig")]
        assert client.referrers(pinned, artifact_type="application/other") == []
        # readers without the API see the sha256-<hex> tag index
        tag = Reference.parse(f"{local_registry}/{ref.repository}:{subject.digest.replace(':', '-')}")
        assert [m["digest"] for m in client.manifest(tag, platform=None).manifests] == [pushed]


def test_registry_down_is_a_clear_exit_3(capsys) -> None:
    port = free_ports(1)[0]
    ref = Reference.parse(f"127.0.0.1:{port}/app/web:1.2")
    with (
        Client(insecure={f"127.0.0.1:{port}"}, retries=2, backoff=0.01) as client,
        pytest.raises(RegistryUnreachable) as err,
    ):
        client.resolve(ref)
    assert err.value.exit_code == 3
    assert str(ref) in err.value.message and "connection refused" in err.value.message


def test_https_to_a_plain_http_registry_hints_insecure(local_registry: str) -> None:
    with Client(retries=1) as client, pytest.raises(RegistryUnreachable) as err:
        client.resolve(Reference.parse(f"{local_registry}/x/y:1"))
    assert "insecure" in str(err.value)


def test_retries_429_and_5xx_then_succeeds(local_registry: str) -> None:
    img = image(seed="retry")
    with AuthProxy(local_registry, mode="none") as proxy, Client(insecure={proxy.host}, backoff=0.01) as client:
        ref = Reference.parse(f"{proxy.host}/{repo()}:1")
        push(client, ref, img)
        proxy.fail_next[:] = [503, 429]
        assert Client(insecure={proxy.host}, backoff=0.01).resolve(ref) == img.digest
        proxy.no_manifest_head = True  # a registry without HEAD on manifests: the GET's bytes decide
        assert Client(insecure={proxy.host}).resolve(ref) == img.digest
        proxy.no_manifest_head = False
        proxy.fail_next[:] = [503] * 10
        with pytest.raises(RegistryUnreachable, match="HTTP 503"):
            Client(insecure={proxy.host}, retries=3, backoff=0.01).resolve(ref)


def _config(tmp_path, host: str, entry: dict) -> DockerConfig:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"auths": {host: entry}}))
    return DockerConfig.load(path)


@pytest.mark.parametrize("mode", ["basic", "bearer"])
def test_auth_flows(local_registry: str, tmp_path, mode: str) -> None:
    img = image(seed=f"auth-{mode}")
    with AuthProxy(local_registry, mode=mode) as proxy:
        ref = Reference.parse(f"{proxy.host}/{repo()}:1")
        auth = base64.b64encode(f"{proxy.user}:{proxy.password}".encode()).decode()
        with Client(insecure={proxy.host}, config=_config(tmp_path, proxy.host, {"auth": auth})) as client:
            assert push(client, ref, img) == img.digest
            assert client.manifest(ref).digest == img.digest
        if mode == "bearer":
            scopes = [s for r in proxy.token_requests for s in r.get("scope", [])]
            assert f"repository:{ref.repository}:pull,push" in scopes
            assert all(r.get("service") == ["test-registry"] for r in proxy.token_requests)
            assert len(proxy.token_requests) == 2  # one token per scope (pull; pull,push), reused after that
        # anonymous and wrong credentials: refused, exit 3, the password never shown
        with Client(insecure={proxy.host}) as anonymous, pytest.raises(RegistryDenied) as err:
            anonymous.resolve(ref)
        assert "anonymously" in str(err.value) and err.value.exit_code == 3
        wrong = _config(tmp_path, proxy.host, {"username": proxy.user, "password": "wrong-pass-123"})
        with Client(insecure={proxy.host}, config=wrong) as client, pytest.raises(RegistryDenied) as err:
            client.resolve(ref)
        assert proxy.user in str(err.value) and "wrong-pass-123" not in str(err.value)
        assert str(tmp_path / "config.json") in str(err.value)


def test_identity_token_login(local_registry: str, tmp_path) -> None:
    img = image(seed="identity")
    with AuthProxy(local_registry, mode="bearer") as proxy:
        ref = Reference.parse(f"{proxy.host}/{repo()}:1")
        config = _config(tmp_path, proxy.host, {"identitytoken": proxy.refresh_token})
        with Client(insecure={proxy.host}, config=config) as client:
            assert push(client, ref, img) == img.digest
        assert proxy.token_requests and all(r["grant_type"] == ["refresh_token"] for r in proxy.token_requests)
        stale = _config(tmp_path, proxy.host, {"identitytoken": "refresh-expired"})
        with Client(insecure={proxy.host}, config=stale) as client, pytest.raises(RegistryDenied) as err:
            client.resolve(ref)
        assert "identity token" in str(err.value) and "refresh-expired" not in str(err.value)


def test_copy_referrers_brings_signatures_along(local_registry: str, second_registry: str) -> None:
    subject = image(seed="signed-subject")
    src = Reference.parse(f"{local_registry}/{repo()}:1")
    dst = Reference.parse(f"{second_registry}/{repo()}:1")
    empty = b"{}"
    with Client(insecure={local_registry, second_registry}) as client:
        push(client, src, subject)
        client.put_blob(src, empty, sha256(empty))
        payload = b'{"critical": {"image": {"docker-manifest-digest": "%s"}}}' % subject.digest.encode()
        client.put_blob(src, payload, sha256(payload))
        artifact = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "artifactType": "application/vnd.example.sig",
                "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": sha256(empty), "size": 2},
                "layers": [
                    {"mediaType": "application/vnd.example.payload", "digest": sha256(payload), "size": len(payload)}
                ],
                "subject": {"mediaType": OCI_MANIFEST, "digest": subject.digest, "size": len(subject.manifest)},
            }
        ).encode()
        attached = client.attach(src.with_digest(subject.digest), artifact, OCI_MANIFEST)
        legacy = json.dumps(  # cosign's tag layout: sha256-<hex>.sig, a manifest whose layer is the payload
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": sha256(empty), "size": 2},
                "layers": [
                    {
                        "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
                        "digest": sha256(payload),
                        "size": len(payload),
                    }
                ],
            }
        ).encode()
        sig_tag = subject.digest.replace(":", "-") + ".sig"
        client.put_manifest(Reference.parse(f"{local_registry}/{src.repository}:{sig_tag}"), legacy, OCI_MANIFEST)

        client.copy(src, dst)
        copied = client.copy_referrers(src, dst)
        assert set(copied) == {attached, sha256(legacy)}
    with Client(insecure={second_registry}) as reader:
        found = reader.referrers(dst.with_digest(subject.digest))
        assert [r["digest"] for r in found] == [attached]
        sig = reader.manifest(Reference.parse(f"{second_registry}/{dst.repository}:{sig_tag}"))
        assert sig.raw == legacy and reader.blob(dst, sha256(payload)) == payload


def test_a_hostile_descriptor_never_becomes_a_url(local_registry: str, second_registry: str) -> None:
    bad = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": "../../../v2/_catalog",
                "size": 1,
            },
            "layers": [],
        }
    ).encode()
    src = Reference.parse(f"{local_registry}/{repo()}:bad")
    with Client(insecure={local_registry, second_registry}) as client:
        client.put_manifest(src, bad, OCI_MANIFEST)
        with pytest.raises(RegistryError, match="invalid digest") as err:
            client.copy(src, Reference.parse(f"{second_registry}/{repo()}:bad"))
    assert err.value.exit_code == 1


def test_a_streamed_upload_failing_in_transit_is_started_again(local_registry: str, second_registry: str) -> None:
    img = image([{"big": b"z" * 200_000}], seed="flaky")
    src = Reference.parse(f"{local_registry}/{repo()}:1")
    with Client(insecure={local_registry}) as client:
        push(client, src, img)
    with (
        AuthProxy(second_registry, mode="none") as proxy,
        Client(insecure={local_registry, proxy.host}, backoff=0.01) as client,
    ):
        proxy.fail_blob_puts = 2  # the first two uploads fail after the body was sent
        dst = Reference.parse(f"{proxy.host}/{repo()}:1")
        assert client.copy(src, dst) == img.digest
        assert proxy.fail_blob_puts == 0
        for digest, data in img.blobs.items():
            assert client.blob(dst, digest) == data
