"""The real node's configuration, as data: what containerd, the kubelet and the node's init get."""

from __future__ import annotations

import json
import tarfile
import tomllib
from pathlib import Path

from shiplane.localcluster import cluster, nodebuild, nodeimages, realnode

MOUNTINFO = """\
25 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
30 25 0:26 / /sys/fs/cgroup rw,relatime shared:5 - tmpfs tmpfs rw,mode=755
31 30 0:27 / /sys/fs/cgroup/cpu rw,relatime shared:6 - cgroup cgroup rw,cpu
32 30 0:28 / /sys/fs/cgroup/memory rw,relatime shared:7 - cgroup cgroup rw,memory
33 30 0:29 / /sys/fs/cgroup/systemd rw,relatime shared:8 - cgroup cgroup rw,name=systemd
34 30 0:30 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw
40 25 0:5 / /proc rw,relatime shared:12 - proc proc rw
"""


def layout(tmp_path: Path) -> realnode.NodeLayout:
    return realnode.NodeLayout(tmp_path / "clusters" / "c1" / "node", "c1", api_port=6443, kubelet_port=10999)


def binaries(tmp_path: Path) -> nodebuild.NodeBinaries:
    return nodebuild.NodeBinaries(tmp_path / "containerd", tmp_path / "kubelet" / "kubelet")


def test_the_kubelet_checks_and_never_writes_the_machine_sysctls(tmp_path):
    node = layout(tmp_path)
    config = realnode.kubelet_config(node.directory, node.sockets, port=10999, cgroup_root=node.cgroup_root)
    assert config["protectKernelDefaults"] is True  # a mismatch is an error, never a write
    assert config["failCgroupV1"] is False and config["cgroupDriver"] == "cgroupfs"
    assert config["cgroupRoot"] == "/shiplane-c1"
    assert config["port"] == 10999 and config["readOnlyPort"] == 0
    assert config["containerRuntimeEndpoint"] == f"unix://{node.sockets}/containerd.sock"
    assert config["authentication"]["anonymous"]["enabled"] is False
    assert config["authentication"]["x509"]["clientCAFile"] == str(node.directory.parent / "pki" / "ca.crt")
    assert config["registerWithTaints"] == [{"key": realnode.TAINT_KEY, "value": "true", "effect": "NoSchedule"}]


def test_containerd_keeps_everything_under_the_node_directory(tmp_path):
    node = layout(tmp_path)
    config = tomllib.loads(realnode.containerd_config(node.directory, node.sockets))
    assert config["root"].startswith(str(node.directory)) and config["state"].startswith(str(node.directory))
    assert config["imports"] == []  # nothing from /etc/containerd
    assert config["grpc"]["address"] == str(node.sockets / "containerd.sock")
    runtime = config["plugins"]["io.containerd.cri.v1.runtime"]
    assert runtime["restrict_oom_score_adj"] is True  # no CAP_SYS_RESOURCE here
    assert runtime["cni"]["conf_dir"] == str(node.directory / "cni")
    assert runtime["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"] is False
    assert config["plugins"]["io.containerd.cri.v1.images"]["pinned_images"]["sandbox"] == realnode.PAUSE_IMAGE
    assert "io.containerd.internal.v1.opt" in config["disabled_plugins"]  # it would create /opt/containerd


def test_socket_paths_fit_a_unix_socket_however_deep_the_state_directory(tmp_path):
    deep = realnode.NodeLayout(tmp_path / ("x" * 150) / "node", "c1", 1, 2)
    assert len(str(deep.sockets / "containerd.sock.ttrpc")) < 100
    assert deep.sockets != layout(tmp_path).sockets  # one per cluster directory


