"""One exception tree, classified by what the caller should do next.

Only `shiplane.cli.main` prints these and turns them into exit codes; every other
module raises them with a message that already names the file, field or object
concerned, what was expected and what was found.
"""

from __future__ import annotations


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


class ClusterFailed(ShiplaneError):
    """The local control plane could not start, or stopped working."""


class KubeError(ShiplaneError):
    """The Kubernetes API refused a request; `status` keeps its Status payload."""

    def __init__(self, message: str, *, status: dict | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status or {}


class Retryable(KubeError):
    """A transient API failure (timeouts, 429, 5xx, conflicts worth retrying)."""


class TimedOut(ShiplaneError):
    """Waiting for something exceeded its deadline; the message says what was seen last."""
