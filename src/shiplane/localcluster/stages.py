"""kwok stages: how fake nodes, pods and volumes behave in the local cluster.

The default fast stages are kwok's own, read from its module at setup time (not
copied here). On top of them come shiplane's failure-injection stages, selected by
a pod annotation (set it in a pod template to rehearse an unhappy rollout):

    sim.shiplane.io/fault: never-ready   runs, but never becomes Ready
    sim.shiplane.io/fault: fail          exits 1: phase Failed for restartPolicy Never
                                         (Job pods), CrashLoopBackOff otherwise
    sim.shiplane.io/fault: image-pull    stays Pending: ErrImagePull, then ImagePullBackOff,
                                         and so on (as a kubelet retrying a missing image)
    sim.shiplane.io/fault: config-error  stays Pending in CreateContainerConfigError (as for a
                                         missing ConfigMap/Secret key)
    sim.shiplane.io/ready-after: "20s"   becomes Ready only after that delay

kwok picks among matching stages by weight, and drops zero-weight stages (kwok's
defaults) whenever a positive-weight one matches, hence weight 10000 here.
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from shiplane.errors import EnvironmentProblem

FAULT = "sim.shiplane.io/fault"
READY_AFTER = "sim.shiplane.io/ready-after"

# kwok's stage files, relative to its kustomize/stage directory.
KWOK_STAGES = (
    "node/fast/node-initialize.yaml",
    "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "pod/fast/pod-ready.yaml",
    "pod/fast/pod-complete.yaml",
    "pod/fast/pod-delete.yaml",
    "volume/fast/pv-bind.yaml",
    "volume/fast/pv-delete.yaml",
    "volume/fast/pvc-provision.yaml",
    "volume/fast/pvc-delete.yaml",
)
STORAGE_CLASS = "volume/fast/storage-class.yaml"
# kwok's CRDs for container logs, relative to its kustomize/crd/bases directory.
LOG_KINDS = ("Logs", "ClusterLogs")
LOG_CRDS = ("kwok.x-k8s.io_logs.yaml", "kwok.x-k8s.io_clusterlogs.yaml")

_POD_IPS = """
{{ $hostIPs := NodeIPsWith .spec.nodeName }}
{{ with $hostIPs }}
hostIP: {{ index . 0 | Quote }}
hostIPs:
{{ range . }}
- ip: {{ . | Quote }}
{{ end }}
{{ end }}
{{ $podIPs := PodIPsWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) }}
{{ with $podIPs }}
podIP: {{ index . 0 | Quote }}
podIPs:
{{ range . }}
- ip: {{ . | Quote }}
{{ end }}
{{ end }}
"""

_NOT_READY_CONDITIONS = """
conditions:
- {type: Initialized, status: "True", lastTransitionTime: {{ $now | Quote }}}
- {type: Ready, status: "False", reason: ContainersNotReady, lastTransitionTime: {{ $now | Quote }}}
- {type: ContainersReady, status: "False", reason: ContainersNotReady, lastTransitionTime: {{ $now | Quote }}}
"""


def _pending_pod_selector(*extra: dict) -> dict:
    return {
        "matchExpressions": [
            {"key": ".metadata.deletionTimestamp", "operator": "DoesNotExist"},
            {"key": ".status.phase", "operator": "In", "values": ["Pending"]},
            *extra,
        ]
    }


def _stage(name: str, selector: dict, status_template: str, **spec: object) -> dict:
    return {
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "Stage",
        "metadata": {"name": name},
        "spec": {
            "resourceRef": {"apiGroup": "v1", "kind": "Pod"},
            "selector": selector,
            "weight": 10000,
            **spec,
            "next": {"statusTemplate": status_template},
        },
    }


def _fault_is(value: str) -> dict:
    return {"key": f'.metadata.annotations["{FAULT}"]', "operator": "In", "values": [value]}


def _waiting_is(*reasons: str, negate: bool = False) -> dict:
    return {
        "key": ".status.containerStatuses.[].state.waiting.reason",
        "operator": "NotIn" if negate else "In",
        "values": list(reasons),
    }


def _stuck_pending(reason: str, message: str) -> str:
    """A scheduled pod whose containers wait with `reason` (the kubelet never starts them)."""
    return (
        """{{ $now := Now }}
