"""SBOMs of a real image, validated: CycloneDX 1.6 against its JSON schema (bundled with
cyclonedx-python-lib), SPDX 2.3 by the reference validator of spdx-tools."""

from __future__ import annotations

import json
from pathlib import Path

from shiplane.cli import main


def test_cyclonedx_1_6_is_schema_valid_and_lists_every_package(real_image: Path, capsys, monkeypatch) -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert main(["images", "sbom", str(real_image), "--format", "cyclonedx"]) == 0
    text = capsys.readouterr().out
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    doc = json.loads(text)
    assert doc["specVersion"] == "1.6" and doc["metadata"]["timestamp"].startswith("2023-11-14T22:13:20")
    purls = [c.get("purl") for c in doc["components"]]
    assert "pkg:pypi/urllib3@1.24.1" in purls and "pkg:golang/golang.org/x/text@v0.3.5" in purls
    assert purls.count("pkg:maven/org.apache.commons/commons-lang3@3.12.0") == 2  # two places, two components
    bz2 = next(c for c in doc["components"] if c["name"] == "libbz2-1.0")
    assert {"name": "shiplane:layer", "value": "1"} in bz2["properties"]
    assert doc["metadata"]["component"]["type"] == "container"
    # same input, same timestamp: the same document
    assert main(["images", "sbom", str(real_image), "--format", "cyclonedx"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["components"] == doc["components"]


def test_spdx_2_3_is_valid_for_the_reference_validator(real_image: Path, capsys, tmp_path: Path) -> None:
    from spdx_tools.spdx.parser.parse_anything import parse_file
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    assert main(["images", "sbom", str(real_image), "--format", "spdx"]) == 0
    out = tmp_path / "sbom.spdx.json"
    out.write_text(capsys.readouterr().out)
    document = parse_file(str(out))
    problems = validate_full_spdx_document(document, "SPDX-2.3")
    assert problems == []
    refs = {r.locator for p in document.packages for r in p.external_references}
    assert "pkg:deb/debian/libbz2-1.0@1.0.8-5%2Bb1?arch=amd64&distro=debian-12&upstream=bzip2%401.0.8-5" in refs
    doc = json.loads(out.read_text())
    contained = [r for r in doc["relationships"] if r["relationshipType"] == "CONTAINS"]
    assert len(contained) == len(doc["packages"]) - 1 == 9  # every package of the image, the image itself aside
