"""The two simple baselines every evaluation reports beside the product's own figures.

Both are built from the signals ingestion's normaliser makes of the scenario's deliveries and are
returned as replay-shaped results, so `evaluation/scoring.py` scores them with exactly the code
that scores the product:

- `time_gap_result`: grouping only. Alerts in event-time order (each alert's own start time); a
  new incident starts whenever the gap since the previous alert exceeds `gap_s` (2 minutes).
- `most_alerts_result`: root cause only, given the labelled grouping. Within each labelled
  incident, rank the entities that its metric alerts name (instances, hosts, services; call alerts
  between two instances excluded) by how many alerts name them.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sre_copilot.domain.catalog import Catalog
from sre_copilot.domain.signal import Signal

RESULT_FORMAT = "sre-copilot/replay-result@1"
TIME_GAP_S = 120


def _row(signal: Signal, incident_id: str | None) -> dict[str, Any]:
    return {"id": signal.id, "origin": signal.origin.model_dump(), "source": signal.source,
            "status": signal.status.value, "severity": signal.severity.value, "priority": signal.priority.value,
            "service": signal.service, "entity": signal.entity, "title": signal.title,
            "fingerprint": signal.fingerprint, "duplicate_of": signal.duplicate_of, "incident_id": incident_id}


def time_gap_result(signals: list[Signal], gap_s: float = TIME_GAP_S, scenario: str = "") -> dict[str, Any]:
    """A new incident whenever `gap_s` passes with no alert (background and resolved notices ignored)."""
    ordered = sorted(signals, key=lambda s: (s.event_time, s.id))
    rows: list[dict[str, Any]] = []
    members: dict[str, list[str]] = {}
    current: str | None = None
    last = None
    for signal in ordered:
        if not signal.is_alert or signal.background:
            rows.append(_row(signal, None))
            continue
        if current is None or last is None or (signal.event_time - last).total_seconds() > gap_s:
            current = f"gap-{len(members):05d}"
            members[current] = []
        last = signal.event_time
        members[current].append(signal.id)
        rows.append(_row(signal, current))
    incidents = [{"id": k, "signal_ids": v, "hypotheses": []} for k, v in members.items()]
    return {"format": RESULT_FORMAT, "scenario": scenario, "signals": rows, "incidents": incidents}


def is_call_alert(signal: Signal) -> bool:
    """An alert about a call between two parties (trace latency/errors), not about one entity."""
    labels = signal.labels
    return bool(labels.get("client") and labels.get("server")) or bool(
        labels.get("source_workload") and labels.get("destination_workload"))


def most_alerts_result(signals: list[Signal], truth: dict[str, Any], catalog: Catalog,
                       scenario: str = "") -> dict[str, Any]:
    """The labelled grouping, each incident's hypotheses = its metric alerts' entities by alert count."""
    incident_of: dict[int, int] = {}
    for index, label in enumerate(truth.get("incidents", [])):
        for delivery in label.get("deliveries", []):
            incident_of[int(delivery)] = index
    rows: list[dict[str, Any]] = []
    counts: dict[int, Counter[tuple[str, str, str | None]]] = {}
    members: dict[int, list[str]] = {}
    for signal in signals:
        delivery = signal.origin.delivery
        position: int | None = incident_of.get(delivery) if isinstance(delivery, int) else None
        rows.append(_row(signal, f"truth-{position:05d}" if position is not None else None))
        if position is None:
            continue
        members.setdefault(position, []).append(signal.id)
        if not signal.is_alert or signal.background or is_call_alert(signal) or not signal.entity:
            continue
        kind = signal.entity_kind.value if signal.entity_kind else "service"
        counts.setdefault(position, Counter())[(signal.entity, kind, signal.service)] += 1
    incidents = []
    for position, ids in sorted(members.items()):
        ranked = sorted(counts.get(position, Counter()).items(), key=lambda kv: (-kv[1], kv[0][0]))
        hypotheses = [{"rank": rank, "entity": entity, "entity_kind": kind, "service": service,
                       "fault": "unknown", "confidence": 0.0}
                      for rank, ((entity, kind, service), _n) in enumerate(ranked, start=1)]
        incidents.append({"id": f"truth-{position:05d}", "signal_ids": ids, "hypotheses": hypotheses})
    return {"format": RESULT_FORMAT, "scenario": scenario, "signals": rows, "incidents": incidents}
