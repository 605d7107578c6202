"""One exception tree, classified by what the caller should do next.

Every exception a user can see is defined here, with its exit code (the table in
docs/deploy.md lists them). Only `shiplane.cli.main` prints these and turns them
into exit codes; every other module raises them with a message that already names
the file, field or object concerned, what was expected and what was found.

| exit | class | meaning |
| ---- | ----- | ------- |
| 1 | ShiplaneError, RolloutFailed, MigrationFailed, ApplyFailed, KubeError, TimedOut, ClusterFailed | the work failed |
| 1 | RegistryError, DigestMismatch | a registry refused or corrupted a transfer |
| 2 | InputError, BadReference, ImageNotFound | the user's files or flags are wrong (an image that does not exist) |
| 3 | EnvironmentProblem, Unreachable, CredentialsRejected, OutputFailed, BuildFailed | machine or access problem |
| 3 | RegistryUnreachable, RegistryDenied | a registry cannot be reached, or refuses these credentials |
| 4 | LockHeld | another run holds the deploy lock |
| 5 | PolicyRefused | the policy gate refused the deploy |
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


class ShiplaneError(Exception):
    """Base of every error shiplane reports to a user (never with a traceback)."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class InputError(ShiplaneError):
    """The user's files or flags are wrong; fixing them is the way forward."""

    exit_code = 2


class InputErrors(InputError):
    """Several input problems found at once; each is a line of the message."""

    def __init__(self, problems: list[str], *, hint: str | None = None) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems), hint=hint)


class EnvironmentProblem(ShiplaneError):
    """Something on this machine is missing or broken (a toolchain, a port, a binary)."""

    exit_code = 3


class BuildFailed(EnvironmentProblem):
    """Building the local control plane from its Go modules failed."""


class OutputFailed(EnvironmentProblem):
    """Writing shiplane's own output (stdout, a file) failed: disk full, I/O error."""


class ClusterFailed(ShiplaneError):
    """The local control plane could not start, or stopped working."""


@dataclass(frozen=True)
class Cause:
    """One entry of a Status payload's `details.causes`: why a field was refused."""

    reason: str
    field: str
    message: str


# Fields the API server refuses to change once set, per kind (apimachinery reports them as
# FieldValueInvalid or FieldValueForbidden causes): the way out is delete and re-create.
IMMUTABLE_FIELDS: dict[str, tuple[str, ...]] = {
    "Deployment": ("spec.selector",),
    "ReplicaSet": ("spec.selector",),
    "DaemonSet": ("spec.selector",),
    # "updates to statefulset spec for fields other than … are forbidden" names the field `spec`
    "StatefulSet": ("spec", "spec.selector", "spec.volumeClaimTemplates", "spec.serviceName"),
    "Job": ("spec.selector", "spec.template", "spec.completionMode"),
    "Service": ("spec.clusterIP", "spec.clusterIPs", "spec.ipFamilies"),
    "PersistentVolumeClaim": ("spec",),
    "PersistentVolume": ("spec.persistentvolumesource", "spec.claimRef"),
    "ConfigMap": ("data", "binaryData", "immutable"),
    "Secret": ("data", "type", "immutable"),
    "RoleBinding": ("roleRef",),
    "ClusterRoleBinding": ("roleRef",),
    "StorageClass": ("parameters", "provisioner", "reclaimPolicy", "volumeBindingMode"),
}
# apimachinery's FieldImmutableErrorMsg: the one cause message every ValidateImmutableField uses,
# so immutability of fields (and kinds) not in the table above is still recognised.
FIELD_IMMUTABLE = "field is immutable"


def _names(field: str, paths: Iterable[str]) -> bool:
    """`field` is one of `paths` or an element of one (`spec.clusterIPs[0]`); never a sub-field,
    so a validation error deeper down (a forbidden securityContext) never passes for immutability."""
    field = field.lstrip(".")
    return any(field == p or field.startswith(p + "[") for p in paths)


