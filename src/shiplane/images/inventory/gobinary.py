"""Go binaries: the build information the Go linker embeds (`go version -m` reads the same blob).

The blob lives in the ELF section `.go.buildinfo` (found by section name, else by its magic):
"\\xff Go buildinf:", pointer size, flags; since Go 1.18 (flags & 2) two length-prefixed strings
follow at offset 32 -- the Go version and the module info; before, two pointers to Go string
headers, resolved here through the section table.
"""

from __future__ import annotations

import re
import struct

from packageurl import PackageURL

from shiplane.images.filesystem import Entry
from shiplane.images.inventory import Package

MAGIC = b"\xff Go buildinf:"
ELF = b"\x7fELF"


def wants(entry: Entry) -> bool:
    """An executable ELF file (shared libraries aside): maybe a Go program."""
    return entry.head.startswith(ELF) and entry.executable and ".so" not in entry.path


def from_file(entry: Entry, data: bytes) -> list[Package]:
    info = buildinfo(data)
    return packages(info, entry.path, entry.layer) if info is not None else []


def _sections(data: bytes) -> list[tuple[str, int, int, int]]:
    """(name, address, offset, size) of each ELF section; [] when the headers are unreadable."""
    if len(data) < 64 or not data.startswith(ELF):
        return []
    is64, endian = data[4] == 2, "<" if data[5] == 1 else ">"
    try:
        if is64:
            (shoff,) = struct.unpack_from(endian + "Q", data, 0x28)
            shentsize, shnum, shstrndx = struct.unpack_from(endian + "HHH", data, 0x3A)
            fmt = endian + "IIQQQQ"
        else:
            (shoff,) = struct.unpack_from(endian + "I", data, 0x20)
            shentsize, shnum, shstrndx = struct.unpack_from(endian + "HHH", data, 0x2E)
            fmt = endian + "IIIIII"
        raw = [struct.unpack_from(fmt, data, shoff + i * shentsize) for i in range(min(shnum, 4096))]
        _, _, _, _, str_off, str_size = raw[shstrndx]
        names = data[str_off : str_off + str_size]
        out = []
        for name_off, _type, _flags, addr, off, size in raw:
            end = names.find(b"\0", name_off)
            out.append((names[name_off:end].decode("latin-1"), addr, off, size))
        return out
    except (struct.error, IndexError):
        return []


def _varstring(data: bytes, pos: int) -> tuple[bytes, int]:
    length, shift = 0, 0
    while True:
        byte = data[pos]
        pos += 1
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    return data[pos : pos + length], pos + length


def buildinfo(data: bytes) -> tuple[str, str] | None:
    """(Go version, module info text) of a Go binary, or None for anything else."""
    sections = _sections(data)
    start = -1
    for name, _addr, off, _size in sections:
        if name == ".go.buildinfo" and data[off : off + 14] == MAGIC:
            start = off
            break
    if start < 0:
        start = data.find(MAGIC)  # stripped section table: the blob is 16-byte aligned
        while start >= 0 and start % 16:
            start = data.find(MAGIC, start + 1)
    if start < 0 or len(data) < start + 32:
        return None
    ptr_size, flags = data[start + 14], data[start + 15]
    try:
        if flags & 2:
            version, pos = _varstring(data, start + 32)
            mod, _ = _varstring(data, pos)
        else:
            endian = ">" if flags & 1 else "<"
            fmt = endian + ("Q" if ptr_size == 8 else "I")

            def read_ptr(at: int) -> int:
                return struct.unpack_from(fmt, data, at)[0]

            def go_string(addr: int) -> bytes:
                off = _offset(sections, addr)
                ptr, length = read_ptr(off), read_ptr(off + ptr_size)
                at = _offset(sections, ptr)
                return data[at : at + length]

            version = go_string(read_ptr(start + 16))
            mod = go_string(read_ptr(start + 16 + ptr_size))
    except (IndexError, struct.error, ValueError):
        return None
    # The module info is framed by two 16-byte sentinels.
    mod = mod[16:-16] if len(mod) >= 33 and mod[-17:-16] == b"\n" else b""
    if not version.startswith(b"go"):
        return None
    return version.decode("utf-8", "replace"), mod.decode("utf-8", "replace")


def _offset(sections: list[tuple[str, int, int, int]], addr: int) -> int:
    for _name, start, off, size in sections:
        if start and start <= addr < start + size:
            return off + addr - start
    raise ValueError(f"address {addr:#x} is in no section")


def stdlib_version(go: str) -> str:
    """go1.21.5 -> 1.21.5; go1.20 -> 1.20.0; go1.21rc2 -> 1.21.0-rc.2 (how OSV names Go releases)."""
    match = re.match(r"go(\d+)\.(\d+)(?:\.(\d+))?(?:(rc|beta)(\d+))?", go)
    if not match:
        return go.removeprefix("go")
    major, minor, patch, pre, pre_n = match.groups()
    text = f"{major}.{minor}.{patch or 0}"
    return f"{text}-{pre}.{pre_n}" if pre else text


def packages(info: tuple[str, str], location: str, layer: int) -> list[Package]:
    go_version, modinfo = info
    go_version = go_version.split()[0]  # "go1.22.1 X:boringcrypto"
    std = stdlib_version(go_version)
    out = [
        Package(
            "stdlib",
            std,
            "golang",
            "Go",
            PackageURL("golang", None, "stdlib", std).to_string(),
            location,
            layer,
            detail={"go": go_version},
        )
    ]
    lines = modinfo.splitlines()
    rows: list[tuple[str, str, str, str]] = []  # kind, module path, version, path it replaces
    main_path = ""
    for line in lines:
        parts = line.split("\t")
        if parts[0] == "path" and len(parts) > 1:
            main_path = parts[1]
        elif parts[0] in ("mod", "dep") and len(parts) >= 3:
            rows.append((parts[0], parts[1], parts[2], ""))
        elif parts[0] == "=>" and rows and len(parts) >= 2:
            kind, original = rows[-1][0], rows[-1][1]
            if parts[1].startswith((".", "/")):
                # Replaced by a local directory: the original name, no version anyone published.
                rows[-1] = (kind, original, "(devel)", parts[1])
            else:
                # Replaced by another module: that module at its version is what was built.
                rows[-1] = (kind, parts[1], parts[2] if len(parts) > 2 and parts[2] else "(devel)", original)
    for kind, path, version, replaces in rows:
        namespace, _, name = path.strip("/").rpartition("/")
        if not name:
            continue
        detail = {"kind": "main module" if kind == "mod" else "dependency"}
        if replaces.startswith((".", "/")):
            detail["replacedByLocal"] = replaces
        elif replaces:
            detail["replaces"] = replaces
        if kind == "mod" and main_path:
            detail["main"] = main_path
        purl = PackageURL("golang", namespace or None, name, version if version != "(devel)" else None).to_string()
        out.append(Package(path, version, "golang", "Go", purl, location, layer, detail=detail))
    return out
