"""The inventory cross-checked against Syft (anchore/syft, built by `go_tool`, run offline) on the
same real images: the same packages by purl, compared after parsing (Syft percent-encodes an epoch's
':' in versions, packageurl-python does not; both decode to the same purl). The differences that
remain are explained in docs/images.md ("Compared with Syft") and asserted here exactly."""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from packageurl import PackageURL

from shiplane.cli import main
from tests.conftest import go_tool
from tests.unit.images import realdata
from tests.unit.images.conftest import OS_RELEASE
from tests.unit.images.imagebuilder import Dir, Whiteout, build_layer, write_oci


def _key(purl: str) -> tuple:
    p = PackageURL.from_string(purl)
    return (p.type, p.namespace, p.name, p.version, tuple(sorted((p.qualifiers or {}).items())), p.subpath)


def syft_purls(image: Path) -> Counter:
    syft = go_tool("syft")
    env = {**os.environ, "SYFT_CHECK_FOR_APP_UPDATE": "false"}
    done = subprocess.run(
        [str(syft), "scan", f"oci-archive:{image}", "-o", "json", "-q"],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=True,
    )
    return Counter(_key(a["purl"]) for a in json.loads(done.stdout)["artifacts"] if a.get("purl"))


def shiplane_purls(image: Path, capsys) -> Counter:
    assert main(["images", "inventory", str(image), "-o", "json"]) == 0
    return Counter(_key(p["purl"]) for p in json.loads(capsys.readouterr().out)["packages"])


def test_same_packages_as_syft_on_the_mixed_image(real_image, capsys):
    """dpkg, a jar in a war and the same jar from a .deb, a Go binary (modules and stdlib), npm, a wheel."""
    ours, theirs = shiplane_purls(real_image, capsys), syft_purls(real_image)
    assert ours == theirs
    assert sum(ours.values()) == 9


@pytest.fixture(scope="module")
def debian_image(tmp_path_factory) -> Path:
    debs = [
        realdata.debian_package(n) for n in ("make", "bash", "python3-urllib3", "libssl3", "debian-security-support")
    ]
    layers = [build_layer([Dir("etc"), OS_RELEASE]), realdata.dpkg_layer(debs), build_layer([Whiteout("usr/bin/make")])]
    return write_oci(tmp_path_factory.mktemp("syft") / "debian.tar", layers)


def test_same_packages_as_syft_on_debian_packages_with_the_explained_difference(debian_image, capsys):
    """Debian packages (a binNMU's source version, an epoch, a source package), the egg-info Debian's
    python3-urllib3 ships; and one explained difference: Syft's binary classifier names /bin/bash."""
    ours, theirs = shiplane_purls(debian_image, capsys), syft_purls(debian_image)
    only_syft = theirs - ours
    only_ours = ours - theirs
    assert only_ours == Counter()
    assert only_syft == Counter({_key("pkg:generic/bash@5.2.15"): 1})  # docs/images.md: binary classifiers
    assert _key("pkg:deb/debian/bash@5.2.15-2%2Bb13?arch=amd64&distro=debian-12&upstream=bash%405.2.15-2") in ours
    assert _key("pkg:deb/debian/debian-security-support@1%3A12%2B2026.06.30?arch=all&distro=debian-12") in ours
    assert _key("pkg:pypi/urllib3@1.26.12") in ours  # shiplane marks it ownedBy deb:python3-urllib3
