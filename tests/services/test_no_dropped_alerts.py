"""No accepted alert is lost when the queue behind ingestion fails: the sender is told to retry
(never a 2xx for a delivery that is not durable), and the retry, once the queue is back, queues the
alert exactly once (the first attempt's dedup claim or stored signal does not swallow it)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from sre_copilot.local.runtime import LocalDeployment

T0 = datetime(2026, 3, 10, 20, 0, tzinfo=UTC)


def _alertmanager(fingerprint: str) -> bytes:
    alert = {"status": "firing", "labels": {"alertname": "CheckoutDown", "service": "checkout", "severity": "critical"},
             "annotations": {"summary": "checkout is down"}, "startsAt": T0.isoformat(),
             "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prom", "fingerprint": fingerprint}
    return json.dumps({"receiver": "r", "status": "firing", "alerts": [alert], "version": "4", "groupKey": "{}",
                       "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am",
                       "truncatedAlerts": 0}).encode()


@pytest.fixture()
def deployment() -> Iterator[LocalDeployment]:
    with LocalDeployment(start=T0) as d:
        d.put_catalog({"services": [{"name": "checkout", "tier": 1, "depends_on": []}]})
        yield d


def _depth(d: LocalDeployment) -> int:
    sqs = d.session.client("sqs")
    return sum(int(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
                   ["Attributes"]["ApproximateNumberOfMessages"]) for url in d.queue_urls.values())


def test_a_delivery_the_queue_refuses_is_not_acknowledged_and_its_retry_is_queued_once(
        deployment: LocalDeployment) -> None:
    sqs = deployment.session.client("sqs")
    saved: dict[str, tuple[str, dict[str, Any]]] = {}
    # Given the priority queues are gone (an outage, a mis-deploy)
    for priority, url in deployment.queue_urls.items():
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        kept = {k: v for k, v in attributes.items() if k in ("DelaySeconds", "MessageRetentionPeriod",
                                                             "VisibilityTimeout", "RedrivePolicy")}
        saved[priority] = (url.rsplit("/", 1)[-1], kept)
        sqs.delete_queue(QueueUrl=url)
    # When a critical alert arrives
    status, body = deployment.http("POST", "/webhooks/alertmanager", _alertmanager("fp-outage"),
                                   {"Content-Type": "application/json"})
    # Then the sender is not told it was accepted: it will retry (a 5xx, with a reason, no trace)
    assert status >= 500, (status, body)
    assert "Traceback" not in json.dumps(body)
    # When the queues are back and the sender retries the identical delivery
    for name, attributes in saved.values():
        sqs.create_queue(QueueName=name, Attributes=attributes)
    status, body = deployment.http("POST", "/webhooks/alertmanager", _alertmanager("fp-outage"),
                                   {"Content-Type": "application/json"})
    # Then it is accepted and its signal is queued exactly once
    assert status == 202, body
    assert len(body["signals"]) == 1
    assert _depth(deployment) == 1
