"""What `shiplane gc` would free in one stage: a pure selection over live objects and release records.

The action (`actions/gc.py`) lists the objects once per kind and deletes what `select` returns;
nothing here talks to the cluster. Safety rules, applied to every kind:
  - only objects shiplane manages for this app (labels managed-by/part-of), unless `everything`;
  - never an object the current (last good) release applied: a deploy would have to recreate it
    (a migration Job gone would even run again);
  - never a ConfigMap, Secret or PVC that a pod or pod template still uses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from shiplane.releases.history import Writes, last_good, retention, updated
from shiplane.releases.lock import view
from shiplane.releases.record import Release, key_of, ref_of

MANAGED_BY = "app.kubernetes.io/managed-by"
PART_OF = "app.kubernetes.io/part-of"
RELEASE_OF = "shiplane.io/release-of"  # release record Secrets (collected as records, not as Secrets)
REVISION = "deployment.kubernetes.io/revision"
HASHED = re.compile(r"^(?P<base>.+)-[0-9a-f]{10}$")  # rendering.meta.content_hash suffixes
DEFAULT_HISTORY_LIMIT = 10  # a Deployment's revisionHistoryLimit when unset


@dataclass(frozen=True)
class Inventory:
    """The live objects gc looks at (namespace-scoped ones from the stage namespace; PVs cluster-wide)."""

    namespace: str
    jobs: list[dict] = field(default_factory=list)
    pods: list[dict] = field(default_factory=list)
    deployments: list[dict] = field(default_factory=list)
    replicasets: list[dict] = field(default_factory=list)
    statefulsets: list[dict] = field(default_factory=list)
    configmaps: list[dict] = field(default_factory=list)
    secrets: list[dict] = field(default_factory=list)
    leases: list[dict] = field(default_factory=list)
    pvcs: list[dict] = field(default_factory=list)
    pvs: list[dict] = field(default_factory=list)
    # also read for "is it in use": these hold pod templates
    templates: list[dict] = field(default_factory=list)  # DaemonSets, CronJobs


@dataclass(frozen=True)
class Candidate:
    ref: dict  # apiVersion, kind, name[, namespace]
    reason: str
    resource_version: str = ""  # deleted only at this version: a changed object is left alone
    size: str = ""  # storage of a PVC/PV

    def to_json(self) -> dict:
        out = {**self.ref, "reason": self.reason}
        if self.size:
            out["size"] = self.size
        return out


@dataclass(frozen=True)
class Selection:
    collect: tuple[Candidate, ...] = ()
    records: tuple[int, ...] = ()  # release revisions beyond retention
    kept: tuple[Candidate, ...] = ()  # would be collected with a flag (--volumes)

    def to_json(self) -> dict:
        return {
            "collect": [c.to_json() for c in self.collect],
            "records": list(self.records),
            "kept": [c.to_json() for c in self.kept],
            "counts": self.counts(),
        }

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in self.collect:
            out[c.ref["kind"]] = out.get(c.ref["kind"], 0) + 1
        if self.records:
            out["release record"] = len(self.records)
        return out

    @property
    def empty(self) -> bool:
        return not self.collect and not self.records


def _meta(obj: dict) -> dict:
    return obj.get("metadata") or {}


def _labels(obj: dict) -> dict:
    return _meta(obj).get("labels") or {}


def _ref(obj: dict, kind: str, api_version: str) -> dict:
    return ref_of({**obj, "kind": kind, "apiVersion": api_version})


def _candidate(obj: dict, kind: str, api_version: str, reason: str, size: str = "") -> Candidate:
    return Candidate(_ref(obj, kind, api_version), reason, _meta(obj).get("resourceVersion") or "", size)


def _key(ref: dict) -> str:
    """key_of for a flat ref (name/namespace at the top, as records keep them)."""
    meta = {"name": ref["name"], "namespace": ref.get("namespace")}
    return key_of({"apiVersion": ref["apiVersion"], "kind": ref["kind"], "metadata": meta})


def _owners(obj: dict) -> list[dict]:
    return _meta(obj).get("ownerReferences") or []


def _owned_by(obj: dict, kind: str) -> dict | None:
    return next((o for o in _owners(obj) if o.get("kind") == kind), None)


def _condition(obj: dict, kind: str) -> bool:
    return any(
        c.get("type") == kind and c.get("status") == "True" for c in (obj.get("status") or {}).get("conditions") or []
    )


def _pod_specs(inv: Inventory) -> list[dict]:
    """Every pod spec that may use a ConfigMap, Secret or PVC: live pods and every template."""
    specs = [
        p.get("spec") or {} for p in inv.pods if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
    ]
    for obj in [*inv.deployments, *inv.replicasets, *inv.statefulsets, *inv.jobs, *inv.templates]:
        spec = obj.get("spec") or {}
        if "jobTemplate" in spec:
            spec = spec["jobTemplate"].get("spec") or {}
        specs.append(((spec.get("template") or {}).get("spec")) or {})
    return specs


def _uses(specs: list[dict]) -> tuple[set[str], set[str], set[str]]:
    """(ConfigMap names, Secret names, PVC names) the pod specs refer to."""
    cms: set[str] = set()
    secrets: set[str] = set()
    claims: set[str] = set()
    for spec in specs:
        for vol in spec.get("volumes") or []:
            if "configMap" in vol:
                cms.add(vol["configMap"].get("name", ""))
            if "secret" in vol:
                secrets.add(vol["secret"].get("secretName", ""))
            if "persistentVolumeClaim" in vol:
                claims.add(vol["persistentVolumeClaim"].get("claimName", ""))
            for src in (vol.get("projected") or {}).get("sources") or []:
                if "configMap" in src:
                    cms.add(src["configMap"].get("name", ""))
                if "secret" in src:
                    secrets.add(src["secret"].get("name", ""))
        for c in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
            for src in c.get("envFrom") or []:
                if "configMapRef" in src:
                    cms.add(src["configMapRef"].get("name", ""))
                if "secretRef" in src:
                    secrets.add(src["secretRef"].get("name", ""))
            for env in c.get("env") or []:
                ref = env.get("valueFrom") or {}
                if "configMapKeyRef" in ref:
                    cms.add(ref["configMapKeyRef"].get("name", ""))
                if "secretKeyRef" in ref:
                    secrets.add(ref["secretKeyRef"].get("name", ""))
        for pull in spec.get("imagePullSecrets") or []:
            secrets.add(pull.get("name", ""))
    return cms, secrets, claims


def _jobs(inv: Inventory, mine) -> list[Candidate]:
    out = []
    for job in inv.jobs:
        if not mine(job) or (job.get("spec") or {}).get("ttlSecondsAfterFinished") is not None:
            continue
        if _owned_by(job, "CronJob"):
            continue  # its CronJob's history limits keep these
        done = "Complete" if _condition(job, "Complete") else "Failed" if _condition(job, "Failed") else None
        if done:
            out.append(_candidate(job, "Job", "batch/v1", f"finished ({done}) and has no ttlSecondsAfterFinished"))
    return out


def _pods(inv: Inventory, mine) -> list[Candidate]:
    out = []
    for pod in inv.pods:
        status = pod.get("status") or {}
        if not mine(pod) or _owned_by(pod, "Job"):
            continue  # a Job's pods go with their Job
        if status.get("reason") == "Evicted":
            out.append(_candidate(pod, "Pod", "v1", "evicted"))
        elif status.get("phase") == "Failed":
            out.append(_candidate(pod, "Pod", "v1", f"failed ({status.get('reason') or 'Error'})"))
        elif status.get("phase") == "Succeeded":
            out.append(_candidate(pod, "Pod", "v1", "completed"))
    return out


def _replicasets(inv: Inventory, mine) -> list[Candidate]:
    deployments = {_meta(d).get("uid"): d for d in inv.deployments}
    old: dict[str, list[dict]] = {}
    for rs in inv.replicasets:
        owner = _owned_by(rs, "Deployment")
        if owner and owner.get("uid") in deployments and (rs.get("spec") or {}).get("replicas", 1) == 0:
            old.setdefault(owner["uid"], []).append(rs)
    out = []
    for uid, sets in old.items():
        deployment = deployments[uid]
        if not mine(deployment):
            continue
        limit = (deployment.get("spec") or {}).get("revisionHistoryLimit", DEFAULT_HISTORY_LIMIT)
        newest_first = sorted(
            sets, key=lambda r: int((_meta(r).get("annotations") or {}).get(REVISION, "0") or 0), reverse=True
        )
        name = _meta(deployment).get("name")
        for rs in newest_first[limit:]:
            revision = (_meta(rs).get("annotations") or {}).get(REVISION, "?")
            out.append(
                _candidate(
                    rs,
                    "ReplicaSet",
                    "apps/v1",
                    f"revision {revision} of Deployment {name}, beyond its history limit {limit}",
                )
            )
    return out


def _referenced(history: list[Release]) -> set[str]:
    """Keys of every object the retained releases applied or keep for rollback."""
    keys = {key_of(o) for r in history for o in r.objects}
    keys |= {_key(ref) for r in history for ref in r.retained}
    return keys


def _configs(inv: Inventory, mine, kept_history: list[Release], used: tuple[set[str], set[str]]) -> list[Candidate]:
    referenced = _referenced(kept_history)
    out = []
    for kind, objs, in_use in (("ConfigMap", inv.configmaps, used[0]), ("Secret", inv.secrets, used[1])):
        for obj in objs:
            name = _meta(obj).get("name", "")
            if RELEASE_OF in _labels(obj) or obj.get("type") == "kubernetes.io/service-account-token":
                continue
            if not HASHED.match(name) or not mine(obj) or name in in_use:
                continue
            if _key(_ref(obj, kind, "v1")) in referenced:
                continue
            out.append(_candidate(obj, kind, "v1", "hash-named, referenced by no retained release and no pod"))
    return out


def _leases(inv: Inventory, mine, now: float) -> list[Candidate]:
    out = []
    for lease in inv.leases:
        name = _meta(lease).get("name", "")
        ours = name.startswith("shiplane-lock.") or mine(lease)
        if not ours and not mine.everything:
            continue
        seen = view(lease)
        if seen.duration and seen.expired(now):
            out.append(
                _candidate(
                    lease, "Lease", "coordination.k8s.io/v1", f"expired {now - seen.renewed - seen.duration:.0f}s ago"
                )
            )
    return out


def _claim_templates(history: list[Release]) -> set[tuple[str, str]]:
    """(claim template, StatefulSet) pairs any release record applied: the claims shiplane made."""
    return {
        (t["metadata"]["name"], obj["metadata"]["name"])
        for r in history
        for obj in r.objects
        if obj.get("kind") == "StatefulSet"
        for t in (obj.get("spec") or {}).get("volumeClaimTemplates") or []
    }


def _claim_of(name: str, pairs: set[tuple[str, str]]) -> str | None:
    """The StatefulSet whose claim template made the PVC `name` (<template>-<set>-<ordinal>)."""
    return next((s for t, s in pairs if re.fullmatch(rf"{re.escape(t)}-{re.escape(s)}-\d+", name)), None)


def _storage(obj: dict) -> str:
    spec = obj.get("spec") or {}
    requested = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
    return str(requested or (spec.get("capacity") or {}).get("storage") or "")


def _labelled(pvc: dict, app: str) -> str | None:
    """The StatefulSet named by a claim's labels (shiplane's claim templates carry the service's
    name and instance labels), when the claim's name fits it: found even after the records that
    applied the StatefulSet were dropped by retention."""
    labels = _labels(pvc)
    service = labels.get("app.kubernetes.io/name")
    if labels.get("app.kubernetes.io/instance") != app or not service:
        return None
    return service if re.fullmatch(rf".+-{re.escape(service)}-\d+", _meta(pvc).get("name", "")) else None


def _volumes(inv: Inventory, history: list[Release], claims_in_use: set[str], app: str) -> list[Candidate]:
    """PVCs made by a shiplane StatefulSet that no longer exists, which no pod uses."""
    pairs = _claim_templates(history)
    live = {_meta(s).get("name", "") for s in inv.statefulsets}
    out = []
    for pvc in inv.pvcs:
        name = _meta(pvc).get("name", "")
        sts = _claim_of(name, pairs) or _labelled(pvc, app)
        if sts is None or sts in live or name in claims_in_use:
            continue
        reason = f"left by StatefulSet {sts}, which no longer exists"
        out.append(_candidate(pvc, "PersistentVolumeClaim", "v1", reason, _storage(pvc)))
    return out


def _released_pvs(inv: Inventory, mine, history: list[Release]) -> list[Candidate]:
    """Released PVs whose claim was in the stage namespace (and, unless --all, one shiplane made)."""
    pairs = _claim_templates(history)
    claims = {o["metadata"]["name"] for r in history for o in r.objects if o.get("kind") == "PersistentVolumeClaim"}
    out = []
    for pv in inv.pvs:
        claim = (pv.get("spec") or {}).get("claimRef") or {}
        if (pv.get("status") or {}).get("phase") != "Released" or claim.get("namespace") != inv.namespace:
            continue
        name = claim.get("name", "")
        if mine.everything or name in claims or _claim_of(name, pairs):
            reason = f"Released: its claim {inv.namespace}/{name} is gone"
            out.append(_candidate(pv, "PersistentVolume", "v1", reason, _storage(pv)))
    return out


class _Mine:
    """Is an object one shiplane manages for this app? (Everything, with --all.)"""

    def __init__(self, app: str, everything: bool) -> None:
        self.app, self.everything = app, everything

    def __call__(self, obj: dict) -> bool:
        labels = _labels(obj)
        return self.everything or (labels.get(MANAGED_BY) == "shiplane" and labels.get(PART_OF) == self.app)


def select(
    inv: Inventory,
    history: list[Release],
    *,
    app: str,
    now: float,
    keep: int = 20,
    volumes: bool = False,
    everything: bool = False,
) -> Selection:
    """What to free, and what only `volumes` would free. `history` is oldest first; `keep` the
    number of release records to retain (the last good one is always kept)."""
    mine = _Mine(app, everything)
    drop = retention(history, keep)
    kept_history = updated(history, Writes(delete=drop.delete))
    current = last_good(kept_history)
    applied = {key_of(o) for o in current.objects} if current else set()
    cms, secrets, claims = _uses(_pod_specs(inv))
    pvcs = _volumes(inv, history, claims, app)
    found = [
        *_jobs(inv, mine),
        *_pods(inv, mine),
        *_replicasets(inv, mine),
        *_configs(inv, mine, kept_history, (cms, secrets)),
        *_leases(inv, mine, now),
        *_released_pvs(inv, mine, history),
    ]
    found = [c for c in found if _key(c.ref) not in applied]
    pvcs = [c for c in pvcs if _key(c.ref) not in applied]
    return Selection(
        tuple([*found, *(pvcs if volumes else [])]),
        tuple(sorted(drop.delete)),
        tuple([] if volumes else pvcs),
    )
