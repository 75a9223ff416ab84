"""Remediation executors (Kubernetes, AWS), and what the verifier reads: metrics and alarm states."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # annotations only: the model loads with the step that builds a plan
    from sre_copilot.domain.action import ActionPlan


class ActionExecutor(Protocol):
    def supports(self, plan: ActionPlan) -> bool: ...
    def execute(self, plan: ActionPlan, dry_run: bool) -> dict[str, object]: ...
    def verify(self, plan: ActionPlan) -> tuple[bool, str]: ...
    def rollback(self, plan: ActionPlan) -> dict[str, object]: ...


class MetricsReader(Protocol):
    def series_many(self, wanted: Sequence[tuple[str, str]], start: datetime,
                    end: datetime) -> dict[tuple[str, str], list[tuple[datetime, float]]]:
        """The series of each (service, metric) in `wanted`, oldest point first; a series with no
        data is an empty list."""
        ...


    def metric_stats[K: Hashable](self, stats: Mapping[K, Mapping[str, object]], start: datetime,
                                  end: datetime) -> dict[K, list[tuple[datetime, float]]]:
        """Datapoints per GetMetricData `MetricStat` (namespace, metric, dimensions, period, stat),
        oldest first; keys are the caller's labels."""
        ...


class AlarmStates(Protocol):
    def states(self, names: Iterable[str]) -> dict[str, str]:
        """CloudWatch alarm states by name; alarms it does not know are absent."""
        ...
