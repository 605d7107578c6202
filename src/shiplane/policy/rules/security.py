"""Container and pod securityContext, following the Pod Security Standards controls.

Each rule names its PSS level so the `pss-*` profiles reproduce admission exactly;
the `since` checks follow the PSS version history (kubernetes.io pod-security-standards).
"""

from __future__ import annotations

from shiplane.policy.catalog import Group, Hit, Pss, rule
from shiplane.policy.findings import Severity
from shiplane.policy.pods import WORKLOADS, cname, containers, effective, pod_meta, pod_spec

BASELINE_CAPS = frozenset(
    [
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    ]
)
# Safe sysctls by the PSS version that allowed them.
SAFE_SYSCTLS = {
    (1, 0): {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
    },
    (1, 27): {"net.ipv4.ip_local_reserved_ports"},
    (1, 29): {
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    },
    (1, 32): {"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"},
}
SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}


def _windows(obj) -> bool:
    found = pod_spec(obj)
    return bool(found) and ((found[1].get("os") or {}).get("name") == "windows")


def _spec(obj):
    found = pod_spec(obj)
    return found if found else ((), {})


@rule(
    "security-privileged",
    Group.SECURITY,
    Severity.CRITICAL,
    "privileged container",
    why="A privileged container has every capability and the host's devices: escaping it is trivial.",
    fix="Remove securityContext.privileged; add only the specific capability the process needs.",
    kinds=WORKLOADS,
    pss=Pss.BASELINE,
)
def privileged(obj, ctx):
    for path, c, _ in containers(obj):
        if (c.get("securityContext") or {}).get("privileged") is True:
            yield Hit((*path, "securityContext", "privileged"), cname(c))


@rule(
    "security-host-process",
    Group.SECURITY,
    Severity.CRITICAL,
    "Windows HostProcess container",
    why="HostProcess containers run directly on the Windows host with its privileges.",
    fix="Remove windowsOptions.hostProcess; run node tooling outside the app's namespace.",
    kinds=WORKLOADS,
    pss=Pss.BASELINE,
)
def host_process(obj, ctx):
    base, spec = _spec(obj)
    if ((spec.get("securityContext") or {}).get("windowsOptions") or {}).get("hostProcess") is True:
        yield Hit((*base, "securityContext", "windowsOptions", "hostProcess"))
    for path, c, _ in containers(obj):
        if ((c.get("securityContext") or {}).get("windowsOptions") or {}).get("hostProcess") is True:
            yield Hit((*path, "securityContext", "windowsOptions", "hostProcess"), cname(c))


@rule(
    "security-capabilities-added",
    Group.SECURITY,
    Severity.HIGH,
    "dangerous capability added",
    why="Capabilities such as SYS_ADMIN or NET_ADMIN let a process reconfigure the host or escape the container.",
    fix="Remove the capability from securityContext.capabilities.add.",
    kinds=WORKLOADS,
    pss=Pss.BASELINE,
)
def capabilities_added(obj, ctx):
    for path, c, _ in containers(obj):
        added = ((c.get("securityContext") or {}).get("capabilities") or {}).get("add") or []
        for i, cap in enumerate(added):
            if str(cap).upper().removeprefix("CAP_") not in BASELINE_CAPS:
                yield Hit((*path, "securityContext", "capabilities", "add", i), f"{cname(c)} adds {cap}")


@rule(
    "security-apparmor-unconfined",
    Group.SECURITY,
    Severity.HIGH,
    "AppArmor disabled",
    why="Unconfined AppArmor removes the runtime's default confinement of the process.",
    fix="Use appArmorProfile type RuntimeDefault or Localhost (or drop the override).",
    kinds=WORKLOADS,
    pss=Pss.BASELINE,
)
def apparmor(obj, ctx):
    meta_path, meta = pod_meta(obj)
    for key, value in (meta.get("annotations") or {}).items():
        if key.startswith("container.apparmor.security.beta.kubernetes.io/") and not (
            value == "runtime/default" or str(value).startswith("localhost/")
        ):
            yield Hit((*meta_path, "annotations", key), f"annotation {key}")
    base, spec = _spec(obj)
    if ((spec.get("securityContext") or {}).get("appArmorProfile") or {}).get("type") == "Unconfined":
        yield Hit((*base, "securityContext", "appArmorProfile", "type"))
    for path, c, _ in containers(obj):
        if ((c.get("securityContext") or {}).get("appArmorProfile") or {}).get("type") == "Unconfined":
            yield Hit((*path, "securityContext", "appArmorProfile", "type"), cname(c))


