"""`Notification` (what was sent to people) and `AuditRecord` (the append-only trail)."""

from __future__ import annotations

from typing import Any, TypedDict

from pydantic import BaseModel, ConfigDict, Field

from sre_copilot.domain.types import Channel, NotificationKind, UtcDateTime


class SentSummary(TypedDict):
    """What a step reports of one message it sent or failed to send (`channel:kind:status`)."""

    channel: str
    kind: str
    status: str


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
    version: int = Field(default=0, ge=0, exclude=True, description=(
        "The stored version this copy was read at (0: a new notification); kept beside the document."))


class AuditRecord(BaseModel):
    model_config = ConfigDict(defer_build=True)

    at: UtcDateTime
    tenant_id: str = "default"
    actor: str
    action: str
    subject: str
    details: dict[str, Any] = Field(default_factory=dict)
