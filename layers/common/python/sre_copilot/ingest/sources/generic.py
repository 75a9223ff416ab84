"""Generic JSON alerts: our own documented schema (docs/sources.md), one alert or {"alerts": [...]}."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from sre_copilot.domain.types import Severity, SignalStatus
from sre_copilot.ingest.fields import finite_or_none, hints_from_labels, require_time, severity_from_word
from sre_copilot.ingest.model import AlertItem, SourceResult
from sre_copilot.ingest.payload import MAX_ALERTS, PayloadModel, reading, validate

_STATUS_WORDS = {
    "firing": SignalStatus.FIRING, "alerting": SignalStatus.FIRING, "triggered": SignalStatus.FIRING,
    "trigger": SignalStatus.FIRING, "alarm": SignalStatus.FIRING, "open": SignalStatus.FIRING,
    "problem": SignalStatus.FIRING, "active": SignalStatus.FIRING,
    "resolved": SignalStatus.RESOLVED, "resolve": SignalStatus.RESOLVED, "ok": SignalStatus.RESOLVED,
    "recovered": SignalStatus.RESOLVED, "closed": SignalStatus.RESOLVED, "cleared": SignalStatus.RESOLVED,
    "acknowledged": SignalStatus.ACKNOWLEDGED, "ack": SignalStatus.ACKNOWLEDGED,
}


class GenericAlert(PayloadModel):
    title: str = Field(min_length=1, max_length=1024)
    status: str = "firing"
    severity: str | int | None = None
    service: str | None = Field(default=None, max_length=256)
    entity: str | None = Field(default=None, max_length=256)
    host: str | None = Field(default=None, max_length=256)
    at: str | int | float | None = None
    description: str = Field(default="", max_length=8192)
    labels: dict[str, str | int | float | bool] = Field(default_factory=dict)
    fingerprint: str | None = Field(default=None, max_length=512)
    id: str | None = Field(default=None, max_length=512)
    links: list[str] = Field(default_factory=list, max_length=20)
    url: str | None = None
    metric_value: float | None = None

    @field_validator("status")
    @classmethod
    def _status(cls, value: str) -> str:
        if value.strip().lower() not in _STATUS_WORDS:
            raise ValueError("status must be firing, resolved or acknowledged")
        return value.strip().lower()

    @field_validator("severity")
    @classmethod
    def _severity(cls, value: str | int | None) -> str | int | None:
        if value is not None and severity_from_word(value) is None:
            raise ValueError("severity must be critical, error, warning or info")
        return value


class GenericBatch(PayloadModel):
    alerts: list[GenericAlert] = Field(max_length=MAX_ALERTS)


def parse(body: Any) -> SourceResult:
    if isinstance(body, list):
        alerts = validate(GenericBatch, {"alerts": body}, "generic").alerts
    elif isinstance(body, dict) and "alerts" in body and "title" not in body:
        alerts = validate(GenericBatch, body, "generic").alerts
    else:
        alerts = [validate(GenericAlert, body, "generic")]
    if not alerts:
        return SourceResult(ignored_reason="generic delivery carries no alerts")
    items: list[AlertItem] = []
    with reading("generic"):
        for index, alert in enumerate(alerts):
            items.append(_item(alert, index, f"alerts.{index}." if len(alerts) > 1 or "alerts" in body else ""))
    return SourceResult(items=items)


def _item(alert: GenericAlert, index: int, where: str) -> AlertItem:
    labels = {k: _text(v) for k, v in alert.labels.items()}
    labels.setdefault("alertname", alert.title[:256])
    services, instances, hosts = hints_from_labels(labels)
    if alert.service:
        services.insert(0, alert.service)
    if alert.entity:
        services.append(alert.entity)
        instances.insert(0, alert.entity)
        hosts.append(alert.entity)
    if alert.host:
        hosts.insert(0, alert.host)
    links = [*alert.links, *([alert.url] if alert.url else [])]
    return AlertItem(
        status=_STATUS_WORDS[alert.status],
        severity=severity_from_word(alert.severity) or Severity.WARNING,
        title=alert.title,
        event_time=require_time(alert.at, f"{where}at"),
        description=alert.description,
        labels=labels,
        links=[u for u in links if u.startswith(("http://", "https://"))],
        source_key=alert.fingerprint,
        source_id=alert.id or alert.fingerprint or "",
        service_hints=services,
        instance_hints=instances,
        host_hints=hosts,
        metric_value=finite_or_none(alert.metric_value),
        index=index,
    )


def _text(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)[:1024]
