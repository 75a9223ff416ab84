"""CloudWatch alarms delivered by EventBridge.

"CloudWatch Alarm State Change" covers metric, metric math, anomaly detection, Metrics Insights and
composite alarms; "CloudWatch Alarm Contributor State Change" is one time series of a multi-series
alarm. ALARM fires, OK resolves, INSUFFICIENT_DATA is ignored. A suppressed or muted alarm is still a
signal; its `actions_suppressed_by` / `muted_by` labels let classification demote it.
"Configuration Change" events describe edits to alarms and are ignored.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from sre_copilot.errors import InvalidPayload
from sre_copilot.ingest.fields import require_time, text_or_none
from sre_copilot.ingest.model import SourceResult
from sre_copilot.ingest.payload import PayloadModel, reading, validate
from sre_copilot.ingest.sources.alarms import AlarmFacts, alarm_item, triggering_children

STATE_CHANGE = "CloudWatch Alarm State Change"
CONTRIBUTOR_CHANGE = "CloudWatch Alarm Contributor State Change"
CONFIGURATION_CHANGE = "CloudWatch Alarm Configuration Change"


class EventBridgeEvent(PayloadModel):
    id: str = Field(min_length=1, max_length=256)
    detail_type: str = Field(alias="detail-type", max_length=256)
    source: str | None = None
    account: str | None = None
    time: str | None = None
    region: str | None = None
    resources: list[str] = Field(default_factory=list)
    detail: dict[str, Any]


class CwState(PayloadModel):
    value: Literal["ALARM", "OK", "INSUFFICIENT_DATA"]
    reason: str | None = None
    reasonData: str | None = None
    timestamp: str | None = None
    actionsSuppressedBy: str | None = None
    actionsSuppressedReason: str | None = None


class CwMetricDefinition(PayloadModel):
    namespace: str | None = None
    name: str | None = None
    dimensions: dict[str, str] = Field(default_factory=dict)


class CwMetricStat(PayloadModel):
    metric: CwMetricDefinition | None = None


class CwMetric(PayloadModel):
    id: str | None = None
    metricStat: CwMetricStat | None = None
    expression: str | None = None
    label: str | None = None


class CwConfiguration(PayloadModel):
    description: str | None = None
    metrics: list[CwMetric] = Field(default_factory=list, max_length=100)
    alarmRule: str | None = None
    actionsSuppressor: str | None = None


class CwMute(PayloadModel):
    mutedByArn: str | None = None
    muteWindowStart: str | None = None
    muteWindowEnd: str | None = None


class CwContributor(PayloadModel):
    id: str = Field(min_length=1, max_length=1024)
    attributes: dict[str, str] = Field(default_factory=dict)


class CwDetail(PayloadModel):
    alarmName: str = Field(min_length=1, max_length=1024)
    state: CwState
    configuration: CwConfiguration | None = None
    muteDetail: CwMute | None = None
    alarmContributor: CwContributor | None = None
    alarmTags: dict[str, str] | None = None


def parse(body: Any) -> SourceResult:
    event = validate(EventBridgeEvent, body, "cloudwatch")
    return parse_event(event, 0)


def parse_event(event: EventBridgeEvent, index: int) -> SourceResult:
    kind = event.detail_type
    if kind == CONFIGURATION_CHANGE:
        name = text_or_none(event.detail.get("alarmName")) or "an alarm"
        operation = text_or_none(event.detail.get("operation")) or "change"
        return SourceResult(ignored_reason=f"alarm configuration change ({operation[:20]} of {name[:200]})")
    if kind not in (STATE_CHANGE, CONTRIBUTOR_CHANGE):
        raise InvalidPayload(f"CloudWatch event has detail-type '{kind[:80]}'; expected '{STATE_CHANGE}', "
                             f"'{CONTRIBUTOR_CHANGE}' or '{CONFIGURATION_CHANGE}'")
    detail = validate(CwDetail, event.detail, "cloudwatch", "detail")
    state = detail.state
    if state.value == "INSUFFICIENT_DATA":
        return SourceResult(ignored_reason=f"alarm {detail.alarmName[:200]} has insufficient data, which is not "
                                           "an alert")
    with reading("cloudwatch"):
        at = require_time(state.timestamp, "detail.state.timestamp") or require_time(event.time, "time")
        facts = _facts(event, detail)
        facts.at = at
    return SourceResult(items=[alarm_item(facts, index)])


def _facts(event: EventBridgeEvent, detail: CwDetail) -> AlarmFacts:
    config = detail.configuration or CwConfiguration()
    dimensions: dict[str, str] = {}
    namespace = metric_name = None
    for metric in config.metrics:
        definition = metric.metricStat.metric if metric.metricStat else None
        if definition is None:
            continue
        namespace = namespace or definition.namespace
        metric_name = metric_name or definition.name
        for key, value in definition.dimensions.items():
            dimensions.setdefault(key, value)
    contributor = detail.alarmContributor
    if contributor:
        for key, value in contributor.attributes.items():
            dimensions.setdefault(key, value)
    arn = next((r for r in event.resources if isinstance(r, str) and ":alarm:" in r), None)
    mute = detail.muteDetail
    return AlarmFacts(
        name=detail.alarmName,
        state=detail.state.value,
        arn=arn,
        reason=detail.state.reason or "",
        reason_data=detail.state.reasonData,
        description=config.description or "",
        namespace=namespace,
        metric_name=metric_name,
        alarm_type=_alarm_type(config, contributor),
        dimensions=dimensions,
        tags=dict(detail.alarmTags or {}),
        children=triggering_children(detail.state.reasonData) if config.alarmRule else [],
        alarm_rule=config.alarmRule,
        suppressed_by=detail.state.actionsSuppressedBy,
        suppressed_reason=detail.state.actionsSuppressedReason,
        muted_by=mute.mutedByArn if mute else None,
        muted_until=mute.muteWindowEnd if mute else None,
        region=event.region,
        account=event.account,
        contributor_id=contributor.id if contributor else None,
        delivery_ref=event.id,
    )


def _alarm_type(config: CwConfiguration, contributor: CwContributor | None) -> str:
    if config.alarmRule:
        return "composite"
    expressions = [m.expression.upper() for m in config.metrics if m.expression]
    if contributor or any(e.lstrip().startswith("SELECT") for e in expressions):
        return "metrics_insights"
    if any("ANOMALY_DETECTION_BAND" in e for e in expressions):
        return "anomaly_detection"
    return "metric_math" if expressions else "metric"
