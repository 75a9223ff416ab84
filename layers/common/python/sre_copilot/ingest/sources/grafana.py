"""Grafana unified alerting webhook (Alertmanager-shaped, plus values/valueString and panel links).

Grafana's legacy (pre-v9) alerting webhook (`ruleName`, `state`, `evalMatches`) is accepted too, as
one alert per delivery.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field

from sre_copilot.domain.types import Severity, SignalStatus
from sre_copilot.ingest.fields import finite_or_none, hints_from_labels, merge_labels, severity_from_word
from sre_copilot.ingest.model import AlertItem, SourceResult
from sre_copilot.ingest.payload import MAX_ALERTS, PayloadModel, reading, validate
from sre_copilot.ingest.sources.alertmanager import PromAlert, prom_item


class GrafanaAlert(PromAlert):
    values: dict[str, float | None] | None = None
    valueString: str | None = None
    dashboardURL: str | None = None
    panelURL: str | None = None
    imageURL: str | None = None


class GrafanaWebhook(PayloadModel):
    status: str | None = None
    orgId: int | None = None
    alerts: list[GrafanaAlert] = Field(max_length=MAX_ALERTS)


class LegacyEvalMatch(PayloadModel):
    value: float | None = None
    metric: str | None = None
    tags: dict[str, Any] | None = None


class LegacyGrafanaWebhook(PayloadModel):
    ruleName: str = Field(min_length=1)
    state: Literal["alerting", "ok", "no_data", "paused", "pending"]
    ruleId: int | None = None
    ruleUrl: str | None = None
    title: str | None = None
    message: str | None = None
    imageUrl: str | None = None
    tags: dict[str, Any] = Field(default_factory=dict)
    evalMatches: list[LegacyEvalMatch] = Field(default_factory=list, max_length=MAX_ALERTS)


_VALUE_IN_STRING = re.compile(r"value=(-?[0-9][0-9.eE+-]*)")


def metric_value(alert: GrafanaAlert) -> float | None:
    """The query's value: Grafana also reports reduce/threshold expressions, whose results are
    usually 0/1, so the first value that is not 0 or 1 wins, else the first value at all."""
    numbers = [v for v in (finite_or_none(x) for x in (alert.values or {}).values()) if v is not None]
    if not numbers and alert.valueString:
        numbers = [v for v in (finite_or_none(m) for m in _VALUE_IN_STRING.findall(alert.valueString[:4096]))
                   if v is not None]
    return next((v for v in numbers if v not in (0.0, 1.0)), numbers[0] if numbers else None)


def parse(body: Any) -> SourceResult:
    if isinstance(body, dict) and "alerts" not in body and "ruleName" in body:
        return _parse_legacy(body)
    hook = validate(GrafanaWebhook, body, "grafana")
    if not hook.alerts:
        return SourceResult(ignored_reason="Grafana delivery carries no alerts")
    items: list[AlertItem] = []
    with reading("grafana"):
        for i, alert in enumerate(hook.alerts):
            item = prom_item(alert, i, (alert.dashboardURL, alert.panelURL, alert.imageURL))
            item.metric_value = metric_value(alert)
            items.append(item)
    return SourceResult(items=items)


def _parse_legacy(body: Any) -> SourceResult:
    hook = validate(LegacyGrafanaWebhook, body, "grafana")
    if hook.state not in ("alerting", "ok"):
        return SourceResult(ignored_reason=f"Grafana rule '{hook.ruleName}' is in state '{hook.state}', not an alert")
    labels: dict[str, str] = {"alertname": hook.ruleName}
    merge_labels(labels, hook.tags)
    values = [m.value for m in hook.evalMatches if m.value is not None]
    for match in hook.evalMatches:
        merge_labels(labels, match.tags or {})
    services, instances, hosts = hints_from_labels(labels)
    severity = severity_from_word(labels.get("severity")) or Severity.WARNING
    item = AlertItem(
        status=SignalStatus.FIRING if hook.state == "alerting" else SignalStatus.RESOLVED,
        severity=severity,
        title=hook.title or hook.ruleName,
        description=hook.message or "",
        labels=labels,
        links=[u for u in (hook.ruleUrl, hook.imageUrl) if u and u.startswith(("http://", "https://"))],
        source_key=f"rule:{hook.ruleId}" if hook.ruleId is not None else None,
        source_id=str(hook.ruleId) if hook.ruleId is not None else "",
        service_hints=services, instance_hints=instances, host_hints=hosts,
        metric_value=finite_or_none(values[0]) if values else None,
    )
    return SourceResult(items=[item])
