"""LLM latency, tokens and cost leave the process as EMF metrics (not only the in-memory usage),
through the real `anthropic` client against a local Messages API server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from reasoning_http import json_reply, local_server
from reasoning_pipeline import LabelledIncident, load_labelled, run
from test_anthropic_assistant import _assistant, _message

from sre_copilot.services import telemetry
from sre_copilot.services.observability import metrics


@pytest.fixture
def emf(capsys: pytest.CaptureFixture[str]) -> Iterator[Any]:
    metrics.clear_metrics()

    def flushed() -> dict[str, Any]:
        metrics.flush_metrics()
        blob = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        names = {m["Name"] for m in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
        # Powertools writes a list when a metric got several values in one flush.
        return {name: sum(blob[name]) if isinstance(blob[name], list) else blob[name] for name in names}

    yield flushed
    metrics.clear_metrics()


def _case() -> LabelledIncident:
    return next(c for c in load_labelled("simple") if c.name == "sample-2-006#2")


def test_given_a_model_answer_then_latency_tokens_and_cost_are_emf_metrics(emf: Any) -> None:
    usage = {"input_tokens": 1000, "output_tokens": 200, "cache_creation_input_tokens": 0,
             "cache_read_input_tokens": 500}
    with local_server(lambda r: json_reply(200, _message([], usage=usage))) as server:
        run(_case(), assistant=_assistant(server))
    values = emf()
    assert values[telemetry.LLM_INPUT_TOKENS] == 1500
    assert values[telemetry.LLM_OUTPUT_TOKENS] == 200
    # Sonnet list prices per MTok: 3 in, 15 out, 0.30 cache read
    assert values[telemetry.LLM_COST] == pytest.approx((1000 * 3 + 200 * 15 + 500 * 0.30) / 1e6)
    assert values[telemetry.LLM_LATENCY] > 0
    assert telemetry.LLM_FAILURES not in values


def test_given_a_failing_model_then_latency_and_a_failure_are_emitted_without_tokens(emf: Any) -> None:
    with local_server(lambda r: json_reply(500, {"type": "error", "error": {"type": "api_error", "message": "x"}})) \
            as server:
        run(_case(), assistant=_assistant(server))
    values = emf()
    assert values[telemetry.LLM_FAILURES] == 1
    assert telemetry.LLM_INPUT_TOKENS not in values and telemetry.LLM_COST not in values


def test_rejections_and_notification_failures_are_named_by_reason_and_channel(emf: Any) -> None:
    telemetry.delivery_rejected("unauthorized")
    telemetry.delivery_rejected("invalid payload/x")
    telemetry.notification_failed("slack")
    values = emf()
    assert values["Rejected_unauthorized"] == 1
    assert values["Rejected_invalid_payload_x"] == 1
    assert values["NotificationFailed_slack"] == 1
