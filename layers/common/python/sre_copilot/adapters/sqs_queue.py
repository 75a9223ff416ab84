"""SignalQueue on the four SQS priority queues, plus the review queue for rejected deliveries.

Routing (seed 001): P0 is consumed immediately; P1 is delivered after one minute (DelaySeconds=60 on
each message, so a warning that clears within the minute is seen as resolved before it is
correlated); P2 and P3 are delivered at once and batched by the consumer's event source mapping
(5 and 15 minute batching windows). Messages are references (signal ids), never payloads: the
signal itself is already in DynamoDB when it is enqueued.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from sre_copilot.adapters import aws_clients
from sre_copilot.adapters.s3_blobs import json_default
from sre_copilot.domain.types import Priority, format_time
from sre_copilot.errors import ConfigurationError, PayloadTooLarge
from sre_copilot.ports import clock
from sre_copilot.services import tenancy
from sre_copilot.settings import Settings, get_settings

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

DELIVERY_DELAY_S: Mapping[Priority, int] = {Priority.P0: 0, Priority.P1: 60, Priority.P2: 0, Priority.P3: 0}
MAX_MESSAGE_BYTES = 262_144
MAX_ATTRIBUTE_CHARS = 256


class SqsSignalQueue:
    def __init__(self, settings: Settings | None = None, *, client: SQSClient | None = None,
                 queue_urls: Mapping[Priority, str] | None = None, review_queue_url: str | None = None,
                 delays: Mapping[Priority, int] | None = None) -> None:
        self.settings = settings or get_settings()
        self._client = client
        self.queue_urls: dict[Priority, str] = dict(queue_urls) if queue_urls is not None else {
            Priority.P0: self.settings.queue_url_p0, Priority.P1: self.settings.queue_url_p1,
            Priority.P2: self.settings.queue_url_p2, Priority.P3: self.settings.queue_url_p3,
        }
        self.review_queue_url = review_queue_url if review_queue_url is not None else self.settings.review_queue_url
        # Overridable because an emulator that applies the delay itself (in simulated time) must not
        # also have SQS hold the message for a wall-clock minute.
        self.delays: Mapping[Priority, int] = DELIVERY_DELAY_S if delays is None else delays

    @property
    def client(self) -> SQSClient:
        # Created at first use: a function that never sends here pays no client at cold start.
        if self._client is None:
            self._client = aws_clients.sqs(self.settings)
        return self._client

    def queue_url(self, priority: Priority) -> str:
        url = self.queue_urls.get(Priority(priority), "")
        if not url:
            raise ConfigurationError(
                f"no queue URL for priority {priority}; set SRE_COPILOT_QUEUE_URL_{Priority(priority).value}"
            )
        return url

    def enqueue(self, priority: Priority, message: dict[str, Any], dedup_id: str) -> None:
        """Send `message` to the queue of `priority`. On a FIFO queue `dedup_id` is the SQS
        deduplication id; on a standard queue it travels as an attribute for the consumer."""
        priority = Priority(priority)
        url = self.queue_url(priority)
        body = _body(message, f"{priority} message {dedup_id}")
        attributes = _attributes({
            "priority": priority.value,
            "tenant": str(message.get("tenant_id") or self.settings.tenant_id),
            "signal_id": str(message.get("signal_id") or ""),
            "type": str(message.get("type") or ""),
            "dedup_id": dedup_id,
        })
        arguments: dict[str, Any] = {"QueueUrl": url, "MessageBody": body, "MessageAttributes": attributes}
        if url.endswith(".fifo"):
            # FIFO queues take no per-message delay (only a queue-level one) but deduplicate for us.
            arguments.update(MessageDeduplicationId=dedup_id[:128],
                             MessageGroupId=str(message.get("tenant_id") or self.settings.tenant_id))
        elif self.delays.get(priority, 0):
            arguments["DelaySeconds"] = int(self.delays[priority])
        self._send(arguments, f"enqueueing {dedup_id} on {priority}",
                   f"SRE_COPILOT_QUEUE_URL_{priority.value}")

    def send_to_review(self, reason: str, payload_ref: str) -> None:
        """Keep a rejected delivery for a person: why it was rejected and where its bytes are."""
        if not self.review_queue_url:
            raise ConfigurationError("no review queue configured; set SRE_COPILOT_REVIEW_QUEUE_URL")
        at = format_time(clock.now())
        tenant = tenancy.current(self.settings.tenant_id)  # the delivery's tenant (its key named it)
        body = _body({"reason": reason, "payload_ref": payload_ref, "tenant_id": tenant,
                      "at": at}, f"review of {payload_ref}")
        attributes = _attributes({"reason": reason, "tenant": tenant, "payload_ref": payload_ref})
        self._send({"QueueUrl": self.review_queue_url, "MessageBody": body, "MessageAttributes": attributes},
                   f"sending {payload_ref} to review", "SRE_COPILOT_REVIEW_QUEUE_URL")

    def _send(self, arguments: dict[str, Any], action: str, setting: str) -> None:
        try:
            self.client.send_message(**arguments)
        except ClientError as exc:
            aws_clients.raise_domain_error(exc, action=action, resource=f"queue {arguments['QueueUrl']}",
                                           setting=setting)


def _body(message: Mapping[str, Any], what: str) -> str:
    body = json.dumps(message, separators=(",", ":"), ensure_ascii=False, default=json_default)
    size = len(body.encode("utf-8"))
    if size > MAX_MESSAGE_BYTES:
        raise PayloadTooLarge(f"{what} is {size} bytes; SQS takes {MAX_MESSAGE_BYTES}: enqueue a reference, "
                              "not the payload")
    return body


def _attributes(values: Mapping[str, str]) -> dict[str, Any]:
    # SQS rejects empty attribute values, so absent ones are left out.
    return {name: {"DataType": "String", "StringValue": value[:MAX_ATTRIBUTE_CHARS]}
            for name, value in values.items() if value}
