"""`Notification` (what was sent to people) and `AuditRecord` (the append-only trail)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sre_copilot.domain.types import Channel, NotificationKind, UtcDateTime


class Notification(BaseModel):
    model_config = ConfigDict(defer_build=True)

    id: str
    incident_id: str
    at: UtcDateTime
    channel: Channel
    target: str
    kind: NotificationKind
    status: str = Field(description="sent, failed, acknowledged, suppressed")
    text: str = ""
    provider_id: str | None = Field(default=None, description="Slack ts, Twilio call SID, ...")


class AuditRecord(BaseModel):
    model_config = ConfigDict(defer_build=True)

    at: UtcDateTime
    tenant_id: str = "default"
    actor: str
    action: str
    subject: str
    details: dict[str, Any] = Field(default_factory=dict)
