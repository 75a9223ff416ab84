"""Closing a local deployment: nothing of it moves afterwards, so the next deployment in the same
process (the next test) starts with its own baton intact."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sre_copilot.domain.signal import Signal
from sre_copilot.local.runtime import LocalDeployment
from sre_copilot.services.correlate_service import CorrelateService

T0 = datetime(2026, 3, 10, 20, 0, tzinfo=UTC)


def _alertmanager(fingerprint: str) -> bytes:
    alert = {"status": "firing", "labels": {"alertname": "HighErrorRate", "service": "checkout",
                                            "severity": "critical"},
             "annotations": {"summary": "errors"}, "startsAt": T0.isoformat(), "endsAt": "0001-01-01T00:00:00Z",
             "generatorURL": "http://prom", "fingerprint": fingerprint}
    return json.dumps({"receiver": "r", "status": "firing", "alerts": [alert], "version": "4", "groupKey": "{}",
                       "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am",
                       "truncatedAlerts": 0}).encode()


def test_a_deployment_closes_only_once_its_executions_have_parked() -> None:
    headers = {"Content-Type": "application/json"}
    # Given an incident opened by a direct service call, whose workflow execution then runs in
    # moto's thread while the caller goes on
    with LocalDeployment(start=T0) as first:
        first.put_catalog({"services": [{"name": "checkout", "tier": 1, "depends_on": []}]})
        _, body = first.http("POST", "/webhooks/alertmanager", _alertmanager("fp-1"), headers)
        sqs = first.session.client("sqs")
        [message] = [json.loads(m["Body"]) for url in first.queue_urls.values()
                     for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])]
        assert Signal.model_validate(message["signal"]).id == body["signals"][0]["id"]
        CorrelateService(first.container).process([message])
    # When the deployment closes at once
    # Then no execution of it is moving or waiting for its turn
    assert (first.executions.busy, first.lambdas.in_flight) == (0, 0)
    # And the next deployment answers its first request
    with LocalDeployment(start=T0) as second:
        second.put_catalog({"services": []})
        status, _ = second.http("POST", "/webhooks/alertmanager", _alertmanager("fp-2"), headers)
    assert status == 202
