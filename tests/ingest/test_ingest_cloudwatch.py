"""CloudWatch alarm variants by EventBridge and SNS, built from the shapes in the CloudWatch user guide
("Alarm events and EventBridge") and the classic SNS alarm notification."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from sre_copilot.domain.catalog import Catalog
from sre_copilot.domain.types import EntityKind, Priority, SignalStatus
from sre_copilot.errors import InvalidPayload
from sre_copilot.ingest.classify import classify
from sre_copilot.ingest.normalize import normalize

RECEIVED = datetime(2026, 3, 4, 10, 30, tzinfo=UTC)
CATALOG = Catalog.model_validate({
    "services": [{"name": "checkout", "tier": 1, "aliases": ["CheckoutAPI"]},
                 {"name": "search-os", "tier": 2}, {"name": "orders-db", "tier": 1},
                 {"name": "search", "tier": 2}],
    "hosts": [{"name": "ip-10-0-6-183"}, {"name": "ip-10-0-1-12", "aliases": ["i-0abc"]}],
})


def _event(detail: dict[str, Any], kind: str = "CloudWatch Alarm State Change", name: str = "checkout-5xx-high"
           ) -> dict[str, Any]:
    return {"version": "0", "id": "7bf73129-1428-4cd3-a780-95db273d1602", "detail-type": kind,
            "source": "aws.cloudwatch", "account": "123456789012", "time": "2026-03-04T10:07:10Z",
            "region": "us-east-1", "resources": [f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}"],
            "detail": {"alarmName": name, **detail}}


def _state(value: str = "ALARM", **extra: Any) -> dict[str, Any]:
    return {"value": value, "reason": "Threshold Crossed: 1 out of the last 1 datapoints [42.5 (04/03/26 10:06:00)] "
                                      "was greater than the threshold (10.0)",
            "timestamp": "2026-03-04T10:07:10.118+0000", **extra}


def _metric(dimensions: dict[str, str], metric_id: str = "m1", name: str = "5XXError") -> dict[str, Any]:
    return {"id": metric_id, "metricStat": {"metric": {"namespace": "AWS/ApiGateway", "name": name,
                                                       "dimensions": dimensions}, "period": 60, "stat": "Sum"},
            "returnData": True}


def _one(body: dict[str, Any], source: str = "cloudwatch") -> Any:
    result = normalize(source, json.dumps(body).encode(), catalog=CATALOG, received_at=RECEIVED)
    assert result.kind == "alerts", result.ignored_reason
    (signal,) = result.signals
    return signal


def test_alarm_to_ok_resolves_with_the_same_fingerprint() -> None:
    firing = _one(_event({"state": _state(), "configuration": {"metrics": [_metric({"ApiName": "checkout"})]}}))
    ok = _one(_event({"state": _state("OK"), "configuration": {"metrics": [_metric({"ApiName": "checkout"})]}}))
    assert (firing.status, ok.status) == (SignalStatus.FIRING, SignalStatus.RESOLVED)
    assert firing.fingerprint == ok.fingerprint
    assert firing.service == "checkout"
    assert firing.event_time == datetime(2026, 3, 4, 10, 7, 10, 118000, tzinfo=UTC)
    assert firing.metric_value == 42.5


def test_insufficient_data_is_ignored() -> None:
    result = normalize("cloudwatch", _event({"state": _state("INSUFFICIENT_DATA")}), catalog=CATALOG,
                       received_at=RECEIVED)
    assert result.kind == "ignored" and "insufficient data" in (result.ignored_reason or "")


def test_configuration_change_is_ignored() -> None:
    body = _event({"operation": "update", "state": {"value": "INSUFFICIENT_DATA"},
                   "configuration": {"alarmName": "checkout-5xx-high"}}, kind="CloudWatch Alarm Configuration Change")
    result = normalize("cloudwatch", body, catalog=CATALOG, received_at=RECEIVED)
    assert result.kind == "ignored"
    assert result.ignored_reason == "alarm configuration change (update of checkout-5xx-high)"


def test_metric_math_alarm_reads_dimensions_of_its_metrics() -> None:
    config = {"metrics": [{"id": "e1", "expression": "SUM(METRICS())", "label": "Total", "returnData": True},
                          {**_metric({"InstanceId": "i-0abc"}, "m1", "NetworkIn"), "returnData": False},
                          {**_metric({"InstanceId": "i-0abc"}, "m2", "NetworkOut"), "returnData": False}]}
    signal = _one(_event({"state": _state(reasonData=json.dumps({"recentDatapoints": [45628.0]})),
                          "configuration": config}, name="TotalNetworkTrafficTooHigh"))
    assert signal.labels["alarm_type"] == "metric_math"
    assert (signal.entity, signal.entity_kind) == ("ip-10-0-1-12", EntityKind.HOST)
    assert signal.metric_value == 45628.0


def test_anomaly_detection_alarm() -> None:
    config = {"metrics": [_metric({"Service": "search-os"}, "m1", "CPUUtilization"),
                          {"id": "ad1", "expression": "ANOMALY_DETECTION_BAND(m1, 0.8)", "returnData": True}]}
    signal = _one(_event({"state": _state(), "configuration": config}, name="EC2 CPU Utilization Anomaly"))
    assert signal.labels["alarm_type"] == "anomaly_detection"
    assert signal.service == "search-os"


def test_contributor_state_change_is_one_signal_per_contributor() -> None:
    def contributor(contributor_id: str, table: str) -> dict[str, Any]:
        return _event({"alarmContributor": {"id": contributor_id, "attributes": {"TableName": table}},
                       "state": {"value": "ALARM", "reason": "most recent datapoint [0.0 (01/12/25 13:34:00)]",
                                 "timestamp": "2026-03-04T10:07:04.919+0000"},
                       "configuration": {"metrics": [{"id": "m1", "expression": "SELECT AVG(ConsumedWriteCapacityUnits)"
                                                      " FROM \"AWS/DynamoDB\" GROUP BY TableName", "returnData": True}]}},
                      kind="CloudWatch Alarm Contributor State Change", name="DynamoDBInsightsAlarm")

    first, second = _one(contributor("6d442278dba546f6", "orders-db")), _one(contributor("aa11", "sessions"))
    assert first.labels["alarm_type"] == "metrics_insights"
    assert first.labels["contributor_id"] == "6d442278dba546f6"
    assert first.service == "orders-db" and second.service is None
    assert first.fingerprint != second.fingerprint


def test_muted_alarm_is_a_signal_marked_for_classification() -> None:
    body = _event({"state": _state(), "configuration": {"metrics": [_metric({"ApiName": "checkout"})]},
                   "muteDetail": {"mutedByArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm-mute-rule:deploys",
                                  "muteWindowStart": "2026-03-04T10:00:00.000+0000",
                                  "muteWindowEnd": "2026-03-04T12:00:00.000+0000"}})
    signal = _one(body)
    assert signal.status is SignalStatus.FIRING
    assert signal.labels["muted_by"].endswith("alarm-mute-rule:deploys")
    assert signal.labels["muted_until"] == "2026-03-04T12:00:00.000+0000"
    assert classify(signal, CATALOG) is Priority.P3
    unmuted = _one(_event({"state": _state(), "configuration": {"metrics": [_metric({"ApiName": "checkout"})]}}))
    assert unmuted.fingerprint == signal.fingerprint
    assert classify(unmuted, CATALOG) is Priority.P1


def test_alarm_tags_name_service_and_severity() -> None:
    body = _event({"state": _state(), "alarmTags": {"service": "CheckoutAPI", "severity": "critical"}},
                  name="api-latency")
    signal = _one(body)
    assert (signal.service, signal.severity) == ("checkout", "critical")
    assert signal.labels["severity"] == "critical"


def test_alarm_name_prefix_resolves_service_or_host() -> None:
    assert _one(_event({"state": _state()}, name="search-os-cpuutilization-high")).service == "search-os"
    host = _one(_event({"state": _state()}, name="ip-10-0-6-183-statuscheckfailed-high"))
    assert (host.entity, host.entity_kind, host.service) == ("ip-10-0-6-183", EntityKind.HOST, None)
    assert _one(_event({"state": _state()}, name="unknown-thing-high")).service is None


def test_other_detail_types_are_invalid() -> None:
    with pytest.raises(InvalidPayload, match="detail-type 'EC2 Instance State-change Notification'"):
        normalize("cloudwatch", _event({"state": _state()}, kind="EC2 Instance State-change Notification"),
                  catalog=CATALOG, received_at=RECEIVED)


# -- SNS -------------------------------------------------------------------------------------------
def _sns(message: dict[str, Any] | str, message_id: str = "95df01b4-ee98-5cb9-9903-4c221d41eb5e") -> dict[str, Any]:
    return {"Type": "Notification", "MessageId": message_id, "TopicArn": "arn:aws:sns:us-east-1:123456789012:alarms",
            "Subject": "ALARM", "Message": message if isinstance(message, str) else json.dumps(message),
            "Timestamp": "2026-03-04T10:07:11.000Z", "SignatureVersion": "1", "Signature": "EXAMPLE",
            "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem"}


CLASSIC = {"AlarmName": "checkout-5xx-high", "AlarmDescription": "5xx on checkout", "AWSAccountId": "123456789012",
           "NewStateValue": "ALARM", "NewStateReason": "Threshold Crossed: 1 datapoint [12.0 (04/03/26 10:06:00)]",
           "StateChangeTime": "2026-03-04T10:07:10.118+0000", "Region": "US East (N. Virginia)",
           "AlarmArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:checkout-5xx-high", "OldStateValue": "OK",
           "Trigger": {"MetricName": "5XXError", "Namespace": "AWS/ApiGateway", "Statistic": "SUM",
                       "Dimensions": [{"value": "checkout", "name": "ApiName"}], "Period": 60,
                       "EvaluationPeriods": 1, "ComparisonOperator": "GreaterThanThreshold", "Threshold": 10.0}}


def test_sns_http_notification_and_eventbridge_delivery_share_a_fingerprint() -> None:
    by_sns = _one(_sns(CLASSIC), source="cloudwatch-sns")
    by_eventbridge = _one(_event({"state": _state(), "configuration": {"metrics": [_metric({"ApiName": "checkout"})]}}))
    assert by_sns.service == "checkout" and by_sns.metric_value == 12.0
    assert by_sns.description == "5xx on checkout\nThreshold Crossed: 1 datapoint [12.0 (04/03/26 10:06:00)]"
    assert by_sns.fingerprint == by_eventbridge.fingerprint
    assert by_sns.labels["region"] == "us-east-1"


def test_sns_composite_alarm_uses_child_alarm_names() -> None:
    composite = {"AlarmName": "storefront-degraded", "NewStateValue": "ALARM", "NewStateReason": "child in ALARM",
                 "StateChangeTime": "2026-03-04T10:07:10.118+0000",
                 "AlarmArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:storefront-degraded",
                 "AlarmRule": "ALARM(\"checkout-5xx-high\") OR ALARM(search-latency-high)",
                 "TriggeringChildren": [{"Arn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:checkout-5xx-high",
                                         "State": {"Value": "ALARM"}}]}
    signal = _one(_sns(composite), source="cloudwatch-sns")
    assert signal.labels["alarm_type"] == "composite"
    assert signal.service == "checkout"


def test_sns_records_give_one_signal_per_alarm_record() -> None:
    ok = {**CLASSIC, "NewStateValue": "OK"}
    no_data = {**CLASSIC, "NewStateValue": "INSUFFICIENT_DATA"}
    records = {"Records": [{"EventSource": "aws:sns", "Sns": {**_sns(m, f"id-{i}"), "SigningCertUrl": "x"}}
                           for i, m in enumerate((CLASSIC, no_data, ok))]}
    result = normalize("cloudwatch-sns", records, catalog=CATALOG, received_at=RECEIVED)
    assert [(s.origin.item, s.status) for s in result.signals] == [(0, SignalStatus.FIRING),
                                                                     (2, SignalStatus.RESOLVED)]


def test_sns_forwarded_eventbridge_event_is_read() -> None:
    signal = _one(_sns(_event({"state": _state()}, name="search-os-cpuutilization-high")), source="cloudwatch-sns")
    assert signal.service == "search-os"


@pytest.mark.parametrize(("message", "reason"), [
    ("plain text alarm", "'Message' is not a JSON object"),
    ({"hello": "world"}, "not a CloudWatch alarm notification"),
    ({**CLASSIC, "NewStateValue": "BROKEN"}, "Message.NewStateValue"),
    ({**CLASSIC, "StateChangeTime": "yesterday"}, "StateChangeTime"),
])
def test_sns_bad_messages_name_the_problem(message: Any, reason: str) -> None:
    with pytest.raises(InvalidPayload, match=reason):
        normalize("cloudwatch-sns", _sns(message), catalog=CATALOG, received_at=RECEIVED)


def test_unsubscribe_confirmation_is_ignored() -> None:
    body = copy.deepcopy(_sns("unsubscribed"))
    body.update(Type="UnsubscribeConfirmation", Token="t",
                SubscribeURL="https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=t")
    result = normalize("cloudwatch-sns", body, catalog=CATALOG, received_at=RECEIVED)
    assert (result.kind, result.ignored_reason) == ("ignored", "SNS unsubscribe confirmation")
    assert result.subscribe_url is not None
