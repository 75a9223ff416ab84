"""What a source parser hands back before catalog resolution: alert items and lifecycle hints.

Parsers only read their payload; turning an `AlertItem` into a `Signal` (ids, catalog resolution,
fingerprint) happens once, in `signals.py`, so every source gets the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sre_copilot.domain.types import Severity, SignalStatus

LifecycleAction = Literal["acknowledge", "resolve", "annotate", "reassign", "escalate", "priority"]


@dataclass(frozen=True, slots=True)
class LifecycleHint:
    """A change made to an incident in the paging tool (PagerDuty, Opsgenie) that we should mirror."""

    action: LifecycleAction
    external_id: str
    actor: str | None = None
    note: str | None = None
    at: datetime | None = None
    source: str = ""


@dataclass(slots=True)
class AlertItem:
    status: SignalStatus
    severity: Severity
    title: str
    event_time: datetime | None = None
    description: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    links: list[str] = field(default_factory=list)
    source_key: str | None = None
    """The tool's own stable key for this alert (Alertmanager fingerprint, alarm ARN, ...)."""
    source_id: str = ""
    delivery_ref: str | None = None
    """The payload's own id for this notification (PagerDuty event id, EventBridge id, SNS MessageId)."""
    service_hints: list[str] = field(default_factory=list)
    instance_hints: list[str] = field(default_factory=list)
    host_hints: list[str] = field(default_factory=list)
    metric_value: float | None = None
    index: int = 0
    """Position of the alert in the delivery (origin.item)."""


@dataclass(slots=True)
class SourceResult:
    items: list[AlertItem] = field(default_factory=list)
    ignored_reason: str | None = None
    subscribe_url: str | None = None
    lifecycle: list[LifecycleHint] = field(default_factory=list)