class KubeError(ShiplaneError):
    """The Kubernetes API refused a request; `status` keeps its Status payload.

    Classify by the payload's `reason`, `code` and `details.causes` (the properties
    below), never by the wording of `message`.
    """

    def __init__(self, message: str, *, status: dict | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status or {}

    @property
    def code(self) -> int | None:
        code = self.status.get("code")
        return code if isinstance(code, int) else None

    @property
    def reason(self) -> str:
        """The Status `reason`: NotFound, AlreadyExists, Conflict, Invalid, Forbidden, …"""
        return str(self.status.get("reason") or "")

    @property
    def details(self) -> dict:
        details = self.status.get("details")
        return details if isinstance(details, dict) else {}

    @property
    def causes(self) -> list[Cause]:
        causes = self.details.get("causes")
        return (
            [
                Cause(str(c.get("reason") or ""), str(c.get("field") or ""), str(c.get("message") or ""))
                for c in causes
                if isinstance(c, dict)
            ]
            if isinstance(causes, list)
            else []
        )

    @property
    def is_not_found(self) -> bool:
        return self.reason == "NotFound" or self.code == 404

    @property
    def is_already_exists(self) -> bool:
        return self.reason == "AlreadyExists"

    @property
    def is_conflict(self) -> bool:
        """409 Conflict: the object changed since it was read, or a field manager conflict."""
        return self.reason == "Conflict"

    @property
    def is_field_conflict(self) -> bool:
        """Server-side apply found fields owned by another manager (`--force-conflicts` takes over)."""
        return self.code == 409 and any(c.reason == "FieldManagerConflict" for c in self.causes)

    @property
    def is_forbidden(self) -> bool:
        """403: RBAC, an exceeded ResourceQuota, or an admission plugin said no."""
        return self.reason == "Forbidden" or self.code == 403

    @property
    def is_invalid(self) -> bool:
        return self.reason == "Invalid" or self.code == 422

    @property
    def is_immutable(self) -> bool:
        """Refused only because fields that cannot change once set would change: replace, don't patch."""
        if not self.is_invalid or not self.causes:
            return False
        kind = str(self.details.get("kind") or "")
        fields = next((v for k, v in IMMUTABLE_FIELDS.items() if k.lower() == kind.lower()), ())
        return all(
            c.reason in ("FieldValueInvalid", "FieldValueForbidden")
            and (_names(c.field, fields) or c.message.endswith(FIELD_IMMUTABLE))
            for c in self.causes
        )


class Retryable(KubeError):
    """A transient API failure (timeouts, 429, 5xx, conflicts worth retrying)."""


class Unreachable(Retryable, EnvironmentProblem):
    """The API server cannot be reached at all (refused, no route, TLS, DNS): exit 3, not 1."""

    exit_code = 3


class CredentialsRejected(KubeError, EnvironmentProblem):
    """401: the API server answered, but not to these credentials (expired token, wrong certificate)."""

    exit_code = 3


class Conflict(KubeError):
    """409: the object exists already, changed since we read it, or another field manager owns a field."""


class TimedOut(ShiplaneError):
    """Waiting for something exceeded its deadline; the message says what was seen last."""


class RolloutFailed(ShiplaneError):
    """Workloads did not become ready (or a Job failed) within the deadline."""

    def __init__(self, message: str, *, refs: list | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.refs = refs or []


class MigrationFailed(RolloutFailed):
    """A migration Job failed; the deploy stopped before any workload changed."""


class ApplyFailed(ShiplaneError):
    """The API server refused one or more objects; every refusal is listed."""


class LockHeld(ShiplaneError):
    """Another run holds the deploy lock (and we were told not to wait, or waited too long)."""

    exit_code = 4


class PolicyRefused(ShiplaneError):
    """The stage's policy fails: nothing was applied."""

    exit_code = 5


class CorruptRecord(ShiplaneError):
    """A stored release record cannot be read (damaged chunks, not a shiplane record)."""


class RecordTooNew(EnvironmentProblem):
    """A record written by a newer shiplane in a format this one cannot read: upgrade."""


class RegistryError(ShiplaneError):
    """A container registry refused a request; the message names the image reference."""

    def __init__(self, message: str, *, status: int | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


class RegistryUnreachable(RegistryError, EnvironmentProblem):
    """The registry cannot be reached at all (refused, DNS, TLS, retries of 429/5xx exhausted): exit 3."""

    exit_code = 3


class RegistryDenied(RegistryError, EnvironmentProblem):
    """401/403 with the credentials this machine has (none, or the wrong ones): exit 3, like CredentialsRejected."""

    exit_code = 3


class ImageNotFound(RegistryError, InputError):
    """The registry has no such repository, tag, manifest or blob: the reference is wrong (exit 2)."""

    exit_code = 2


class DigestMismatch(RegistryError):
    """Content the registry sent does not hash to the digest it was asked for."""


class BadReference(InputError):
    """An image reference that does not follow the distribution grammar (exit 2)."""


class PreflightFailed(InputError):
    """The cluster cannot take the objects as they are; each gap is listed (exit 2)."""

    def __init__(self, gaps: list) -> None:
        self.gaps = gaps
        lines = "\n  ".join(str(g).replace("\n", "\n  ") for g in gaps)
        super().__init__(
            f"preflight found {len(gaps)} gap(s) between the spec and the cluster; nothing was written:\n  {lines}",
            hint="fix each gap and deploy again (--skip-preflight deploys anyway)",
        )
