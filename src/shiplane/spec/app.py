"""The app document: app identity, defaults, secrets, services, migrations and stages."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from shiplane.spec.containers import Container, File, Resources, Security
from shiplane.spec.fields import (
    AbsPath,
    Annotations,
    Cidr,
    CronSchedule,
    DnsLabel,
    DnsSubdomain,
    Image,
    Int32,
    Labels,
    LabelValue,
    Model,
    PortName,
    PortNumber,
    Quantity,
    exactly_one,
)
from shiplane.spec.limits import INT64_MAX, dns_subdomain


class Build(Model):
    """How the image is built (read by `shiplane build` and the image audit; not rendered)."""

    context: str = "."
    dockerfile: str = "Dockerfile"
    target: str | None = None
    args: dict[str, str] = Field(default_factory=dict)


class Tls(Model):
    secret_name: DnsSubdomain | None = None

    @model_validator(mode="before")
    @classmethod
    def _short(cls, v: Any) -> Any:
        return {} if v is True else v


class Public(Model):
    """Exposure outside the cluster through an Ingress."""

    host: str = Field(pattern=r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    path: str = Field(default="/", pattern=r"^/")
    port: PortName | None = None
    tls: Tls | None = None
    class_name: DnsSubdomain | None = None
    annotations: Annotations = Field(default_factory=dict)

    @field_validator("host")
    @classmethod
    def _host_length(cls, v: str) -> str:
        if problem := dns_subdomain(v.removeprefix("*.")):
            raise ValueError(f"expected a host name: {problem}")
        if any(len(label) > 63 for label in v.split(".")):
            raise ValueError("expected a host name: each part between dots is at most 63 characters")
        return v


class Scratch(Model):
    size_limit: Quantity | None = None
    memory: bool = False


class Persistent(Model):
    size: Quantity
    storage_class: DnsSubdomain | None = None
    access_modes: list[Literal["ReadWriteOnce", "ReadWriteOncePod", "ReadOnlyMany", "ReadWriteMany"]] = [
        "ReadWriteOnce"
    ]


class Shared(Model):
    """One claim of the app that several services mount (ReadWriteMany: needs a storage class that has it)."""

    claim: DnsSubdomain
    size: Quantity
    storage_class: DnsSubdomain | None = None
    access_modes: list[Literal["ReadWriteOnce", "ReadWriteOncePod", "ReadOnlyMany", "ReadWriteMany"]] = [
        "ReadWriteMany"
    ]


class Volume(Model):
    """`scratch`: an emptyDir shared by the pod's containers; `persistent`: a claim per replica (stateful);
    `shared`: one claim of the app, mounted by every service that names it."""

    scratch: Scratch | None = None
    persistent: Persistent | None = None
    shared: Shared | None = None

    @model_validator(mode="after")
    def _one(self) -> Volume:
        exactly_one(self, ("scratch", "persistent", "shared"), "a volume")
        return self


class Autoscaling(Model):
    min_replicas: Int32 = Field(ge=1)
    max_replicas: Int32 = Field(ge=1)
    cpu: int | None = Field(default=None, ge=1, le=1000, description="target average CPU utilization, percent")
    memory: int | None = Field(default=None, ge=1, le=1000, description="target memory utilization, percent")

    @model_validator(mode="after")
    def _sane(self) -> Autoscaling:
        if self.max_replicas < self.min_replicas:
            raise ValueError(f"maxReplicas ({self.max_replicas}) is below minReplicas ({self.min_replicas})")
        return self


class Connection(Model):
    """Allowed egress: another service of the app (all its ports), every service on an app network
    (`network`: one rule however many services are on it), or a CIDR with optional ports."""

    service: str | None = None
    network: DnsLabel | None = None
    cidr: Cidr | None = None
    ports: list[PortNumber] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _short(cls, v: Any) -> Any:
        return {"service": v} if isinstance(v, str) else v

    @model_validator(mode="after")
    def _one(self) -> Connection:
        exactly_one(self, ("service", "network", "cidr"), "a connection")
        return self


class JobOptions(Model):
    backoff_limit: Int32 = Field(default=6, ge=0)
    active_deadline_seconds: int | None = Field(default=None, ge=1, le=INT64_MAX)
    ttl_seconds_after_finished: Int32 | None = Field(default=None, ge=0)
    completions: Int32 | None = Field(default=None, ge=1)
    parallelism: Int32 | None = Field(default=None, ge=1)
    concurrency_policy: Literal["Allow", "Forbid", "Replace"] = "Forbid"


class Migration(Container):
    """A schema migration run as a Job before the rollout; `compatibility` tells the deploy engine
    whether old code still works after it (expand), or a rollback across it is unsafe."""

    image: Image | None = None  # default: the service's image
    compatibility: Literal["expand", "contract", "irreversible"] = "expand"
    backoff_limit: Int32 = Field(default=0, ge=0)
    active_deadline_seconds: int = Field(default=600, ge=1, le=INT64_MAX)


class Service(Container):
    kind: Literal["stateless", "stateful", "job", "cronjob", "daemon"] = "stateless"
    build: Build | None = None
    version: str | None = None
    component: LabelValue | None = None
    public: Public | None = None
    replicas: Int32 = Field(default=1, ge=0)
    autoscaling: Autoscaling | None = None
    volumes: dict[DnsLabel, Volume] = Field(default_factory=dict)
    files: dict[AbsPath, File] = Field(default_factory=dict)
    depends_on: list[str] = Field(default_factory=list)
    connects_to: list[Connection] = Field(default_factory=list)
    # App networks this service is on (compose networks): `connectsTo: [{network: N}]` reaches it.
    networks: list[DnsLabel] = Field(default_factory=list)
    runtime_class_name: DnsSubdomain | None = None
    sidecars: dict[DnsLabel, Container] = Field(default_factory=dict)
    init_containers: dict[DnsLabel, Container] = Field(default_factory=dict)
    migration: Migration | None = None
    schedule: CronSchedule | None = None
    job: JobOptions = Field(default_factory=JobOptions)
    labels: Labels = Field(default_factory=dict)
    annotations: Annotations = Field(default_factory=dict)
    automount_service_account_token: bool = False
    # The pod's identity, e.g. a ServiceAccount with cloud-role annotations kept in `objects:`;
    # default: the app's own account (no API access).
    service_account_name: DnsSubdomain | None = None
    # Pod sysctls (the safe set needs nothing; others a kubelet allow-list, and the policy gate flags them).
    sysctls: dict[str, str] = Field(default_factory=dict)
    # Run before the container gets SIGTERM (compose pre_stop, a unit's ExecStop): an exec command.
    pre_stop: list[str] | None = None
    # The Service's type: LoadBalancer/NodePort expose non-HTTP ports outside the cluster (no Ingress).
    service_type: Literal["ClusterIP", "NodePort", "LoadBalancer"] = "ClusterIP"
    external_traffic_policy: Literal["Cluster", "Local"] | None = None  # Local keeps client source IPs
    # Seconds between SIGTERM and SIGKILL (compose stop_grace_period); Kubernetes' default is 30.
    termination_grace_period_seconds: int | None = Field(default=None, ge=0, le=INT64_MAX)
    metrics_path: str = Field(default="/metrics", pattern=r"^/")


class App(Model):
    name: DnsLabel
    version: str | None = None
    labels: Labels = Field(default_factory=dict)
    annotations: Annotations = Field(default_factory=dict)


class Defaults(Model):
    """Applied under every service, sidecar, init container and migration (theirs win)."""

    resources: Resources = Field(default_factory=Resources)
    security: Security = Field(default_factory=Security)
    labels: Labels = Field(default_factory=dict)


class SecretSource(Model):
    """Where a secret's value comes from on the deploying machine. Never the value itself."""

    from_env: str | None = None
    from_file: str | None = None

    @model_validator(mode="after")
    def _one(self) -> SecretSource:
        exactly_one(self, ("from_env", "from_file"), "a secret")
        return self


