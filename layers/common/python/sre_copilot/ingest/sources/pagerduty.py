"""PagerDuty v3 webhooks: every `incident.*` event type.

triggered / reopened / unacknowledged open or re-open an alert (a firing signal); acknowledged and
resolved are both a signal (status acknowledged / resolved) and a lifecycle hint; reassigned,
delegated, escalated, priority_updated, annotated, status updates and responder changes are
lifecycle hints only, so they never raise a new alert.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from sre_copilot.domain.types import Severity, SignalStatus
from sre_copilot.ingest.fields import require_time, severity_from_word, text_or_none, title_words
from sre_copilot.ingest.model import AlertItem, LifecycleAction, LifecycleHint, SourceResult
from sre_copilot.ingest.payload import PayloadModel, reading, validate


class PdReference(PayloadModel):
    id: str | None = None
    type: str | None = None
    summary: str | None = None
    html_url: str | None = None


class PdIncident(PayloadModel):
    id: str = Field(min_length=1, max_length=256)
    type: str | None = None
    html_url: str | None = None
    number: int | None = None
    status: str | None = None
    title: str | None = None
    incident_key: str | None = Field(default=None, max_length=512)
    created_at: str | None = None
    urgency: str | None = None
    service: PdReference | None = None
    priority: PdReference | None = None
    assignees: list[PdReference] = Field(default_factory=list)
    escalation_policy: PdReference | None = None


class PdIncidentChild(PayloadModel):
    """The `data` of annotated, status_update_published and responder events: a child of an incident."""

    incident: PdReference
    type: str | None = None
    content: str | None = None
    message: str | None = None
    user: PdReference | None = None


class PdEvent(PayloadModel):
    id: str = Field(min_length=1, max_length=256)
    event_type: str = Field(min_length=1, max_length=128)
    resource_type: str | None = None
    occurred_at: str | None = None
    agent: PdReference | None = None
    data: dict[str, Any]


class PdWebhook(PayloadModel):
    event: PdEvent


_SIGNAL_STATUS = {
    "incident.triggered": SignalStatus.FIRING,
    "incident.reopened": SignalStatus.FIRING,
    "incident.unacknowledged": SignalStatus.FIRING,
    "incident.acknowledged": SignalStatus.ACKNOWLEDGED,
    "incident.resolved": SignalStatus.RESOLVED,
}
_INCIDENT_HINTS: dict[str, LifecycleAction] = {
    "incident.acknowledged": "acknowledge",
    "incident.resolved": "resolve",
    "incident.reassigned": "reassign",
    "incident.delegated": "reassign",
    "incident.escalated": "escalate",
    "incident.priority_updated": "priority",
}
_CHILD_HINTS = ("incident.annotated", "incident.status_update_published", "incident.responder.added",
                "incident.responder.replied")
_URGENCY = {"high": Severity.CRITICAL, "low": Severity.WARNING}


def parse(body: Any) -> SourceResult:
    event = validate(PdWebhook, body, "pagerduty").event
    kind = event.event_type
    with reading("pagerduty"):
        at = require_time(event.occurred_at, "event.occurred_at")
    actor = _name(event.agent)
    if kind == "pagey.ping":
        return SourceResult(ignored_reason="PagerDuty webhook ping")
    if kind in _CHILD_HINTS:
        child = validate(PdIncidentChild, event.data, "pagerduty", "event.data")
        if not child.incident.id:
            return SourceResult(ignored_reason=f"PagerDuty {kind} names no incident")
        note = child.content or child.message or (f"responder {_name(child.user)}" if child.user else None)
        hint = LifecycleHint(action="annotate", external_id=child.incident.id, actor=actor, note=note, at=at,
                             source="pagerduty")
        return SourceResult(ignored_reason=f"PagerDuty {kind} on incident {child.incident.id} is a lifecycle "
                                           "change, not an alert", lifecycle=[hint])
    if kind not in _SIGNAL_STATUS and kind not in _INCIDENT_HINTS:
        return SourceResult(ignored_reason=f"PagerDuty event '{kind[:80]}' carries no alert or lifecycle change")
    incident = validate(PdIncident, event.data, "pagerduty", "event.data")
    hints: list[LifecycleHint] = []
    if kind in _INCIDENT_HINTS:
        action = _INCIDENT_HINTS[kind]
        hints.append(LifecycleHint(action=action, external_id=incident.id, actor=actor,
                                   note=_hint_note(action, incident), at=at, source="pagerduty"))
    status = _SIGNAL_STATUS.get(kind)
    if status is None:
        return SourceResult(ignored_reason=f"PagerDuty {kind} on incident {incident.id} is a lifecycle change, "
                                           "not an alert", lifecycle=hints)
    with reading("pagerduty"):
        created = require_time(incident.created_at, "event.data.created_at")
    return SourceResult(items=[_item(incident, status, at or created, event.id)], lifecycle=hints)


def _item(incident: PdIncident, status: SignalStatus, at: Any, event_id: str) -> AlertItem:
    title = text_or_none(incident.title) or f"PagerDuty incident {incident.number or incident.id}"
    priority = text_or_none(incident.priority.summary) if incident.priority else None
    urgency = (incident.urgency or "").lower()
    severity = severity_from_word(priority) or _URGENCY.get(urgency) or Severity.ERROR
    service_name = text_or_none(incident.service.summary) if incident.service else None
    labels = {"alertname": title[:256], "pagerduty_incident": incident.id}
    for key, value in (("pagerduty_service", service_name), ("pagerduty_urgency", urgency or None),
                       ("pagerduty_priority", priority),
                       ("pagerduty_number", str(incident.number) if incident.number is not None else None),
                       ("pagerduty_escalation_policy",
                        incident.escalation_policy.summary if incident.escalation_policy else None)):
        if value:
            labels[key] = value[:256]
    words = title_words(title)
    links = [incident.html_url, incident.service.html_url if incident.service else None]
    return AlertItem(
        status=status,
        severity=severity,
        title=title,
        event_time=at,
        labels=labels,
        links=[u for u in links if u and u.startswith(("http://", "https://"))],
        source_key=incident.incident_key or incident.id,
        source_id=incident.id,
        delivery_ref=event_id,
        service_hints=[*([service_name] if service_name else []), *words],
        instance_hints=words,
        host_hints=words,
    )


def _name(ref: PdReference | None) -> str | None:
    if ref is None:
        return None
    return text_or_none(ref.summary) or text_or_none(ref.id)


def _hint_note(action: LifecycleAction, incident: PdIncident) -> str | None:
    if action in ("reassign", "escalate"):
        names = [n for n in (_name(a) for a in incident.assignees) if n]
        verb = "assigned to" if action == "reassign" else "escalated to"
        return f"{verb} {', '.join(names)}" if names else None
    if action == "priority":
        summary = _name(incident.priority)
        return f"priority {summary}" if summary else "priority cleared"
    return None
