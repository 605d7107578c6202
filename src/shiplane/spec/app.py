"""The app document: app identity, defaults, secrets, services, migrations and stages."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StringConstraints, field_validator, model_validator

from shiplane import durations
from shiplane.spec.containers import Container, File, Resources, Security
from shiplane.spec.fields import (
    AbsPath,
    Annotations,
    Cidr,
    CronSchedule,
    DnsLabel,
    DnsSubdomain,
    EnvName,
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
from shiplane.spec.targets import Targets


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


def _duration(value: str, *, positive: bool = False) -> str:
    try:
        durations.parse(value, positive=positive)  # the one parser
    except durations.DurationError as err:
        raise ValueError(err.expected) from None  # the spec's reporter adds the value found (or redacts it)
    return value


def _positive_duration(value: str) -> str:
    return _duration(value, positive=True)


# A duration as rotation policies write it: 30d, 12h, 90m, 45s, or combined (1d12h); see shiplane.durations.
Duration = Annotated[str, AfterValidator(_duration)]
# One where zero makes no sense (a rotation due all the time, a certificate valid for no time).
PositiveDuration = Annotated[str, AfterValidator(_positive_duration)]


class Generate(Model):
    """A value shiplane makes and keeps in the cluster (never in files or output); see docs/secrets.md."""

    kind: Literal["password", "token", "keypair", "tls", "from-command"]
    length: int = Field(default=32, ge=8, le=4096)  # password/token: characters
    alphabet: str | None = Field(default=None, min_length=2)  # password/token: characters to draw from
    algorithm: Literal["rsa", "ec", "ed25519"] = "ec"  # keypair, tls
    bits: int = Field(default=3072, ge=2048, le=8192)  # rsa
    ca: DnsLabel | None = None  # tls: the secret holding the CA's key and certificate (PEM); else self-signed
    is_ca: bool = False  # tls: make a CA certificate (to sign other tls secrets)
    hosts: list[str] = Field(default_factory=list)  # tls: names besides the services' and `public` hosts
    duration: PositiveDuration = "90d"  # tls: validity
    renew_before: Duration = "30d"  # tls: renewal is due this long before expiry
    command: list[str] = Field(default_factory=list)  # from-command: argv, no shell
    timeout: float = Field(default=30.0, gt=0, le=3600)  # from-command: seconds

    @model_validator(mode="after")
    def _fits(self) -> Generate:
        if self.kind == "from-command" and not self.command:
            raise ValueError("kind from-command needs `command` (an argv list, run without a shell)")
        if self.kind != "from-command" and self.command:
            raise ValueError(f"`command` is only for kind from-command (this is {self.kind})")
        if self.kind != "tls" and (self.ca or self.is_ca or self.hosts):
            raise ValueError(f"`ca`, `isCa` and `hosts` are only for kind tls (this is {self.kind})")
        return self


class Preflight(Model):
    """A short Job that must succeed with the NEW value before a rotation deploys it."""

    image: Image
    command: list[str] = Field(min_length=1)
    env: EnvName = "SECRET_VALUE"  # the variable the new value arrives in
    timeout: float = Field(default=120.0, gt=0, le=3600)
    annotations: Annotations = Field(default_factory=dict)  # on the Job's pod
    connects_to: list[Connection] = Field(default_factory=list)  # allowed egress, as for a service


class RotationJob(Model):
    """A Job of a dual-credential rotation; the credentials arrive as NEW_USER, NEW_PASSWORD, OLD_USER."""

    image: Image
    command: list[str] = Field(min_length=1)
    timeout: float = Field(default=300.0, gt=0, le=3600)
    annotations: Annotations = Field(default_factory=dict)  # on the Job's pod
    env_from: list[DnsSubdomain] = Field(default_factory=list)  # existing Secrets as env (e.g. an admin DSN)
    connects_to: list[Connection] = Field(default_factory=list)  # allowed egress, as for a service


class Dual(Model):
    """Database credentials rotated without downtime: two roles take turns (docs/secrets.md).
    The secret's value is `user=<role> password=<password>` (a libpq conninfo fragment)."""

    users: list[Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_]{0,62}$")]] = Field(
        min_length=2, max_length=2
    )
    prepare: RotationJob  # create or enable NEW_USER with NEW_PASSWORD
    retire: RotationJob  # disable OLD_USER (NOLOGIN, revoke): runs once no pod holds it
    grace: Duration = "30s"  # after the last pod with the old credential is gone, before retiring it

    @model_validator(mode="after")
    def _distinct(self) -> Dual:
        if self.users[0] == self.users[1]:
            raise ValueError("the two users of a dual rotation must differ")
        return self


class Rotation(Model):
    every: PositiveDuration | None = None  # a new version is due this long after the current one was made
    window: Duration | None = None  # how late a due rotation may run before `secrets status` calls it overdue
    preflight: Preflight | None = None
    dual: Dual | None = None


class EtcdTls(Model):
    """Client TLS for etcd: PEM files relative to the spec's directory."""

    ca: str | None = None
    cert: str | None = None
    key: str | None = None


class FromEtcd(Model):
    """Values read from etcd (v3, through its JSON gateway) when a stage is rendered for the cluster."""

    endpoints: list[Annotated[str, StringConstraints(pattern=r"^https?://[^\s/]+/?$")]] = Field(min_length=1)
    key: str | None = Field(default=None, min_length=1)
    prefix: str | None = Field(default=None, min_length=1)
    tls: EtcdTls | None = None
    timeout: float = Field(default=5.0, gt=0, le=300)

    @model_validator(mode="after")
    def _one(self) -> FromEtcd:
        exactly_one(self, ("key", "prefix"), "an etcd source")
        return self


class ConfigSource(Model):
    """Configuration from outside the spec, used by env values as `{config: NAME}` (a `key` source)
    or `{config: NAME/SUBKEY}` (a key under a `prefix` source)."""

    from_etcd: FromEtcd


class SecretSource(Model):
    """Where a secret's value comes from: the deploying machine (fromEnv/fromFile) or the cluster
    (generate). Never the value itself."""

    from_env: str | None = None
    from_file: str | None = None
    from_etcd: FromEtcd | None = None
    generate: Generate | None = None
    rotation: Rotation | None = None

    @model_validator(mode="after")
    def _one(self) -> SecretSource:
        exactly_one(self, ("from_env", "from_file", "from_etcd", "generate"), "a secret")
        if self.from_etcd and self.from_etcd.prefix:
            raise ValueError("a secret from etcd needs `key` (one value), not `prefix`")
        if self.rotation and self.rotation.every and not self.generate:
            raise ValueError("rotation.every needs `generate`: shiplane can only make new values it generates")
        if (
            self.rotation
            and self.rotation.dual
            and (self.generate is None or self.generate.kind not in ("password", "token"))
        ):
            raise ValueError("rotation.dual needs `generate` of kind password or token")
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
    config: dict[DnsLabel, ConfigSource] = Field(default_factory=dict)
    services: dict[DnsLabel, Service] = Field(min_length=1)
    migrations: dict[DnsLabel, Migration] = Field(default_factory=dict)
    stages: dict[DnsLabel, Stage] = Field(min_length=1)
    targets: Targets | None = None  # one app, many places: see spec/targets.py
    # Kubernetes objects the model does not express, applied as they are (with shiplane's labels).
    objects: list[ManagedObject] = Field(default_factory=list)