phase: Pending
startTime: {{ $now | Quote }}
conditions:
- {type: PodScheduled, status: "True", lastTransitionTime: {{ $now | Quote }}}
- {type: Initialized, status: "True", lastTransitionTime: {{ $now | Quote }}}
- {type: Ready, status: "False", reason: ContainersNotReady, lastTransitionTime: {{ $now | Quote }}}
- {type: ContainersReady, status: "False", reason: ContainersNotReady, lastTransitionTime: {{ $now | Quote }}}
containerStatuses:
{{ range .spec.containers }}
- name: {{ .name | Quote }}
  image: {{ .image | Quote }}
  imageID: ""
  ready: false
  started: false
  restartCount: 0
  state:
    waiting: {reason: @REASON@, message: @MESSAGE@}
{{ end }}
""".replace("@REASON@", reason).replace("@MESSAGE@", message)
        + _POD_IPS
    )


def waiting_fault_stages() -> list[dict]:
    """Pods that stay Pending with waiting containers: `image-pull` and `config-error`.

    Each state has a positive-weight stage that matches it (a retry, or a hold), so
    kwok's own zero-weight pod-ready stage never makes these pods Ready.
    """
    pull = _fault_is("image-pull")
    err_pull = _stuck_pending(
        "ErrImagePull",
        '{{ printf "failed to pull image %q: not found (injected by sim.shiplane.io/fault=image-pull)" .image | Quote }}',
    )
    backoff = _stuck_pending("ImagePullBackOff", '{{ printf "Back-off pulling image %q" .image | Quote }}')
    config = _fault_is("config-error")
    config_error = _stuck_pending(
        "CreateContainerConfigError",
        '"configmap \\"missing-config\\" not found (injected by sim.shiplane.io/fault=config-error)"',
    )
    return [
        _stage(
            "shiplane-pod-image-pull",
            _pending_pod_selector(pull, _waiting_is("ErrImagePull", "ImagePullBackOff", negate=True)),
            err_pull,
        ),
        _stage(
            "shiplane-pod-image-pull-backoff",
            _pending_pod_selector(pull, _waiting_is("ErrImagePull")),
            backoff,
            delay={"durationMilliseconds": 3000},
        ),
        _stage(
            "shiplane-pod-image-pull-retry",
            _pending_pod_selector(pull, _waiting_is("ImagePullBackOff")),
            err_pull,
            delay={"durationMilliseconds": 15000},
        ),
        _stage(
            "shiplane-pod-config-error",
            _pending_pod_selector(config, _waiting_is("CreateContainerConfigError", negate=True)),
            config_error,
        ),
        _stage(
            "shiplane-pod-config-error-hold",
            _pending_pod_selector(config, _waiting_is("CreateContainerConfigError")),
            config_error,
            delay={"durationMilliseconds": 30000},
        ),
    ]


def fault_stages() -> list[dict]:
    """shiplane's own failure-injection stages (every `fault` annotation)."""
    never_ready = (
        "{{ $now := Now }}\nphase: Running\nstartTime: {{ $now | Quote }}\n"
        + _NOT_READY_CONDITIONS
        + """containerStatuses:
{{ range .spec.containers }}
- {name: {{ .name | Quote }}, image: {{ .image | Quote }}, ready: false, started: true, restartCount: 0,
   state: {running: {startedAt: {{ $now | Quote }}}}}
{{ end }}
"""
        + _POD_IPS
    )
    exit_failed = (
        """{{ $now := Now }}
phase: Failed
startTime: {{ $now | Quote }}
reason: Error
message: "container exited with code 1 (injected by sim.shiplane.io/fault=fail)"
conditions:
- {type: Initialized, status: "True", lastTransitionTime: {{ $now | Quote }}}
- {type: Ready, status: "False", reason: PodFailed, lastTransitionTime: {{ $now | Quote }}}
- {type: ContainersReady, status: "False", reason: PodFailed, lastTransitionTime: {{ $now | Quote }}}
containerStatuses:
{{ range .spec.containers }}
- name: {{ .name | Quote }}
  image: {{ .image | Quote }}
  ready: false
  restartCount: 0
  state: {terminated: {exitCode: 1, reason: Error, startedAt: {{ $now | Quote }}, finishedAt: {{ $now | Quote }}}}
{{ end }}
"""
        + _POD_IPS
    )
    crash_loop = (
        "{{ $now := Now }}\nphase: Running\nstartTime: {{ $now | Quote }}\n"
        + _NOT_READY_CONDITIONS
        + """containerStatuses:
{{ range .spec.containers }}
- name: {{ .name | Quote }}
  image: {{ .image | Quote }}
  ready: false
  started: false
  restartCount: 3
  state:
    waiting: {reason: CrashLoopBackOff, message: "back-off restarting failed container (injected)"}
  lastState:
    terminated: {exitCode: 1, reason: Error, startedAt: {{ $now | Quote }}, finishedAt: {{ $now | Quote }}}
{{ end }}
"""
        + _POD_IPS
    )
    never = {"key": ".spec.restartPolicy", "operator": "In", "values": ["Never"]}
    restarts = {"key": ".spec.restartPolicy", "operator": "NotIn", "values": ["Never"]}
    return [
        _stage("shiplane-pod-never-ready", _pending_pod_selector(_fault_is("never-ready")), never_ready),
        _stage("shiplane-pod-fail-exit", _pending_pod_selector(_fault_is("fail"), never), exit_failed),
        _stage("shiplane-pod-fail-crashloop", _pending_pod_selector(_fault_is("fail"), restarts), crash_loop),
        *waiting_fault_stages(),
    ]


