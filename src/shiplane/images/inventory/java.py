"""Java archives (jar, war, ear), nested ones included: Maven coordinates from pom.properties."""

from __future__ import annotations

import io
import zipfile

from packageurl import PackageURL

from shiplane.images.filesystem import Entry
from shiplane.images.inventory import Package

ARCHIVES = (".jar", ".war", ".ear", ".par", ".sar", ".jpi", ".hpi")
MAX_DEPTH = 4


def wants(entry: Entry) -> bool:
    return entry.path.lower().endswith(ARCHIVES) and entry.head.startswith(b"PK")


def from_file(entry: Entry, data: bytes, cap: int, notes: list[str]) -> list[Package]:
    return _archive(data, entry.path, entry.layer, cap, notes, 0)


def _archive(data: bytes, location: str, layer: int, cap: int, notes: list[str], depth: int) -> list[Package]:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        notes.append(f"/{location}: not a readable zip ({err}); skipped")
        return []
    out = []
    with zf:
        for info in zf.infolist():
            name = info.filename
            if info.file_size > cap:
                notes.append(f"/{location}!/{name}: {info.file_size} bytes, over the per-file cap; not inspected")
                continue
            try:
                if name.startswith("META-INF/maven/") and name.endswith("/pom.properties"):
                    props = _properties(zf.read(info).decode("utf-8", "replace"))
                    group, artifact, version = props.get("groupId"), props.get("artifactId"), props.get("version")
                    if group and artifact and version:
                        purl = PackageURL("maven", group, artifact, version).to_string()
                        out.append(
                            Package(
                                f"{group}:{artifact}",
                                version,
                                "maven",
                                "Maven",
                                purl,
                                f"{location}!/{name}",
                                layer,
                            )
                        )
                elif name.lower().endswith(ARCHIVES) and depth < MAX_DEPTH:
                    out += _archive(zf.read(info), f"{location}!/{name}", layer, cap, notes, depth + 1)
            except (zipfile.BadZipFile, OSError, ValueError, RuntimeError) as err:  # bad CRC, encrypted, ...
                notes.append(f"/{location}!/{name}: unreadable ({err}); skipped")
    return out


def _properties(text: str) -> dict[str, str]:
    """Java .properties, enough of it for pom.properties (key=value, key: value, # comments)."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#!":
            continue
        for i, ch in enumerate(line):
            if ch in "=:":
                out[line[:i].strip()] = line[i + 1 :].strip()
                break
    return out
