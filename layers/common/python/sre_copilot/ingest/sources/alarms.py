"""CloudWatch alarm facts -> alert item, shared by the EventBridge and SNS deliveries of an alarm."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import quote

from sre_copilot.domain.types import Severity, SignalStatus
from sre_copilot.ingest.fields import (
    finite_or_none,
    merge_labels,
    name_prefixes,
    pick,
    ranked,
    severity_from_word,
)
from sre_copilot.ingest.model import AlertItem

STATES = {"ALARM": SignalStatus.FIRING, "OK": SignalStatus.RESOLVED}

# Dimensions that usually carry the name of the service or of a resource named after it.
_SERVICE_DIMENSIONS = ("Service", "ServiceName", "service", "service_name", "Application", "FunctionName",
                       "ClusterName", "DBInstanceIdentifier", "DBClusterIdentifier", "CacheClusterId",
                       "ReplicationGroupId", "DomainName", "TableName", "QueueName", "TopicName",
                       "LoadBalancer", "TargetGroup", "ApiName", "StreamName", "DeliveryStreamName",
                       "StateMachineArn", "BucketName", "TaskDefinitionFamily", "Cluster")
_INSTANCE_DIMENSIONS = ("PodName", "pod", "TaskId", "ContainerName", "InstanceId")
_HOST_DIMENSIONS = ("InstanceId", "NodeName", "Hostname", "host", "hostname", "AutoScalingGroupName")
_SERVICE_TAGS = ("service", "Service", "app", "App", "application", "Application", "component")
_SEVERITY_TAGS = ("severity", "Severity", "priority", "Priority", "level")
_NAME_SEVERITY = {"critical": Severity.CRITICAL, "crit": Severity.CRITICAL, "sev1": Severity.CRITICAL,
                  "p1": Severity.CRITICAL, "page": Severity.CRITICAL,
                  "warning": Severity.WARNING, "warn": Severity.WARNING, "sev3": Severity.WARNING,
                  "p3": Severity.WARNING, "info": Severity.INFO, "informational": Severity.INFO,
                  "notice": Severity.INFO, "sev4": Severity.INFO, "p4": Severity.INFO}
_SERVICE_RANK = ranked(_SERVICE_DIMENSIONS)
_INSTANCE_RANK = ranked(_INSTANCE_DIMENSIONS)
_HOST_RANK = ranked(_HOST_DIMENSIONS)
_SERVICE_TAG_RANK = ranked(_SERVICE_TAGS)
_SEVERITY_TAG_RANK = ranked(_SEVERITY_TAGS)
_NAME_TOKENS = re.compile(r"[^A-Za-z0-9]+")
_RECENT_DATAPOINTS = re.compile(r'"recentDatapoints"\s*:\s*\[([^\]]{0,4096})\]')
_REASON_DATAPOINT = re.compile(r"\[(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?) \(")
_RULE_CHILDREN = re.compile(r"(?:ALARM|OK|INSUFFICIENT_DATA)\(\s*\"?([^\")]+?)\"?\s*\)")
_URL_SAFE = re.compile(r"^[A-Za-z0-9._~-]+$")
_REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d$")


@dataclass(slots=True)
class AlarmFacts:
    name: str
    state: str
    arn: str | None = None
    reason: str = ""
    reason_data: str | None = None
    at: datetime | None = None
    description: str = ""
    namespace: str | None = None
    metric_name: str | None = None
    alarm_type: str = "metric"
    dimensions: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    children: list[str] = field(default_factory=list)
    alarm_rule: str | None = None
    suppressed_by: str | None = None
    suppressed_reason: str | None = None
    muted_by: str | None = None
    muted_until: str | None = None
    region: str | None = None
    account: str | None = None
    contributor_id: str | None = None
    delivery_ref: str | None = None


def alarm_item(facts: AlarmFacts, index: int) -> AlertItem:
    """The caller has already set aside INSUFFICIENT_DATA, so `facts.state` is ALARM or OK."""
    labels: dict[str, str] = {"alertname": facts.name[:256], "alarm_type": facts.alarm_type}
    for key, value in (("namespace", facts.namespace), ("metric_name", facts.metric_name),
                       ("region", facts.region), ("account", facts.account),
                       ("contributor_id", facts.contributor_id),
                       ("actions_suppressed_by", facts.suppressed_by),
                       ("actions_suppressed_reason", facts.suppressed_reason),
                       ("muted_by", facts.muted_by), ("muted_until", facts.muted_until)):
        if value:
            labels[key] = value[:1024]
    dims, tags = facts.dimensions, facts.tags
    if dims:
        merge_labels(labels, dims)
    if tags:
        merge_labels(labels, tags)
    name_hints = name_prefixes(facts.name)
    if facts.children or facts.alarm_rule:
        children = [*facts.children, *_rule_children(facts.alarm_rule)]
        child_hints = [p for child in dict.fromkeys(children[:16]) for p in name_prefixes(child)]
        name_hints = [*name_hints, *child_hints]
    services = [*(_resource_name(v) for v in pick(dims, _SERVICE_RANK)), *name_hints]
    if tags:
        services[:0] = pick(tags, _SERVICE_TAG_RANK)
    source_key = facts.arn or _arn(facts)
    if facts.contributor_id:
        source_key = f"{source_key}/contributor/{facts.contributor_id}"
    return AlertItem(
        status=STATES[facts.state],
        severity=_severity(facts),
        title=facts.name,
        event_time=facts.at,
        description=f"{facts.description}\n{facts.reason}" if facts.description and facts.reason
        else facts.description or facts.reason,
        labels=labels,
        links=_console_link(facts),
        source_key=source_key,
        source_id=facts.arn or source_key,
        delivery_ref=facts.delivery_ref,
        service_hints=services,
        instance_hints=pick(dims, _INSTANCE_RANK) if dims else [],
        host_hints=[*pick(dims, _HOST_RANK), *name_hints] if dims else name_hints,
        metric_value=datapoint(facts.reason, facts.reason_data),
        index=index,
    )


def datapoint(reason: str, reason_data: str | None) -> float | None:
    """The most recent datapoint: from reasonData's recentDatapoints, else from the reason text."""
    if reason_data:
        # reasonData is a JSON string; a regex reads the one list we need without a second JSON parse.
        found = _RECENT_DATAPOINTS.search(reason_data[:65536])
        if found:
            points = [p for p in (finite_or_none(x.strip()) for x in found.group(1).split(",")) if p is not None]
            if points:
                return points[-1]
    match = _REASON_DATAPOINT.search(reason[:2048])
    return finite_or_none(match.group(1)) if match else None


