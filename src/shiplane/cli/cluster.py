"""`shiplane cluster …`: the local control plane for rehearsals and tests."""

from __future__ import annotations

import json

import click

from shiplane.cli.output import drain

name_option = click.option(
    "--name", default="default", show_default=True, help="Which local cluster (several can run at once)."
)
plain_option = click.option("--plain", is_flag=True, help="Timestamped lines instead of a live display.")


@click.group()
def cluster() -> None:
    """A real local Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager,
    kube-scheduler, kwok nodes) built from the official Go modules."""


@cluster.command()
@click.option("--force", is_flag=True, help="Rebuild even if a cached build exists.")
@click.option(
    "--tool",
    "tools",
    multiple=True,
    metavar="NAME",
    help="Also build a Go tool the tests and benchmarks use (crane, helm, cosign, syft, kube-score, "
    "kustomize, kompose); repeatable.",
)
@click.option("--real-node", is_flag=True, help="Also build containerd and the kubelet (for `up --real-node`).")
@plain_option
def build(force: bool, tools: tuple[str, ...], real_node: bool, plain: bool) -> None:
    """Build (or locate) the control-plane binaries; cached under ~/.cache/shiplane."""
    from shiplane.localcluster import binaries, nodebuild
    from shiplane.localcluster import tools as gotools

    found = drain(binaries.build(force=force), plain=plain or None)
    for component, argv in found.argv.items():
        click.echo(f"{component:24} {' '.join(argv)}  [{found.origin[component]}]")
    if real_node:
        node = drain(nodebuild.build(), plain=plain or None)
        click.echo(f"{'containerd':24} {node.containerd_dir / 'containerd'}")
        click.echo(f"{'kubelet':24} {node.kubelet}")
    for name in tools:
        click.echo(f"{name:24} {drain(gotools.build(name), plain=plain or None)}")


@cluster.command()
@name_option
@click.option("--nodes", default=1, show_default=True, type=click.IntRange(1, 100), help="Fake kwok nodes.")
@click.option("--timeout", default=180.0, show_default=True, help="Seconds to wait for each component.")
@click.option(
    "--metrics-server",
    is_flag=True,
    help="Also run metrics-server (built once from the Go module proxy): metrics.k8s.io, so `status` shows "
    "usage against limits; kwok's simulated usage comes from the pod annotations kwok.x-k8s.io/usage-cpu|memory.",
)
@click.option(
    "--real-node",
    is_flag=True,
    help="Also run one real node (containerd + kubelet in namespaces of its own, tainted "
    "shiplane.dev/real-node:NoSchedule) that really runs containers; Linux, root.",
)
@plain_option
def up(name: str, nodes: int, timeout: float, metrics_server: bool, real_node: bool, plain: bool) -> None:
    """Start the local cluster (building it first if needed); prints the kubeconfig path."""
    from shiplane.localcluster import cluster as lc

    state = drain(
        lc.up(name, nodes=nodes, start_timeout=timeout, metrics_server=metrics_server, real_node=real_node),
        plain=plain or None,
    )
    click.echo(str(state.kubeconfig))
    click.echo(f"# kubectl --kubeconfig {state.kubeconfig} get nodes", err=True)


@cluster.command()
@name_option
@click.option("-o", "--output", type=click.Choice(["text", "json", "yaml"]), default="text", show_default=True)
@click.pass_context
def status(ctx: click.Context, name: str, output: str) -> None:
    """Processes, API server version and nodes of a local cluster; exit 1 if unhealthy."""
    from dataclasses import asdict

    from shiplane.localcluster import cluster as lc

    st = lc.status(name)
    data = {**asdict(st), "healthy": st.healthy}
    if output == "json":
        click.echo(json.dumps(data, indent=2))
    elif output == "yaml":
        import yaml

        click.echo(yaml.safe_dump(data, sort_keys=False))
    else:
        click.echo(f"cluster {st.name}: {'healthy' if st.healthy else 'UNHEALTHY'}  {st.server}  {st.version or ''}")
        click.echo(f"kubeconfig: {st.kubeconfig}")
        for component, info in st.components.items():
            state = "running" if info["running"] else "NOT RUNNING"
            click.echo(f"  {component:24} pid {info['pid']:<8} {state}")
        for n in st.nodes:
            click.echo(f"  node {n['name']:19} {'Ready' if n['ready'] else 'NotReady'}")
        for problem in st.problems:
            click.secho(f"  problem: {problem}", fg="red")
    ctx.exit(0 if st.healthy else 1)


@cluster.command()
@name_option
def kubeconfig(name: str) -> None:
    """Print the path of the cluster's kubeconfig (use: export KUBECONFIG=$(shiplane cluster kubeconfig))."""
    from shiplane.errors import InputError
    from shiplane.localcluster import cluster as lc

    state = lc.ClusterState.load(name)
    if state is None:
        raise InputError(f"no cluster named {name!r}", hint="start it with `shiplane cluster up`")
    click.echo(str(state.kubeconfig))


@cluster.command()
@name_option
@plain_option
def down(name: str, plain: bool) -> None:
    """Stop every process of the cluster (by pid) and remove its state."""
    from shiplane.localcluster import cluster as lc

    outcome = drain(lc.down(name), plain=plain or None)
    for component, how in outcome.items():
        click.echo(f"{component:24} {how}")
