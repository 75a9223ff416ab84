"""Datadog webhooks: the payload is a template the user writes, so parsing is tolerant.

We read the fields of the recommended template (docs/sources.md) and of common variants (the
Keep/keephq template: `severity`, `monitor_id`; ours: `alert_priority`, `alert_id`, `alert_scope`).
Every field is optional; values may be strings or numbers; unrendered placeholders ('$EVENT_TITLE')
count as absent. `tags` is Datadog's comma-separated string (a JSON list is accepted too).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ConfigDict, Field, field_validator

from sre_copilot.domain.types import Severity, SignalStatus
from sre_copilot.ingest.fields import (
    comma_tags,
    finite_or_none,
    pick,
    ranked,
    require_time,
    severity_from_word,
    split_tags,
    text_or_none,
)
from sre_copilot.ingest.model import AlertItem, SourceResult
from sre_copilot.ingest.payload import PayloadModel, reading, validate


class DatadogOrg(PayloadModel):
    # Templates often leave numeric variables unquoted ("alert_id": $ALERT_ID renders as a number).
    model_config = ConfigDict(coerce_numbers_to_str=True)

    id: str | None = None
    name: str | None = None


class DatadogWebhook(PayloadModel):
    model_config = ConfigDict(coerce_numbers_to_str=True)

    id: str | None = None
    title: str | None = None
    alert_title: str | None = None
    body: str | None = None
    text_only_msg: str | None = None
    alert_type: str | None = None
    alert_transition: str | None = None
    priority: str | None = None
    alert_priority: str | None = None
    severity: str | None = None
    last_updated: str | None = None
    date: str | None = None
    event_type: str | None = None
    alert_id: str | None = None
    monitor_id: str | None = None
    alert_cycle_key: str | None = None
    aggreg_key: str | None = None
    alert_metric: str | None = None
    alert_query: str | None = None
    alert_status: str | None = None
    scopes: str | None = None
    alert_scope: str | None = None
    hostname: str | None = None
    url: str | None = None
    link: str | None = None
    snapshot: str | None = None
    metric_value: str | None = None
    value: str | None = None
    tags: list[str] | str | None = Field(default=None)
    org: DatadogOrg | None = None

    @field_validator("tags", mode="before")
    @classmethod
    def _tag_list(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v for v in value]
        return value


_TRANSITIONS: dict[str, SignalStatus | None] = {
    "triggered": SignalStatus.FIRING, "re-triggered": SignalStatus.FIRING, "retriggered": SignalStatus.FIRING,
    "renotify": SignalStatus.FIRING, "alert": SignalStatus.FIRING, "warn": SignalStatus.FIRING,
    "re-warn": SignalStatus.FIRING, "warning": SignalStatus.FIRING, "error": SignalStatus.FIRING,
    "recovered": SignalStatus.RESOLVED, "resolved": SignalStatus.RESOLVED, "ok": SignalStatus.RESOLVED,
    "success": SignalStatus.RESOLVED,
    "no data": None, "re-no data": None, "nodata": None,
}
_WARN_TRANSITIONS = ("warn", "re-warn", "warning")
# 'success' is a recovery: it says nothing about how bad the alert was, so it keeps the default.
_ALERT_TYPES = {"error": Severity.ERROR, "warning": Severity.WARNING, "info": Severity.INFO}
_SERVICE_TAGS = ranked(("service", "kube_service", "kube_deployment", "app", "kube_app_name", "container_name",
                        "short_image"))
_INSTANCE_TAGS = ranked(("pod_name", "kube_pod", "container_name", "task_name"))
_TITLE_PREFIX = re.compile(r"^\s*(?:\[(?:P[0-5]|[^\]]{0,40}?)\]\s*){1,3}")
_TITLE_TRANSITION = re.compile(r"^\s*(?:\[P[0-5]\]\s*)?\[([A-Za-z -]+?)(?: on [^\]]*)?\]")


def parse(body: Any) -> SourceResult:
    hook = validate(DatadogWebhook, body, "datadog")
    raw_title = text_or_none(hook.title) or text_or_none(hook.alert_title)
    transition = (text_or_none(hook.alert_transition) or _title_transition(raw_title) or "").lower()
    if transition in _TRANSITIONS:
        status = _TRANSITIONS[transition]
        if status is None:
            return SourceResult(ignored_reason=f"Datadog monitor reports '{transition}', which is not an alert")
    else:
        status = SignalStatus.RESOLVED if (hook.alert_type or "").lower() == "success" else SignalStatus.FIRING
    title = _TITLE_PREFIX.sub("", raw_title).strip() if raw_title and raw_title[0] == "[" else ""
    title = title or raw_title or "Datadog monitor alert"
    tags = hook.tags if isinstance(hook.tags, list) else comma_tags(hook.tags)
    scope = text_or_none(hook.scopes) or text_or_none(hook.alert_scope)
    tag_labels, bare = split_tags(tags)
    scope_labels, _ = split_tags(comma_tags(scope))
    labels: dict[str, str] = {"alertname": title[:256]}
    # The scope names the group that triggered (a multi-alert monitor); it outranks the monitor's tags.
    for tag, tag_value in (*scope_labels.items(), *tag_labels.items()):
        labels.setdefault(tag, tag_value)
    if bare:
        labels.setdefault("tags", ",".join(bare)[:1024])
    for key, value in (("monitor_id", text_or_none(hook.alert_id) or text_or_none(hook.monitor_id)),
                       ("event_type", text_or_none(hook.event_type)), ("metric_name", text_or_none(hook.alert_metric)),
                       ("scope", scope), ("org", text_or_none(hook.org.name) if hook.org else None)):
        if value:
            labels.setdefault(key, value[:1024])
    monitor = labels.get("monitor_id")
    source_key: str | None = (f"{monitor}|{scope or ''}" if monitor else
                  text_or_none(hook.alert_cycle_key) or text_or_none(hook.aggreg_key))
    with reading("datadog"):
        at = require_time(hook.date, "date") or require_time(hook.last_updated, "last_updated")
    hosts = [h for h in (text_or_none(hook.hostname), labels.get("host"), labels.get("hostname")) if h]
    services = pick(labels, _SERVICE_TAGS)
    instances = pick(labels, _INSTANCE_TAGS)
    description = "\n".join(t for t in (text_or_none(hook.body) or text_or_none(hook.text_only_msg),
                                        text_or_none(hook.alert_query)) if t)
    links = [text_or_none(hook.url) or text_or_none(hook.link), text_or_none(hook.snapshot)]
    item = AlertItem(
        status=status,
        severity=_severity(hook, transition),
        title=title,
        event_time=at,
        description=description,
        labels=labels,
        links=[u for u in links if u and u.startswith(("http://", "https://"))],
        source_key=source_key,
        source_id=monitor or text_or_none(hook.id) or "",
        delivery_ref=text_or_none(hook.id),
        service_hints=services,
        instance_hints=instances,
        host_hints=hosts,
        metric_value=finite_or_none(hook.metric_value) if hook.metric_value is not None
        else finite_or_none(hook.value),
    )
    return SourceResult(items=[item])


def _title_transition(title: str | None) -> str | None:
    match = _TITLE_TRANSITION.match(title) if title else None
    return match.group(1).strip() if match else None


def _severity(hook: DatadogWebhook, transition: str) -> Severity:
    for value in (hook.alert_priority, hook.severity):
        found = severity_from_word(text_or_none(value))
        if found:
            return found
    if transition in _WARN_TRANSITIONS:
        return Severity.WARNING
    return _ALERT_TYPES.get((text_or_none(hook.alert_type) or "").lower(), Severity.ERROR)
