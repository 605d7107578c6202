"""Version ordering per ecosystem: PEP 440, SemVer (npm, crates.io, Go incl. pseudo-versions and
+incompatible), dpkg (Debian policy 5.6.12) and apk.

`sort_key(scheme, version)` returns a comparable key or raises `BadVersion`; the matcher treats a
version it cannot order as "cannot decide", never as "not affected".
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from packaging.version import InvalidVersion, Version


class BadVersion(ValueError):
    pass


# -- PEP 440 ------------------------------------------------------------------------------------
def pep440(version: str) -> Version:
    try:
        return Version(version)
    except InvalidVersion:
        raise BadVersion(f"{version!r} is not a PEP 440 version") from None


# -- SemVer 2.0 (and Go's use of it) ------------------------------------------------------------
_SEMVER = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")


def semver(version: str) -> tuple:
    """Precedence per semver.org §11; a leading 'v' (Go) and build metadata (+incompatible) ignored.
    Go pseudo-versions (v0.0.0-20191109021931-daa7c04131f5) are prereleases and order by their time."""
    match = _SEMVER.match(version.strip())
    if not match:
        raise BadVersion(f"{version!r} is not a semantic version")
    major, minor, patch, pre = match.groups()
    core = (int(major), int(minor or 0), int(patch or 0))
    if pre is None:
        return (core, (1,))
    idents = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (core, (0, idents))


# -- dpkg -----------------------------------------------------------------------------------------
def _order(c: str) -> int:
    if not c or "0" <= c <= "9":
        return 0
    if c.isascii() and c.isalpha():
        return ord(c)
    if c == "~":
        return -1
    return ord(c) + 256


def _verrevcmp(a: str, b: str) -> int:
    """dpkg's verrevcmp (lib/dpkg/version.c): non-digit runs by `_order`, digit runs numerically."""
    i = j = 0
    la, lb = len(a), len(b)
    while i < la or j < lb:
        first_diff = 0
        while (i < la and not "0" <= a[i] <= "9") or (j < lb and not "0" <= b[j] <= "9"):
            ac = _order(a[i]) if i < la else 0
            bc = _order(b[j]) if j < lb else 0
            if ac != bc:
                return ac - bc
            i += 1
            j += 1
        while i < la and a[i] == "0":
            i += 1
        while j < lb and b[j] == "0":
            j += 1
        while i < la and "0" <= a[i] <= "9" and j < lb and "0" <= b[j] <= "9":
            if not first_diff:
                first_diff = ord(a[i]) - ord(b[j])
            i += 1
            j += 1
        if i < la and "0" <= a[i] <= "9":
            return 1
        if j < lb and "0" <= b[j] <= "9":
            return -1
        if first_diff:
            return first_diff
    return 0


def dpkg_parse(version: str) -> tuple[int, str, str]:
    v = version.strip()
    epoch = 0
    if ":" in v:
        head, v = v.split(":", 1)
        if not head.isdigit():
            raise BadVersion(f"{version!r}: the epoch must be a number")
        epoch = int(head)
    upstream, sep, revision = v.rpartition("-")
    if not sep:
        upstream, revision = v, ""
    if not upstream or not upstream[0].isdigit():
        raise BadVersion(f"{version!r}: a Debian version must start with a digit")
    return epoch, upstream, revision


def dpkg_compare(a: str, b: str) -> int:
    """-1, 0 or 1 as `dpkg --compare-versions` orders a and b."""
    return DpkgVersion(a)._cmp(DpkgVersion(b))


@functools.total_ordering
class DpkgVersion:
    """A sort key for Debian versions (parsed, so a malformed version fails at once)."""

    __slots__ = ("parsed", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.parsed = dpkg_parse(text)

    def _cmp(self, other: DpkgVersion) -> int:
        (ea, ua, ra), (eb, ub, rb) = self.parsed, other.parsed
        if ea != eb:
            return -1 if ea < eb else 1
        return _sign(_verrevcmp(ua, ub)) or _sign(_verrevcmp(ra, rb))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DpkgVersion) and self._cmp(other) == 0

    def __lt__(self, other: DpkgVersion) -> bool:
        return self._cmp(other) < 0

    def __hash__(self) -> int:
        return hash(self.parsed[0])


def _sign(n: int) -> int:
    return (n > 0) - (n < 0)


# -- apk --------------------------------------------------------------------------------------------
_APK = re.compile(r"^(\d+(?:\.\d+)*)([a-z]?)((?:_(?:alpha|beta|pre|rc|cvs|svn|git|hg|p)\d*)*)(?:-r(\d+))?$")
_APK_SUFFIX = {"alpha": -4, "beta": -3, "pre": -2, "rc": -1, "cvs": 1, "svn": 1, "git": 1, "hg": 1, "p": 1}


def apk(version: str) -> tuple:
    """Alpine (apk-tools) order: numbers, an optional letter, _alpha.._rc below the release and
    _p/_cvs/_git above it, then -rN. Versions outside that grammar are refused."""
    match = _APK.match(version.strip())
    if not match:
        raise BadVersion(f"{version!r} is not an Alpine package version")
    nums, letter, suffixes, rel = match.groups()
    parts = tuple(int(n) for n in nums.split("."))
    found = re.finditer(r"_([a-z]+)(\d*)", suffixes or "")
    # (0, 0) closes the list, so _rc1 (-1) sorts below the release and _p1 (+1) above it.
    suffix_key = (*((_APK_SUFFIX[m.group(1)], int(m.group(2) or 0)) for m in found), (0, 0))
    return (parts, letter, suffix_key, int(rel or 0))


# -- choosing ---------------------------------------------------------------------------------------
SortKey = Callable[[str], Any]


def sort_key(scheme: str) -> SortKey | None:
    """The key function for a range type or an ecosystem (None when shiplane cannot order it yet)."""
    base = scheme.split(":", 1)[0].lower()
    if base == "semver" or base in ("go", "npm", "crates.io", "packagist", "hex", "pub", "rubygems"):
        return semver
    if base == "pypi":
        return pep440
    if base in ("debian", "ubuntu"):
        return DpkgVersion
    if base == "alpine":
        return apk
    return None
