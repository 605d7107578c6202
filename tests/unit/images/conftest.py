"""Real test data for the image tests (fetched into a cache outside the repo; see realdata.py)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from tests.unit.images import realdata
from tests.unit.images.imagebuilder import Dir, File, build_layer, write_oci


@pytest.fixture(scope="session")
def debian_bz2() -> Path:
    return realdata.debian_package("libbz2-1.0")


@pytest.fixture(scope="session")
def debian_java() -> Path:
    return realdata.debian_package("libcommons-lang3-java")


@pytest.fixture(scope="session")
def old_urllib3() -> Path:
    # urllib3 1.24.1 is named by PYSEC-2019-132, PYSEC-2020-148, PYSEC-2021-108, PYSEC-2023-192 ...
    return realdata.wheel("urllib3==1.24.1")


@pytest.fixture(scope="session")
def go_text_binary() -> Path:
    return realdata.go_binary("v0.3.5")


OS_RELEASE = File(
    "etc/os-release",
    b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\n'
    b'VERSION_ID="12"\nVERSION_CODENAME=bookworm\nID=debian\n',
)
PACKAGE_JSON = json.dumps({"name": "@types/node", "version": "20.1.0"}).encode()


@pytest.fixture(scope="session")
def real_image(tmp_path_factory, debian_bz2, debian_java, old_urllib3, go_text_binary) -> Path:
    """Five layers of real packages: os-release; libbz2 (dpkg); commons-lang3 (dpkg, jar); a war nesting that jar,
    a Go binary with golang.org/x/text v0.3.5 and an npm package; urllib3 1.24.1 in site-packages."""
    base = build_layer([Dir("etc"), OS_RELEASE])
    debs = realdata.dpkg_layer([debian_bz2])
    java = realdata.dpkg_layer([debian_java], installed_before=[debian_bz2])
    jar = next(data for m, data in realdata.deb_files(debian_java)[1] if m.name.endswith("/commons-lang3.jar"))
    war = io.BytesIO()
    with zipfile.ZipFile(war, "w") as zf:
        zf.writestr("WEB-INF/lib/commons-lang3-3.12.0.jar", jar)
        zf.writestr("index.html", "<p>hi</p>")
    app = build_layer(
        [
            File("srv/app.war", war.getvalue()),
            File("usr/local/bin/textdemo", go_text_binary.read_bytes(), 0o755),
            File("app/node_modules/@types/node/package.json", PACKAGE_JSON),
            File("app/node_modules/@types/node/test/package.json", b'{"private": true}'),
        ]
    )
    python = realdata.site_packages_layer([old_urllib3])
    return write_oci(tmp_path_factory.mktemp("inv") / "image.tar", [base, debs, java, app, python])
