"""Release history: versioned, chunked records in the cluster, and the deploy lock (a Lease)."""

from shiplane.releases.record import MigrationRun, Outcome, Release
from shiplane.releases.store import ClusterStore, MemoryStore, Store

__all__ = ["ClusterStore", "MemoryStore", "MigrationRun", "Outcome", "Release", "Store"]
