"""Secrets over time: values shiplane generates and keeps in the cluster, their versions and rotation.

- `timing`: pure: durations, when a version is due, status rows (metadata only, never a value)
- `generating`: making a new value per kind (password, token, keypair, tls, from-command)
- `vault`: the shiplane-owned Secret per app and stage that holds the versions
"""
