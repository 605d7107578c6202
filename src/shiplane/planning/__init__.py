"""Desired vs live → ordered waves, field diffs (secrets masked) and the prune set. Pure."""

from shiplane.planning.diff import FieldChange, diff
from shiplane.planning.ordering import DEFAULT_RULES, Wave, WaveRule, rules, waves
from shiplane.planning.plan import Action, Change, Plan, Probe, Pruning, make, pruning

__all__ = [
    "DEFAULT_RULES",
    "Action",
    "Change",
    "FieldChange",
    "Plan",
    "Probe",
    "Pruning",
    "Wave",
    "WaveRule",
    "diff",
    "make",
    "pruning",
    "rules",
    "waves",
]
