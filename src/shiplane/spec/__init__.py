"""The user's files: models, loading with file:line:col errors, stage overlays.

spec = load(["shiplane.yaml"])          # every stage validated, all problems at once
stage = spec.stage("prod")              # StageSpec: merged, defaults applied
"""

from shiplane.spec.app import Document, Service, Stage
from shiplane.spec.staging import Spec, StageSpec, load

__all__ = ["Document", "Service", "Spec", "Stage", "StageSpec", "load"]
