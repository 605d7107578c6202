"""Container registries over the OCI distribution API: references, auth, resolve, read, push, copy, referrers.

Sits in the same layer as `shiplane.kube` (it talks to the network); it imports only
`errors`, `events`, `redaction` and `fileio`. `images`, `actions` and above use it.
"""

from shiplane.registry.auth import Credentials, DockerConfig
from shiplane.registry.client import Client, insecure_from_env, pick_platform
from shiplane.registry.manifest import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    Manifest,
    platform_of,
    sha256,
)
from shiplane.registry.reference import Reference, check_digest

__all__ = [
    "DOCKER_LIST",
    "DOCKER_MANIFEST",
    "OCI_INDEX",
    "OCI_MANIFEST",
    "Client",
    "Credentials",
    "DockerConfig",
    "Manifest",
    "Reference",
    "check_digest",
    "insecure_from_env",
    "pick_platform",
    "platform_of",
    "sha256",
]
