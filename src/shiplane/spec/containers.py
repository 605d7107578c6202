"""What runs in a pod: containers, their ports, probes, resources, env, files, mounts, security."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from shiplane.spec.fields import (
    AbsPath,
    Capability,
    DnsLabel,
    EnvName,
    ExtendedResource,
    FieldPath,
    Image,
    Int32,
    Model,
    PortName,
    PortNumber,
    PortRef,
    Quantity,
    Str,
    SubPath,
    exactly_one,
)


class Port(Model):
    """A named container port; `servicePort` is what the Service exposes (default: the same number)."""

    port: PortNumber
    protocol: Literal["TCP", "UDP", "SCTP"] = "TCP"
    service_port: PortNumber | None = None

    @model_validator(mode="before")
    @classmethod
    def _short(cls, v: Any) -> Any:
        return {"port": v} if isinstance(v, int) and not isinstance(v, bool) else v


class HttpCheck(Model):
    port: PortRef
    path: str = "/"
    scheme: Literal["HTTP", "HTTPS"] = "HTTP"
    headers: dict[str, str] = Field(default_factory=dict)


class TcpCheck(Model):
    port: PortRef


class GrpcCheck(Model):
    port: PortRef
    service: str | None = None


class Probe(Model):
    """One health check: exactly one of http, tcp, exec (a command) or grpc, plus its timing."""

    http: HttpCheck | None = None
    tcp: TcpCheck | None = None
    exec: list[str] | None = Field(default=None, min_length=1)
    grpc: GrpcCheck | None = None
    initial_delay_seconds: Int32 | None = Field(default=None, ge=0)
    period_seconds: Int32 | None = Field(default=None, ge=1)
    timeout_seconds: Int32 | None = Field(default=None, ge=1)
    failure_threshold: Int32 | None = Field(default=None, ge=1)
    success_threshold: Int32 | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_check(self) -> Probe:
        exactly_one(self, ("http", "tcp", "exec", "grpc"), "a probe")
        return self


class Probes(Model):
    readiness: Probe | None = None
    liveness: Probe | None = None
    startup: Probe | None = None


class Amounts(Model):
    cpu: Quantity | None = None
    memory: Quantity | None = None
    ephemeral_storage: Quantity | None = None


class Resources(Model):
    """Requests and limits. `gpu` is a count set as both request and limit (Kubernetes requires equality)."""

    requests: Amounts = Field(default_factory=Amounts)
    limits: Amounts = Field(default_factory=Amounts)
    gpu: Int32 | None = Field(default=None, ge=1)
    gpu_resource: ExtendedResource = "nvidia.com/gpu"


class Mount(Model):
    path: AbsPath
    read_only: bool = False
    sub_path: SubPath | None = None

    @model_validator(mode="before")
    @classmethod
    def _short(cls, v: Any) -> Any:
        return {"path": v} if isinstance(v, str) else v


class EnvValue(Model):
    """A literal (goes into the service's hashed ConfigMap), a secret reference, or a pod field."""

    value: Str | None = None
    secret: str | None = None
    field: FieldPath | None = None
    config: str | None = Field(default=None, pattern=r"^[a-z]([-a-z0-9]*[a-z0-9])?(/.+)?$")  # NAME or NAME/SUBKEY

    @model_validator(mode="before")
    @classmethod
    def _short(cls, v: Any) -> Any:
        return {"value": v} if isinstance(v, str | int | float | bool) else v

    @model_validator(mode="after")
    def _one(self) -> EnvValue:
        exactly_one(self, ("value", "secret", "field", "config"), "an environment value")
        return self


class File(Model):
    """A file placed in the container: inline content, a file next to the spec, or a secret."""

    content: str | None = None
    from_file: str | None = None
    secret: str | None = None
    mode: int | None = Field(default=None, ge=0, le=0o777)

    @field_validator("mode", mode="before")
    @classmethod
    def _octal(cls, v: Any) -> Any:
        # YAML 1.1 reads 0440 as octal but leaves 0o440 a string; accept both spellings.
        if isinstance(v, str) and re.fullmatch(r"0o?[0-7]{1,4}", v):
            return int(v.removeprefix("0o"), 8)
        return v

    @model_validator(mode="after")
    def _one(self) -> File:
        exactly_one(self, ("content", "from_file", "secret"), "a file")
        return self


class Security(Model):
    """Safe by default; every relaxation is an explicit `false` (or an added capability) in the spec."""

    run_as_non_root: bool = True
    # The API server accepts user and group ids 0..2^31-1.
    run_as_user: Int32 | None = Field(default=None, ge=0)
    run_as_group: Int32 | None = Field(default=None, ge=0)
    fs_group: Int32 | None = Field(default=None, ge=0)
    read_only_root_filesystem: bool = True
    allow_privilege_escalation: bool = False
    drop_all_capabilities: bool = True
    add_capabilities: list[Capability] = Field(default_factory=list)
    drop_capabilities: list[Capability] = Field(default_factory=list)  # single ones, when not dropping all
    # Every capability and the host's devices; the policy gate flags it critical. Needs escalation allowed.
    privileged: bool = False
    seccomp_profile: Literal["RuntimeDefault", "Unconfined"] = "RuntimeDefault"

    @model_validator(mode="after")
    def _sys_admin_escalates(self) -> Security:
        # The API server refuses the literal CAP_SYS_ADMIN on a container that forbids privilege
        # escalation (validation of the security context), so say so here rather than at apply time.
        if self.privileged and not self.allow_privilege_escalation:
            raise ValueError(
                "privileged: true with allowPrivilegeEscalation: false is refused by the API server; set "
                "allowPrivilegeEscalation: true as well (and review why it needs to be privileged)"
            )
        if "CAP_SYS_ADMIN" in self.add_capabilities and not self.allow_privilege_escalation:
            raise ValueError(
                "addCapabilities: CAP_SYS_ADMIN with allowPrivilegeEscalation: false is refused by the API "
                "server; set allowPrivilegeEscalation: true as well (and review why)"
            )
        return self


class Container(Model):
    """Fields shared by the main container, sidecars, ambassadors, init containers and migrations."""

    image: Image
    command: list[Str] | None = None
    args: list[Str] | None = None
    working_dir: AbsPath | None = None
    ports: dict[PortName, Port] = Field(default_factory=dict)
    env: dict[EnvName, EnvValue] = Field(default_factory=dict)
    mounts: dict[DnsLabel, Mount] = Field(default_factory=dict)
    resources: Resources = Field(default_factory=Resources)
    probes: Probes = Field(default_factory=Probes)
    security: Security = Field(default_factory=Security)
