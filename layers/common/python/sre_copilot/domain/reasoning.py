"""Models of the reasoning pipeline: context snapshot, evidence, hypotheses, decision."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sre_copilot.domain.types import DecisionOutcome, EntityKind, UtcDateTime


class ContextSnapshot(BaseModel):
    """Immutable capture of what was known when analysis ran (seed 001's six parts)."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    incident_id: str
    tenant_id: str = "default"
    taken_at: UtcDateTime
    evidence_version: int = 0
    topology: dict[str, Any] = Field(default_factory=dict)
    recent_changes: list[dict[str, Any]] = Field(default_factory=list)
    traffic_baseline: dict[str, Any] = Field(default_factory=dict)
    dependency_health: dict[str, Any] = Field(default_factory=dict)
    slo_state: dict[str, Any] = Field(default_factory=dict)
    correlated_signals: list[dict[str, Any]] = Field(default_factory=list)
    missing: dict[str, str] = Field(default_factory=dict, description="part -> why it could not be read")


class Evidence(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True)

    kind: str = Field(description="temporal, precedent, signal_strength, dependency, host, saturation, ...")
    summary: str
    source: str = Field(description="where it came from: a signal source, a change feed, a metric, ...")
    subject: str | None = Field(default=None, description="the entity the evidence is about")
    strength: float = Field(default=0.5, ge=0.0, le=1.0)
    refs: list[str] = Field(default_factory=list)
    supports: bool = True


class EvidencePackage(BaseModel):
    model_config = ConfigDict(defer_build=True)

    incident_id: str
    items: list[Evidence] = Field(default_factory=list)
    conflicts: list[str] = Field(default_factory=list)


class ConfidenceFactors(BaseModel):
    """Seed 001's five factors, each in [0, 1]."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    signal_strength: float = Field(ge=0.0, le=1.0)
    temporal_correlation: float = Field(ge=0.0, le=1.0)
    precedent_frequency: float = Field(ge=0.0, le=1.0)
    evidence_quality: float = Field(ge=0.0, le=1.0)
    human_validation: float = Field(ge=0.0, le=1.0)


class Hypothesis(BaseModel):
    model_config = ConfigDict(defer_build=True)

    id: str
    rank: int = 0
    entity: str
    entity_kind: EntityKind
    service: str | None = None
    change_id: str | None = None
    fault: str
    summary: str
    generator: str = Field(default="deterministic", description="deterministic generator name, or 'llm'")
    factors: ConfidenceFactors | None = None
    confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    confidence_range: tuple[float, float] = (0.0, 0.0)
    evidence: list[Evidence] = Field(default_factory=list)
    prior: float = Field(default=0.5, ge=0.0, le=1.0, description="generator's structural fit, breaks ties")
    raw_confidence: float | None = Field(default=None, ge=0.0, le=1.0, description=(
        "the weighted factor score before the deployed calibration mapping; None: no mapping applied"))
    calibration: str | None = Field(default=None, description="the calibration that produced `confidence`")

    @model_validator(mode="after")
    def _range_brackets_confidence(self) -> Hypothesis:
        low, high = self.confidence_range
        if self.factors is not None and not (low <= self.confidence <= high):
            raise ValueError("confidence_range must bracket confidence")
        return self


class Decision(BaseModel):
    model_config = ConfigDict(defer_build=True)

    outcome: DecisionOutcome
    reasons: list[str] = Field(default_factory=list)
    presented: list[str] = Field(default_factory=list, description="ids of hypotheses shown to people")
    at: UtcDateTime
