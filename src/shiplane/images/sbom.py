"""Software bills of materials of an image: CycloneDX 1.6 JSON (cyclonedx-python-lib) and SPDX 2.3 JSON.

Every inventoried package becomes a component/package with its purl; where it was found (file and
layer) travels as properties (CycloneDX) or `sourceInfo` (SPDX). `SOURCE_DATE_EPOCH`, when set, fixes
the timestamp so the same image gives the same document.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import uuid
from typing import Any

from shiplane import __version__
from shiplane.images.inventory import Inventory, Package
from shiplane.images.layout import ImageSource


def _now() -> dt.datetime:
    if epoch := os.environ.get("SOURCE_DATE_EPOCH"):
        return dt.datetime.fromtimestamp(int(epoch), dt.UTC)
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _image_version(source: ImageSource) -> str:
    return source.manifest_digest or source.config_digest or "unknown"


def _refs(packages: tuple[Package, ...]) -> list[str]:
    """A unique reference per package (the purl; the same purl found twice gets a suffix)."""
    seen: dict[str, int] = {}
    out = []
    for p in packages:
        n = seen.get(p.purl, 0)
        seen[p.purl] = n + 1
        out.append(p.purl if n == 0 else f"{p.purl}#{n}")
    return out


def to_cyclonedx(source: ImageSource, inventory: Inventory) -> str:
    from cyclonedx.model import Property
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.bom_ref import BomRef
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.model.tool import Tool
    from cyclonedx.output.json import JsonV1Dot6
    from packageurl import PackageURL

    bom = Bom()
    bom.metadata.timestamp = _now()
    bom.metadata.tools.tools.add(Tool(vendor="shiplane", name="shiplane", version=__version__))
    image = Component(
        name=source.label, version=_image_version(source), type=ComponentType.CONTAINER, bom_ref=BomRef("image")
    )
    if source.tags:
        image.properties.add(Property(name="shiplane:tags", value=", ".join(source.tags)))
    bom.metadata.component = image
    if inventory.os.id:
        os_component = Component(
            name=inventory.os.id,
            version=inventory.os.version_id or None,
            type=ComponentType.OPERATING_SYSTEM,
            bom_ref=BomRef("os"),
            description=inventory.os.pretty_name or None,
        )
        bom.components.add(os_component)
    components = []
    for p, ref in zip(inventory.packages, _refs(inventory.packages), strict=True):
        c = Component(
            name=p.name,
            version=p.version,
            type=ComponentType.LIBRARY,
            purl=PackageURL.from_string(p.purl),
            bom_ref=BomRef(ref),
        )
        c.properties.add(Property(name="shiplane:location", value=p.location))
        c.properties.add(Property(name="shiplane:layer", value=str(p.layer)))
        if p.source_name and p.source_name != p.name:
            c.properties.add(Property(name="shiplane:source-package", value=f"{p.source_name} {p.source_version}"))
        bom.components.add(c)
        components.append(c)
    bom.register_dependency(image, components)
    return JsonV1Dot6(bom).output_as_string(indent=2) + "\n"


def _spdx_id(text: str) -> str:
    return "SPDXRef-" + re.sub(r"[^A-Za-z0-9.-]+", "-", text).strip("-")


def to_spdx(source: ImageSource, inventory: Inventory) -> str:
    created = _now()
    name = source.label
    namespace_seed = f"{name}|{_image_version(source)}|{created.isoformat()}"
    image_id = "SPDXRef-Image"
    packages: list[dict[str, Any]] = [
        {
            "name": name,
            "SPDXID": image_id,
            "versionInfo": _image_version(source),
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": False,
            "primaryPackagePurpose": "CONTAINER",
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": "NOASSERTION",
            "copyrightText": "NOASSERTION",
        }
    ]
    relationships = [
        {"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": image_id}
    ]
    for i, p in enumerate(inventory.packages):
        spdx_id = _spdx_id(f"Package-{p.type}-{p.name}-{i}")
        packages.append(
            {
                "name": p.name,
                "SPDXID": spdx_id,
                "versionInfo": p.version,
                "downloadLocation": "NOASSERTION",
                "filesAnalyzed": False,
                "licenseConcluded": "NOASSERTION",
                "licenseDeclared": "NOASSERTION",
                "copyrightText": "NOASSERTION",
                "sourceInfo": f"found in /{p.location} (layer {p.layer})",
                "externalRefs": [
                    {"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": p.purl}
                ],
            }
        )
        relationships.append({"spdxElementId": image_id, "relationshipType": "CONTAINS", "relatedSpdxElement": spdx_id})
    doc = {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": name,
        "documentNamespace": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, namespace_seed)}",
        "creationInfo": {
            "created": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "creators": [f"Tool: shiplane-{__version__}"],
        },
        "packages": packages,
        "relationships": relationships,
    }
    return json.dumps(doc, indent=2) + "\n"
