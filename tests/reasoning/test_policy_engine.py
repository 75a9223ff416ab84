"""Seed 001 policy: present top 3 above 0.4, auto-ack above 0.85 with precedent, inconclusive below
0.3, human input on conflicting evidence."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from sre_copilot.domain.reasoning import ConfidenceFactors, EvidencePackage, Hypothesis
from sre_copilot.domain.types import DecisionOutcome, EntityKind
from sre_copilot.reasoning.policy import PolicyThresholds, apply_policy

NOW = datetime(2026, 3, 4, 10, 10, tzinfo=UTC)


def _h(rank: int, confidence: float, entity: str, *, precedent: float = 0.3, fault: str = "saturation",
       change_id: str | None = None) -> Hypothesis:
    factors = ConfidenceFactors(signal_strength=0.9, temporal_correlation=0.4, precedent_frequency=precedent,
                                evidence_quality=0.9, human_validation=0.5)
    return Hypothesis(id=f"h{rank}", rank=rank, entity=entity, entity_kind=EntityKind.SERVICE, service=entity,
                      fault=fault, change_id=change_id, summary="s", factors=factors, confidence=confidence,
                      confidence_range=(max(0.0, confidence - 0.05), min(1.0, confidence + 0.05)))


def _package(*conflicts: str) -> EvidencePackage:
    return EvidencePackage(incident_id="inc-1", conflicts=list(conflicts))


def test_presents_the_top_three_above_the_threshold() -> None:
    ranked = [_h(1, 0.72, "checkout"), _h(2, 0.6, "cart"), _h(3, 0.5, "payments"), _h(4, 0.45, "search"),
              _h(5, 0.38, "frontend")]
    decision = apply_policy(ranked, evidence=_package(), now=NOW)
    assert decision.outcome is DecisionOutcome.PRESENT
    assert decision.presented == ["h1", "h2", "h3"]
    assert decision.at == NOW and decision.reasons


def test_auto_ack_needs_high_confidence_and_a_precedent() -> None:
    with_precedent = apply_policy([_h(1, 0.9, "checkout", precedent=0.7), _h(2, 0.5, "cart")],
                                  evidence=_package(), now=NOW)
    assert with_precedent.outcome is DecisionOutcome.AUTO_ACK
    assert with_precedent.presented == ["h1", "h2"]

    first_time = apply_policy([_h(1, 0.9, "checkout", precedent=0.3)], evidence=_package(), now=NOW)
    assert first_time.outcome is DecisionOutcome.PRESENT
    assert "no precedent" in first_time.reasons[0]

    relaxed = PolicyThresholds(auto_ack_requires_precedent=False)
    assert apply_policy([_h(1, 0.9, "checkout")], evidence=_package(), thresholds=relaxed,
                        now=NOW).outcome is DecisionOutcome.AUTO_ACK


def test_inconclusive_when_everything_is_weak_or_nothing_was_found() -> None:
    weak = apply_policy([_h(1, 0.29, "checkout"), _h(2, 0.1, "cart")], evidence=_package(), now=NOW)
    assert weak.outcome is DecisionOutcome.INCONCLUSIVE and weak.presented == []
    assert "below 0.30" in weak.reasons[0]
    assert apply_policy([], evidence=_package(), now=NOW).outcome is DecisionOutcome.INCONCLUSIVE


def test_between_inconclusive_and_present_asks_a_human() -> None:
    decision = apply_policy([_h(1, 0.35, "checkout"), _h(2, 0.2, "cart")], evidence=_package(), now=NOW)
    assert decision.outcome is DecisionOutcome.NEEDS_HUMAN
    assert decision.presented == ["h1"]


def test_conflicting_evidence_about_the_top_hypothesis_asks_a_human() -> None:
    ranked = [_h(1, 0.74, "checkout", fault="bad deploy", change_id="d1"), _h(2, 0.6, "cart")]
    conflict = "[cart, checkout] several changes landed shortly before the first symptom (d1, c2)"
    decision = apply_policy(ranked, evidence=_package(conflict), now=NOW)
    assert decision.outcome is DecisionOutcome.NEEDS_HUMAN
    assert decision.presented == ["h1", "h2"] and "conflicting evidence" in decision.reasons[0]
    # A conflict about something else does not block, nor does one when the policy ignores conflicts.
    assert apply_policy(ranked, evidence=_package("[search] alerts on search but its metrics are normal"),
                        now=NOW).outcome is DecisionOutcome.PRESENT
    assert apply_policy(ranked, evidence=_package(conflict), thresholds=PolicyThresholds(conflicts_need_human=False),
                        now=NOW).outcome is DecisionOutcome.PRESENT


def test_two_different_root_causes_neck_and_neck_ask_a_human() -> None:
    tie = apply_policy([_h(1, 0.63, "search-os"), _h(2, 0.625, "quote")], evidence=_package(), now=NOW)
    assert tie.outcome is DecisionOutcome.NEEDS_HUMAN
    same_service = apply_policy([_h(1, 0.63, "catalog", fault="bad deploy", change_id="d"), _h(2, 0.625, "catalog")],
                                evidence=_package(), now=NOW)
    assert same_service.outcome is DecisionOutcome.PRESENT


def test_thresholds_must_be_ordered() -> None:
    with pytest.raises(ValidationError, match="inconclusive_below <= present_min <= auto_ack_min"):
        PolicyThresholds(present_min=0.9, auto_ack_min=0.85)
    defaults = PolicyThresholds()
    assert (defaults.present_min, defaults.present_top, defaults.auto_ack_min, defaults.inconclusive_below) == \
        (0.4, 3, 0.85, 0.3)
