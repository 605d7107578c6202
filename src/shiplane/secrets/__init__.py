"""Secrets and configuration over time (docs/secrets.md): generated values, versions, rotation, etcd.

- `timing`: pure: durations, when a version is due, status rows (metadata only, never a value)
- `generating`: making a new value per kind (password, token, keypair, tls, from-command)
- `vault`: the shiplane-owned Secret per app and stage that holds the versions and rotation progress
- `dual`: pure: the dual-credential rotation's phases and credential form
- `etcd`: values of `fromEtcd` sources, their revisions, and what changed between two releases
"""
