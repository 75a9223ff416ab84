"""One import point for every domain model."""

from sre_copilot.domain.action import ActionPlan, Recommendation
from sre_copilot.domain.change import ChangeEvent
from sre_copilot.domain.incident import GroupingExplanation, Incident, IncidentState, Transition
from sre_copilot.domain.notification import AuditRecord, Notification
from sre_copilot.domain.reasoning import (
    ConfidenceFactors,
    ContextSnapshot,
    Decision,
    Evidence,
    EvidencePackage,
    Hypothesis,
)
from sre_copilot.domain.signal import Origin, Signal

__all__ = [
    "ActionPlan",
    "AuditRecord",
    "ChangeEvent",
    "ConfidenceFactors",
    "ContextSnapshot",
    "Decision",
    "Evidence",
    "EvidencePackage",
    "GroupingExplanation",
    "Hypothesis",
    "Incident",
    "IncidentState",
    "Notification",
    "Origin",
    "Recommendation",
    "Signal",
    "Transition",
]
