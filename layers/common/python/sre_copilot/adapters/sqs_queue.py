"""SignalQueue on the four SQS priority queues, plus the review queue for rejected deliveries.

Routing (seed 001): P0 is consumed immediately; P1 is delivered after one minute (DelaySeconds=60 on
each message, so a warning that clears within the minute is seen as resolved before it is
correlated, then batched for up to 10 s); P2 and P3 are delivered at once and batched by the
consumer's event source mapping (5 and 15 minute batching windows). A signal's message carries the
signal: it is durable there until correlation stores it. One too big for a message is stored first
and goes by id.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

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
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

DELIVERY_DELAY_S: Mapping[Priority, int] = {Priority.P0: 0, Priority.P1: 60, Priority.P2: 0, Priority.P3: 0}
MAX_MESSAGE_BYTES = 262_144
MAX_BATCH_ENTRIES = 10
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
        self._send(self._arguments(priority, message, dedup_id), f"enqueueing {dedup_id} on {priority}",
                   f"SRE_COPILOT_QUEUE_URL_{priority.value}")

    def enqueue_all(self, messages: Sequence[tuple[Priority, dict[str, Any], str]]) -> None:
        """`enqueue` each (priority, message, dedup id), ten to a SendMessageBatch request (SQS's
        limit, as is 256 KB per request). SQS bills a batch as one request per 64 KB, so an alert
        group of ten costs one request, not ten. An entry SQS fails is sent once more on its own,
        which raises the mapped error if it fails again: the delivery is then answered 5xx and its
        sender retries it (a retry's signals are not duplicated: their fingerprints hold them)."""
        by_queue: dict[Priority, list[dict[str, Any]]] = {}
        for priority, message, dedup_id in messages:
            priority = Priority(priority)
            by_queue.setdefault(priority, []).append(self._arguments(priority, message, dedup_id))
        for priority, pending in by_queue.items():
            url = self.queue_url(priority)
            for batch in _batches(pending):
                entries = cast("list[SendMessageBatchRequestEntryTypeDef]", [
                    {"Id": str(i), **{k: v for k, v in arguments.items() if k != "QueueUrl"}}
                    for i, arguments in enumerate(batch)])
                try:
                    answer = self.client.send_message_batch(QueueUrl=url, Entries=entries)
                except ClientError as exc:
                    aws_clients.raise_domain_error(exc, action=f"enqueueing {len(batch)} messages on {priority}",
                                                   resource=f"queue {url}",
                                                   setting=f"SRE_COPILOT_QUEUE_URL_{priority.value}")
                for failed in answer.get("Failed", []):
                    arguments = batch[int(failed["Id"])]
                    self._send(arguments, f"enqueueing {arguments['MessageAttributes']['dedup_id']['StringValue']} "
                               f"on {priority}", f"SRE_COPILOT_QUEUE_URL_{priority.value}")

    def carries(self, message: dict[str, Any]) -> bool:
        return _size(message) <= MAX_MESSAGE_BYTES

    def _arguments(self, priority: Priority, message: dict[str, Any], dedup_id: str) -> dict[str, Any]:
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
        return arguments

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


def _batches(pending: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Runs of at most ten messages whose bodies add up to at most 256 KB, in order."""
    batches: list[list[dict[str, Any]]] = []
    size = 0
    for arguments in pending:
        # SQS counts the attributes in the request's size too.
        body = len(arguments["MessageBody"].encode("utf-8")) + len(json.dumps(arguments["MessageAttributes"]))
        if not batches or len(batches[-1]) == MAX_BATCH_ENTRIES or size + body > MAX_MESSAGE_BYTES:
            batches.append([])
            size = 0
        batches[-1].append(arguments)
        size += body
    return batches


def _serialised(message: Mapping[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False, default=json_default)


def _size(message: Mapping[str, Any]) -> int:
    return len(_serialised(message).encode("utf-8"))


def _body(message: Mapping[str, Any], what: str) -> str:
    body = _serialised(message)
    size = len(body.encode("utf-8"))
    if size > MAX_MESSAGE_BYTES:
        raise PayloadTooLarge(f"{what} is {size} bytes; SQS takes {MAX_MESSAGE_BYTES}: enqueue a reference, "
                              "not the payload")
    return body


def _attributes(values: Mapping[str, str]) -> dict[str, Any]:
    # SQS rejects empty attribute values, so absent ones are left out.
    return {name: {"DataType": "String", "StringValue": value[:MAX_ATTRIBUTE_CHARS]}
            for name, value in values.items() if value}
