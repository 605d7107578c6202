"""OS packages: /etc/os-release, dpkg (status and distroless status.d) and apk databases."""

from __future__ import annotations

import shlex

from packageurl import PackageURL

from shiplane.images.errors import ImageError
from shiplane.images.filesystem import FileSystem
from shiplane.images.inventory import OSRelease, Package


def _text(fs: FileSystem, path: str) -> str | None:
    entry = fs.get(path)
    if entry is None or entry.kind != "file":
        return None
    return fs.read(path).decode("utf-8", "replace")


def os_release(fs: FileSystem) -> OSRelease:
    for path in ("etc/os-release", "usr/lib/os-release"):
        text = _text(fs, path)
        if text is None:
            continue
        values: dict[str, str] = {}
        for line in text.splitlines():
            key, sep, raw = line.partition("=")
            if not sep or key.strip().startswith("#"):
                continue
            try:
                parts = shlex.split(raw, comments=False)
            except ValueError:
                parts = [raw.strip("\"'")]
            values[key.strip()] = " ".join(parts)
        return OSRelease(
            id=values.get("ID", "").lower(),
            version_id=values.get("VERSION_ID", ""),
            version_codename=values.get("VERSION_CODENAME", ""),
            pretty_name=values.get("PRETTY_NAME", ""),
            id_like=values.get("ID_LIKE", ""),
            location=path,
        )
    return OSRelease()


def stanzas(text: str) -> list[dict[str, str]]:
    """RFC 822-style paragraphs (dpkg status; continuation lines start with a space)."""
    out: list[dict[str, str]] = []
    current: dict[str, str] = {}
    key = ""
    for line in text.splitlines():
        if not line.strip():
            if current:
                out.append(current)
            current, key = {}, ""
        elif line[0] in " \t":
            if key:
                current[key] += "\n" + line.strip()
        else:
            key, _, value = line.partition(":")
            key = key.strip()
            current[key] = value.strip()
    if current:
        out.append(current)
    return out


def _debian_ecosystem(os: OSRelease) -> str:
    if os.id == "debian" and os.version_id:
        return f"Debian:{os.version_id.split('.')[0]}"
    if os.id == "ubuntu" and os.version_id:
        return f"Ubuntu:{os.version_id}"
    return "Debian" if not os.id else os.id.capitalize()


def dpkg(fs: FileSystem, os: OSRelease, notes: list[str]) -> list[Package]:
    sources: list[tuple[str, str]] = []
    status = fs.get("var/lib/dpkg/status")
    if status is not None and status.kind == "file":
        sources.append(("var/lib/dpkg/status", fs.resolve("var/lib/dpkg/status")))
    # distroless: one file per package under status.d (md5sums files sit beside them)
    for path in sorted(fs.entries):
        if (
            path.startswith("var/lib/dpkg/status.d/")
            and not path.endswith(".md5sums")
            and fs.entries[path].kind == "file"
        ):
            sources.append((path, path))
    out = []
    namespace = os.id or "debian"
    for location, real in sources:
        for st in stanzas(fs.read(real).decode("utf-8", "replace")):
            name, version = st.get("Package", ""), st.get("Version", "")
            if not name or not version:
                notes.append(f"/{location}: a stanza without Package or Version skipped")
                continue
            state = st.get("Status", "install ok installed").split()
            if state[-1:] != ["installed"]:
                continue
            arch = st.get("Architecture", "")
            src_name, src_version = name, version
            if st.get("Source"):
                src_name, _, rest = st["Source"].partition(" ")
                src_version = rest.strip("() ") or version
            layer = fs.entries[real].layer
            for info in (f"var/lib/dpkg/info/{name}:{arch}.list", f"var/lib/dpkg/info/{name}.list"):
                if info in fs.entries:
                    layer = fs.entries[info].layer
                    break
            qualifiers = {"arch": arch} if arch else {}
            if os.distro:
                qualifiers["distro"] = os.distro
            if src_name != name or src_version != version:  # as Syft writes it (a binNMU: same name)
                qualifiers["upstream"] = src_name if src_version == version else f"{src_name}@{src_version}"
            purl = PackageURL("deb", namespace, name, version, qualifiers).to_string()
            out.append(
                Package(name, version, "deb", _debian_ecosystem(os), purl, location, layer, src_name, src_version, arch)
            )
    return out


def apk(fs: FileSystem, os: OSRelease, notes: list[str]) -> list[Package]:
    path = "lib/apk/db/installed"
    entry = fs.get(path)
    if entry is None or entry.kind != "file":
        return []
    out = []
    branch = ".".join(os.version_id.split(".")[:2])
    ecosystem = f"Alpine:v{branch}" if branch else "Alpine"
    try:
        text = fs.read(path).decode("utf-8", "replace")
    except ImageError as err:
        notes.append(str(err))
        return []
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            if len(line) > 2 and line[1] == ":" and line[0] not in fields:
                fields[line[0]] = line[2:]
        name, version = fields.get("P", ""), fields.get("V", "")
        if not name or not version:
            continue
        arch = fields.get("A", "")
        qualifiers = {"arch": arch} if arch else {}
        if os.distro:
            qualifiers["distro"] = os.distro
        origin = fields.get("o", name)
        if origin != name:
            qualifiers["upstream"] = origin
        purl = PackageURL("apk", os.id or "alpine", name, version, qualifiers).to_string()
        out.append(Package(name, version, "apk", ecosystem, purl, path, entry.layer, origin, version, arch))
    return out


def owned_files(fs: FileSystem) -> dict[str, str]:
    """Root-relative path -> "deb:NAME" / "apk:NAME" for every file a package database lists."""
    owners: dict[str, str] = {}
    for path, entry in fs.entries.items():
        if entry.kind != "file" or not path.startswith("var/lib/dpkg/info/") or not path.endswith(".list"):
            continue
        name = path.rsplit("/", 1)[1].removesuffix(".list").split(":")[0]
        try:
            text = fs.read(path).decode("utf-8", "replace")
        except ImageError:
            continue
        for line in text.splitlines():
            if line.startswith("/") and len(line) > 1:
                owners[line.strip("/")] = f"deb:{name}"
    apk_db = fs.get("lib/apk/db/installed")
    if apk_db is not None and apk_db.kind == "file":
        name, folder = "", ""
        for line in fs.read("lib/apk/db/installed").decode("utf-8", "replace").splitlines():
            if line.startswith("P:"):
                name = line[2:]
            elif line.startswith("F:"):
                folder = line[2:]
            elif line.startswith("R:") and name:
                owners[f"{folder}/{line[2:]}" if folder else line[2:]] = f"apk:{name}"
    return owners
