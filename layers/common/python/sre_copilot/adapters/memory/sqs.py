"""SQS standard queues in memory: what `SqsSignalQueue` sends and what the Lambda service's poller
(`local/runtime.py`) receives, deletes and returns, with SQS's semantics.

Kept: visibility timeouts (a received message is hidden until deleted or made visible again),
per-message `DelaySeconds` and the queue's `DelaySeconds`, `ApproximateReceiveCount`, redrive to
the dead-letter queue once a message is received more than `maxReceiveCount` times, the 256 KB
body limit and message attributes. Times are wall-clock, as in SQS. Not modelled: FIFO queues,
long polling, retention.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from sre_copilot.adapters.memory.wire import client_error

MAX_BODY_BYTES = 262_144
REGION = "us-east-1"
ACCOUNT = "123456789012"


@dataclass
class _Message:
    id: str
    body: str
    attributes: dict[str, Any]
    sent_at: float
    visible_at: float
    receive_count: int = 0
    first_received_at: float | None = None
    receipt: str = ""


@dataclass
class _Queue:
    name: str
    url: str
    arn: str
    attributes: dict[str, str]
    messages: OrderedDict[str, _Message] = field(default_factory=OrderedDict)

    def redrive(self) -> tuple[str, int] | None:
        policy = self.attributes.get("RedrivePolicy")
        if not policy:
            return None
        document = json.loads(policy)
        return str(document["deadLetterTargetArn"]), int(document["maxReceiveCount"])


class MemorySQS:
    def __init__(self, region: str = REGION, account: str = ACCOUNT) -> None:
        self.region, self.account = region, account
        self._queues: dict[str, _Queue] = {}
        self._lock = threading.Lock()
        self._sent = 0  # message ids derive from it: a replay's ids are the same every run

    def create_queue(self, *, QueueName: str, Attributes: dict[str, str] | None = None, **_: Any) -> dict[str, Any]:
        url = f"https://sqs.{self.region}.amazonaws.com/{self.account}/{QueueName}"
        with self._lock:
            if url not in self._queues:
                self._queues[url] = _Queue(QueueName, url, f"arn:aws:sqs:{self.region}:{self.account}:{QueueName}",
                                           dict(Attributes or {}))
        return {"QueueUrl": url}

    def get_queue_attributes(self, *, QueueUrl: str, AttributeNames: list[str] | None = None) -> dict[str, Any]:
        with self._lock:
            queue = self._queue(QueueUrl, "GetQueueAttributes")
            now = time.monotonic()
            values = {**queue.attributes, "QueueArn": queue.arn,
                      "ApproximateNumberOfMessages": str(sum(m.visible_at <= now for m in queue.messages.values())),
                      "ApproximateNumberOfMessagesNotVisible": str(sum(m.visible_at > now
                                                                      for m in queue.messages.values()))}
        wanted = AttributeNames or ["All"]
        return {"Attributes": values if "All" in wanted else {k: v for k, v in values.items() if k in wanted}}

    def send_message(self, *, QueueUrl: str, MessageBody: str, MessageAttributes: dict[str, Any] | None = None,
                     DelaySeconds: int | None = None, **_: Any) -> dict[str, Any]:
        if len(MessageBody.encode("utf-8")) > MAX_BODY_BYTES:
            raise client_error("InvalidParameterValue", "One or more parameters are invalid. Reason: Message must "
                               f"be shorter than {MAX_BODY_BYTES} bytes.", "SendMessage")
        now = time.monotonic()
        with self._lock:
            queue = self._queue(QueueUrl, "SendMessage")
            delay = int(DelaySeconds if DelaySeconds is not None else queue.attributes.get("DelaySeconds", 0))
            self._sent += 1
            message = _Message(str(uuid.uuid5(uuid.NAMESPACE_URL, f"{QueueUrl}#{self._sent}")), MessageBody, dict(MessageAttributes or {}), time.time(),
                               now + delay)
            queue.messages[message.id] = message
        return {"MessageId": message.id, "MD5OfMessageBody": _md5(MessageBody)}

    def send_message_batch(self, *, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        """SQS's batch rules: one to ten entries with distinct ids, 256 KB of bodies in all; each entry
        is then sent as `send_message` sends one."""
        ids = [str(e["Id"]) for e in Entries]
        if not 1 <= len(ids) <= 10:
            raise client_error("AWS.SimpleQueueService.TooManyEntriesInBatchRequest" if ids else
                               "AWS.SimpleQueueService.EmptyBatchRequest",
                               f"Maximum number of entries per request are 10. You have sent {len(ids)}.",
                               "SendMessageBatch")
        if len(set(ids)) != len(ids):
            raise client_error("AWS.SimpleQueueService.BatchEntryIdsNotDistinct", "Two or more batch entries "
                               "in the request have the same Id.", "SendMessageBatch")
        if sum(len(str(e["MessageBody"]).encode("utf-8")) for e in Entries) > MAX_BODY_BYTES:
            raise client_error("AWS.SimpleQueueService.BatchRequestTooLong", "Batch requests cannot be longer "
                               f"than {MAX_BODY_BYTES} bytes.", "SendMessageBatch")
        sent = [{"Id": e["Id"], **self.send_message(
            QueueUrl=QueueUrl, MessageBody=e["MessageBody"], MessageAttributes=e.get("MessageAttributes"),
            DelaySeconds=e.get("DelaySeconds"))} for e in Entries]
        return {"Successful": sent, "Failed": []}

    def receive_message(self, *, QueueUrl: str, MaxNumberOfMessages: int = 1, VisibilityTimeout: int | None = None,
                        AttributeNames: list[str] | None = None, MessageAttributeNames: list[str] | None = None,
                        **_: Any) -> dict[str, Any]:
        now = time.monotonic()
        out: list[dict[str, Any]] = []
        with self._lock:
            queue = self._queue(QueueUrl, "ReceiveMessage")
            hide_for = int(VisibilityTimeout if VisibilityTimeout is not None
                           else queue.attributes.get("VisibilityTimeout", 30))
            redrive = queue.redrive()
            for message in list(queue.messages.values()):
                if len(out) >= MaxNumberOfMessages:
                    break
                if message.visible_at > now:
                    continue
                if redrive is not None and message.receive_count >= redrive[1]:
                    # Received maxReceiveCount times and back again: SQS moves it to the DLQ.
                    del queue.messages[message.id]
                    dead = self._by_arn(redrive[0])
                    message.visible_at = now
                    dead.messages[message.id] = message
                    continue
                message.receive_count += 1
                message.first_received_at = message.first_received_at or time.time()
                message.visible_at = now + hide_for
                message.receipt = f"{message.id}#{uuid.uuid4().hex}"
                out.append(self._answer(message, AttributeNames, MessageAttributeNames))
        return {"Messages": out} if out else {}

    def delete_message(self, *, QueueUrl: str, ReceiptHandle: str) -> dict[str, Any]:
        with self._lock:
            queue = self._queue(QueueUrl, "DeleteMessage")
            message = queue.messages.get(ReceiptHandle.split("#", 1)[0])
            if message is not None and message.receipt == ReceiptHandle:
                del queue.messages[message.id]
        return {}

    def change_message_visibility(self, *, QueueUrl: str, ReceiptHandle: str, VisibilityTimeout: int) -> dict[str, Any]:
        with self._lock:
            queue = self._queue(QueueUrl, "ChangeMessageVisibility")
            message = queue.messages.get(ReceiptHandle.split("#", 1)[0])
            if message is None or message.receipt != ReceiptHandle:
                raise client_error("ReceiptHandleIsInvalid", "The input receipt handle is invalid.",
                                   "ChangeMessageVisibility")
            message.visible_at = time.monotonic() + VisibilityTimeout
        return {}

    @staticmethod
    def _answer(message: _Message, names: list[str] | None, attribute_names: list[str] | None) -> dict[str, Any]:
        answer: dict[str, Any] = {"MessageId": message.id, "ReceiptHandle": message.receipt, "Body": message.body,
                                  "MD5OfBody": _md5(message.body)}
        if names:
            answer["Attributes"] = {
                "SenderId": ACCOUNT, "SentTimestamp": str(int(message.sent_at * 1000)),
                "ApproximateReceiveCount": str(message.receive_count),
                "ApproximateFirstReceiveTimestamp": str(int((message.first_received_at or 0) * 1000))}
        if attribute_names and message.attributes:
            answer["MessageAttributes"] = dict(message.attributes)
        return answer

    def _queue(self, url: str, operation: str) -> _Queue:
        queue = self._queues.get(url)
        if queue is None:
            raise client_error("AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist.",
                               operation)
        return queue

    def _by_arn(self, arn: str) -> _Queue:
        for queue in self._queues.values():
            if queue.arn == arn:
                return queue
        raise client_error("AWS.SimpleQueueService.NonExistentQueue", f"no dead-letter queue {arn}", "ReceiveMessage")


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()
