"""SqsSignalQueue: priority routing (P1 delayed a minute), attributes, the review queue."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from aws_test_support import REGION

from sre_copilot.adapters.sqs_queue import SqsSignalQueue
from sre_copilot.domain.types import Priority
from sre_copilot.errors import ConfigurationError, PayloadTooLarge
from sre_copilot.local.clock import SimClock
from sre_copilot.settings import Settings


@pytest.fixture
def queues(settings: Settings) -> dict[str, str]:
    sqs = boto3.client("sqs", region_name=REGION)
    return {name: sqs.create_queue(QueueName=f"sre-copilot-{name}")["QueueUrl"] for name in ("p0", "p1", "p2", "p3",
                                                                                              "review")}


@pytest.fixture
def queue(settings: Settings, queues: dict[str, str]) -> SqsSignalQueue:
    configured = settings.model_copy(update={
        "queue_url_p0": queues["p0"], "queue_url_p1": queues["p1"], "queue_url_p2": queues["p2"],
        "queue_url_p3": queues["p3"], "review_queue_url": queues["review"]})
    return SqsSignalQueue(configured)


def _receive(url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name=REGION)
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
    return [dict(m) for m in messages.get("Messages", [])]


def _delayed(url: str) -> int:
    attributes = boto3.client("sqs", region_name=REGION).get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesDelayed"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessagesDelayed"])


def test_p0_is_delivered_at_once_with_its_attributes(queue: SqsSignalQueue, queues: dict[str, str]) -> None:
    # Given a critical signal reference
    message = {"type": "signal", "tenant_id": "acme", "signal_id": "sig-1", "event_time": "2024-05-14T09:00:00.000Z"}
    # When it is enqueued as P0
    queue.enqueue(Priority.P0, message, dedup_id="sig-1")
    # Then the P0 queue has it now, with priority, tenant and signal id as attributes; no other queue does
    [received] = _receive(queues["p0"])
    assert json.loads(received["Body"]) == message
    attributes = {k: v["StringValue"] for k, v in received["MessageAttributes"].items()}
    assert attributes == {"priority": "P0", "tenant": "acme", "signal_id": "sig-1", "type": "signal",
                          "dedup_id": "sig-1"}
    assert all(_receive(queues[q]) == [] for q in ("p1", "p2", "p3"))


def test_p1_waits_a_minute_before_delivery(queue: SqsSignalQueue, queues: dict[str, str]) -> None:
    # Given a warning signal reference
    # When it is enqueued as P1
    queue.enqueue(Priority.P1, {"type": "signal", "tenant_id": "acme", "signal_id": "sig-w"}, dedup_id="sig-w")
    # Then it sits in the P1 queue as a delayed message, not yet receivable
    assert _delayed(queues["p1"]) == 1
    assert _receive(queues["p1"]) == []


def test_p2_and_p3_go_to_their_queues_undelayed(queue: SqsSignalQueue, queues: dict[str, str]) -> None:
    # Given metric and background signal references
    # When they are enqueued as P2 and P3
    queue.enqueue(Priority.P2, {"type": "signal", "signal_id": "sig-m"}, dedup_id="sig-m")
    queue.enqueue(Priority.P3, {"type": "signal", "signal_id": "sig-b"}, dedup_id="sig-b")
    # Then each is in its own queue at once (the consumers batch them), tenant defaulting to the deployment's
    [p2] = _receive(queues["p2"])
    [p3] = _receive(queues["p3"])
    assert json.loads(p2["Body"])["signal_id"] == "sig-m" and json.loads(p3["Body"])["signal_id"] == "sig-b"
    assert p3["MessageAttributes"]["tenant"]["StringValue"] == "acme"


def test_fifo_queue_gets_deduplication_and_group_ids(settings: Settings) -> None:
    # Given a FIFO P0 queue without content-based deduplication
    url = boto3.client("sqs", region_name=REGION).create_queue(
        QueueName="sre-copilot-p0.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    queue = SqsSignalQueue(settings, queue_urls={Priority.P0: url})
    # When the same signal is enqueued twice
    for _ in range(2):
        queue.enqueue(Priority.P0, {"type": "signal", "tenant_id": "acme", "signal_id": "sig-1"}, dedup_id="sig-1")
    # Then SQS keeps one copy
    assert len(_receive(url)) == 1


def test_rejected_delivery_goes_to_review(queue: SqsSignalQueue, queues: dict[str, str], clock: SimClock) -> None:
    # Given a delivery that failed validation and was archived
    ref = "s3://bucket/review/acme/grafana/2024/05/14/d-1.bin"
    # When it is sent to review
    queue.send_to_review("grafana: body is not JSON", ref)
    # Then the review queue says why and where the bytes are
    [received] = _receive(queues["review"])
    assert json.loads(received["Body"]) == {"reason": "grafana: body is not JSON", "payload_ref": ref,
                                            "tenant_id": "acme", "at": "2024-05-14T09:00:00.000Z"}
    assert received["MessageAttributes"]["reason"]["StringValue"] == "grafana: body is not JSON"


def test_missing_configuration_and_oversized_messages_are_refused(settings: Settings,
                                                                   queue: SqsSignalQueue) -> None:
    # Given no queue URLs configured
    unconfigured = SqsSignalQueue(settings)
    # When anything is enqueued or reviewed, or a payload instead of a reference is enqueued
    # Then each error names what to change
    with pytest.raises(ConfigurationError, match="SRE_COPILOT_QUEUE_URL_P2"):
        unconfigured.enqueue(Priority.P2, {"signal_id": "s"}, dedup_id="s")
    with pytest.raises(ConfigurationError, match="SRE_COPILOT_REVIEW_QUEUE_URL"):
        unconfigured.send_to_review("x", "s3://b/k")
    with pytest.raises(PayloadTooLarge, match="enqueue a reference"):
        queue.enqueue(Priority.P0, {"raw": "x" * 300_000}, dedup_id="big")
