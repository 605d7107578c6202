"""Language packages installed as files: Python distributions and npm packages."""

from __future__ import annotations

import json
import re
from email.parser import HeaderParser

from packageurl import PackageURL

from shiplane.images.errors import ImageError
from shiplane.images.filesystem import FileSystem
from shiplane.images.inventory import Package

_NPM = re.compile(r"(?:^|/)node_modules/((?:@[^/]+/)?[^/]+)/package\.json$")


def _pep503(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def python(fs: FileSystem, notes: list[str]) -> list[Package]:
    out = []
    for path, entry in sorted(fs.entries.items()):
        if entry.kind != "file":
            continue
        if path.endswith(".dist-info/METADATA") or path.endswith(".egg-info/PKG-INFO") or path.endswith(".egg-info"):
            pass
        else:
            continue
        try:
            headers = HeaderParser().parsestr(fs.read(path).decode("utf-8", "replace"))
        except ImageError as err:
            notes.append(str(err))
            continue
        name, version = headers.get("Name", ""), headers.get("Version", "")
        if not name or not version:
            notes.append(f"/{path}: no Name or Version; skipped")
            continue
        name = name.strip()
        version = version.strip()
        purl = PackageURL("pypi", None, _pep503(name), version).to_string()
        out.append(Package(name, version, "pypi", "PyPI", purl, path, entry.layer))
    return out


def npm(fs: FileSystem, notes: list[str]) -> list[Package]:
    out = []
    for path, entry in sorted(fs.entries.items()):
        match = _NPM.search(path) if entry.kind == "file" and path.endswith("/package.json") else None
        if match is None:
            continue
        try:
            doc = json.loads(fs.read(path))
        except (ValueError, UnicodeDecodeError) as err:
            notes.append(f"/{path}: not valid JSON ({err}); skipped")
            continue
        except ImageError as err:
            notes.append(str(err))
            continue
        name, version = doc.get("name"), doc.get("version")
        if not isinstance(name, str) or not isinstance(version, str) or not name or not version:
            continue  # nested fixture and test folders often carry name-less package.json files
        scope, _, base = name.rpartition("/")
        purl = PackageURL("npm", scope or None, base, version).to_string()
        out.append(Package(name, version, "npm", "npm", purl, path, entry.layer))
    return out
