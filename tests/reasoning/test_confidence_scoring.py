"""Seed 001 confidence: the factor value tables, the weighted sum, ranges, ranking and ties."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from reasoning_pipeline import LabelledIncident, load_labelled, run

from sre_copilot.domain.incident import Incident, IncidentState
from sre_copilot.domain.types import ChangeKind, Priority
from sre_copilot.reasoning.confidence import ConfidenceWeights, score_hypotheses
from sre_copilot.reasoning.evidence import VectorPrecedents
from sre_copilot.reasoning.factors import (
    evidence_quality_value,
    human_validation_value,
    precedent_value,
    signal_strength_value,
    temporal_value,
)
from sre_copilot.reasoning.vectors import HashingEmbedder, LocalVectorIndex


def _case(name: str) -> LabelledIncident:
    return next(c for c in load_labelled("simple") if c.name == name)


# -- the seed's tables, exactly at their anchors ----------------------------------------------------
@pytest.mark.parametrize(("sigma", "value"), [(3.0, 0.9), (4.5, 0.9), (2.0, 0.7), (1.0, 0.4), (1.5, 0.55),
                                              (0.0, 0.1), (-3.2, 0.9)])
def test_signal_strength_table(sigma: float, value: float) -> None:
    assert signal_strength_value(sigma) == pytest.approx(value)


@pytest.mark.parametrize(("kind", "lag_s", "cosmetic", "value"), [
    (ChangeKind.DEPLOY, 300, False, 0.95),       # deploy at T, symptom at T+5min
    (ChangeKind.DEPLOY, 0, False, 0.95),
    (ChangeKind.CONFIG, 180, False, 0.85),       # recent config change
    (ChangeKind.DEPLOY, 1800, False, 0.625),     # halfway to "none" by 30 minutes
    (ChangeKind.DEPLOY, 6 * 3600, False, 0.35),
    (ChangeKind.DEPLOY, 30 * 3600, False, 0.3),  # no temporal correlation
    (ChangeKind.DEPLOY, -600, False, 0.3),       # after the first symptom
    (ChangeKind.DEPLOY, 120, True, 0.3),         # docs-only change
])
def test_temporal_table(kind: ChangeKind, lag_s: float, cosmetic: bool, value: float) -> None:
    assert temporal_value(kind, lag_s, cosmetic=cosmetic) == pytest.approx(value)


@pytest.mark.parametrize(("count", "value"), [(0, 0.3), (1, 0.5), (2, 0.5), (3, 0.7), (9, 0.7), (10, 0.9), (40, 0.9)])
def test_precedent_table(count: int, value: float) -> None:
    assert precedent_value(count) == value


def test_evidence_quality_table() -> None:
    assert evidence_quality_value(3, True, 0.0) == 0.95   # multiple independent sources, no contradictions
    assert evidence_quality_value(1, True, 0.0) == 0.7    # single strong source
    assert evidence_quality_value(1, False, 0.0) == 0.4   # weak
    assert evidence_quality_value(2, True, 1.0) == 0.4    # conflicting
    assert evidence_quality_value(2, True, 0.5) == pytest.approx(0.675)


def test_human_validation_table() -> None:
    assert human_validation_value(8, 10) == 0.8   # accepted 8/10 times
    assert human_validation_value(0, 0) == 0.5    # no history
    assert human_validation_value(1, 10) == 0.2   # rejected frequently
    assert human_validation_value(2, 2) == pytest.approx(0.66)  # thin history leans neutral


def test_weights_default_to_the_seed_and_must_sum_to_one() -> None:
    weights = ConfidenceWeights()
    assert (weights.signal_strength, weights.temporal_correlation, weights.precedent_frequency,
            weights.evidence_quality, weights.human_validation) == (0.25, 0.20, 0.20, 0.20, 0.15)
    with pytest.raises(ValidationError, match="sum to 1"):
        ConfidenceWeights(signal_strength=0.5)
    with pytest.raises(ValidationError):
        ConfidenceWeights(signal_strength=-0.1, temporal_correlation=0.55)


# -- scoring ------------------------------------------------------------------------------------------
def test_confidence_is_the_weighted_sum_and_ranges_bracket_it() -> None:
    outcome = run(_case("sample-2-006#2"))
    weights = ConfidenceWeights()
    for h in outcome.hypotheses:
        assert h.factors is not None
        assert h.confidence == pytest.approx(weights.combine(h.factors), abs=1e-4)
        low, high = h.confidence_range
        assert low < h.confidence < high
    top = outcome.hypotheses[0]
    assert top.factors is not None
    assert (top.change_id, top.factors.temporal_correlation) == ("deploy-1055", 0.95)
    assert top.factors.precedent_frequency == 0.3 and top.factors.human_validation == 0.5


def test_custom_weights_change_the_ranking() -> None:
    outcome = run(_case("sample-2-006#2"))
    # With all weight on temporal correlation, the change hypothesis is still first; with none on it,
    # the change and the plain saturation hypothesis about the same service tie and structure decides.
    temporal_only = ConfidenceWeights(signal_strength=0, temporal_correlation=1, precedent_frequency=0,
                                      evidence_quality=0, human_validation=0)
    ranked = score_hypotheses(outcome.hypotheses, evidence=outcome.evidence, snapshot=outcome.snapshot,
                              weights=temporal_only)
    assert ranked[0].change_id == "deploy-1055" and ranked[0].confidence == 0.95
    no_temporal = ConfidenceWeights(signal_strength=0.3, temporal_correlation=0, precedent_frequency=0.25,
                                    evidence_quality=0.25, human_validation=0.2)
    ranked = score_hypotheses(outcome.hypotheses, evidence=outcome.evidence, snapshot=outcome.snapshot,
                              weights=no_temporal)
    assert ranked[0].confidence == ranked[1].confidence
    assert ranked[0].prior > ranked[1].prior


def test_ties_go_to_the_better_structural_fit() -> None:
    outcome = run(_case("sample-1-003#1"))  # session: service saturation vs one crash-looping pod
    by_entity = {h.entity: h for h in outcome.hypotheses}
    service, pod = by_entity["session"], by_entity["session-4cc99-0"]
    assert service.confidence == pod.confidence
    assert service.rank < pod.rank and service.prior > pod.prior
    # Re-scoring in any input order gives the same ranking.
    ranked = score_hypotheses(list(reversed(outcome.hypotheses)), evidence=outcome.evidence, snapshot=outcome.snapshot)
    assert [h.id for h in ranked] == [h.id for h in outcome.hypotheses]


def test_validation_history_and_precedent_counts_feed_factors_5_and_3() -> None:
    outcome = run(_case("sample-1-002#1"))
    top = outcome.hypotheses[0]
    ranked = score_hypotheses(outcome.hypotheses, evidence=outcome.evidence, snapshot=outcome.snapshot,
                              validation_history={f"{top.fault}|{top.service}": (8, 10)},
                              precedent_counts={top.fault: 12})
    again = next(h for h in ranked if h.id == top.id)
    assert again.factors is not None
    assert (again.factors.human_validation, again.factors.precedent_frequency) == (0.8, 0.9)
    assert again.confidence == pytest.approx(top.confidence + 0.15 * 0.3 + 0.2 * 0.6, abs=1e-4)
    # With history and precedent known, two "no information" defaults are gone: the range narrows.
    assert again.confidence_range[1] - again.confidence_range[0] < top.confidence_range[1] - top.confidence_range[0]


def test_precedents_from_the_vector_index_count_for_matching_hypotheses() -> None:
    # Given three past incidents concluded as saturation of search, indexed as precedents
    index, embedder = LocalVectorIndex(), HashingEmbedder()
    precedents = VectorPrecedents(index=index, embedder=embedder)
    for i in range(3):
        past = Incident.open(incident_id=f"inc-past-{i}", tenant_id="default", priority=Priority.P2,
                             title="search-latency-p99-high", service="search", at="2026-01-01T00:00:00Z",
                             actor="t", reason="t")
        past.services = ["search", "session"]
        past.hypotheses = [{"entity": "search", "service": "search", "fault": "saturation", "summary": "p99 latency"}]
        past.state = IncidentState.RESOLVED
        assert precedents.add(past)

    # When the same kind of incident is scored
    outcome = run(_case("sample-1-002#1"), precedents=precedents)

    # Then the matching hypothesis counts three precedents (factor 0.7); others count none
    top = outcome.hypotheses[0]
    assert (top.entity, top.fault) == ("search", "saturation")
    assert top.factors is not None and top.factors.precedent_frequency == 0.7
    assert all(h.factors is not None and h.factors.precedent_frequency == 0.3 for h in outcome.hypotheses[1:])


def test_missing_context_widens_the_range() -> None:
    outcome = run(_case("sample-2-003#0"))
    fuller = outcome.snapshot.model_copy(update={"missing": {}})
    poorer = outcome.snapshot.model_copy(update={"missing": {"traffic_baseline": "x", "slo_state": "y",
                                                             "dependency_health": "z"}})
    a = score_hypotheses(outcome.hypotheses, evidence=outcome.evidence, snapshot=fuller)[0]
    b = score_hypotheses(outcome.hypotheses, evidence=outcome.evidence, snapshot=poorer)[0]
    assert a.confidence == b.confidence
    assert (b.confidence_range[1] - b.confidence_range[0]) - (a.confidence_range[1] - a.confidence_range[0]) == \
        pytest.approx(2 * 3 * 0.02, abs=1e-3)
