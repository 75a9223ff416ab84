"""`ChangeEvent`: something that changed in production (deploy, config, flag, infra, scaling, rollback)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from sre_copilot.domain.types import ChangeKind, UtcDateTime


class ChangeEvent(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore")

    id: str = Field(min_length=1, max_length=256)
    tenant_id: str = "default"
    service: str = Field(min_length=1, max_length=256)
    kind: ChangeKind
    at: UtcDateTime
    version: str | None = None
    previous_version: str | None = None
    summary: str = Field(default="", max_length=2048)
    author: str | None = None
    source: str = "generic"
    target: str | None = Field(default=None, description="what a rollback would act on, e.g. deployment/checkout")
    status: str = Field(default="succeeded", description="succeeded, failed, in_progress, rolled_back")
