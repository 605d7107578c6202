"""Reasoned exceptions (VEX-like): advisories accepted for a package, each with a reason and an expiry.

    exceptions:
      - id: CVE-2023-43804              # the advisory id or any alias (CVE, GHSA, PYSEC, GO, DEBIAN-…)
        package: pkg:pypi/urllib3       # a purl (version optional) or a package (or source package) name
        reason: only used against our own API, whose redirects we control
        expires: 2027-03-31             # after this day the exception no longer applies
        status: not_affected            # optional, OpenVEX vocabulary
        justification: vulnerable_code_not_in_execute_path

An OpenVEX document (JSON, `@context: https://openvex.dev/ns/…`) is read too: each `not_affected` or
`fixed` statement excepts its vulnerability (name or aliases) for its products' purls; its
`impact_statement` or `justification` is the reason; OpenVEX has no expiry, so none is required there.

An exception that has expired, has no reason, or (in the shiplane format) no expiry does not apply:
it is reported as a `Problem` at its file:line, and the finding it meant to accept stays a finding.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packageurl import PackageURL

from shiplane.errors import InputError
from shiplane.fileio import reading
from shiplane.images.matching import Finding
from shiplane.spec import marks

STATUSES = ("not_affected", "affected", "fixed", "under_investigation")
JUSTIFICATIONS = (  # OpenVEX's, https://github.com/openvex/spec
    "component_not_present",
    "vulnerable_code_not_present",
    "vulnerable_code_not_in_execute_path",
    "vulnerable_code_cannot_be_controlled_by_adversary",
    "inline_mitigations_already_exist",
)
PROBLEM_SEVERITY = "medium"


@dataclass(frozen=True)
class Exception_:
    id: str
    package: str
    reason: str
    expires: dt.date | None
    where: str  # file:line
    status: str = ""
    justification: str = ""

    def matches(self, f: Finding) -> bool:
        ids = {f.id.upper(), *(a.upper() for a in f.aliases)}
        if self.id.upper() not in ids:
            return False
        p = f.package
        if self.package.startswith("pkg:"):
            want = PackageURL.from_string(self.package)
            have = PackageURL.from_string(p.purl)
            same = (want.type, (want.namespace or "").lower(), want.name.lower()) == (
                have.type,
                (have.namespace or "").lower(),
                have.name.lower(),
            )
            return same and (want.version is None or want.version == have.version)
        return self.package.lower() in {p.name.lower(), (p.source_name or p.name).lower()}

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "package": self.package, "reason": self.reason, "where": self.where}
        out["expires"] = self.expires.isoformat() if self.expires else None
        if self.status:
            out["status"] = self.status
        if self.justification:
            out["justification"] = self.justification
        return out


@dataclass(frozen=True)
class Problem:
    """An exception that does not apply (expired, no reason, no expiry): itself a finding."""

    where: str
    message: str
    exception: Exception_ | None = None
    severity: str = PROBLEM_SEVERITY

    def to_dict(self) -> dict[str, Any]:
        return {"where": self.where, "message": self.message, "severity": self.severity}


@dataclass(frozen=True)
class Exceptions:
    active: tuple[Exception_, ...] = ()
    problems: tuple[Problem, ...] = ()
    source: str = ""

    def find(self, f: Finding) -> Exception_ | None:
        return next((e for e in self.active if e.matches(f)), None)

    def merged(self, other: Exceptions) -> Exceptions:
        return Exceptions(self.active + other.active, self.problems + other.problems, self.source or other.source)


def _date(value: Any, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise InputError(f"{where}: expires: {value!r} is not a date (expected YYYY-MM-DD)") from None


def _text(item: dict, key: str, where: str) -> str:
    value = item.get(key)
    if value is None:
        return ""
    if not isinstance(value, str | int | float):
        raise InputError(f"{where}: {key}: expected text, found {type(value).__name__}")
    return str(value).strip()


def _package(value: str, where: str) -> str:
    if value.startswith("pkg:"):
        try:
            PackageURL.from_string(value)
        except ValueError as err:
            raise InputError(f"{where}: package: {value!r} is not a valid package URL ({err})") from None
    return value


def parse(text: str, name: str, today: dt.date) -> Exceptions:
    """Pure: the text of an exceptions file (shiplane YAML or OpenVEX JSON) → what applies today."""
    data, where_of = marks.single(text, name)
    if isinstance(data, dict) and "openvex" in str(data.get("@context", "")):
        return _openvex(data, where_of, name)
    if not isinstance(data, dict) or not isinstance(data.get("exceptions"), list):
        raise InputError(
            f"{name}: expected a mapping with an `exceptions:` list (or an OpenVEX document)",
            hint="see docs/images.md#reasoned-exceptions",
        )
    unknown = set(data) - {"exceptions"}
    if unknown:
        raise InputError(f"{name}: unknown top-level key(s): {', '.join(sorted(map(str, unknown)))}")
    active, problems = [], []
    for i, item in enumerate(data["exceptions"]):
        mark = where_of.get(("exceptions", i))
        where = f"{name}:{mark.line}" if mark else name
        if not isinstance(item, dict):
            raise InputError(f"{where}: each exception is a mapping (id, package, reason, expires)")
        extra = set(item) - {"id", "package", "reason", "expires", "status", "justification"}
        if extra:
            raise InputError(f"{where}: unknown key(s) {', '.join(sorted(map(str, extra)))}")
        ident, package = _text(item, "id", where), _text(item, "package", where)
        if not ident or not package:
            raise InputError(f"{where}: an exception needs `id` (advisory id or alias) and `package` (purl or name)")
        status, justification = _text(item, "status", where), _text(item, "justification", where)
        if status and status not in STATUSES:
            raise InputError(f"{where}: status: {status!r} is not one of {', '.join(STATUSES)}")
        if justification and justification not in JUSTIFICATIONS:
            raise InputError(f"{where}: justification: {justification!r} is not one of {', '.join(JUSTIFICATIONS)}")
        expires = _date(item["expires"], where) if item.get("expires") is not None else None
        reason = _text(item, "reason", where)
        exc = Exception_(ident, _package(package, where), reason, expires, where, status, justification)
        label = f"exception for {ident} in {package}"
        if not exc.reason:
            problems.append(Problem(where, f"{label} has no reason; it does not apply", exc))
        elif expires is None:
            problems.append(Problem(where, f"{label} has no expiry date (expires: YYYY-MM-DD); it does not apply", exc))
        elif expires < today:
            problems.append(Problem(where, f"{label} expired on {expires.isoformat()}; it no longer applies", exc))
        elif status in ("affected", "under_investigation"):
            problems.append(Problem(where, f"{label} has status {status}: that accepts nothing", exc))
        else:
            active.append(exc)
    return Exceptions(tuple(active), tuple(problems), name)


def _openvex(doc: dict, where_of: dict, name: str) -> Exceptions:
    active, problems = [], []
    for i, st in enumerate(doc.get("statements") or []):
        mark = where_of.get(("statements", i))
        where = f"{name}:{mark.line}" if mark else name
        if not isinstance(st, dict):
            raise InputError(f"{where}: an OpenVEX statement must be a mapping")
        vuln = st.get("vulnerability") or {}
        ids = [vuln.get("name"), *(vuln.get("aliases") or [])] if isinstance(vuln, dict) else [vuln]
        ids = [str(x) for x in ids if x]
        status = str(st.get("status") or "")
        if not ids:
            raise InputError(f"{where}: the statement names no vulnerability")
        if status not in ("not_affected", "fixed"):
            continue  # affected / under_investigation accept nothing
        justification = str(st.get("justification") or "")
        reason = str(st.get("impact_statement") or st.get("status_notes") or justification).strip()
        purls = []
        for product in st.get("products") or []:
            if isinstance(product, dict):
                purls += [s.get("@id") for s in product.get("subcomponents") or [] if isinstance(s, dict)]
                purls.append(product.get("@id") or (product.get("identifiers") or {}).get("purl"))
        purls = [p for p in purls if isinstance(p, str) and p.startswith("pkg:") and not p.startswith("pkg:oci/")]
        for ident in ids:
            for purl in purls:
                exc = Exception_(ident, _package(purl, where), reason, None, where, status, justification)
                if not reason and status == "not_affected":
                    problems.append(Problem(where, f"not_affected statement for {ident} has no justification", exc))
                else:
                    active.append(exc)
    return Exceptions(tuple(active), tuple(problems), name)


def load(path: Path, today: dt.date | None = None) -> Exceptions:
    """Read an exceptions file (the edge that reads); InputError names the file on any problem."""
    text = reading.read_text(path, what="exceptions file")
    return parse(text, str(path), today or dt.datetime.now(dt.UTC).date())