def triggering_children(reason_data: str | None) -> list[str]:
    """Child alarm names from a composite alarm's reasonData ('triggeringAlarms': [{'arn': ...}])."""
    if not reason_data or not reason_data.startswith("{") or len(reason_data) >= 65536:
        return []
    try:
        data = json.loads(reason_data)
    except (ValueError, RecursionError):
        return []
    alarms = data.get("triggeringAlarms") if isinstance(data, dict) else None
    if not isinstance(alarms, list):
        return []
    names = [alarm_name_from_arn(a.get("arn")) for a in alarms[:16] if isinstance(a, dict)]
    return [n for n in names if n]


def alarm_name_from_arn(arn: object) -> str | None:
    if not isinstance(arn, str) or ":alarm:" not in arn:
        return None
    return arn.split(":alarm:", 1)[1] or None


def _rule_children(rule: str | None) -> list[str]:
    return _RULE_CHILDREN.findall(rule[:4096])[:8] if rule else []


def _resource_name(value: str) -> str:
    # 'app/checkout-alb/50dc6c495c0c9188' (LoadBalancer), 'targetgroup/checkout/...' and ARNs
    # name the resource in their middle or last segment.
    if value.startswith("arn:"):
        return value.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
    parts = value.split("/")
    if len(parts) == 3 and parts[0] in ("app", "net", "gwy", "targetgroup"):
        return parts[1]
    return value


def _severity(facts: AlarmFacts) -> Severity:
    for word in pick(facts.tags, _SEVERITY_TAG_RANK):
        found = severity_from_word(word)
        if found:
            return found
    for token in _NAME_TOKENS.split(facts.name.lower()):
        if token in _NAME_SEVERITY:
            return _NAME_SEVERITY[token]
    # CloudWatch carries no severity; an alarm that fired is an error unless its tags say otherwise.
    return Severity.ERROR


def _arn(facts: AlarmFacts) -> str:
    return f"arn:aws:cloudwatch:{facts.region or ''}:{facts.account or ''}:alarm:{facts.name}"


def _console_link(facts: AlarmFacts) -> list[str]:
    region = facts.region
    if not region or not _REGION.match(region):
        return []
    name = facts.name if _URL_SAFE.match(facts.name) else quote(facts.name, safe="")
    return [f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#alarmsV2:alarm/{name}"]
