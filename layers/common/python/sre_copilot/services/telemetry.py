"""The copilot's own operational metrics, as CloudWatch embedded-metric-format (EMF) records through
the shared Powertools `metrics` (flushed by each handler's `@metrics.log_metrics`).

The reason or channel is part of the metric name (`Rejected_unauthorized`, `NotificationFailed_slack`),
like `Decision_<outcome>`: one flush carries one dimension set, and the dashboard gathers every
reason with one CloudWatch SEARCH expression (`infra_cdk/constructs/monitoring.py`).
"""

from __future__ import annotations

import re

from aws_lambda_powertools.metrics import MetricUnit

from sre_copilot.services.observability import metrics

# Metric names that the dashboard and alarms read (infra_cdk.constructs.monitoring imports these).
ACCEPTED = "DeliveriesAccepted"
REJECTED_PREFIX = "Rejected_"
NOTIFICATION_FAILED_PREFIX = "NotificationFailed_"
LLM_LATENCY = "LlmLatency"
LLM_INPUT_TOKENS = "LlmInputTokens"
LLM_OUTPUT_TOKENS = "LlmOutputTokens"
LLM_COST = "LlmCostUsd"
LLM_FAILURES = "LlmFailures"
NOTIFICATION_CHANNELS = ("slack", "phone", "pagerduty")

_UNSAFE = re.compile(r"[^A-Za-z0-9_]+")


def _token(value: str) -> str:
    return _UNSAFE.sub("_", value).strip("_")[:64] or "unknown"


def delivery_accepted() -> None:
    metrics.add_metric(name=ACCEPTED, unit=MetricUnit.Count, value=1)


def delivery_rejected(reason: str) -> None:
    """`reason`: the error code the edge answered with (`unauthorized`, `invalid_payload`, ...)."""
    metrics.add_metric(name=REJECTED_PREFIX + _token(reason), unit=MetricUnit.Count, value=1)


def notification_failed(channel: str) -> None:
    metrics.add_metric(name=NOTIFICATION_FAILED_PREFIX + _token(channel), unit=MetricUnit.Count, value=1)


def llm_call(*, latency_ms: float, input_tokens: int, output_tokens: int, cost_usd: float | None,
             failed: bool = False) -> None:
    """One model request. `cost_usd` is derived from the model's list prices, None when unknown."""
    metrics.add_metric(name=LLM_LATENCY, unit=MetricUnit.Milliseconds, value=latency_ms)
    if failed:
        metrics.add_metric(name=LLM_FAILURES, unit=MetricUnit.Count, value=1)
        return
    metrics.add_metric(name=LLM_INPUT_TOKENS, unit=MetricUnit.Count, value=input_tokens)
    metrics.add_metric(name=LLM_OUTPUT_TOKENS, unit=MetricUnit.Count, value=output_tokens)
    if cost_usd is not None:
        metrics.add_metric(name=LLM_COST, unit=MetricUnit.NoUnit, value=cost_usd)