@rule(
    "security-selinux-options",
    Group.SECURITY,
    Severity.HIGH,
    "custom SELinux user, role or type",
    why="Setting the SELinux user/role or an unusual type can lift the container's MAC confinement.",
    fix="Remove seLinuxOptions.user/role; use container_t (or leave the type unset).",
    kinds=WORKLOADS,
    pss=Pss.BASELINE,
)
def selinux(obj, ctx):
    base, spec = _spec(obj)
    places = [((*base, "securityContext"), spec.get("securityContext") or {}, "pod")]
    places += [((*p, "securityContext"), c.get("securityContext") or {}, cname(c)) for p, c, _ in containers(obj)]
    for path, sc, who in places:
        opts = sc.get("seLinuxOptions") or {}
        if opts.get("type", "") not in SELINUX_TYPES or opts.get("user") or opts.get("role"):
            yield Hit((*path, "seLinuxOptions"), who)


@rule(
    "security-proc-mount",
    Group.SECURITY,
    Severity.HIGH,
    "unmasked /proc mount",
    why="procMount Unmasked exposes kernel interfaces that are hidden from containers by default.",
    fix="Remove securityContext.procMount (Default).",
    kinds=WORKLOADS,
    pss=Pss.BASELINE,
)
def proc_mount(obj, ctx):
    for path, c, _ in containers(obj):
        if (c.get("securityContext") or {}).get("procMount", "Default") != "Default":
            yield Hit((*path, "securityContext", "procMount"), cname(c))


@rule(
    "security-seccomp-unconfined",
    Group.SECURITY,
    Severity.HIGH,
    "seccomp disabled",
    why="Unconfined seccomp gives the process every syscall, including the ones kernel exploits use.",
    fix="Set seccompProfile type RuntimeDefault.",
    kinds=WORKLOADS,
    pss=Pss.BASELINE,
)
def seccomp_unconfined(obj, ctx):
    base, spec = _spec(obj)
    if ((spec.get("securityContext") or {}).get("seccompProfile") or {}).get("type") == "Unconfined":
        yield Hit((*base, "securityContext", "seccompProfile", "type"))
    for path, c, _ in containers(obj):
        if ((c.get("securityContext") or {}).get("seccompProfile") or {}).get("type") == "Unconfined":
            yield Hit((*path, "securityContext", "seccompProfile", "type"), cname(c))


@rule(
    "security-sysctls-unsafe",
    Group.SECURITY,
    Severity.HIGH,
    "unsafe sysctl",
    why="Sysctls outside the safe set change kernel behaviour for every pod on the node.",
    fix="Remove the sysctl, or run it on dedicated nodes with an explicit exception.",
    kinds=WORKLOADS,
    pss=Pss.BASELINE,
)
def sysctls(obj, ctx):
    base, spec = _spec(obj)
    safe = set().union(*(names for since, names in SAFE_SYSCTLS.items() if ctx.pss_version >= since))
    for i, s in enumerate((spec.get("securityContext") or {}).get("sysctls") or []):
        if s.get("name") not in safe:
            yield Hit((*base, "securityContext", "sysctls", i), f"sysctl {s.get('name')}")


# --- restricted ---


@rule(
    "security-privilege-escalation",
    Group.SECURITY,
    Severity.MEDIUM,
    "privilege escalation allowed",
    why="Unless allowPrivilegeEscalation is false, setuid binaries can gain more privileges than the process has.",
    fix="Set securityContext.allowPrivilegeEscalation: false on every container.",
    kinds=WORKLOADS,
    pss=Pss.RESTRICTED,
)
def privilege_escalation(obj, ctx):
    if _windows(obj):
        return
    for path, c, _ in containers(obj):
        if (c.get("securityContext") or {}).get("allowPrivilegeEscalation") is not False:
            yield Hit((*path, "securityContext"), cname(c))


@rule(
    "security-run-as-non-root",
    Group.SECURITY,
    Severity.MEDIUM,
    "may run as root",
    why="A process running as root inside the container is one kernel bug away from root on the node.",
    fix="Set runAsNonRoot: true (pod or container securityContext) and build the image with a numeric USER.",
    kinds=WORKLOADS,
    pss=Pss.RESTRICTED,
)
def run_as_non_root(obj, ctx):
    _, spec = _spec(obj)
    for path, c, _ in containers(obj):
        if effective(c, spec, "runAsNonRoot") is not True:
            yield Hit((*path, "securityContext"), cname(c))


