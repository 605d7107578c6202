"""The only client of the Kubernetes API in shiplane.

Built on the official `kubernetes` client's dynamic API (discovery, server-side
apply, watch). API errors are translated here, once, into shiplane's error tree
with the server's Status payload kept.
"""

from shiplane.kube.client import Conflict, Kube, Ref

__all__ = ["Conflict", "Kube", "Ref"]