def ready_after_stage(pod_ready: dict) -> dict:
    """kwok's own pod-ready stage, delayed by the pod's `ready-after` annotation."""
    stage = copy.deepcopy(pod_ready)
    stage["metadata"] = {"name": "shiplane-pod-ready-after"}
    stage["spec"]["selector"]["matchExpressions"].append(
        {"key": f'.metadata.annotations["{READY_AFTER}"]', "operator": "Exists"}
    )
    stage["spec"]["weight"] = 10000
    stage["spec"]["delay"] = {
        "durationMilliseconds": 0,
        "durationFrom": {"expressionFrom": f'.metadata.annotations["{READY_AFTER}"]'},
    }
    return stage


def load_kwok_stages(stage_dir: Path) -> list[dict]:
    docs: list[dict] = []
    for rel in KWOK_STAGES:
        path = stage_dir / rel
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return docs


def all_stages(stage_dir: Path) -> list[dict]:
    """kwok's defaults plus shiplane's fault stages, ready to dump into kwok's --config."""
    kwok = load_kwok_stages(stage_dir)
    pod_ready = next(d for d in kwok if d["metadata"]["name"] == "pod-ready")
    return [*kwok, *fault_stages(), ready_after_stage(pod_ready)]


# kwok's own configurations for resource metrics, beside its stages in its module: a `Metric`
# serving each node's kubelet-style /metrics/resource (at the path the node's
# metrics.k8s.io/resource-metrics-path annotation names), and a `ClusterResourceUsage` whose usage a
# pod sets with the annotations kwok.x-k8s.io/usage-cpu and kwok.x-k8s.io/usage-memory (else 1m, 1Mi).
METRICS_CONFIGS = ("metrics/resource/metrics-resource.yaml", "metrics/usage/usage-from-annotation.yaml")
USAGE_CPU = "kwok.x-k8s.io/usage-cpu"
USAGE_MEMORY = "kwok.x-k8s.io/usage-memory"


def metrics_configs(stage_dir: Path) -> list[dict]:
    """kwok's resource-metrics configurations; none if this kwok tree lacks them (then metrics-server
    finds no usage, and `status` says that metrics.k8s.io has none for the pods)."""
    docs: list[dict] = []
    for rel in METRICS_CONFIGS:
        path = stage_dir.parent / rel
        if path.is_file():
            docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return docs


def storage_class(stage_dir: Path) -> dict:
    """kwok's default StorageClass, whose claims its volume stages provision and bind."""
    return yaml.safe_load((stage_dir / STORAGE_CLASS).read_text())


def log_crds(stage_dir: Path) -> list[dict]:
    """kwok's Logs and ClusterLogs CRDs, from its module next to the stage directory.

    A `Logs` object (namespaced, named as its pod) or a `ClusterLogs` object (a selector of
    namespaces and pod names) points at a log file in the CRI format
    (`<RFC 3339 time> stdout F <line>`) per container; kwok then serves it as a kubelet's
    containerLogs, so `pods/log` (and `--follow`, which tails the file) works for real."""
    bases = stage_dir.parent / "crd" / "bases"
    missing = [name for name in LOG_CRDS if not (bases / name).is_file()]
    if missing:
        raise EnvironmentProblem(
            f"kwok's log CRDs are not in {bases} (missing {', '.join(missing)})",
            hint="point SHIPLANE_KWOK_STAGES at kustomize/stage inside a copy of kwok's whole kustomize directory",
        )
    return [yaml.safe_load((bases / name).read_text()) for name in LOG_CRDS]


def log_object(namespace: str, pod: str, files: dict[str, str]) -> dict:
    """A kwok `Logs` object: the pod's containers (name → log file path) served as its logs."""
    return {
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "Logs",
        "metadata": {"name": pod, "namespace": namespace},
        "spec": {"logs": [{"containers": [c], "logsFile": path, "follow": True} for c, path in files.items()]},
    }
