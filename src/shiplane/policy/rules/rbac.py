"""Service account tokens and RBAC rules that grant more than an app needs."""

from __future__ import annotations

from shiplane.policy.catalog import Group, Hit, rule
from shiplane.policy.context import ns
from shiplane.policy.findings import Severity
from shiplane.policy.pods import WORKLOADS, pod_spec

_ROLES = frozenset({"Role", "ClusterRole"})
_BINDINGS = frozenset({"RoleBinding", "ClusterRoleBinding"})


def _account(spec: dict) -> str:
    return spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"


@rule(
    "sa-token-automount",
    Group.RBAC,
    Severity.LOW,
    "service account token mounted",
    why="A mounted API token lets anyone who breaks into the container talk to the Kubernetes API as the pod.",
    fix="Set automountServiceAccountToken: false on the pod (or its ServiceAccount) unless it calls the API.",
    kinds=WORKLOADS,
)
def token_automount(obj, ctx):
    found = pod_spec(obj)
    if not found:
        return
    base, spec = found
    if spec.get("automountServiceAccountToken") is False:
        return
    if spec.get("automountServiceAccountToken") is None:
        sa = ctx.find("ServiceAccount", ns(obj), _account(spec))
        if sa is not None and sa.get("automountServiceAccountToken") is False:
            return
    yield Hit((*base, "automountServiceAccountToken") if "automountServiceAccountToken" in spec else base)


@rule(
    "sa-missing",
    Group.RBAC,
    Severity.MEDIUM,
    "service account not in the input",
    why="Pods naming a ServiceAccount that does not exist are rejected at creation.",
    fix="Add the ServiceAccount, or fix serviceAccountName.",
    kinds=WORKLOADS,
)
def account_missing(obj, ctx):
    found = pod_spec(obj)
    if not found:
        return
    base, spec = found
    account = _account(spec)
    if account != "default" and ctx.has("ServiceAccount", ns(obj)) and not ctx.find("ServiceAccount", ns(obj), account):
        yield Hit((*base, "serviceAccountName"), f"ServiceAccount {account!r}")


def _rules(obj):
    for i, r in enumerate(obj.get("rules") or []):
        if isinstance(r, dict):
            yield ("rules", i), r


@rule(
    "rbac-wildcard",
    Group.RBAC,
    Severity.HIGH,
    "wildcard in an RBAC rule",
    why="A '*' grants every verb or resource, including ones added by future API versions and CRDs.",
    fix="List the verbs, resources and apiGroups the workload uses.",
    kinds=_ROLES,
)
def wildcard(obj, ctx):
    for path, r in _rules(obj):
        for key in ("verbs", "resources", "apiGroups"):
            if "*" in (r.get(key) or []):
                yield Hit((*path, key), f"{key}: '*'")


@rule(
    "rbac-cluster-admin-binding",
    Group.RBAC,
    Severity.HIGH,
    "binding to cluster-admin",
    why="cluster-admin can do anything anywhere; an app that holds it turns any bug into cluster takeover.",
    fix="Bind a Role with the few permissions the subject needs.",
    kinds=_BINDINGS,
)
def cluster_admin(obj, ctx):
    if (obj.get("roleRef") or {}).get("name") == "cluster-admin":
        yield Hit(("roleRef", "name"))


@rule(
    "rbac-secrets-access",
    Group.RBAC,
    Severity.MEDIUM,
    "read access to Secrets",
    why="get/list/watch on secrets reads every credential in scope, not just the app's own.",
    fix="Mount the needed Secret into the pod instead, or restrict the rule with resourceNames.",
    kinds=_ROLES,
)
def secrets_access(obj, ctx):
    for path, r in _rules(obj):
        verbs = set(r.get("verbs") or [])
        if "secrets" in (r.get("resources") or []) and verbs & {"get", "list", "watch"} and not r.get("resourceNames"):
            yield Hit((*path, "resources"))


@rule(
    "rbac-pod-exec",
    Group.RBAC,
    Severity.MEDIUM,
    "exec or attach into pods",
    why="pods/exec and pods/attach give a shell in any pod in scope, with its secrets and tokens.",
    fix="Remove the pods/exec and pods/attach resources from the rule.",
    kinds=_ROLES,
)
def pod_exec(obj, ctx):
    for path, r in _rules(obj):
        hits = {"pods/exec", "pods/attach"} & set(r.get("resources") or [])
        if hits and set(r.get("verbs") or []) & {"create", "get", "*"}:
            yield Hit((*path, "resources"), ", ".join(sorted(hits)))


RULES = [token_automount, account_missing, wildcard, cluster_admin, secrets_access, pod_exec]
