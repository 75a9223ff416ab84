"""Multi-factor confidence (seed 001 "HYPOTHESIS CONFIDENCE SCORING").

Final confidence = sum(factor x weight) over five factors whose values come from the seed's tables
(`reasoning.factors`). Every input is read from the evidence package and the context snapshot, so
LLM-proposed hypotheses are scored exactly like deterministic ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sre_copilot.domain.reasoning import ConfidenceFactors, ContextSnapshot, EvidencePackage, Hypothesis
from sre_copilot.domain.types import EntityKind
from sre_copilot.reasoning.evidence import conflict_subjects, fact_sigma
from sre_copilot.reasoning.factors import (
    NO_TEMPORAL,
    ONSET_LEAD,
    evidence_quality_value,
    human_validation_value,
    precedent_value,
    signal_strength_value,
)
from sre_copilot.reasoning.support import Graph, SignalFact, direct, explained, facts
from sre_copilot.reasoning.symptoms import Symptom

if TYPE_CHECKING:
    from sre_copilot.reasoning.calibrated import ConfidenceCalibration

INFERRED_SIGMA = 1.5
UPSTREAM_DISCOUNT = 0.6  # a quiet dependency: only its callers' symptoms speak for it
CORROBORATION_STEP = 0.25
BASE_UNCERTAINTY = 0.04


class ConfidenceWeights(BaseModel):
    """Seed 001 weights. Configurable per tenant; must be non-negative and sum to 1."""

    model_config = ConfigDict(frozen=True)

    signal_strength: float = Field(default=0.25, ge=0.0, le=1.0)
    temporal_correlation: float = Field(default=0.20, ge=0.0, le=1.0)
    precedent_frequency: float = Field(default=0.20, ge=0.0, le=1.0)
    evidence_quality: float = Field(default=0.20, ge=0.0, le=1.0)
    human_validation: float = Field(default=0.15, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _sums_to_one(self) -> ConfidenceWeights:
        total = (self.signal_strength + self.temporal_correlation + self.precedent_frequency + self.evidence_quality
                 + self.human_validation)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"confidence weights must sum to 1, got {total:.4f}")
        return self

    def combine(self, factors: ConfidenceFactors) -> float:
        return (factors.signal_strength * self.signal_strength
                + factors.temporal_correlation * self.temporal_correlation
                + factors.precedent_frequency * self.precedent_frequency
                + factors.evidence_quality * self.evidence_quality
                + factors.human_validation * self.human_validation)


DEFAULT_WEIGHTS = ConfidenceWeights()


@dataclass(frozen=True)
class FactorDetail:
    """How the factors were reached, for the uncertainty and for explanations."""

    coverage: float
    sigma: float
    sources: tuple[str, ...]
    precedents: int
    validation: tuple[int, int] | None
    defaulted: tuple[str, ...]


def score_hypotheses(
    hypotheses: list[Hypothesis],
    *,
    evidence: EvidencePackage,
    snapshot: ContextSnapshot,
    weights: ConfidenceWeights = DEFAULT_WEIGHTS,
    validation_history: Mapping[str, tuple[int, int]] | None = None,
    precedent_counts: Mapping[str, int] | None = None,
    calibration: ConfidenceCalibration | None = None,
) -> list[Hypothesis]:
    """Score and rank, best first. Ties (to 4 decimals) go to the better structural fit (`prior`),
    so a root cause outranks the symptoms it produced.

    `calibration` (reasoning.calibrated, default the identity) maps the weighted score to the
    reported confidence and its range; the raw score is kept as `raw_confidence`. Its weights,
    when it has fitted ones, replace `weights`."""
    mapping = calibration if calibration is not None and not calibration.identity else None
    if mapping is not None and mapping.weights is not None:
        weights = mapping.weights
    all_facts = facts(snapshot)
    graph = Graph(snapshot.topology)
    scored: list[Hypothesis] = []
    for h in hypotheses:
        factors, detail = compute_factors(h, evidence=evidence, snapshot=snapshot, all_facts=all_facts, graph=graph,
                                          validation_history=validation_history, precedent_counts=precedent_counts)
        raw = round(min(1.0, max(0.0, weights.combine(factors))), 4)
        u = uncertainty(detail, snapshot, factors)
        low, high = max(0.0, raw - u), min(1.0, raw + u)
        update: dict[str, object] = {"factors": factors}
        if mapping is None:
            update.update(confidence=raw, confidence_range=(round(low, 4), round(high, 4)))
        else:  # the mapping is monotone: the range's ends map to the calibrated range's ends
            confidence = round(mapping.apply(raw), 4)
            update.update(confidence=confidence, raw_confidence=raw, calibration=mapping.label(),
                          confidence_range=(min(confidence, round(mapping.apply(low), 4)),
                                            max(confidence, round(mapping.apply(high), 4))))
        scored.append(h.model_copy(update=update))
    scored.sort(key=lambda h: (-h.confidence, -h.prior, h.entity, h.change_id or ""))
    return [h.model_copy(update={"rank": i}) for i, h in enumerate(scored, start=1)]


def compute_factors(
    h: Hypothesis,
    *,
    evidence: EvidencePackage,
    snapshot: ContextSnapshot,
    all_facts: list[SignalFact] | None = None,
    graph: Graph | None = None,
    validation_history: Mapping[str, tuple[int, int]] | None = None,
    precedent_counts: Mapping[str, int] | None = None,
) -> tuple[ConfidenceFactors, FactorDetail]:
    all_facts = facts(snapshot) if all_facts is None else all_facts
    graph = graph or Graph(snapshot.topology)
    subject = h.service if h.entity_kind is EntityKind.SERVICE and h.service else h.entity
    subjects = {s for s in (h.entity, h.service) if s}
    expl = explained(h.entity, h.entity_kind, h.service, all_facts, graph)
    coverage = len(expl) / len(all_facts) if all_facts else 0.0
    defaulted: list[str] = []

    # 1. signal strength: how far from normal the entity itself is, discounted by how much of the
    #    incident a fault there would explain.
    own = [f for f in expl if direct(h.entity, h.entity_kind, h.service, f)]
    # An "upstream errors" alert is the service reporting that something it calls is failing: it
    # is weaker evidence against the service itself, and a contradiction when it has dependencies.
    blames_below = [f for f in own if f.symptom is Symptom.UPSTREAM]
    alert_sigma = 0.0
    if own:
        alert_sigma = max(fact_sigma(f) * (UPSTREAM_DISCOUNT if f.symptom is Symptom.UPSTREAM else 1.0) for f in own)
        alert_sigma += min(0.5, CORROBORATION_STEP * (len({f.source for f in own}) - 1))
    metric_sigma = max((4.0 * e.strength for e in evidence.items if e.kind == "signal_strength"
                        and e.subject == subject and e.source.startswith("metric:")), default=0.0)
    sigma_direct = max(alert_sigma, metric_sigma)
    if sigma_direct == 0.0 and expl:
        sigma_direct = INFERRED_SIGMA
    sigma = sigma_direct * (0.4 + 0.6 * coverage)
    # The anomaly ranking (onset, density, breadth, resource metrics, call direction, node against
    # pod level, PageRank) weighs what coverage cannot on a storm where every entity alerts: its
    # relative score maps onto 1-4 sigma (the best suspect reaches 4 sigma -> 0.9).
    localised = max((e.strength for e in evidence.items if e.kind == "localisation" and e.subject == h.entity),
                    default=0.0)
    ranked = any(e.kind == "localisation" for e in evidence.items)
    if localised > 0.0:
        sigma = max(sigma, 3.0 * localised)
    if ranked and not h.change_id:
        # ...and bounds what structure alone claims: a node hosting every pod "explains" them all.
        # No more than the ranking gives it (1 sigma for an entity it does not name), so a suspect
        # with a wide structural reach never outranks one the anomaly evidence places higher.
        sigma = min(sigma, max(1.0, 3.0 * localised))
    signal_strength = signal_strength_value(sigma)

    # 2. temporal correlation
    temporal = NO_TEMPORAL
    change_supported = False
    if h.change_id:
        item = next((e for e in evidence.items if e.kind == "temporal" and h.change_id in e.refs), None)
        if item is not None:
            temporal = item.strength if item.supports else NO_TEMPORAL
            change_supported = item.supports
    elif any(e.kind == "onset" and e.subject in subjects for e in evidence.items):
        temporal = ONSET_LEAD
    if not h.change_id and localised > 0.0:
        # Ordering evidence only, as above: the ranking's onset (1.0 for the first entity to turn
        # anomalous, falling towards 0 minutes later) places the suspect between no correlation and
        # ONSET_LEAD.
        onset = _localised_feature(evidence, h.entity, "onset")
        if onset is not None:
            temporal = max(temporal, round(NO_TEMPORAL + (ONSET_LEAD - NO_TEMPORAL) * onset, 4))
    if temporal == NO_TEMPORAL:
        defaulted.append("temporal_correlation")

    # 3. precedent frequency
    count = _precedent_count(h, evidence, precedent_counts)
    if count == 0:
        defaulted.append("precedent_frequency")

    # 4. evidence quality: independent sources, pulled toward "weak" by what stays unexplained
    sources = {f.source for f in expl}
    if metric_sigma >= 2.0:
        sources.add("metrics")
    if change_supported and temporal >= 0.6:
        sources.add("change feed")
    if localised >= 0.8:
        sources.add("anomaly ranking")
    strong = any(fact_sigma(f) >= 2.0 for f in expl) or metric_sigma >= 2.0
    against = sum(1 for c in evidence.conflicts if subjects & set(conflict_subjects(c)))
    against += sum(1 for e in evidence.items if not e.supports and e.subject in subjects and e.kind != "temporal")
    if h.change_id and not change_supported:
        against += 2
    # With an anomaly ranking, what the evidence leaves unexplained is what the ranking says: the
    # structural coverage counts every alert of a node's pods, or a deep service's callers, for it.
    explains = localised if ranked and not h.change_id else max(coverage, localised)
    contradiction = (1.0 - explains) + 0.25 * against
    if blames_below and graph.deps.get(subject):
        contradiction += 0.5 * len(blames_below) / len(own)
    quality = evidence_quality_value(len(sources), strong, contradiction)

    # 5. human validation history
    history = _lookup(validation_history, _keys(h))
    if history is None:
        defaulted.append("human_validation")
    human = human_validation_value(*history) if history else 0.5

    factors = ConfidenceFactors(signal_strength=signal_strength, temporal_correlation=round(temporal, 4),
                                precedent_frequency=precedent_value(count), evidence_quality=quality,
                                human_validation=human)
    return factors, FactorDetail(coverage=round(coverage, 4), sigma=round(sigma, 3), sources=tuple(sorted(sources)),
                                 precedents=count, validation=history, defaulted=tuple(defaulted))


def uncertainty(detail: FactorDetail, snapshot: ContextSnapshot, factors: ConfidenceFactors) -> float:
    """Half-width of the confidence range: 0.04, plus 0.02 per context part that could not be
    read (up to four), 0.02 per factor left at its no-information default, and 0.1 x the share of
    the incident's alerts the hypothesis leaves unexplained. Clamped to [0.02, 0.25]."""
    u = BASE_UNCERTAINTY
    u += 0.02 * min(4, len(snapshot.missing))
    u += 0.02 * len(detail.defaulted)
    u += 0.1 * (1.0 - detail.coverage)
    return round(min(0.25, max(0.02, u)), 4)


