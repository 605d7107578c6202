"""The shape of the Kubernetes objects `import manifests` maps, checked before mapping
(pydantic models; messages and helpers in `shapes`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from shiplane.importing.shapes import DNS_SUBDOMAIN, INT32, KIND, Scalar, _Open

Name = Annotated[str, Field(pattern=DNS_SUBDOMAIN)]


class Meta(_Open):
    name: Name
    namespace: str | None = None
    labels: dict[str, str] | None = None


class LabelsOnly(_Open):
    labels: dict[str, str] | None = None


class KPort(_Open):
    container_port: int = Field(alias="containerPort", ge=1, le=65535)
    name: str | None = None
    protocol: Literal["TCP", "UDP", "SCTP"] | None = None


class KeyRef(_Open):
    name: str
    key: str


class FieldRef(_Open):
    field_path: str = Field(alias="fieldPath")


class EnvSource(_Open):
    secret_key_ref: KeyRef | None = Field(default=None, alias="secretKeyRef")
    config_map_key_ref: KeyRef | None = Field(default=None, alias="configMapKeyRef")
    field_ref: FieldRef | None = Field(default=None, alias="fieldRef")


class EnvVar(_Open):
    name: str
    value: Scalar | None = None
    value_from: EnvSource | None = Field(default=None, alias="valueFrom")


class HttpGet(_Open):
    port: int | str
    path: str | None = None


class PortOnly(_Open):
    port: int | str


class ExecAction(_Open):
    command: list[str] = Field(min_length=1)


class KProbe(_Open):
    http_get: HttpGet | None = Field(default=None, alias="httpGet")
    tcp_socket: PortOnly | None = Field(default=None, alias="tcpSocket")
    exec_: ExecAction | None = Field(default=None, alias="exec")
    grpc: PortOnly | None = None


class KResources(_Open):
    limits: dict[str, Scalar] | None = None
    requests: dict[str, Scalar] | None = None


class Mount(_Open):
    name: str
    mount_path: str = Field(alias="mountPath")
    read_only: bool | None = Field(default=None, alias="readOnly")


class NameRef(_Open):
    name: str


class EnvFrom(_Open):
    config_map_ref: NameRef | None = Field(default=None, alias="configMapRef")
    secret_ref: NameRef | None = Field(default=None, alias="secretRef")
    prefix: str | None = None


class Container(_Open):
    name: str
    image: str = Field(min_length=1)
    command: list[str] | None = None
    args: list[str] | None = None
    working_dir: str | None = Field(default=None, alias="workingDir")
    ports: list[KPort] | None = None
    env: list[EnvVar] | None = None
    env_from: list[EnvFrom] | None = Field(default=None, alias="envFrom")
    readiness_probe: KProbe | None = Field(default=None, alias="readinessProbe")
    liveness_probe: KProbe | None = Field(default=None, alias="livenessProbe")
    startup_probe: KProbe | None = Field(default=None, alias="startupProbe")
    resources: KResources | None = None
    security_context: dict[str, Any] | None = Field(default=None, alias="securityContext")
    volume_mounts: list[Mount] | None = Field(default=None, alias="volumeMounts")


class EmptyDir(_Open):
    medium: str | None = None
    size_limit: Scalar | None = Field(default=None, alias="sizeLimit")


class ClaimRef(_Open):
    claim_name: str = Field(alias="claimName")


class KeyPath(_Open):
    key: str
    path: str


class SecretVolume(_Open):
    secret_name: str = Field(alias="secretName")
    items: list[KeyPath] | None = None


class KVolume(_Open):
    name: str
    empty_dir: EmptyDir | None = Field(default=None, alias="emptyDir")
    persistent_volume_claim: ClaimRef | None = Field(default=None, alias="persistentVolumeClaim")
    secret: SecretVolume | None = None


class PodSpec(_Open):
    containers: list[Container] = Field(min_length=1)
    init_containers: list[Container] | None = Field(default=None, alias="initContainers")
    volumes: list[KVolume] | None = None


class PodTemplate(_Open):
    metadata: LabelsOnly | None = None
    spec: PodSpec


class ClaimSpec(_Open):
    resources: dict[str, dict[str, Scalar]] | None = None


class ClaimTemplate(_Open):
    metadata: Meta
    spec: ClaimSpec


class WorkloadSpec(_Open):
    template: PodTemplate
    replicas: int | None = Field(default=None, ge=0, le=INT32)
    volume_claim_templates: list[ClaimTemplate] | None = Field(default=None, alias="volumeClaimTemplates")


class JobTemplate(_Open):
    spec: WorkloadSpec


class CronSpec(_Open):
    schedule: str
    job_template: JobTemplate = Field(alias="jobTemplate")


class Workload(_Open):
    kind: str
    metadata: Meta
    spec: WorkloadSpec


class CronJob(_Open):
    kind: str
    metadata: Meta
    spec: CronSpec


class ServicePort(_Open):
    port: int = Field(ge=1, le=65535)
    target_port: int | str | None = Field(default=None, alias="targetPort")


class ServiceSpec(_Open):
    selector: dict[str, str] | None = None
    ports: list[ServicePort] | None = None
    type: str | None = None


class KService(_Open):
    kind: str
    metadata: Meta
    spec: ServiceSpec


class ConfigMap(_Open):
    kind: str
    metadata: Meta
    data: dict[str, Scalar | None] | None = None


class Secret(_Open):
    kind: str
    metadata: Meta
    data: dict[str, str | None] | None = None
    string_data: dict[str, Scalar | None] | None = Field(default=None, alias="stringData")


class AnyObject(_Open):
    kind: Annotated[str, Field(pattern=KIND)]
    metadata: Meta


MANIFEST_MODELS: dict[str, type[BaseModel]] = {
    "Deployment": Workload,
    "StatefulSet": Workload,
    "DaemonSet": Workload,
    "Job": Workload,
    "CronJob": CronJob,
    "Service": KService,
    "ConfigMap": ConfigMap,
    "Secret": Secret,
}
