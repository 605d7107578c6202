"""Item: images in the report and the dev/test/prod stages an import writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from shiplane import rendering, spec
from shiplane.errors import InputErrors
from shiplane.importing import import_compose, writing
from shiplane.spec.inputs import gather

COMPOSE = """\
services:
  api:
    build: {context: ./api, target: release}
    ports: ["8080:8080"]
  cache:
    image: redis
  web:
    image: nginx:latest
  db:
    image: postgres:16
"""


@pytest.fixture
def written(tmp_path: Path) -> tuple:
    (tmp_path / "api").mkdir()
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    imported = import_compose([tmp_path / "compose.yaml"], out_dir=tmp_path, environ={})
    return imported, writing.write(tmp_path, imported.spec, imported.report, imported.secret_values)


def test_report_lists_images_to_build_and_to_pin_with_their_fix(written) -> None:
    imported, _ = written
    images = imported.report.images
    assert len(images) == 3, images  # postgres:16 is pinned enough for the report
    assert images[0].startswith("api: to build from api: `docker build --target release -t REGISTRY/")
    assert "services.api.image" in images[0]
    assert images[1].startswith(
        "cache: redis has no tag (latest): pin a version (services.cache.image: redis:<version>)"
    )
    assert images[2].startswith("web: nginx:latest is tagged latest: pin a version")
    text = imported.report.to_text()
    assert "Images (3 to build or pin before test/prod):" in text
    assert text.rstrip().splitlines()[-1].startswith("Next: `shiplane cluster up`, then `shiplane deploy")
    assert imported.spec["services"]["api"]["image"].startswith("image-to-fill.invalid/")
    assert imported.spec["services"]["api"]["image"].endswith("-api:todo")
    assert imported.spec["services"]["api"]["build"] == {"context": "api", "target": "release"}


def test_stages_dev_lenient_test_and_prod_strict_and_pinned(written) -> None:
    imported, _ = written
    stages = imported.spec["stages"]
    assert stages["dev"]["policy"] == {"failOn": "critical"}
    for name in ("test", "prod"):
        assert stages[name]["images"] == {"pin": True}
        assert "policy" not in stages[name]  # the default gate: baseline, fail on high


def test_dev_renders_the_placeholder_test_and_prod_refuse_it(written) -> None:
    _, path = written
    loaded = spec.load([path])
    dev = loaded.stage("dev")
    objects = rendering.render(dev, gather(dev, {}))
    api = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "api")
    assert api["spec"]["template"]["spec"]["containers"][0]["image"].startswith("image-to-fill.invalid/")
    for name in ("test", "prod"):
        stage = loaded.stage(name)
        with pytest.raises(InputErrors) as err:
            rendering.render(stage, gather(stage, {}))
        message = str(err.value)
        assert "shiplane.yaml:" in message and "services.api.image" in message
        assert f"stage {name!r} pins images (images.pin), so it cannot render it" in message
        assert err.value.exit_code == 2