def test_the_pod_network_stays_inside_the_node(tmp_path):
    cni = realnode.cni_config(layout(tmp_path).directory)
    bridge = cni["plugins"][0]
    assert bridge["type"] == "bridge" and bridge["ipMasq"] is False
    assert bridge["ipam"]["routes"] == [{"dst": "0.0.0.0/0"}]  # to the bridge, where Services are DNATed
    assert bridge["ipam"]["ranges"] == [[{"subnet": realnode.POD_SUBNET}]]
    assert bridge["ipam"]["dataDir"].startswith(str(layout(tmp_path).directory))


def test_cgroup_directories_are_the_clusters_own_in_every_hierarchy(tmp_path):
    assert realnode.cgroup_hierarchies(MOUNTINFO) == [
        "/sys/fs/cgroup/cpu",
        "/sys/fs/cgroup/memory",
        "/sys/fs/cgroup/systemd",
        "/sys/fs/cgroup/unified",
    ]
    assert layout(tmp_path).cgroup_dirs(MOUNTINFO)[1] == "/sys/fs/cgroup/memory/shiplane-c1"


def test_the_plan_covers_the_sysctls_before_anything_starts(tmp_path):
    node = layout(tmp_path)
    plan = realnode.plan(node, binaries(tmp_path))
    assert plan["sysctls"] == realnode.KUBELET_SYSCTLS
    assert set(plan["binds"].values()) == {"/run", "/var/lib", "/var/log"}
    assert all(source.startswith(str(node.directory)) for source in plan["binds"])
    assert [name for name, _ in plan["commands"]] == [
        "socat-api",
        "socat-kubelet",
        "containerd",
        "kubelet",
        "kube-proxy",
    ]
    assert plan["guards"] == realnode.GUARDED
    kubelet = dict(plan["commands"])["kubelet"]
    assert "--cloud-provider=external" in kubelet and f"--hostname-override={realnode.NODE_NAME}" in kubelet
    assert f"--root-dir={node.sockets / 'kubelet'}" in kubelet
    # Inside the netns the kubelet's API server address is the same loopback port as outside.
    assert plan["commands"][0][1][1] == "TCP-LISTEN:6443,bind=127.0.0.1,reuseaddr,fork"


def test_the_node_runs_in_private_pid_mount_and_network_namespaces(tmp_path):
    argv = realnode.node_command(layout(tmp_path))
    assert argv[0] == "unshare"
    for flag in ("--pid", "--fork", "--kill-child", "--mount", "--propagation=private", "--net", "--mount-proc"):
        assert flag in argv
    assert argv[-3:-1] == ["-m", "shiplane.localcluster.nodeinit"]
    host = dict(realnode.host_commands(layout(tmp_path)))
    assert host["node-kubelet-bridge"][1] == f"TCP-LISTEN:10999,bind={realnode.NODE_IP},reuseaddr,fork"
    assert host["node-api-bridge"][2] == "TCP:127.0.0.1:6443"


def test_namespace_annotations_place_pods_on_the_real_node():
    annotations = realnode.namespace_annotations()
    assert annotations["scheduler.alpha.kubernetes.io/node-selector"] == "shiplane.dev/real-node=true"
    assert json.loads(annotations["scheduler.alpha.kubernetes.io/defaultTolerations"]) == [
        {"key": "shiplane.dev/real-node", "operator": "Exists", "effect": "NoSchedule"}
    ]


