"""Remediation executors (Kubernetes, AWS) and the metrics reader the verifier uses."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sre_copilot.domain.action import ActionPlan


class ActionExecutor(Protocol):
    def supports(self, plan: ActionPlan) -> bool: ...
    def execute(self, plan: ActionPlan, dry_run: bool) -> dict[str, Any]: ...
    def verify(self, plan: ActionPlan) -> tuple[bool, str]: ...
    def rollback(self, plan: ActionPlan) -> dict[str, Any]: ...


class MetricsReader(Protocol):
    def series(self, service: str, metric: str, start: datetime, end: datetime) -> list[tuple[datetime, float]]: ...
