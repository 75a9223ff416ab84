"""The read API's response bodies; the OpenAPI document is generated from these models."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Body(BaseModel):
    # Each response model's schema is built when a request first returns it, not at cold start.
    model_config = ConfigDict(defer_build=True)


class IncidentSummary(_Body):
    id: str
    title: str
    state: str
    priority: str
    service: str | None = None
    opened_at: datetime
    updated_at: datetime


class IncidentList(_Body):
    tenant_id: str
    incidents: list[IncidentSummary]


class IncidentDetail(IncidentSummary):
    services: list[str] = Field(default_factory=list)
    entities: list[str] = Field(default_factory=list)
    decision: str | None = None
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    signal_count: int = 0


class HypothesisView(_Body):
    rank: int | None = None
    entity: str | None = None
    fault: str | None = None
    summary: str | None = None
    confidence: float | None = None
    details: dict[str, Any] = Field(default_factory=dict, description="factors, range and evidence as scored")


class HypothesisList(_Body):
    incident_id: str
    hypotheses: list[HypothesisView]


class TimelineEntry(_Body):
    at: datetime
    kind: str = Field(description="transition, notification or action")
    summary: str
    actor: str | None = None


class Timeline(_Body):
    incident_id: str
    entries: list[TimelineEntry]


class Postmortem(_Body):
    incident_id: str
    markdown: str


class HistoryEntry(_Body):
    at: datetime
    actor: str
    action: str
    details: dict[str, Any] = Field(default_factory=dict)


class History(_Body):
    incident_id: str
    records: list[HistoryEntry]


class ActionResult(_Body):
    incident_id: str
    result: str
