"""Intent classification: compiled patterns with confidence, LLM validation only when unsure."""

from control_plane.config import ControlPlaneConfig
from control_plane.decision import ControlPlane
from control_plane.intents import Candidate, Decision, Entities, Intent, TimeRange
from control_plane.patterns import PatternError, load_patterns
from control_plane.validation import IntentLLM

__all__ = [
    "Candidate",
    "ControlPlane",
    "ControlPlaneConfig",
    "Decision",
    "Entities",
    "Intent",
    "IntentLLM",
    "PatternError",
    "TimeRange",
    "load_patterns",
]
