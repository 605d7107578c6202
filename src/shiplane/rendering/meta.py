"""Labels, selectors, content-hash names and object metadata shared by every renderer."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from shiplane.spec import Service, StageSpec

MANAGED_BY = "shiplane"
STAGE_LABEL = "shiplane.io/stage"
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def content_hash(content: Any) -> str:
    """10 hex digits of sha256 over canonical JSON (sorted keys, no spaces), as kustomize suffixes."""
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def selector(stage: StageSpec, name: str) -> dict[str, str]:
    """The stable subset used in selectors: never the version, which changes on every release."""
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": stage.doc.app.name}


def labels(stage: StageSpec, name: str, svc: Service | None = None, component: str | None = None) -> dict[str, str]:
    app = stage.doc.app
    out = {**app.labels, **(svc.labels if svc else stage.doc.defaults.labels)}
    version = (svc.version if svc else None) or app.version
    out.update(selector(stage, name))
    if version and len(version) <= 63 and _LABEL_VALUE.match(version):
        out["app.kubernetes.io/version"] = version
    component = component or (svc.component or svc.kind if svc else None)
    if component:
        out["app.kubernetes.io/component"] = component
    out["app.kubernetes.io/part-of"] = app.name
    out["app.kubernetes.io/managed-by"] = MANAGED_BY
    out[STAGE_LABEL] = stage.name
    return out


def metadata(
    stage: StageSpec, namespace: str, name: str, labels_: dict[str, str], annotations: dict[str, str] | None = None
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "labels": labels_}
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def obj(api_version: str, kind: str, meta: dict[str, Any], **body: Any) -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, **body}
