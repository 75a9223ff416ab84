"""SqsSignalQueue.enqueue_all: an alert group's messages go ten to a request, per priority queue,
on SQS (moto) and on the embedded backend's queues alike."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_test_support import REGION

from sre_copilot.adapters.memory.sqs import MemorySQS
from sre_copilot.adapters.sqs_queue import SqsSignalQueue
from sre_copilot.domain.types import Priority
from sre_copilot.settings import Settings


class Recorded:
    """The SQS client, passed through, with the requests made of it written down."""

    def __init__(self, client: Any, fail_first_entry: bool = False) -> None:
        self.client = client
        self.calls: list[tuple[str, int]] = []
        self.fail_first_entry = fail_first_entry

    def send_message_batch(self, **arguments: Any) -> dict[str, Any]:
        self.calls.append(("SendMessageBatch", len(arguments["Entries"])))
        if self.fail_first_entry:  # SQS answers a batch entry by entry: one may fail alone
            self.fail_first_entry = False
            first, *rest = arguments["Entries"]
            answer: dict[str, Any] = self.client.send_message_batch(**{**arguments, "Entries": rest})
            return {**answer, "Failed": [{"Id": first["Id"], "SenderFault": False, "Code": "InternalError"}]}
        sent: dict[str, Any] = self.client.send_message_batch(**arguments)
        return sent

    def send_message(self, **arguments: Any) -> dict[str, Any]:
        self.calls.append(("SendMessage", 1))
        sent: dict[str, Any] = self.client.send_message(**arguments)
        return sent

    def receive_message(self, **arguments: Any) -> dict[str, Any]:
        received: dict[str, Any] = self.client.receive_message(**arguments)
        return received


@pytest.fixture(params=["moto", "memory"])
def sqs(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Any]:
    yield boto3.client("sqs", region_name=REGION) if request.param == "moto" else MemorySQS()


def _queue(settings: Settings, client: Recorded) -> tuple[SqsSignalQueue, dict[Priority, str]]:
    urls = {p: client.client.create_queue(QueueName=f"sre-copilot-{p.value.lower()}")["QueueUrl"] for p in Priority}
    return SqsSignalQueue(settings, client=client, queue_urls=urls, delays={}), urls  # type: ignore[arg-type]


def _bodies(client: Any, url: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while batch := client.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        out += [json.loads(m["Body"]) for m in batch]
    return out


def _message(i: int) -> dict[str, object]:
    return {"type": "signal", "tenant_id": "acme", "signal_id": f"sig-{i:02d}"}


def test_a_group_of_alerts_is_sent_ten_to_a_request_on_its_priority_queues(settings: Settings, sqs: Any) -> None:
    # Given a delivery's 23 new signals: 12 of P2, 11 of P3
    recorded = Recorded(sqs)
    queue, urls = _queue(settings, recorded)
    messages = [(Priority.P2 if i % 2 == 0 else Priority.P3, _message(i), f"sig-{i:02d}") for i in range(23)]
    # When they are enqueued together
    queue.enqueue_all(messages)
    # Then each queue holds its own, and four requests carried them (10 + 2 and 10 + 1)
    assert sorted(m["signal_id"] for m in _bodies(sqs, urls[Priority.P2])) == [f"sig-{i:02d}" for i in range(0, 23, 2)]
    assert sorted(m["signal_id"] for m in _bodies(sqs, urls[Priority.P3])) == [f"sig-{i:02d}" for i in range(1, 23, 2)]
    assert recorded.calls == [("SendMessageBatch", 10), ("SendMessageBatch", 2),
                              ("SendMessageBatch", 10), ("SendMessageBatch", 1)]


def test_a_batch_never_exceeds_what_one_request_may_carry(settings: Settings, sqs: Any) -> None:
    # Given three messages of 100 KB each, two of which fit in one 256 KB request
    recorded = Recorded(sqs)
    queue, urls = _queue(settings, recorded)
    big = [(Priority.P0, {**_message(i), "blob": "x" * 100_000}, f"sig-{i:02d}") for i in range(3)]
    # When they are enqueued together
    queue.enqueue_all(big)
    # Then they go in two requests, and all three arrive
    assert recorded.calls == [("SendMessageBatch", 2), ("SendMessageBatch", 1)]
    assert len(_bodies(sqs, urls[Priority.P0])) == 3


def test_an_entry_sqs_fails_is_sent_again_alone(settings: Settings, sqs: Any) -> None:
    # Given SQS fails the first entry of a batch (it answers entry by entry)
    recorded = Recorded(sqs, fail_first_entry=True)
    queue, urls = _queue(settings, recorded)
    # When three messages are enqueued
    queue.enqueue_all([(Priority.P1, _message(i), f"sig-{i:02d}") for i in range(3)])
    # Then the failed one is sent once more on its own, and none is lost
    assert recorded.calls == [("SendMessageBatch", 3), ("SendMessage", 1)]
    assert sorted(m["signal_id"] for m in _bodies(sqs, urls[Priority.P1])) == ["sig-00", "sig-01", "sig-02"]
