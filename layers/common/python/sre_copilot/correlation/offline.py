"""Run a correlator over a list of signals in simulated time and write a replay-shaped result.

This applies outcomes exactly as the correlate Lambda does (opened groups, joins, released held
signals, merges), ticking every `tick_s` of event time like the sweeper, then settling. The result has
the `signals[]` / `incidents[]` shape of `sre-copilot/replay-result@1`, so `sre_copilot.evaluation`
scores the engine and the baseline on the same footing without running the pipeline.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, Protocol

from sre_copilot.correlation.engine import CorrelationOutcome
from sre_copilot.domain.signal import Signal
from sre_copilot.domain.types import Priority

RESULT_FORMAT = "sre-copilot/replay-result@1"


class Correlator(Protocol):
    def ingest(self, signal: Signal) -> CorrelationOutcome: ...

    def tick(self, now: datetime) -> list[CorrelationOutcome]: ...


class OutcomeLedger:
    """Signal -> incident assignments as the outcomes dictate (what the store would end up holding)."""

    def __init__(self) -> None:
        self.incident_of: dict[str, str] = {}
        self.members: dict[str, set[str]] = {}
        self.merged_into: dict[str, str] = {}
        self.opened: list[str] = []

    def apply(self, outcome: CorrelationOutcome) -> None:
        self.opened.extend(outcome.opened)
        for incident_id in outcome.opened:
            self.members.setdefault(incident_id, set())
        assignments = dict(outcome.released)
        if outcome.incident_id:
            assignments[outcome.signal_id] = outcome.incident_id
        for signal_id, incident_id in assignments.items():
            self._assign(signal_id, incident_id)
        for absorbed, survivor in outcome.merged:
            self.merged_into[absorbed] = survivor
            for signal_id in self.members.pop(absorbed, set()):
                self._assign(signal_id, survivor)

    def _assign(self, signal_id: str, incident_id: str) -> None:
        incident_id = self.survivor(incident_id)
        previous = self.incident_of.get(signal_id)
        if previous is not None and previous != incident_id:
            self.members.get(previous, set()).discard(signal_id)
        self.incident_of[signal_id] = incident_id
        self.members.setdefault(incident_id, set()).add(signal_id)

    def survivor(self, incident_id: str) -> str:
        seen = 0
        while incident_id in self.merged_into and seen < 64:
            incident_id = self.merged_into[incident_id]
            seen += 1
        return incident_id


def run(correlator: Correlator, signals: Iterable[Signal], *, tick_s: int = 60, settle_s: int = 1800,
        scenario: str = "") -> dict[str, Any]:
    """Feed signals in arrival order, ticking on the way; return a replay-shaped result."""
    ordered = sorted(signals, key=lambda s: (s.received_at, s.origin.delivery if isinstance(s.origin.delivery, int)
                                             else 0, s.origin.item))
    ledger = OutcomeLedger()
    step = timedelta(seconds=tick_s)
    next_tick: datetime | None = None
    for signal in ordered:
        if next_tick is None:
            next_tick = signal.received_at + step
        while next_tick <= signal.received_at:
            for outcome in correlator.tick(next_tick):
                ledger.apply(outcome)
            next_tick += step
        ledger.apply(correlator.ingest(signal))
    if next_tick is not None:
        end = next_tick + timedelta(seconds=settle_s)
        while next_tick <= end:
            for outcome in correlator.tick(next_tick):
                ledger.apply(outcome)
            next_tick += step
    return result_document(ordered, ledger, scenario)


def result_document(signals: list[Signal], ledger: OutcomeLedger, scenario: str = "") -> dict[str, Any]:
    rows = []
    by_incident: dict[str, list[Signal]] = {}
    for signal in signals:
        incident_id = ledger.incident_of.get(signal.id)
        incident_id = ledger.survivor(incident_id) if incident_id else None
        if incident_id:
            by_incident.setdefault(incident_id, []).append(signal)
        rows.append({
            "id": signal.id, "origin": signal.origin.model_dump(), "source": signal.source,
            "status": signal.status.value, "severity": signal.severity.value, "priority": signal.priority.value,
            "service": signal.service, "entity": signal.entity, "title": signal.title,
            "fingerprint": signal.fingerprint, "duplicate_of": signal.duplicate_of, "incident_id": incident_id,
        })
    incidents = [
        {"id": incident_id, "priority": min((s.priority for s in members), key=_rank).value,
         "signal_ids": [s.id for s in members], "hypotheses": []}
        for incident_id, members in sorted(by_incident.items(), key=lambda kv: (kv[1][0].received_at, kv[0]))
    ]
    return {"format": RESULT_FORMAT, "scenario": scenario, "signals": rows, "rejected": [], "incidents": incidents}


def _rank(priority: Priority) -> int:
    return int(priority.value[1:])
