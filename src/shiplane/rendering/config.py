"""ConfigMaps and Secrets named by content hash, so any change rolls the pods that use them.

They are immutable: a new value is a new object, the old ReplicaSet keeps its own,
and rollback works; old ones are collected later by name prefix and labels.
"""

from __future__ import annotations

import base64
from typing import Any

from shiplane import digests
from shiplane.rendering import limits
from shiplane.rendering.meta import content_hash, labels, metadata, obj
from shiplane.rendering.pods import file_key
from shiplane.spec import Service, StageSpec
from shiplane.spec.inputs import Inputs


def _secret_name(name: str, data: dict, key: bytes | None) -> str:
    """`<name>-<10 hex>`: keyed with the stage's digest key (the name is in history and `kubectl get`,
    and must not let a guess of the value be checked); a plain content hash offline, without one."""
    content = {"kind": "Secret", "data": data}
    return f"{name}-{digests.suffix(key, content) if key is not None else content_hash(content)}"


def secrets(stage: StageSpec, namespace: str, inputs: Inputs, used: list[str]) -> tuple[list[dict], dict[str, str]]:
    """One Secret per used spec secret (a rotation rolls only the pods that use it)."""
    objs, names = [], {}
    for name in used:
        limits.config_data(stage, ("secrets", name), f"secret {name!r}", {"value": inputs.secrets[name]}, {})
        data = {"value": base64.b64encode(inputs.secrets[name]).decode()}
        full = _secret_name(name, data, inputs.digest_key)
        names[name] = full
        meta = metadata(stage, namespace, full, labels(stage, stage.doc.app.name, component="secret"))
        meta["labels"]["shiplane.io/secret"] = name
        objs.append(obj("v1", "Secret", meta, type="Opaque", immutable=True, data=data))
        if name in inputs.retained:  # the previous generated version: kept for rollback, used by no pod
            data = {"value": base64.b64encode(inputs.retained[name]).decode()}
            kept = _secret_name(name, data, inputs.digest_key)
            meta = metadata(stage, namespace, kept, labels(stage, stage.doc.app.name, component="secret"))
            meta["labels"]["shiplane.io/retained-secret"] = name
            objs.append(obj("v1", "Secret", meta, type="Opaque", immutable=True, data=data))
    return objs, names


def _configmap(stage: StageSpec, namespace: str, base: str, svc_name: str, svc: Service, data: dict) -> dict:
    full = f"{base}-{content_hash({'kind': 'ConfigMap', 'data': data})}"
    meta = metadata(stage, namespace, full, labels(stage, svc_name, svc))
    return obj("v1", "ConfigMap", meta, immutable=True, data=data)


def env_config(stage: StageSpec, namespace: str, name: str, svc: Service) -> dict[str, Any] | None:
    data = {k: v.value for k, v in svc.env.items() if v.value is not None}
    limits.config_data(stage, ("services", name, "env"), f"the environment ConfigMap of {name!r}", data, {})
    return _configmap(stage, namespace, f"{name}-env", name, svc, data) if data else None


def files_config(stage: StageSpec, namespace: str, name: str, svc: Service, inputs: Inputs) -> dict[str, Any] | None:
    data, parts = {}, {}
    for path, f in svc.files.items():
        if f.secret is None:
            data[file_key(path)] = f.content if f.content is not None else inputs.files[f.from_file]
            parts[file_key(path)] = path if f.from_file is None else f"{path} (fromFile {f.from_file})"
    limits.config_data(stage, ("services", name, "files"), f"the files ConfigMap of {name!r}", data, parts)
    return _configmap(stage, namespace, f"{name}-files", name, svc, data) if data else None
