"""Alertmanager, Grafana, Datadog and generic payload variants, and the reasons given for bad ones."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sre_copilot.domain.catalog import Catalog
from sre_copilot.domain.types import EntityKind, Severity, SignalStatus
from sre_copilot.errors import InvalidPayload, PayloadTooLarge
from sre_copilot.ingest.normalize import normalize

RECEIVED = datetime(2026, 3, 4, 10, 30, tzinfo=UTC)
CATALOG = Catalog.model_validate({
    "services": [{"name": "checkout", "tier": 1, "aliases": ["checkoutservice", "Checkout API"],
                  "instances": [{"name": "checkout-7f9c-abcde", "host": "ip-10-0-1-12"}]},
                 {"name": "email", "aliases": ["emailservice"]}],
    "hosts": [{"name": "ip-10-0-1-12"}],
})


def _load(fixtures_dir: Path, name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((fixtures_dir / name).read_text())
    return body


# -- Alertmanager / Grafana ---------------------------------------------------------------------------
def test_alertmanager_resolved_alert_uses_ends_at(fixtures_dir: Path) -> None:
    body = _load(fixtures_dir, "alertmanager_v4_webhook_firing_2alerts_zulip.json")
    body["alerts"][1].update(status="resolved", endsAt="2020-02-06T00:27:58.1Z")
    firing, resolved = normalize("alertmanager", body, catalog=CATALOG, received_at=RECEIVED).signals
    assert (firing.status, resolved.status) == (SignalStatus.FIRING, SignalStatus.RESOLVED)
    assert resolved.event_time == datetime(2020, 2, 6, 0, 27, 58, 100000, tzinfo=UTC)


def test_alertmanager_pod_labels_resolve_instance_and_host() -> None:
    alert = {"status": "firing", "labels": {"alertname": "KubePodCrashLooping", "severity": "critical",
                                            "service": "checkoutservice", "pod": "checkout-7f9c-abcde"},
             "annotations": {"summary": "pod is crash looping", "runbook_url": "https://runbooks/crashloop"},
             "startsAt": "2026-03-04T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
             "generatorURL": "http://prometheus/graph", "fingerprint": "abc123"}
    (signal,) = normalize("alertmanager", {"version": "4", "status": "firing", "alerts": [alert]}, catalog=CATALOG,
                          received_at=RECEIVED).signals
    assert (signal.service, signal.entity, signal.entity_kind, signal.host) == \
        ("checkout", "checkout-7f9c-abcde", EntityKind.INSTANCE, "ip-10-0-1-12")
    assert signal.links == ["http://prometheus/graph", "https://runbooks/crashloop"]
    assert signal.title == "KubePodCrashLooping: pod is crash looping"


def test_alertmanager_info_severity_is_background_noise() -> None:
    alert = {"status": "firing", "labels": {"alertname": "HighGCPause", "severity": "info", "service": "email"},
             "startsAt": "2026-03-04T10:00:00Z"}
    (signal,) = normalize("alertmanager", {"alerts": [alert]}, catalog=CATALOG, received_at=RECEIVED).signals
    assert signal.background and signal.severity is Severity.INFO


def test_alertmanager_empty_group_is_ignored() -> None:
    result = normalize("alertmanager", {"version": "4", "alerts": []}, catalog=CATALOG, received_at=RECEIVED)
    assert result.kind == "ignored"


def test_grafana_value_string_without_values(fixtures_dir: Path) -> None:
    body = _load(fixtures_dir, "grafana_unified_webhook_firing_v11_zulip.json")
    del body["alerts"][0]["values"]
    body["alerts"][0]["valueString"] = "[ var='B' labels={} value=12.5 ]"
    (signal,) = normalize("grafana", body, catalog=CATALOG, received_at=RECEIVED).signals
    assert signal.metric_value == 12.5


def test_grafana_legacy_webhook() -> None:
    body = {"title": "[Alerting] Checkout latency", "ruleId": 7, "ruleName": "Checkout latency", "state": "alerting",
            "ruleUrl": "https://grafana/d/abc", "message": "p99 above 2s",
            "evalMatches": [{"value": 2.4, "metric": "p99", "tags": {"service": "checkout"}}]}
    (signal,) = normalize("grafana", body, catalog=CATALOG, received_at=RECEIVED).signals
    assert (signal.status, signal.service, signal.metric_value) == (SignalStatus.FIRING, "checkout", 2.4)
    paused = normalize("grafana", {**body, "state": "paused"}, catalog=CATALOG, received_at=RECEIVED)
    assert paused.kind == "ignored"


# -- Datadog ------------------------------------------------------------------------------------------
DATADOG = {"id": "574188784251466054", "title": "[Triggered on {service:checkoutservice}] Error rate is high",
           "body": "Error rate is high on service:checkoutservice", "alert_type": "error",
           "alert_transition": "Triggered", "priority": "normal", "last_updated": "1772618400000",
           "date": "1772618400000", "event_type": "query_alert_monitor",
           "tags": "env:prod,service:checkoutservice,team:sre,critical-path", "alert_id": "3046424",
           "alert_metric": "trace.http.request.errors",
           "alert_query": "sum(last_5m):sum:trace.http.request.errors{service:checkoutservice}.as_count() > 50",
           "org": {"id": "11111", "name": "Acme"}, "url": "https://app.datadoghq.com/monitors/3046424",
           "snapshot": "", "scopes": "service:checkoutservice"}


def _dd(**changes: Any) -> Any:
    body = {**copy.deepcopy(DATADOG), **changes}
    return normalize("datadog", body, catalog=CATALOG, received_at=RECEIVED)


def test_datadog_recommended_template() -> None:
    (signal,) = _dd().signals
    assert signal.title == "Error rate is high"
    assert (signal.status, signal.severity, signal.service) == (SignalStatus.FIRING, Severity.ERROR, "checkout")
    assert signal.event_time == datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
    assert (signal.labels["env"], signal.labels["team"], signal.labels["tags"]) == ("prod", "sre", "critical-path")
    assert signal.source_id == "3046424"
    assert "sum(last_5m)" in signal.description
    assert signal.links == ["https://app.datadoghq.com/monitors/3046424"]


@pytest.mark.parametrize(("transition", "status", "severity"), [
    ("Triggered", SignalStatus.FIRING, Severity.ERROR),
    ("Re-Triggered", SignalStatus.FIRING, Severity.ERROR),
    ("Recovered", SignalStatus.RESOLVED, Severity.ERROR),
    ("Warn", SignalStatus.FIRING, Severity.WARNING),
])
def test_datadog_transitions(transition: str, status: SignalStatus, severity: Severity) -> None:
    alert_type = {"Recovered": "success", "Warn": "warning"}.get(transition, "error")
    (signal,) = _dd(alert_transition=transition, alert_type=alert_type).signals
    assert (signal.status, signal.severity) == (status, severity)


def test_datadog_monitor_and_scope_make_the_fingerprint() -> None:
    triggered, recovered = _dd().signals[0], _dd(alert_transition="Recovered", id="999").signals[0]
    other_scope = _dd(scopes="service:emailservice").signals[0]
    assert triggered.fingerprint == recovered.fingerprint != other_scope.fingerprint
    assert other_scope.service == "email"


def test_datadog_tolerates_numbers_lists_and_seconds() -> None:
    (signal,) = _dd(alert_id=3046424, tags=["service:checkoutservice", "host:ip-10-0-1-12"], date=1772618400,
                    alert_priority="P1").signals
    assert signal.source_id == "3046424"
    assert signal.event_time == datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
    assert signal.severity is Severity.CRITICAL and signal.host == "ip-10-0-1-12"


def test_datadog_no_data_is_ignored() -> None:
    assert _dd(alert_transition="No Data").kind == "ignored"


def test_datadog_transition_from_title_when_field_missing() -> None:
    body = {k: v for k, v in DATADOG.items() if k != "alert_transition"}
    body["title"] = "[Recovered] Error rate is high"
    (signal,) = normalize("datadog", body, catalog=CATALOG, received_at=RECEIVED).signals
    assert signal.status is SignalStatus.RESOLVED


# -- generic ------------------------------------------------------------------------------------------
def test_generic_single_alert() -> None:
    body = {"title": "Checkout 5xx above 2%", "status": "firing", "severity": "critical", "service": "Checkout API",
            "at": "2026-03-04T10:05:00Z", "labels": {"env": "prod", "attempt": 3}, "fingerprint": "chk-5xx",
            "links": ["https://grafana/d/chk"], "metric_value": 2.7}
    (signal,) = normalize("generic", body, catalog=CATALOG, received_at=RECEIVED).signals
    assert (signal.service, signal.severity, signal.metric_value) == ("checkout", Severity.CRITICAL, 2.7)
    assert signal.labels == {"env": "prod", "attempt": "3", "alertname": "Checkout 5xx above 2%"}
    assert signal.event_time == datetime(2026, 3, 4, 10, 5, tzinfo=UTC)
    assert signal.source_id == "chk-5xx"


def test_generic_batch_and_entity() -> None:
    body = {"alerts": [{"title": "pod restarting", "entity": "checkout-7f9c-abcde", "severity": "warning",
                        "at": 1772618700000},
                       {"title": "node disk full", "host": "ip-10-0-1-12", "status": "resolved"}]}
    pod, node = normalize("generic", body, catalog=CATALOG, received_at=RECEIVED).signals
    assert (pod.entity_kind, pod.service, pod.origin.item) == (EntityKind.INSTANCE, "checkout", 0)
    assert (node.entity_kind, node.status, node.origin.item) == (EntityKind.HOST, SignalStatus.RESOLVED, 1)
    assert node.event_time == RECEIVED  # no time in the payload: the receipt time


# -- the reasons given for invalid payloads ---------------------------------------------------------
@pytest.mark.parametrize(("source", "body", "reason"), [
    ("alertmanager", b'{"alerts": [{"status": "burning"}]}', r"at 'alerts\.0\.status': Input should be 'firing' or"),
    ("alertmanager", b'{"alerts": [{"status": "firing", "labels": {"severity": 3}}]}',
     r"'alerts\.0\.labels\.severity': Input should be a valid string"),
    ("alertmanager", b'{"alerts": [{"status": "firing", "startsAt": "soon"}]}', r"'alerts\.0\.startsAt' is not a time"),
    ("alertmanager", b"{}", r"at 'alerts': Field required"),
    ("pagerduty", b'{"event": {"id": "E1", "event_type": "incident.triggered", "data": {"title": "x"}}}',
     r"at 'event\.data\.id': Field required"),
    ("cloudwatch", b'{"id": "1", "detail-type": "CloudWatch Alarm State Change", "detail": {"alarmName": "a"}}',
     r"at 'detail\.state': Field required"),
    ("opsgenie", b'{"action": "Create"}', r"at 'alert': Field required"),
    ("generic", b'{"status": "firing"}', r"at 'title': Field required"),
    ("generic", b'{"title": "t", "severity": "apocalyptic"}', r"severity must be critical, error, warning or info"),
    ("datadog", b"[1, 2]", r"must be a JSON object, not an array"),
    ("grafana", b'{"alerts": "many"}', r"at 'alerts': Input should be a valid list"),
    ("generic", b'{"title": "t"', r"body is not valid JSON"),
    ("generic", b"\xff\xfe{}", r"body is not valid UTF-8"),
    ("generic", b"", r"body is empty"),
    ("generic", b'{"title": NaN}', r"NaN is not a JSON number"),
    ("generic", b'{"title": "\\ud800"}', r"unpaired UTF-16 surrogate"),
    ("smoke", b"{}", r"unknown source 'smoke'"),
])
def test_invalid_payloads_name_the_problem(source: str, body: bytes, reason: str) -> None:
    with pytest.raises(InvalidPayload, match=reason) as caught:
        normalize(source, body, catalog=CATALOG, received_at=RECEIVED)
    assert caught.value.status == 400
    assert "\n" not in caught.value.message


def test_body_over_the_limit_is_payload_too_large() -> None:
    body = json.dumps({"title": "x" * 300_000}).encode()
    with pytest.raises(PayloadTooLarge) as caught:
        normalize("generic", body, catalog=CATALOG, received_at=RECEIVED)
    assert caught.value.status == 413
    with pytest.raises(PayloadTooLarge):
        normalize("generic", body.decode(), catalog=CATALOG, received_at=RECEIVED)
    with pytest.raises(PayloadTooLarge):
        normalize("generic", b'{"title": "small"}', catalog=CATALOG, received_at=RECEIVED, max_bytes=8)


def test_deeply_nested_body_is_invalid_not_a_crash() -> None:
    with pytest.raises(InvalidPayload, match="nested too deeply"):
        normalize("generic", b"[" * 100_000 + b"]" * 100_000, catalog=CATALOG, received_at=RECEIVED)