def test_kwok_manages_only_the_fake_nodes(tmp_path):
    state = cluster.ClusterState(
        "c1",
        tmp_path,
        ports=dict.fromkeys(
            ["etcd", "etcd-peer", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"], 1
        ),
    )
    flags = cluster._flags(state)
    assert "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake" in flags["kwok"]
    assert not any(f.startswith("--manage-all-nodes") for f in flags["kwok"])
    assert cluster.node(0)["metadata"]["annotations"]["kwok.x-k8s.io/node"] == "fake"
    assert not any("admission" in f for f in flags["kube-apiserver"])  # only with a real node
    assert not any("kubelet-client" in f for f in flags["kube-apiserver"])
    state.real_node = {"cgroups": []}
    apiserver = cluster._flags(state)["kube-apiserver"]
    assert "--enable-admission-plugins=PodNodeSelector,PodTolerationRestriction" in apiserver
    assert f"--kubelet-client-certificate={tmp_path / 'pki/kubelet-client.crt'}" in apiserver


def test_an_oci_archive_names_its_image_and_its_layers_are_their_diff_ids(tmp_path):
    layer = nodeimages.files_layer({"app/VERSION": b"1"})
    assert layer == nodeimages.files_layer({"app/VERSION": b"1"})  # deterministic
    archive = nodeimages.oci_archive(tmp_path / "a.tar", "shiplane.local/x:1", [layer], entrypoint=["/x"], user="65532")
    with tarfile.open(archive) as tar:
        index = json.load(tar.extractfile("index.json"))
        descriptor = index["manifests"][0]
        assert descriptor["annotations"]["io.containerd.image.name"] == "shiplane.local/x:1"
        manifest = json.load(tar.extractfile("blobs/sha256/" + descriptor["digest"].split(":")[1]))
        config = json.load(tar.extractfile("blobs/sha256/" + manifest["config"]["digest"].split(":")[1]))
        assert config["rootfs"]["diff_ids"] == [manifest["layers"][0]["digest"]]
        assert config["config"]["User"] == "65532" and config["config"]["Entrypoint"] == ["/x"]
        assert tar.extractfile("blobs/sha256/" + manifest["layers"][0]["digest"].split(":")[1]).read() == layer
    assert not (tmp_path / "a.tar.partial").exists()


def test_the_api_servers_kubelet_client_certificate_is_for_client_auth_by_the_clusters_ca(tmp_path):
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    from shiplane.localcluster import pki

    pki.make_pki(tmp_path, cluster="c1")
    pki.make_client_cert(tmp_path, "kubelet-client", common_name="kube-apiserver-kubelet-client")
    cert = x509.load_pem_x509_certificate((tmp_path / "kubelet-client.crt").read_bytes())
    ca = x509.load_pem_x509_certificate((tmp_path / "ca.crt").read_bytes())
    cert.verify_directly_issued_by(ca)
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert (tmp_path / "kubelet-client.key").stat().st_mode & 0o777 == 0o600


def test_kube_proxy_leaves_machine_wide_conntrack_settings_alone(tmp_path):
    config = realnode.kube_proxy_config(layout(tmp_path).directory)
    assert config["mode"] == "iptables" and config["iptables"]["masqueradeAll"] is True
    conntrack = config["conntrack"]
    assert conntrack["maxPerCore"] == 0 and conntrack["min"] == 0  # 0: nf_conntrack_max and hashsize untouched
    assert conntrack["tcpEstablishedTimeout"] == "0s" and conntrack["tcpCloseWaitTimeout"] == "0s"
    assert config["clientConnection"]["kubeconfig"] == str(layout(tmp_path).directory.parent / "kubeconfig")
    assert "/proc/sys/net/netfilter/nf_conntrack_max" in realnode.GUARDED


def test_a_machine_that_cannot_run_the_node_is_told_why(monkeypatch):
    import pytest

    from shiplane.errors import EnvironmentProblem

    monkeypatch.setattr(nodebuild.os, "geteuid", lambda: 1000)
    assert nodebuild.unsupported_reason() == "a real node needs root (mount and network namespaces, cgroups)"
    with pytest.raises(EnvironmentProblem, match="cannot start a real node: a real node needs root") as err:
        realnode.check_startable()
    assert err.value.exit_code == 3
    monkeypatch.setattr(nodebuild.os, "geteuid", lambda: 0)
    monkeypatch.setattr(nodebuild.os, "access", lambda path, mode: path != "/usr/bin/socat")
    assert nodebuild.unsupported_reason() == "missing Debian packages: socat (apt-get install them)"
