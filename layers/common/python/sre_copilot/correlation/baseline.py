"""Alertmanager-style baseline: `group_by: [service]`, group_wait 30s, group_interval 5m.

What it models, after Alertmanager's dispatcher (one aggregation group per distinct group-by value):

- group key: the signal's catalog `service`; alerts without one share the empty key, as alerts
  missing a `group_by` label do in Alertmanager.
- an alert for a key with no aggregation group creates one. Its first notification (our "incident
  opened") is flushed `group_wait` after creation; alerts arriving before that ride along in it.
- later alerts for the key join the group and go out with the next flush, every `group_interval`.
- an alert is active until a resolved notice for its fingerprint arrives or, since webhook alerts
  are not re-sent, `resolve_timeout` after it last fired. A flush that finds no active alert
  deletes the group; the next alert for the key starts a new group, i.e. a new incident.
- routing: background and silenced signals go to a null receiver (never grouped), the usual
  `severity="info"` route; duplicates join their original's group, as Alertmanager folds repeats of
  a fingerprint.

It keeps the engine's `ingest`/`tick` interface and outcome type so that
`sre_copilot.correlation.offline.run` scores both the same way.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sre_copilot.correlation.engine import CorrelationOutcome
from sre_copilot.correlation.groups import explanation
from sre_copilot.domain.signal import Signal
from sre_copilot.domain.types import Severity, SignalStatus


@dataclass
class _AggregationGroup:
    id: str
    key: str
    next_flush: float
    signal_ids: list[str] = field(default_factory=list)
    active: dict[str, float] = field(default_factory=dict)  # fingerprint -> last fired
    notified: bool = False


class GroupByBaseline:
    def __init__(self, *, group_wait_s: int = 30, group_interval_s: int = 300, resolve_timeout_s: int = 300,
                 null_route_severities: tuple[Severity, ...] = (Severity.INFO,),
                 id_factory: Callable[[Signal], str] | None = None) -> None:
        self.group_wait_s = group_wait_s
        self.group_interval_s = group_interval_s
        self.resolve_timeout_s = resolve_timeout_s
        self.null_route = frozenset(null_route_severities)
        self.id_factory = id_factory or _baseline_id
        self._groups: dict[str, _AggregationGroup] = {}
        self._signal_group: dict[str, _AggregationGroup] = {}
        self._flushes: list[tuple[float, int, _AggregationGroup]] = []
        self._seq = 0

    def ingest(self, signal: Signal) -> CorrelationOutcome:
        if signal.suppressed_by or signal.background or signal.severity in self.null_route:
            return CorrelationOutcome(signal.id, explanation=explanation(signal.id, "null-route",
                                                                         "routed to the null receiver"))
        t = signal.event_time.timestamp()
        self._flush_due(t, None)
        key = signal.service or ""
        group = self._groups.get(key)
        if signal.duplicate_of and signal.duplicate_of in self._signal_group:
            group = self._signal_group[signal.duplicate_of]
            if self._groups.get(group.key) is not group:
                group = None
        if signal.status is not SignalStatus.FIRING:
            if group is None or signal.fingerprint not in group.active:
                return CorrelationOutcome(signal.id)
            if signal.status is SignalStatus.RESOLVED:
                del group.active[signal.fingerprint]
        elif group is None:
            group = _AggregationGroup(id=self.id_factory(signal), key=key, next_flush=t + self.group_wait_s)
            self._groups[key] = group
            self._schedule(group)
        if signal.status is SignalStatus.FIRING:
            group.active[signal.fingerprint] = t
        group.signal_ids.append(signal.id)
        self._signal_group[signal.id] = group
        expl = explanation(signal.id, "group_by", f"service={key or '(none)'}")
        if group.notified:
            return CorrelationOutcome(signal.id, incident_id=group.id, joined=group.id, explanation=expl)
        return CorrelationOutcome(signal.id, held=True, explanation=expl)

    def tick(self, now: datetime) -> list[CorrelationOutcome]:
        outcomes: list[CorrelationOutcome] = []
        self._flush_due(now.timestamp(), outcomes)
        return outcomes

    def _schedule(self, group: _AggregationGroup) -> None:
        self._seq += 1
        heapq.heappush(self._flushes, (group.next_flush, self._seq, group))

    def _flush_due(self, now: float, outcomes: list[CorrelationOutcome] | None) -> None:
        deferred: list[_AggregationGroup] = []
        while self._flushes and self._flushes[0][0] <= now:
            at, _, group = heapq.heappop(self._flushes)
            if self._groups.get(group.key) is not group or group.next_flush != at:
                continue
            group.active = {fp: last for fp, last in group.active.items() if last + self.resolve_timeout_s > at}
            if not group.active:
                del self._groups[group.key]
                if group.notified and outcomes is not None:
                    outcomes.append(CorrelationOutcome(group.signal_ids[0], incident_id=group.id,
                                                       resolution_proposed=[group.id]))
                continue
            if not group.notified:
                if outcomes is None:
                    deferred.append(group)  # the first notification is reported from tick
                    continue
                group.notified = True
                opener = group.signal_ids[0]
                outcomes.append(CorrelationOutcome(
                    opener, incident_id=group.id, opened=[group.id],
                    released={sid: group.id for sid in group.signal_ids if sid != opener},
                    explanation=explanation(opener, "group_by",
                                            f"first notification for service={group.key or '(none)'}"),
                ))
            group.next_flush = at + self.group_interval_s
            self._schedule(group)
        for group in deferred:
            self._schedule(group)


def _baseline_id(signal: Signal) -> str:
    digest = hashlib.sha256(signal.id.encode()).hexdigest()[:10]
    return f"am-{signal.event_time.astimezone(UTC):%Y%m%dT%H%M%S}-{digest}"
