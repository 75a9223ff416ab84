"""Queues, the event bus and the workflow engine."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sre_copilot.domain.types import Priority


class SignalQueue(Protocol):
    def enqueue(self, priority: Priority, message: dict[str, object], dedup_id: str) -> None: ...
    def enqueue_all(self, messages: Sequence[tuple[Priority, dict[str, object], str]]) -> None:
        """`enqueue` of each (priority, message, dedup id), in as few requests as the queue takes."""
        ...
    def carries(self, message: dict[str, object]) -> bool:
        """Whether `message` fits in one queue message (else enqueue a reference to it)."""
        ...
    def send_to_review(self, reason: str, payload_ref: str) -> None:
        """Park a delivery nobody could process (the review queue a human reads)."""
        ...


class EventBus(Protocol):
    def publish(self, detail_type: str, detail: dict[str, object]) -> None: ...


class WorkflowEngine(Protocol):
    def start(self, name: str, payload: dict[str, object]) -> str:
        """Start (idempotently, by name) one execution; return its ARN."""
        ...
    def is_running(self, execution_arn: str) -> bool: ...
    def send_success(self, task_token: str, output: dict[str, object]) -> None: ...
    def send_failure(self, task_token: str, error: str, cause: str) -> None: ...
