"""Policy engine (seed 001 "POLICY ENGINE"): what to do with the ranked hypotheses.

Rules, checked in this order:
1. nothing scored, or every hypothesis below `inconclusive_below` (0.3) -> INCONCLUSIVE;
2. conflicting evidence about the top hypothesis, or two different root causes within
   `tie_margin` of each other above `present_min` -> NEEDS_HUMAN (top hypotheses still shown);
3. top confidence above `auto_ack_min` (0.85) and a precedent for it (when required) -> AUTO_ACK;
4. hypotheses above `present_min` (0.4) -> PRESENT the best `present_top` (3) of them;
5. otherwise (between 0.3 and 0.4) -> NEEDS_HUMAN.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sre_copilot.domain.reasoning import Decision, EvidencePackage, Hypothesis
from sre_copilot.domain.types import DecisionOutcome
from sre_copilot.reasoning.evidence import conflict_subjects
from sre_copilot.reasoning.factors import precedent_value


class PolicyThresholds(BaseModel):
    model_config = ConfigDict(frozen=True)

    present_min: float = Field(default=0.4, ge=0.0, le=1.0)
    present_top: int = Field(default=3, ge=1, le=10)
    auto_ack_min: float = Field(default=0.85, ge=0.0, le=1.0)
    auto_ack_requires_precedent: bool = True
    inconclusive_below: float = Field(default=0.3, ge=0.0, le=1.0)
    conflicts_need_human: bool = Field(default=True, description="conflicting evidence on the top hypothesis")
    tie_margin: float = Field(default=0.02, ge=0.0, le=0.5,
                              description="two different root causes this close need a human to choose")

    @model_validator(mode="after")
    def _ordered(self) -> PolicyThresholds:
        if not self.inconclusive_below <= self.present_min <= self.auto_ack_min:
            raise ValueError("thresholds must satisfy inconclusive_below <= present_min <= auto_ack_min")
        return self


DEFAULT_THRESHOLDS = PolicyThresholds()


def apply_policy(hypotheses: list[Hypothesis], *, evidence: EvidencePackage,
                 thresholds: PolicyThresholds = DEFAULT_THRESHOLDS, now: datetime) -> Decision:
    ranked = sorted(hypotheses, key=lambda h: (h.rank if h.rank else 10**6, -h.confidence))
    if not ranked:
        return Decision(outcome=DecisionOutcome.INCONCLUSIVE, reasons=["no hypothesis could be formed"], at=now)
    top = ranked[0]
    if all(h.confidence < thresholds.inconclusive_below for h in ranked):
        return Decision(outcome=DecisionOutcome.INCONCLUSIVE, at=now, reasons=[
            f"every hypothesis is below {thresholds.inconclusive_below:.2f} (best: {top.entity} "
            f"{top.fault} at {top.confidence:.2f})"])
    shown = [h for h in ranked if h.confidence >= thresholds.present_min][:thresholds.present_top]
    fallback = [h for h in ranked if h.confidence >= thresholds.inconclusive_below][:thresholds.present_top]

    reasons: list[str] = []
    if thresholds.conflicts_need_human:
        names = {n for n in (top.entity, top.service) if n}
        reasons += [f"conflicting evidence: {c}" for c in evidence.conflicts if names & set(conflict_subjects(c))]
    if len(shown) >= 2 and _different_roots(shown[0], shown[1]) and \
            shown[0].confidence - shown[1].confidence < thresholds.tie_margin:
        reasons.append(f"{shown[0].entity} ({shown[0].fault}) and {shown[1].entity} ({shown[1].fault}) are "
                       f"within {thresholds.tie_margin:.2f} of each other")
    if reasons:
        return Decision(outcome=DecisionOutcome.NEEDS_HUMAN, reasons=reasons, presented=[h.id for h in shown or fallback],
                        at=now)

    has_precedent = top.factors is not None and top.factors.precedent_frequency > precedent_value(0)
    if top.confidence >= thresholds.auto_ack_min:
        if has_precedent or not thresholds.auto_ack_requires_precedent:
            return Decision(outcome=DecisionOutcome.AUTO_ACK, presented=[h.id for h in shown], at=now, reasons=[
                f"{top.entity} {top.fault} at {top.confidence:.2f} >= {thresholds.auto_ack_min:.2f}"
                + (" with precedent" if has_precedent else "")])
        reasons_present = [f"{top.confidence:.2f} would auto-ack, but there is no precedent for {top.fault} on {top.entity}"]
    else:
        reasons_present = []
    if shown:
        return Decision(outcome=DecisionOutcome.PRESENT, presented=[h.id for h in shown], at=now, reasons=[
            *reasons_present, f"{len(shown)} hypothesis(es) at or above {thresholds.present_min:.2f}; best "
                              f"{top.entity} {top.fault} at {top.confidence:.2f}"])
    return Decision(outcome=DecisionOutcome.NEEDS_HUMAN, presented=[h.id for h in fallback], at=now, reasons=[
        f"best hypothesis {top.entity} {top.fault} at {top.confidence:.2f} is below {thresholds.present_min:.2f}"])


def _different_roots(a: Hypothesis, b: Hypothesis) -> bool:
    """Two hypotheses about the same service (a change on it vs. saturation of it, or one of its
    instances) agree on where to look; different services or a host vs. a service do not."""
    return (a.service or a.entity) != (b.service or b.entity)