@rule(
    "security-run-as-root-user",
    Group.SECURITY,
    Severity.HIGH,
    "runs as UID 0",
    why="runAsUser: 0 runs the process as root explicitly, whatever the image says.",
    fix="Use a non-zero runAsUser (e.g. 10001).",
    kinds=WORKLOADS,
    pss=Pss.RESTRICTED,
)
def run_as_root_user(obj, ctx):
    if ctx.pss_version < (1, 23):
        return
    base, spec = _spec(obj)
    if (spec.get("securityContext") or {}).get("runAsUser") == 0:
        yield Hit((*base, "securityContext", "runAsUser"), "pod")
    for path, c, _ in containers(obj):
        if (c.get("securityContext") or {}).get("runAsUser") == 0:
            yield Hit((*path, "securityContext", "runAsUser"), cname(c))


@rule(
    "security-seccomp-missing",
    Group.SECURITY,
    Severity.MEDIUM,
    "no seccomp profile",
    why="Without RuntimeDefault seccomp the container may call syscalls no application needs.",
    fix="Set spec.securityContext.seccompProfile.type: RuntimeDefault.",
    kinds=WORKLOADS,
    pss=Pss.RESTRICTED,
)
def seccomp_missing(obj, ctx):
    if ctx.pss_version < (1, 19) or _windows(obj):
        return
    _, spec = _spec(obj)
    for path, c, _ in containers(obj):
        if (effective(c, spec, "seccompProfile") or {}).get("type") not in ("RuntimeDefault", "Localhost"):
            yield Hit((*path, "securityContext"), cname(c))


@rule(
    "security-capabilities-not-dropped",
    Group.SECURITY,
    Severity.MEDIUM,
    "capabilities not dropped",
    why="The runtime's default capabilities (NET_RAW, CHOWN, …) are rarely needed and widen the attack surface.",
    fix="Set capabilities.drop: [ALL]; add back only NET_BIND_SERVICE if needed.",
    kinds=WORKLOADS,
    pss=Pss.RESTRICTED,
)
def capabilities_dropped(obj, ctx):
    if ctx.pss_version < (1, 22) or _windows(obj):
        return
    for path, c, _ in containers(obj):
        caps = (c.get("securityContext") or {}).get("capabilities") or {}
        dropped = {str(x).upper() for x in caps.get("drop") or []}
        extra = [str(x) for x in caps.get("add") or [] if str(x).upper().removeprefix("CAP_") != "NET_BIND_SERVICE"]
        if "ALL" not in dropped:
            yield Hit((*path, "securityContext"), cname(c))
        elif extra:
            yield Hit((*path, "securityContext", "capabilities", "add"), f"{cname(c)} adds {', '.join(extra)}")


RESTRICTED_VOLUMES = frozenset(
    ["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"]
)


@rule(
    "security-volume-types",
    Group.SECURITY,
    Severity.MEDIUM,
    "volume type outside the restricted set",
    why="Volume types other than config, secrets, claims and emptyDir can reach node or network storage directly.",
    fix="Use a PersistentVolumeClaim (or configMap/secret/emptyDir/projected/csi) instead.",
    kinds=WORKLOADS,
    pss=Pss.RESTRICTED,
)
def volume_types(obj, ctx):
    base, spec = _spec(obj)
    for i, v in enumerate(spec.get("volumes") or []):
        kinds = [k for k in v if k != "name"]
        bad = [k for k in kinds if k not in RESTRICTED_VOLUMES]
        if bad:
            yield Hit((*base, "volumes", i, bad[0]), f"volume {v.get('name')!r} is {bad[0]}")


@rule(
    "security-read-only-root-fs",
    Group.SECURITY,
    Severity.LOW,
    "writable root filesystem",
    why="A read-only root filesystem stops an intruder from dropping tools or changing the app's code.",
    fix="Set readOnlyRootFilesystem: true and mount an emptyDir where the app must write.",
    kinds=WORKLOADS,
)
def read_only_root(obj, ctx):
    for path, c, _ in containers(obj, ("initContainers", "containers")):
        if (c.get("securityContext") or {}).get("readOnlyRootFilesystem") is not True:
            yield Hit((*path, "securityContext"), cname(c))


RULES = [
    privileged,
    host_process,
    capabilities_added,
    apparmor,
    selinux,
    proc_mount,
    seccomp_unconfined,
    sysctls,
    privilege_escalation,
    run_as_non_root,
    run_as_root_user,
    seccomp_missing,
    capabilities_dropped,
    volume_types,
    read_only_root,
]
