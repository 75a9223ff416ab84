"""Self-monitoring: one dashboard covering every area, and alarms on every function and on the
copilot's own EMF metrics, all to the operational alarm topic and all routed back into ingestion."""

from __future__ import annotations

import json
from typing import Any

import pytest
from infra_synth import Synthesized
from infra_synth import ref as _ref

from infra_cdk.config import FUNCTION_NAMES
from sre_copilot.services import telemetry

pytestmark = pytest.mark.infra


def _alarms(synthesized: Synthesized) -> list[dict[str, Any]]:
    return [r["Properties"] for r in synthesized.resources("AWS::CloudWatch::Alarm").values()]


def _dashboard_body(synthesized: Synthesized) -> str:
    (dashboard,) = synthesized.resources("AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]
    # The body is an Fn::Join of literal strings and tokens (ARNs, names); the literals carry the layout.
    return "".join(part if isinstance(part, str) else json.dumps(part) for part in body["Fn::Join"][1])


def test_every_alarm_notifies_the_alarm_topic_on_alarm_and_on_recovery(synthesized: Synthesized) -> None:
    topic = _ref(synthesized.logical_id(synthesized.built.stack.alarms.topic))
    for props in _alarms(synthesized):
        assert props["AlarmActions"] == [topic] and props["OKActions"] == [topic], props.get("AlarmName")


def test_every_function_has_error_throttle_and_duration_alarms(synthesized: Synthesized) -> None:
    stack = synthesized.built.stack
    watched: dict[str, set[str]] = {}
    for props in _alarms(synthesized):
        if props.get("Namespace") == "AWS/Lambda" and props.get("Dimensions"):
            function = props["Dimensions"][0]["Value"]["Ref"]
            watched.setdefault(props["MetricName"], set()).add(function)
    every = {synthesized.logical_id(f.function) for f in stack.functions.values()}
    assert len(every) == len(FUNCTION_NAMES)
    assert watched["Errors"] == every and watched["Throttles"] == every and watched["Duration"] == every


def test_duration_alarms_sit_below_each_functions_timeout(synthesized: Synthesized) -> None:
    config = synthesized.built.config
    for props in _alarms(synthesized):
        name = props.get("AlarmName", "")
        if props.get("MetricName") == "Duration":
            function = next(n for n in FUNCTION_NAMES
                            if name.endswith("".join(p.capitalize() for p in n.split("_")) + "Duration"))
            assert props["ExtendedStatistic"] == "p99"
            assert props["Threshold"] < config.timeout_for(function) * 1000, name


def test_workflow_throttles_concurrency_api_errors_notifications_and_llm_have_alarms(
        synthesized: Synthesized) -> None:
    by_metric = {props["MetricName"]: props for props in _alarms(synthesized) if "MetricName" in props}
    assert by_metric["ExecutionThrottled"]["Namespace"] == "AWS/States"
    assert by_metric["ConcurrentExecutions"]["Namespace"] == "AWS/Lambda"
    assert "5xx" in by_metric and by_metric["5xx"]["Namespace"] == "AWS/ApiGateway"
    for channel in telemetry.NOTIFICATION_CHANNELS:
        props = by_metric[telemetry.NOTIFICATION_FAILED_PREFIX + channel]
        assert props["Namespace"] == "SreCopilot"
        assert props["Dimensions"] == [{"Name": "service", "Value": "sre-copilot"}]
    assert by_metric[telemetry.LLM_COST]["Period"] == 86_400
    assert f"{telemetry.REJECTED_PREFIX}unauthorized" in by_metric


def test_alarm_names_carry_the_deployment_prefix_so_the_catalog_can_own_them(synthesized: Synthesized) -> None:
    prefix = synthesized.built.config.prefix
    named = [p["AlarmName"] for p in _alarms(synthesized) if "AlarmName" in p]
    assert len(named) >= 3 * len(FUNCTION_NAMES) and all(n.startswith(prefix + "-") for n in named)


def test_the_copilots_own_alarm_state_changes_reach_ingestion(synthesized: Synthesized) -> None:
    # Given the rule that turns CloudWatch alarm state changes into signals, then it does not filter
    # alarms by name, so the copilot's alarms are ingested like any other (they page through it).
    stack = synthesized.built.stack
    rule = synthesized.template_json["Resources"][synthesized.logical_id(stack.events.alarms_to_ingest)]
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.cloudwatch"]
    assert "CloudWatch Alarm State Change" in pattern["detail-type"]
    assert "detail" not in pattern


def test_one_dashboard_covers_every_area(synthesized: Synthesized) -> None:
    synthesized.template.resource_count_is("AWS::CloudWatch::Dashboard", 1)
    body = _dashboard_body(synthesized)
    for title in ("Ingestion rate", "Ingestion latency", "Rejected deliveries by reason",
                  "Oldest message age by priority", "Dead-letter queue depth", "Incident workflows",
                  "Lambda errors", "Lambda throttles", "Lambda duration p99", "Lambda concurrency",
                  "Notification failures by channel", "LLM latency", "LLM tokens and cost", "Alarms"):
        assert title in body, title
    for metric in ("ExecutionsFailed", "ExecutionsTimedOut", "ExecutionThrottled", "ApproximateAgeOfOldestMessage",
                   "ApproximateNumberOfMessagesVisible", "ConcurrentExecutions", telemetry.LLM_INPUT_TOKENS,
                   telemetry.LLM_COST, telemetry.ACCEPTED, "IngestLatency"):
        assert metric in body, metric
    assert "SEARCH(" in body and telemetry.REJECTED_PREFIX in body and telemetry.NOTIFICATION_FAILED_PREFIX in body