def _localised_feature(evidence: EvidencePackage, entity: str, name: str) -> float | None:
    for e in evidence.items:
        if e.kind == "localisation" and e.subject == entity:
            for ref in e.refs:
                key, sep, value = ref.partition("=")
                if sep and key == name:
                    try:
                        return max(0.0, min(1.0, float(value)))
                    except ValueError:
                        return None
    return None


def _keys(h: Hypothesis) -> list[str]:
    return [h.id, f"{h.fault}|{h.service or h.entity}", h.fault, h.generator]


def _lookup(table: Mapping[str, tuple[int, int]] | None, keys: list[str]) -> tuple[int, int] | None:
    if not table:
        return None
    for key in keys:
        if key in table:
            accepted, total = table[key]
            return int(accepted), int(total)
    return None


def _precedent_count(h: Hypothesis, evidence: EvidencePackage, overrides: Mapping[str, int] | None) -> int:
    """Explicit counts win (keys: hypothesis id, "fault|entity", fault); otherwise the evidence
    package's similar past incidents that ended with the same fault on the same entity or service."""
    if overrides:
        for key in (h.id, f"{h.fault}|{h.entity}", f"{h.fault}|{h.service}", h.fault):
            if key in overrides:
                return max(0, int(overrides[key]))
    names = {h.entity, h.service}
    count = 0
    for item in evidence.items:
        if item.kind != "precedent" or not item.subject or "|" not in item.subject:
            continue
        fault, entity = item.subject.split("|", 1)
        if fault == h.fault and entity in names:
            count += 1
    return count
