"""Real test data for the image tests (fetched into a cache outside the repo; see realdata.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.images import realdata


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
