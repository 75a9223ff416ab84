"""Closing a local deployment: nothing of it moves afterwards, so the next deployment in the same
process (the next test) starts with its own baton intact."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from sre_copilot.local.runtime import LocalDeployment
from sre_copilot.services.correlate_service import CorrelateService

T0 = datetime(2026, 3, 10, 20, 0, tzinfo=UTC)
FIRING = (Path(__file__).resolve().parents[1] / "fixtures" / "webhooks"
          / "alertmanager_v4_webhook_firing_2alerts_zulip.json").read_bytes()
HEADERS = {"Content-Type": "application/json"}


def test_a_deployment_closes_only_once_its_executions_have_parked() -> None:
    # Given an incident opened by a direct service call, whose workflow execution then runs in
    # moto's thread while the caller goes on
    with LocalDeployment(start=T0) as first:
        first.put_catalog({"services": []})
        first.http("POST", "/webhooks/alertmanager", FIRING, HEADERS)
        sqs = first.session.client("sqs")
        messages = [json.loads(m["Body"]) for url in first.queue_urls.values()
                    for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])]
        CorrelateService(first.container).process(messages)
        assert first.container.store.open_incidents("default")
    # When the deployment closes at once
    # Then no execution of it is moving or waiting for its turn
    assert (first.executions.busy, first.lambdas.in_flight) == (0, 0)
    # And the next deployment answers its first request
    with LocalDeployment(start=T0) as second:
        second.put_catalog({"services": []})
        status, _ = second.http("POST", "/webhooks/alertmanager", FIRING, HEADERS)
    assert status == 202
