"""`Incident` and its lifecycle state machine.

The lifecycle is DETECTED -> ACKNOWLEDGED -> INVESTIGATING -> MITIGATED -> RESOLVED -> LEARNED, with
INCONCLUSIVE -> LEARNED when the evidence never supports a cause. Real incidents skip steps (alerts
clear before anyone acks; the copilot starts investigating before the page is acked), so the table
allows forward skips along the main path but never a move back, except the two re-openings an SRE
expects: a mitigation that regresses and new evidence on an inconclusive incident.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sre_copilot.domain.types import DecisionOutcome, Priority, UtcDateTime
from sre_copilot.errors import InvalidTransition


class IncidentState(StrEnum):
    DETECTED = "DETECTED"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    INVESTIGATING = "INVESTIGATING"
    MITIGATED = "MITIGATED"
    RESOLVED = "RESOLVED"
    INCONCLUSIVE = "INCONCLUSIVE"
    LEARNED = "LEARNED"


S = IncidentState
ALLOWED_TRANSITIONS: dict[IncidentState, frozenset[IncidentState]] = {
    S.DETECTED: frozenset({S.ACKNOWLEDGED, S.INVESTIGATING, S.MITIGATED, S.RESOLVED, S.INCONCLUSIVE}),
    S.ACKNOWLEDGED: frozenset({S.INVESTIGATING, S.MITIGATED, S.RESOLVED, S.INCONCLUSIVE}),
    S.INVESTIGATING: frozenset({S.MITIGATED, S.RESOLVED, S.INCONCLUSIVE}),
    S.MITIGATED: frozenset({S.RESOLVED, S.INVESTIGATING}),
    S.RESOLVED: frozenset({S.LEARNED}),
    S.INCONCLUSIVE: frozenset({S.LEARNED, S.INVESTIGATING}),
    S.LEARNED: frozenset(),
}
OPEN_STATES = frozenset({S.DETECTED, S.ACKNOWLEDGED, S.INVESTIGATING, S.MITIGATED, S.INCONCLUSIVE})


class Transition(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True)

    at: UtcDateTime
    state: IncidentState
    previous: IncidentState | None = None
    actor: str
    reason: str


class GroupingExplanation(BaseModel):
    """Why a signal joined (or opened) this incident: the rule, the evidence and the graph path."""
    model_config = ConfigDict(defer_build=True)

    signal_id: str
    rule: str
    evidence: str
    path: list[str] = Field(default_factory=list)
    score: float = 1.0


class Incident(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore", validate_assignment=True)

    id: str
    tenant_id: str = "default"
    state: IncidentState = IncidentState.DETECTED
    priority: Priority
    title: str
    service: str | None = None
    opened_at: UtcDateTime
    updated_at: UtcDateTime
    signal_ids: list[str] = Field(default_factory=list)
    services: list[str] = Field(default_factory=list)
    entities: list[str] = Field(default_factory=list)
    grouping: list[GroupingExplanation] = Field(default_factory=list)
    timeline: list[Transition] = Field(default_factory=list)
    merged_into: str | None = None
    merged_from: list[str] = Field(default_factory=list)
    execution: str | None = None
    evidence_version: int = 0
    analyses: int = Field(default=0, description="analysis passes started (domain/reanalysis.py spaces them)")
    analysed_at: UtcDateTime | None = Field(default=None, description="when the last analysis pass started")
    decision: DecisionOutcome | None = None
    acknowledged_at: UtcDateTime | None = None
    resolved_at: UtcDateTime | None = None
    resolution_proposed: bool = False
    signals_clear_since: UtcDateTime | None = Field(
        default=None, description="when the last firing signal cleared; None while any fires")
    close_requested_at: UtcDateTime | None = Field(
        default=None, description="when a resolution (human or automatic) was decided")
    root_cause: dict[str, object] | None = Field(
        default=None, description="the cause a person confirmed or a verified action proved (services/feedback.py)")
    feedback: list[str] = Field(default_factory=list, description="verdicts already counted, so none counts twice")
    snapshot_ref: str | None = None
    postmortem_ref: str | None = None
    pagerduty_incident_id: str | None = None
    hypotheses: list[dict[str, object]] = Field(default_factory=list, description="ranked, as last scored")
    recommendation: dict[str, object] | None = None
    alert_kinds: list[str] = Field(default_factory=list, description="alert names seen, to spot new evidence")
    last_card: str | None = Field(default=None, description="digest of the last card sent to people")
    slack_card: dict[str, Any] = Field(default_factory=dict, description=(
        "the one living Slack card: channel and ts once posted, and what it last said (top hypothesis, "
        "decision, signal count, PagerDuty note digest) so only material changes are announced"))
    version: int = Field(default=0, description="optimistic-locking counter kept by the store")

    @classmethod
    def open(
        cls, *, incident_id: str, tenant_id: str, priority: Priority, title: str, service: str | None,
        at: object, actor: str, reason: str,
    ) -> Incident:
        incident = cls(
            id=incident_id, tenant_id=tenant_id, priority=priority, title=title, service=service,
            opened_at=at, updated_at=at,  # type: ignore[arg-type]
        )
        incident.timeline = [Transition(at=incident.opened_at, state=S.DETECTED, actor=actor, reason=reason)]
        return incident

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES and self.merged_into is None

    def can_transition(self, to: IncidentState) -> bool:
        return to in ALLOWED_TRANSITIONS[self.state]

    def transition(self, to: IncidentState, *, at: object, actor: str, reason: str) -> Transition:
        """Move the lifecycle, or raise `InvalidTransition` naming the moves that are allowed."""
        if not self.can_transition(to):
            allowed = ", ".join(sorted(ALLOWED_TRANSITIONS[self.state])) or "none (terminal)"
            raise InvalidTransition(
                f"incident {self.id} cannot move from {self.state} to {to}; allowed from {self.state}: {allowed}"
            )
        step = Transition(at=at, state=to, previous=self.state, actor=actor, reason=reason)  # type: ignore[arg-type]
        self.timeline = [*self.timeline, step]
        self.state = to
        self.updated_at = step.at
        if to is S.ACKNOWLEDGED and self.acknowledged_at is None:
            self.acknowledged_at = step.at
        if to is S.RESOLVED:
            self.resolved_at = step.at
        return step

    def mtta_seconds(self) -> float | None:
        if self.acknowledged_at is None:
            return None
        return (self.acknowledged_at - self.opened_at).total_seconds()

    def mttr_seconds(self) -> float | None:
        if self.resolved_at is None:
            return None
        return (self.resolved_at - self.opened_at).total_seconds()
