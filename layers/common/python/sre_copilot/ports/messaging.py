"""Queues, the event bus and the workflow engine."""

from __future__ import annotations

from typing import Any, Protocol

from sre_copilot.domain.types import Priority


class SignalQueue(Protocol):
    def enqueue(self, priority: Priority, message: dict[str, Any], dedup_id: str) -> None: ...


class EventBus(Protocol):
    def publish(self, detail_type: str, detail: dict[str, Any]) -> None: ...


class WorkflowEngine(Protocol):
    def start(self, name: str, payload: dict[str, Any]) -> str:
        """Start (idempotently, by name) one execution; return its ARN."""
        ...
    def is_running(self, execution_arn: str) -> bool: ...
    def send_success(self, task_token: str, output: dict[str, Any]) -> None: ...
    def send_failure(self, task_token: str, error: str, cause: str) -> None: ...
