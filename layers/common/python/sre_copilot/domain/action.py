"""Recommendations and the action plans that carry them out."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sre_copilot.domain.types import ActionStatus, Approval, Risk, UtcDateTime


class Recommendation(BaseModel):
    model_config = ConfigDict(defer_build=True)

    hypothesis_id: str
    action: str = Field(description="rollback, restart, scale_out, failover, drain_host, escalate, ...")
    target: str
    risk: Risk
    runbook: str | None = None
    rationale: str = ""
    estimated_mttr_reduction_min: float = 0.0
    blast_radius: list[str] = Field(default_factory=list)
    score: float = 0.0


class ActionPlan(BaseModel):
    model_config = ConfigDict(defer_build=True)

    id: str
    incident_id: str
    action: str
    target: str
    params: dict[str, Any] = Field(default_factory=dict)
    risk: Risk
    preconditions: list[str] = Field(default_factory=list)
    rollback: str = ""
    verification: str = ""
    approval: Approval = Approval.PENDING
    approver: str | None = None
    status: ActionStatus = ActionStatus.PLANNED
    dry_run: bool = False
    gate_results: dict[str, str] = Field(default_factory=dict)
    detail: str = ""
    created_at: UtcDateTime
    updated_at: UtcDateTime
    version: int = Field(default=0, ge=0, exclude=True, description=(
        "The stored version this copy was read at (0: never stored). Not part of the plan's "
        "document: the store keeps it beside it and writes only over the version read."))
