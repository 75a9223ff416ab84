"""Conformance: every public webhook payload in tests/fixtures/webhooks/ normalises to the expected signal.

Provenance (see tests/fixtures/webhooks/SOURCES.md, copied from ../shared/fixtures/webhooks/):
PagerDuty v3 triggered/acknowledged from zulip/zulip's integration fixtures, the PagerDuty signed
priority_updated body from PagerDuty/go-pagerduty's webhookv3 tests, CloudWatch EventBridge examples
from awsdocs/amazon-cloudwatch-user-guide, the SNS-to-Lambda alarm record from aws/aws-lambda-go,
the SNS subscription handshake from awsdocs/amazon-sns-developer-guide, Opsgenie/Alertmanager/
Grafana payloads from zulip/zulip, and the Datadog template from keephq/keep.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sre_copilot.domain.catalog import Catalog
from sre_copilot.domain.signal import Signal
from sre_copilot.domain.types import EntityKind, Severity, SignalStatus
from sre_copilot.ingest.normalize import NormalizedDelivery, normalize

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "webhooks"
SOURCE_OF: dict[str, str] = json.loads((FIXTURES / "sources.json").read_text())
NOT_PAYLOADS = {"pagerduty_v3_signature_test_vector.json", "sources.json"}


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _normalize(fixtures_dir: Path, name: str, catalog: Catalog, received_at: datetime) -> NormalizedDelivery:
    return normalize(SOURCE_OF[name], (fixtures_dir / name).read_bytes(), catalog=catalog,
                     received_at=received_at, delivery_id=f"test:{name}")


def _fields(signal: Signal) -> dict[str, Any]:
    return {"status": signal.status, "severity": signal.severity, "event_time": signal.event_time,
            "title": signal.title, "service": signal.service, "entity": signal.entity,
            "entity_kind": signal.entity_kind, "host": signal.host}


EXPECTED: dict[str, list[dict[str, Any]]] = {
    "alertmanager_v4_webhook_firing_2alerts_zulip.json": [
        {"status": SignalStatus.FIRING, "severity": Severity.CRITICAL,
         "event_time": _t("2020-02-06T00:17:58.432+00:00"),
         "title": "High CPU Temperature: High CPU core temperature", "service": None, "entity": "andromeda",
         "entity_kind": EntityKind.HOST, "host": "andromeda"},
    ] * 2,
    "cloudwatch_alarm_via_sns_lambda_record_single_metric_aws-lambda-go.json": [
        {"status": SignalStatus.FIRING, "severity": Severity.ERROR, "event_time": _t("2015-06-03T17:43:27.123+00:00"),
         "title": "EXAMPLE", "service": None, "entity": None, "entity_kind": None, "host": None},
    ],
    "cloudwatch_eventbridge_state_change_composite_with_suppressor_awsdocs.json": [
        {"status": SignalStatus.FIRING, "severity": Severity.ERROR, "event_time": _t("2022-07-22T15:57:45.394+00:00"),
         "title": "ServiceAggregatedAlarm", "service": None, "entity": None, "entity_kind": None, "host": None},
    ],
    "cloudwatch_eventbridge_state_change_single_metric_awsdocs.json": [
        {"status": SignalStatus.FIRING, "severity": Severity.ERROR, "event_time": _t("2019-10-02T17:04:40.989+00:00"),
         "title": "ServerCpuTooHigh", "service": None, "entity": "ip-10-0-1-12", "entity_kind": EntityKind.HOST,
         "host": "ip-10-0-1-12"},
    ],
    "datadog_webhook_payload_template_keephq.json": [
        # Every field is an unrendered placeholder: read as absent, so the time is the receipt time.
        {"status": SignalStatus.FIRING, "severity": Severity.ERROR, "event_time": _t("2026-03-04T10:00:00+00:00"),
         "title": "Datadog monitor alert", "service": None, "entity": None, "entity_kind": None, "host": None},
    ],
    "grafana_unified_webhook_firing_v11_zulip.json": [
        {"status": SignalStatus.FIRING, "severity": Severity.WARNING, "event_time": _t("2024-03-01T02:09:00+00:00"),
         "title": "Memory (copy): High memory usage", "service": None, "entity": None, "entity_kind": None,
         "host": None},
    ],
    "opsgenie_webhook_create.json": [
        {"status": SignalStatus.FIRING, "severity": Severity.WARNING, "event_time": _t("2017-08-14T11:25:56.288+00:00"),
         "title": "another alert", "service": None, "entity": None, "entity_kind": None, "host": None},
    ],
    "pagerduty_v3_incident.acknowledged.json": [
        {"status": SignalStatus.ACKNOWLEDGED, "severity": Severity.CRITICAL,
         "event_time": _t("2021-06-04T13:55:30.394+00:00"), "title": "Test Incident", "service": "pig",
         "entity": "pig", "entity_kind": EntityKind.SERVICE, "host": None},
    ],
    "pagerduty_v3_incident.triggered.json": [
        {"status": SignalStatus.FIRING, "severity": Severity.CRITICAL, "event_time": _t("2021-06-04T13:35:29.781+00:00"),
         "title": "Test Incident 3", "service": "pig", "entity": "pig", "entity_kind": EntityKind.SERVICE,
         "host": None},
    ],
    "pagerduty_v3_incident.priority_updated_signed_body.raw.json": [],
    "sns_http_subscription_confirmation_awsdocs.json": [],
}


def test_every_fixture_file_is_covered(fixtures_dir: Path) -> None:
    # Given the copied fixture directory, When listing its JSON files, Then each one has an expectation
    names = {p.name for p in fixtures_dir.glob("*.json")} - NOT_PAYLOADS
    assert names == set(SOURCE_OF) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_normalises_to_expected_fields(name: str, fixtures_dir: Path, fixture_catalog: Catalog,
                                               received_at: datetime) -> None:
    # Given a real payload, When it is normalised with the small fixture catalog
    result = _normalize(fixtures_dir, name, fixture_catalog, received_at)
    # Then each alert item becomes a signal with the expected normalised fields, in delivery order
    assert [_fields(s) for s in result.signals] == EXPECTED[name]
    assert [s.origin.item for s in result.signals] == list(range(len(EXPECTED[name])))
    assert result.kind == ("alerts" if EXPECTED[name] else "ignored")
    for signal in result.signals:
        assert signal.source == SOURCE_OF[name]
        assert signal.received_at == received_at
        # model_construct skips validation on the hot path: the signal must still be a valid Signal
        assert Signal.model_validate(signal.model_dump()) == signal
        assert Signal.model_validate_json(signal.model_dump_json()).model_dump() == signal.model_dump()


@pytest.mark.parametrize("name", sorted(n for n, e in EXPECTED.items() if e))
def test_fingerprint_and_id_are_stable_across_redelivery(name: str, fixtures_dir: Path, fixture_catalog: Catalog,
                                                         received_at: datetime) -> None:
    # Given the same delivery normalised twice (a sender retry), received a minute apart
    first = _normalize(fixtures_dir, name, fixture_catalog, received_at)
    again = _normalize(fixtures_dir, name, fixture_catalog, received_at.replace(minute=1))
    # Then signal ids and fingerprints are identical
    assert [s.id for s in first.signals] == [s.id for s in again.signals]
    assert [s.fingerprint for s in first.signals] == [s.fingerprint for s in again.signals]
    assert len({s.id for s in first.signals}) == len(first.signals)


def test_alertmanager_keeps_labels_links_and_tool_fingerprint(fixtures_dir: Path, fixture_catalog: Catalog,
                                                              received_at: datetime) -> None:
    result = _normalize(fixtures_dir, "alertmanager_v4_webhook_firing_2alerts_zulip.json", fixture_catalog,
                        received_at)
    first, second = result.signals
    assert first.labels == {"alertname": "High CPU Temperature", "host": "andromeda", "severity": "critical"}
    assert first.source_id == "a1bc48475b20e73d" and second.source_id == "c2ea85182f28cbd9"
    # two alerts with identical labels but different Alertmanager fingerprints stay two alerts
    assert first.fingerprint != second.fingerprint
    assert first.description == "CPU core temperature is 34.75C"
    assert first.links[0].startswith("http://cobalt:9090/graph?g0.expr=")
    assert not first.background


def test_grafana_reads_values_and_panel_links(fixtures_dir: Path, fixture_catalog: Catalog,
                                              received_at: datetime) -> None:
    (signal,) = _normalize(fixtures_dir, "grafana_unified_webhook_firing_v11_zulip.json", fixture_catalog,
                           received_at).signals
    # values A=2473545728, B=0, C=1: the query value, not the 0/1 condition results
    assert signal.metric_value == 2473545728.0
    assert "https://play.grafana.org/d/ece9fb32-7f71-4be9-bd94-2f23608ae5b9?orgId=1&viewPanel=2" in signal.links
    assert signal.labels["grafana_folder"] == "device"
    assert signal.source_id == "e6349a25f5ef0e9e"


def test_cloudwatch_single_metric_reads_dimensions_and_datapoint(fixtures_dir: Path, fixture_catalog: Catalog,
                                                                 received_at: datetime) -> None:
    (signal,) = _normalize(fixtures_dir, "cloudwatch_eventbridge_state_change_single_metric_awsdocs.json",
                           fixture_catalog, received_at).signals
    assert signal.metric_value == 99.50160229693434
    assert signal.labels["InstanceId"] == "i-12345678901234567"
    assert (signal.labels["namespace"], signal.labels["metric_name"]) == ("AWS/EC2", "CPUUtilization")
    assert signal.labels["alarm_type"] == "metric"
    assert signal.source_id == "arn:aws:cloudwatch:us-east-1:123456789012:alarm:ServerCpuTooHigh"
    assert signal.description.startswith("Goes into alarm when server CPU utilization is too high!")


def test_cloudwatch_composite_marks_suppression(fixtures_dir: Path, fixture_catalog: Catalog,
                                                received_at: datetime) -> None:
    (signal,) = _normalize(fixtures_dir, "cloudwatch_eventbridge_state_change_composite_with_suppressor_awsdocs.json",
                           fixture_catalog, received_at).signals
    assert signal.labels["alarm_type"] == "composite"
    assert signal.labels["actions_suppressed_by"] == "WaitPeriod"
    assert signal.labels["actions_suppressed_reason"] == "Actions suppressed by WaitPeriod"


def test_sns_lambda_record_reads_the_classic_alarm(fixtures_dir: Path, fixture_catalog: Catalog,
                                                   received_at: datetime) -> None:
    (signal,) = _normalize(fixtures_dir, "cloudwatch_alarm_via_sns_lambda_record_single_metric_aws-lambda-go.json",
                           fixture_catalog, received_at).signals
    # "[1234.0 (06/03/15 17:43:27)]" in NewStateReason is the datapoint
    assert signal.metric_value == 1234.0
    assert signal.labels["InstanceId"] == "TestInstance"
    assert signal.labels["metric_name"] == "NetworkOut"


def test_sns_subscription_confirmation_is_ignored_with_its_url(fixtures_dir: Path, fixture_catalog: Catalog,
                                                               received_at: datetime) -> None:
    result = _normalize(fixtures_dir, "sns_http_subscription_confirmation_awsdocs.json", fixture_catalog,
                        received_at)
    assert result.kind == "ignored" and result.signals == []
    assert result.ignored_reason == "SNS subscription confirmation"
    assert result.subscribe_url == ("https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn="
                                    "arn:aws:sns:us-west-2:123456789012:MyTopic&Token=2336412f37...")


def test_pagerduty_acknowledged_carries_a_lifecycle_hint(fixtures_dir: Path, fixture_catalog: Catalog,
                                                         received_at: datetime) -> None:
    result = _normalize(fixtures_dir, "pagerduty_v3_incident.acknowledged.json", fixture_catalog, received_at)
    (hint,) = result.lifecycle
    assert (hint.action, hint.external_id, hint.actor) == ("acknowledge", "PQ1K5C8", "PIG 208")
    assert hint.at == _t("2021-06-04T13:55:30.394+00:00")
    assert result.signals[0].source_id == "PQ1K5C8"
    assert "https://pig208.pagerduty.com/incidents/PQ1K5C8" in result.signals[0].links


def test_pagerduty_priority_update_is_a_hint_only(fixtures_dir: Path, fixture_catalog: Catalog,
                                                  received_at: datetime) -> None:
    result = _normalize(fixtures_dir, "pagerduty_v3_incident.priority_updated_signed_body.raw.json",
                        fixture_catalog, received_at)
    assert result.kind == "ignored" and result.signals == []
    assert result.ignored_reason is not None and "lifecycle change" in result.ignored_reason
    (hint,) = result.lifecycle
    assert (hint.action, hint.external_id, hint.actor, hint.note) == ("priority", "PGR0VU2", "Tenex Engineer",
                                                                      "priority P1")


def test_opsgenie_create_flattens_tags_and_uses_alias(fixtures_dir: Path, fixture_catalog: Catalog,
                                                      received_at: datetime) -> None:
    (signal,) = _normalize(fixtures_dir, "opsgenie_webhook_create.json", fixture_catalog, received_at).signals
    assert signal.labels["tags"] == "vip"
    assert signal.labels["entity"] == "Server"
    assert signal.source_id == "ec03dad6-62c8-4c94-b38b-d88f398e900f"
    other_alias = normalize("opsgenie", (Path(__file__).parents[1] / "fixtures/webhooks/opsgenie_webhook_create.json")
                            .read_text().replace("alert-alias", "another-alias"),
                            catalog=fixture_catalog, received_at=received_at)
    # the alias is Opsgenie's dedup key, so it is the fingerprint's key
    assert other_alias.signals[0].fingerprint != signal.fingerprint
