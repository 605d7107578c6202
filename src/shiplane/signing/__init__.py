"""cosign-compatible image signatures, key-based, with no cosign binary: `keys` (PEM and cosign's
encrypted key files), `formats` (pure: payloads, bundles, checks), `remote` (read and write them in a
registry through `shiplane.registry.Client`; imported on use)."""

from shiplane.signing.keys import PrivateKey, PublicKey, read_private, read_public

__all__ = ["PrivateKey", "PublicKey", "read_private", "read_public"]
