"""Prometheus Alertmanager webhook (version 4): several alerts per delivery, firing and resolved.

Grafana's unified alerting webhook shares the alert shape, so the per-alert logic lives here too.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from sre_copilot.domain.types import Severity, SignalStatus
from sre_copilot.ingest.fields import hints_from_labels, require_time, severity_from_word
from sre_copilot.ingest.model import AlertItem, SourceResult
from sre_copilot.ingest.payload import MAX_ALERTS, PayloadModel, reading, validate


class PromAlert(PayloadModel):
    status: Literal["firing", "resolved"]
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: str | None = None
    endsAt: str | None = None
    generatorURL: str | None = None
    fingerprint: str | None = Field(default=None, max_length=512)


class AlertmanagerWebhook(PayloadModel):
    version: str | None = None
    status: str | None = None
    receiver: str | None = None
    groupKey: str | None = None
    externalURL: str | None = None
    alerts: list[PromAlert] = Field(max_length=MAX_ALERTS)


_SEVERITY_LABELS = ("severity", "priority", "level")
_LINK_ANNOTATIONS = ("runbook_url", "runbook", "dashboard", "dashboard_url")


def prom_title(labels: dict[str, str], annotations: dict[str, str]) -> str:
    """'summary' when it already names the alert, else 'alertname: summary', else whichever exists."""
    name = labels.get("alertname", "").strip()
    summary = annotations.get("summary", "").strip()
    if name and summary:
        return summary if name.lower() in summary.lower() else f"{name}: {summary}"
    return name or summary or "Alert without a name"


def prom_item(alert: PromAlert, index: int, extra_links: tuple[str | None, ...] = ()) -> AlertItem:
    labels = alert.labels
    # Grafana may add internal '__name__'-style labels; Alertmanager never does, so copy only when needed.
    labels = {k: v for k, v in labels.items() if not k.startswith("__")} if any(
        k.startswith("__") for k in labels) else dict(labels)
    annotations = alert.annotations
    severity = None
    for key in _SEVERITY_LABELS:
        word = labels.get(key)
        if word and (severity := severity_from_word(word)):
            break
    firing = alert.status == "firing"
    if firing:
        event_time = require_time(alert.startsAt, "startsAt", index)
    else:
        event_time = require_time(alert.endsAt, "endsAt", index)
    description = (annotations.get("description") or annotations.get("message") or annotations.get("summary")
                   or "")
    links = [alert.generatorURL] if alert.generatorURL else []
    if annotations:
        links.extend(annotations[k] for k in _LINK_ANNOTATIONS if annotations.get(k))
    links.extend(link for link in extra_links if link)
    services, instances, hosts = hints_from_labels(labels)
    return AlertItem(
        status=SignalStatus.FIRING if firing else SignalStatus.RESOLVED,
        severity=severity or Severity.WARNING,
        title=prom_title(labels, annotations),
        event_time=event_time,
        description=description,
        labels=labels,
        links=[link for link in links if link.startswith(("http://", "https://"))],
        source_key=alert.fingerprint or None,
        source_id=alert.fingerprint or "",
        service_hints=services,
        instance_hints=instances,
        host_hints=hosts,
        index=index,
    )


def parse(body: Any) -> SourceResult:
    hook = validate(AlertmanagerWebhook, body, "alertmanager")
    if not hook.alerts:
        return SourceResult(ignored_reason="Alertmanager delivery carries no alerts")
    with reading("alertmanager"):
        return SourceResult(items=[prom_item(alert, i) for i, alert in enumerate(hook.alerts)])
