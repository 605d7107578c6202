"""The `shiplane` command: parse, call the library, render its events.

`main()` is the single error boundary: a ShiplaneError becomes a clear message on
stderr and its exit code; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys

import click

from shiplane import __version__
from shiplane.errors import OutputFailed, ShiplaneError

# Write failures that are the machine's, not shiplane's: a full disk or quota, an I/O error.
WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EROFS}


class PipeClosed(Exception):
    """The reader of stdout went away (`| head -1`). click would turn it into exit 1,
    which reads as "changes pending" for plan: main() ends as SIGPIPE would instead."""


class LazyGroup(click.Group):
    """Imports a subcommand's module only when it runs, so `shiplane --help` stays fast.

    `lazy` maps a command to ("module:attr", its one-line help): `--help` lists the
    commands from these lines without importing them (a unit test keeps them equal
    to the commands' own docstrings).
    """

    def __init__(self, *args, lazy: dict[str, tuple[str, str]] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy:
            module_name, attr = self.lazy[name][0].rsplit(":", 1)
            module = __import__(module_name, fromlist=[attr])
            return getattr(module, attr)
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, self.lazy[name][1]) for name in self.list_commands(ctx)]
        if rows:
            limit = formatter.width - 6 - max(len(name) for name, _ in rows)
            with formatter.section("Commands"):
                formatter.write_dl([(name, click.utils.make_default_short_help(h, limit)) for name, h in rows])

    def make_context(self, *args, **kwargs) -> click.Context:
        try:  # --help and --version print while the arguments are parsed
            return super().make_context(*args, **kwargs)
        except BrokenPipeError as err:
            raise PipeClosed() from err

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except BrokenPipeError as err:
            raise PipeClosed() from err


@click.group(
    cls=LazyGroup,
    lazy={
        "build": (
            "shiplane.cli.building:build",
            "Build each service's `build:` context with docker buildx, podman or buildah, tag it by content and "
            "push it.",
        ),
        "check": (
            "shiplane.cli.check:check",
            "Audit Kubernetes objects and Dockerfiles against best-practice and security rules.",
        ),
        "cluster": (
            "shiplane.cli.cluster:cluster",
            "A real local Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, "
            "kwok nodes) built from the official Go modules.",
        ),
        "export": (
            "shiplane.cli.export:export",
            "Export the app's stages as a Helm chart, a Kustomize tree or a GitOps repository layout.",
        ),
        "images": (
            "shiplane.cli.images:images",
            "Audit container images: what is installed, which advisories affect it.",
        ),
        "import": (
            "shiplane.cli.importing:import_",
            "Import compose, systemd units, Procfiles, manifests, Helm charts or Kustomize into a spec.",
        ),
        "registry": (
            "shiplane.cli.registry:registry",
            "A local OCI registry on loopback (crane registry serve) for rehearsals and tests.",
        ),
        "render": ("shiplane.cli.render:render", "Render a stage of the app as Kubernetes objects."),
        "schema": (
            "shiplane.cli.render:schema",
            "Print the JSON Schema of shiplane.yaml (for editor completion and validation).",
        ),
        "plan": (
            "shiplane.cli.deploying:plan",
            "What a deploy would do: creates, field diffs (secrets masked), replaces, prunes, migrations, "
            "and the preflight gaps a deploy would refuse.",
        ),
        "deploy": (
            "shiplane.cli.deploying:deploy",
            "Gate on policy, check the cluster can take it (preflight), apply the stage in ordered waves, run "
            "migrations first, wait for the rollout (failing fast on errors that will not fix themselves); roll "
            "back automatically on failure.",
        ),
        "rollback": (
            "shiplane.cli.deploying:rollback",
            "Re-apply an earlier successful release (default: the one before the current).",
        ),
        "history": ("shiplane.cli.deploying:history", "Releases of the app in this stage, oldest first."),
        "status": (
            "shiplane.cli.deploying:status",
            "Every workload of the current release: readiness, restarts, OOM kills.",
        ),
        "promote": (
            "shiplane.cli.deploying:promote",
            "Deploy to --to exactly the images (digests where known) that --from runs.",
        ),
        "events": (
            "shiplane.cli.live:events",
            "Events about the app's objects (its workloads, their revisions and pods), grouped by workload.",
        ),
        "logs": (
            "shiplane.cli.live:logs",
            "All pods' logs of a service (or of the whole app), merged, each line prefixed with its pod.",
        ),
        "dashboard": (
            "shiplane.cli.dashboard:dashboard",
            "A local web dashboard: stages, release timelines, diffs, live status, DORA charts, /metrics.",
        ),
        "diff": (
            "shiplane.cli.operate:diff",
            "Drift: how live objects differ from what the last release applied, and who changed them.",
        ),
        "gc": (
            "shiplane.cli.operate:gc",
            "Free a stage's leftovers: finished Jobs, dead pods, old ReplicaSets, unused config, old records.",
        ),
        "metrics": (
            "shiplane.cli.operate:metrics",
            "Prometheus metrics of the stages: releases, durations, rollbacks, workloads, and the DORA four.",
        ),
        "secrets": (
            "shiplane.cli.secrets:secrets",
            "Generated secrets over time: versions, due dates and rotation through the deploy engine.",
        ),
        "targets": (
            "shiplane.cli.targets:targets",
            "Show where the app runs: the stage x dimension targets of the spec's targets: block.",
        ),
        "unlock": (
            "shiplane.cli.deploying:unlock",
            "Remove the deploy lock now (it also expires by itself when its holder stops renewing it).",
        ),
    },
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="shiplane")
def root() -> None:
    """Describe a multi-service app once; render, audit, deploy and operate it on Kubernetes."""


def _error(err: ShiplaneError) -> int:
    with contextlib.suppress(OSError):  # stderr itself unwritable: the exit code is all that is left
        click.secho(f"error: {err}", fg="red", err=True)
    return err.exit_code


def _discard_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush of what is still
    buffered cannot fail again (and print "Exception ignored …")."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # stdout is not a real file (a test's capture): nothing will flush it at exit


def main(argv: list[str] | None = None) -> int:
    """Run one command; its exit code. Output errors end here too: a closed pipe
    (`| head -1`) ends quietly as SIGPIPE would; a full disk is a one-line error, exit 3."""
    try:
        code = _main(argv)
        sys.stdout.flush()  # buffered output fails here, inside the boundary, not at exit
        return code
    except (BrokenPipeError, PipeClosed):
        _discard_stdout()
        return 128 + 13  # what a shell reports for a command ended by SIGPIPE
    except OSError as err:
        if err.errno not in WRITE_ERRNOS:
            raise
        _discard_stdout()
        where = err.filename or "output"
        return _error(OutputFailed(f"cannot write {where}: {err.strerror or err}"))


def _main(argv: list[str] | None) -> int:
    try:
        rv = root.main(args=argv, prog_name="shiplane", standalone_mode=False)
    except ShiplaneError as err:
        return _error(err)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as err:
        err.show()
        return 2
    except click.exceptions.Exit as err:
        return err.exit_code
    return rv if isinstance(rv, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


def run() -> None:
    """Console-script entry point (and `python -m shiplane`)."""
    # Where rfc3987-syntax is installed, python-jsonschema compiles its 38 grammars when imported (1.5 s of
    # CPU), and kubernetes' dynamic client imports it (through kubernetes-validate) for every command that
    # talks to a cluster. This process never checks JSON Schema "iri" formats: blocked in the process we
    # own, never for library callers.
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
    sys.exit(main())
