"""CloudWatch alarms delivered through SNS: an HTTP(S) subscription or a Lambda `Records[].Sns` event.

The SNS `Message` is a JSON string holding the classic alarm notification (AlarmName,
NewStateValue, NewStateReason, StateChangeTime, Trigger{Dimensions,...}); an EventBridge alarm
event forwarded to SNS is accepted too. Subscription and unsubscribe confirmations are ignored and
return the URL to visit. The Lambda envelope spells SigningCertUrl/UnsubscribeUrl differently
from the HTTP one; both spellings are read.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import AliasChoices, Field

from sre_copilot.errors import InvalidPayload
from sre_copilot.ingest.fields import require_time
from sre_copilot.ingest.model import AlertItem, SourceResult
from sre_copilot.ingest.payload import MAX_ALERTS, PayloadModel, reading, validate
from sre_copilot.ingest.sources.alarms import AlarmFacts, alarm_item, alarm_name_from_arn
from sre_copilot.ingest.sources.cloudwatch import EventBridgeEvent, parse_event


class SnsMessage(PayloadModel):
    Type: Literal["Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"]
    MessageId: str = Field(min_length=1, max_length=256)
    TopicArn: str | None = None
    Subject: str | None = None
    Message: str
    Timestamp: str | None = None
    SignatureVersion: str | None = None
    Signature: str | None = None
    SigningCertURL: str | None = Field(default=None,
                                       validation_alias=AliasChoices("SigningCertURL", "SigningCertUrl"))
    SubscribeURL: str | None = Field(default=None, validation_alias=AliasChoices("SubscribeURL", "SubscribeUrl"))
    UnsubscribeURL: str | None = Field(default=None,
                                       validation_alias=AliasChoices("UnsubscribeURL", "UnsubscribeUrl"))
    Token: str | None = None


class SnsRecord(PayloadModel):
    EventSource: str | None = None
    Sns: SnsMessage


class SnsRecords(PayloadModel):
    Records: list[SnsRecord] = Field(min_length=1, max_length=MAX_ALERTS)


class SnsDimension(PayloadModel):
    name: str
    value: str


class SnsMetricDefinition(PayloadModel):
    Dimensions: list[SnsDimension] = Field(default_factory=list, max_length=100)
    MetricName: str | None = None
    Namespace: str | None = None


class SnsMetricStat(PayloadModel):
    Metric: SnsMetricDefinition | None = None


class SnsMetric(PayloadModel):
    Id: str | None = None
    MetricStat: SnsMetricStat | None = None
    Expression: str | None = None


class SnsTrigger(PayloadModel):
    MetricName: str | None = None
    Namespace: str | None = None
    Dimensions: list[SnsDimension] = Field(default_factory=list, max_length=100)
    Metrics: list[SnsMetric] = Field(default_factory=list, max_length=100)


class SnsChild(PayloadModel):
    Arn: str | None = None


class SnsAlarmNotification(PayloadModel):
    AlarmName: str = Field(min_length=1, max_length=1024)
    AlarmDescription: str | None = None
    AWSAccountId: str | None = None
    NewStateValue: Literal["ALARM", "OK", "INSUFFICIENT_DATA"]
    NewStateReason: str | None = None
    StateChangeTime: str | None = None
    AlarmArn: str | None = None
    Trigger: SnsTrigger | None = None
    AlarmRule: str | None = None
    TriggeringChildren: list[SnsChild] = Field(default_factory=list, max_length=100)


def parse(body: Any) -> SourceResult:
    if isinstance(body, dict) and "Records" in body:
        records = validate(SnsRecords, body, "cloudwatch-sns").Records
        messages = [(record.Sns, f"Records.{i}.Sns") for i, record in enumerate(records)]
    else:
        messages = [(validate(SnsMessage, body, "cloudwatch-sns"), "")]
    items: list[AlertItem] = []
    reasons: list[str] = []
    for index, (message, where) in enumerate(messages):
        if message.Type != "Notification":
            reason = ("SNS subscription confirmation" if message.Type == "SubscriptionConfirmation"
                      else "SNS unsubscribe confirmation")
            if len(messages) == 1:
                return SourceResult(ignored_reason=reason, subscribe_url=message.SubscribeURL)
            reasons.append(reason)
            continue
        result = _notification(message, index, where)
        items.extend(result.items)
        if result.ignored_reason:
            reasons.append(result.ignored_reason)
    if not items:
        return SourceResult(ignored_reason="; ".join(dict.fromkeys(reasons)) or "SNS delivery carries no alarm")
    return SourceResult(items=items)


def _notification(message: SnsMessage, index: int, where: str) -> SourceResult:
    field = f"{where}.Message" if where else "Message"
    try:
        inner = json.loads(message.Message)
    except (ValueError, RecursionError):
        inner = None
    if not isinstance(inner, dict):
        raise InvalidPayload(f"SNS notification's '{field}' is not a JSON object; expected a CloudWatch alarm "
                             "notification")
    if "detail-type" in inner:
        return parse_event(validate(EventBridgeEvent, inner, "cloudwatch-sns", field), index)
    if "AlarmName" not in inner:
        raise InvalidPayload(f"SNS notification's '{field}' is not a CloudWatch alarm notification "
                             "(it has no AlarmName)")
    alarm = validate(SnsAlarmNotification, inner, "cloudwatch-sns", field)
    if alarm.NewStateValue == "INSUFFICIENT_DATA":
        return SourceResult(ignored_reason=f"alarm {alarm.AlarmName[:200]} has insufficient data, which is not "
                                           "an alert")
    with reading("cloudwatch-sns"):
        at = require_time(alarm.StateChangeTime, f"{field}.StateChangeTime") \
            or require_time(message.Timestamp, f"{where or 'body'}.Timestamp")
    facts = _facts(alarm, message)
    facts.at = at
    return SourceResult(items=[alarm_item(facts, index)])


def _facts(alarm: SnsAlarmNotification, message: SnsMessage) -> AlarmFacts:
    trigger = alarm.Trigger or SnsTrigger()
    dimensions = {d.name: d.value for d in trigger.Dimensions}
    namespace, metric_name = trigger.Namespace, trigger.MetricName
    expressions = [m.Expression.upper() for m in trigger.Metrics if m.Expression]
    for metric in trigger.Metrics:
        definition = metric.MetricStat.Metric if metric.MetricStat else None
        if definition is None:
            continue
        namespace = namespace or definition.Namespace
        metric_name = metric_name or definition.MetricName
        for dim in definition.Dimensions:
            dimensions.setdefault(dim.name, dim.value)
    if alarm.AlarmRule:
        alarm_type = "composite"
    elif any("ANOMALY_DETECTION_BAND" in e for e in expressions):
        alarm_type = "anomaly_detection"
    else:
        alarm_type = "metric_math" if expressions else "metric"
    arn_parts = (alarm.AlarmArn or "").split(":")
    return AlarmFacts(
        name=alarm.AlarmName,
        state=alarm.NewStateValue,
        arn=alarm.AlarmArn if alarm.AlarmArn and ":alarm:" in alarm.AlarmArn else None,
        reason=alarm.NewStateReason or "",
        description=alarm.AlarmDescription or "",
        namespace=namespace,
        metric_name=metric_name,
        alarm_type=alarm_type,
        dimensions=dimensions,
        children=[n for n in (alarm_name_from_arn(c.Arn) for c in alarm.TriggeringChildren[:16]) if n],
        alarm_rule=alarm.AlarmRule,
        region=arn_parts[3] if len(arn_parts) > 3 and arn_parts[3] else None,
        account=alarm.AWSAccountId,
        delivery_ref=message.MessageId,
    )