class StagePolicy(Model):
    """How strict the policy gate is for this stage (e.g. prod restricted, dev lenient)."""

    profile: str = Field(default="baseline", min_length=1)  # baseline, restricted, lenient, pss-*, name@1.30
    fail_on: Literal["info", "low", "medium", "high", "critical", "never"] = "high"


class ImageSignatures(Model):
    """Signatures this stage's images must carry (cosign-compatible, key-based)."""

    keys: list[str] = Field(default_factory=list)  # PEM public keys, paths relative to the spec
    required: bool = False


class StageImages(Model):
    """How this stage treats container images: digest pinning, the image-audit gate, signatures."""

    pin: bool = False  # resolve every tag to a digest before deploying (needs registry access)
    fail_on: Literal["info", "low", "medium", "high", "critical", "never"] = "never"  # image-audit gate
    exceptions: str | None = None  # reasoned exceptions (VEX-like) file, relative to the spec
    signatures: ImageSignatures = ImageSignatures()


class StageRegistry(Model):
    """The stage's own registry (e.g. one in the same region): images are relocated into it."""

    host: str = Field(min_length=1)
    prefix: str = ""
    insecure: bool = False  # plain HTTP (a local test registry)


class Stage(Model):
    context: str | None = None
    policy: StagePolicy = StagePolicy()
    images: StageImages = StageImages()
    registry: StageRegistry | None = None
    namespace: DnsLabel
    kubernetes_version: str = Field(default="1.36", pattern=r"^1\.\d+$")
    description: str | None = None
    overrides: dict[str, Any] = Field(default_factory=dict)


def _managed_object(v: Any) -> Any:
    """An entry of `objects:`: `{include: GLOB}` (YAML files relative to the spec) or one whole object."""
    if not isinstance(v, dict):
        raise ValueError("expected a Kubernetes object (apiVersion, kind, metadata.name) or {include: GLOB}")
    if "include" in v:
        if set(v) != {"include"} or not isinstance(v["include"], str) or not v["include"].strip():
            raise ValueError("expected {include: GLOB} alone, e.g. {include: objects/*.yaml}")
        if v["include"].startswith("/") or ".." in v["include"].split("/"):
            raise ValueError("include: a glob relative to the spec's directory, inside it")
        return v
    for key in ("apiVersion", "kind"):
        if not isinstance(v.get(key), str) or not v[key]:
            raise ValueError(f"an object needs {key} (or use {{include: GLOB}})")
    name = (v.get("metadata") or {}).get("name") if isinstance(v.get("metadata"), dict) else None
    if not isinstance(name, str) or dns_subdomain(name):
        raise ValueError(f"{v['kind']}: metadata.name must be a DNS subdomain name")
    return v


ManagedObject = Annotated[dict[str, Any], AfterValidator(_managed_object)]


class Document(Model):
    api_version: Literal["shiplane.io/v1alpha1"] = "shiplane.io/v1alpha1"
    app: App
    defaults: Defaults = Field(default_factory=Defaults)
    secrets: dict[DnsLabel, SecretSource] = Field(default_factory=dict)
    services: dict[DnsLabel, Service] = Field(min_length=1)
    migrations: dict[DnsLabel, Migration] = Field(default_factory=dict)
    stages: dict[DnsLabel, Stage] = Field(min_length=1)
    # Kubernetes objects the model does not express, applied as they are (with shiplane's labels).
    objects: list[ManagedObject] = Field(default_factory=list)
