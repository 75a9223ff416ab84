"""Opsgenie outgoing webhook: Create / UnAcknowledge raise an alert; Acknowledge and Close are a
signal plus a lifecycle hint; AddNote, ownership, escalation and priority changes are hints only."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from sre_copilot.domain.types import Severity, SignalStatus
from sre_copilot.ingest.fields import merge_labels, require_time, severity_from_word, split_tags, text_or_none
from sre_copilot.ingest.model import AlertItem, LifecycleAction, LifecycleHint, SourceResult
from sre_copilot.ingest.payload import PayloadModel, reading, validate


class OpsgenieAlert(PayloadModel):
    alertId: str = Field(min_length=1, max_length=256)
    message: str | None = None
    description: str | None = None
    tags: list[str] = Field(default_factory=list, max_length=500)
    tinyId: str | None = None
    entity: str | None = None
    alias: str | None = Field(default=None, max_length=512)
    createdAt: int | float | str | None = None
    updatedAt: int | float | str | None = None
    username: str | None = None
    team: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    priority: str | int | None = None
    source: str | None = None
    note: str | None = None
    owner: str | None = None

    @field_validator("tinyId", mode="before")
    @classmethod
    def _tiny_id(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class OpsgenieFlow(PayloadModel):
    requestId: str | None = None


class OpsgenieWebhook(PayloadModel):
    action: str = Field(min_length=1, max_length=128)
    alert: OpsgenieAlert
    escalationName: str | None = None
    alertFlowContext: OpsgenieFlow | None = None


_SIGNAL_STATUS = {
    "Create": SignalStatus.FIRING,
    "UnAcknowledge": SignalStatus.FIRING,
    "Acknowledge": SignalStatus.ACKNOWLEDGED,
    "Close": SignalStatus.RESOLVED,
}
_HINTS: dict[str, LifecycleAction] = {
    "Acknowledge": "acknowledge", "Close": "resolve", "AddNote": "annotate",
    "AssignOwnership": "reassign", "TakeOwnership": "reassign", "AddResponder": "reassign",
    "AddTeam": "reassign", "AddRecipient": "reassign",
    "Escalate": "escalate", "EscalateNext": "escalate", "UpdatePriority": "priority",
}


def parse(body: Any) -> SourceResult:
    hook = validate(OpsgenieWebhook, body, "opsgenie")
    alert, action = hook.alert, hook.action
    with reading("opsgenie"):
        created = require_time(alert.createdAt, "alert.createdAt")
        updated = require_time(alert.updatedAt, "alert.updatedAt")
    at = created if action == "Create" else (updated or created)
    hints: list[LifecycleHint] = []
    if action in _HINTS:
        kind = _HINTS[action]
        hints.append(LifecycleHint(action=kind, external_id=alert.alertId, actor=text_or_none(alert.username),
                                   note=_note(kind, hook), at=at, source="opsgenie"))
    status = _SIGNAL_STATUS.get(action)
    if status is None:
        reason = (f"Opsgenie {action} on alert {alert.alertId} is a lifecycle change, not an alert" if hints
                  else f"Opsgenie action '{action[:60]}' carries no alert or lifecycle change")
        return SourceResult(ignored_reason=reason, lifecycle=hints)
    return SourceResult(items=[_item(hook, status, at)], lifecycle=hints)


def _item(hook: OpsgenieWebhook, status: SignalStatus, at: Any) -> AlertItem:
    alert = hook.alert
    title = text_or_none(alert.message) or f"Opsgenie alert {alert.tinyId or alert.alertId}"
    tag_labels, bare = split_tags(alert.tags)
    labels: dict[str, str] = {"alertname": title[:256], "opsgenie_alert": alert.alertId}
    merge_labels(labels, tag_labels)
    merge_labels(labels, alert.details)
    if bare:
        labels.setdefault("tags", ",".join(bare)[:1024])
    for key, value in (("entity", alert.entity), ("team", alert.team), ("opsgenie_priority",
                       str(alert.priority) if alert.priority is not None else None), ("opsgenie_source", alert.source)):
        text = text_or_none(value)
        if text:
            labels.setdefault(key, text[:1024])
    entity = text_or_none(alert.entity)
    services = [labels[k] for k in ("service", "app", "application", "component") if labels.get(k)]
    instances = [labels[k] for k in ("pod", "instance", "container") if labels.get(k)]
    hosts = [labels[k] for k in ("host", "hostname", "node") if labels.get(k)]
    if entity:
        services.append(entity)
        instances.append(entity)
        hosts.append(entity)
    return AlertItem(
        status=status,
        severity=severity_from_word(alert.priority) or Severity.WARNING,
        title=title,
        event_time=at,
        description=text_or_none(alert.description) or "",
        labels=labels,
        source_key=text_or_none(alert.alias) or alert.alertId,
        source_id=alert.alertId,
        delivery_ref=hook.alertFlowContext.requestId if hook.alertFlowContext else None,
        service_hints=[*services, *bare[:4]],
        instance_hints=instances,
        host_hints=hosts,
    )


def _note(kind: LifecycleAction, hook: OpsgenieWebhook) -> str | None:
    alert = hook.alert
    if kind == "annotate":
        return text_or_none(alert.note)
    if kind == "reassign":
        owner = text_or_none(alert.owner)
        return f"assigned to {owner}" if owner else None
    if kind == "escalate":
        name = text_or_none(hook.escalationName)
        return f"escalated by {name}" if name else None
    if kind == "priority":
        return f"priority {alert.priority}" if alert.priority is not None else None
    return text_or_none(alert.note)
