"""Fast offline evaluation: the same domain code as a replay, without the embedded AWS backend.

Deliveries go through ingestion's normaliser, classifier and dedup key, the correlation engine
(`correlation.offline.run`, applying outcomes as the correlate Lambda does), then each incident's
signals through context -> evidence -> hypotheses -> confidence, exactly the pure functions the
workflow's steps call. The results are replay-shaped, so `evaluation/scoring.py` scores them and
the two baselines (`evaluation/baselines.py`) with one code path. A replay (`sre-copilot eval`)
remains the measure of record; this is what benchmarks and iteration use (seconds, not minutes).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sre_copilot.domain.catalog import Catalog
from sre_copilot.domain.change import ChangeEvent
from sre_copilot.domain.signal import Signal
from sre_copilot.domain.types import parse_time
from sre_copilot.evaluation.baselines import most_alerts_result, time_gap_result
from sre_copilot.evaluation.scoring import labelled_scenarios, score_row, summary_with_baselines

DEDUP_WINDOW_S = 900


def normalised_signals(document: dict[str, Any], catalog: Catalog,
                       dedup_window_s: int = DEDUP_WINDOW_S) -> list[Signal]:
    """Every alert item of every delivery as ingestion stores it (priority, `duplicate_of`)."""
    from sre_copilot.ingest.classify import classify
    from sre_copilot.ingest.dedup import dedup_key
    from sre_copilot.ingest.normalize import normalize

    windows: dict[str, tuple[str, float]] = {}
    out: list[Signal] = []
    for index, delivery in enumerate(document.get("deliveries", [])):
        received = parse_time(delivery["at"])
        try:
            result = normalize(delivery["source"], delivery["body"], catalog=catalog, received_at=received,
                               origin_delivery=index, delivery_id=f"d{index}")
        except Exception:
            continue
        for signal in result.signals:
            update: dict[str, Any] = {"priority": classify(signal, catalog)}
            key = dedup_key(signal)
            held = windows.get(key)
            if held is not None and received.timestamp() <= held[1]:
                update["duplicate_of"] = held[0]
            else:
                windows[key] = (signal.id, signal.event_time.timestamp() + dedup_window_s)
            out.append(signal.model_copy(update=update))
    return out


def scenario_changes(document: dict[str, Any]) -> list[ChangeEvent]:
    """The scenario's change events (scenario format: ChangeEvent documents)."""
    return [ChangeEvent.model_validate(c) for c in document.get("changes", [])]


def correlate(signals: list[Signal], catalog: Catalog, config: Any = None, scenario: str = "") -> dict[str, Any]:
    from sre_copilot.correlation import CorrelationConfig, CorrelationEngine
    from sre_copilot.correlation.offline import run

    engine = CorrelationEngine(catalog, config or CorrelationConfig())
    return run(engine, signals, scenario=scenario)


def analyse(result: dict[str, Any], signals: list[Signal], catalog: Catalog,
            changes: list[ChangeEvent], features: Any = None) -> dict[str, Any]:
    """Fill each incident's `hypotheses` as the workflow's analysis steps would at its end."""
    from sre_copilot.correlation.alert_history import AlertHistory
    from sre_copilot.domain.incident import Incident
    from sre_copilot.reasoning.confidence import score_hypotheses
    from sre_copilot.reasoning.context import assemble_context
    from sre_copilot.reasoning.evidence import aggregate_evidence
    from sre_copilot.reasoning.hypotheses import generate_hypotheses
    from sre_copilot.reasoning.localisation import FEATURES

    by_id = {s.id: s for s in signals}
    # The alert history as the correlation engine holds it when the incident opens: every alert
    # received up to then (the engine observes in arrival order), queried for before its first alert.
    arrivals = sorted(signals, key=lambda s: s.received_at)
    history, fed = AlertHistory(), 0
    for incident in sorted(result["incidents"], key=lambda i: min((by_id[s].received_at for s in i["signal_ids"]
                                                                     if s in by_id), default=datetime.max)):
        members = [by_id[i] for i in incident["signal_ids"] if i in by_id and by_id[i].duplicate_of is None]
        if not members:
            continue
        members = [s.model_copy(update={"incident_id": incident["id"]}) for s in members]
        first = min(s.event_time for s in members)
        opened = min(s.received_at for s in members)
        while fed < len(arrivals) and arrivals[fed].received_at <= opened:
            history.observe(arrivals[fed])
            fed += 1
        now = max(s.received_at for s in members) + timedelta(minutes=1)
        record = Incident(id=incident["id"], title=members[0].title[:200], priority=incident["priority"],
                          opened_at=first, updated_at=now, services=sorted({s.service for s in members if s.service}),
                          signal_ids=[s.id for s in members])
        window = [c for c in changes if first - timedelta(hours=24) <= c.at <= now]
        snapshot = assemble_context(incident=record, signals=members, catalog=catalog, changes=window,
                                    metrics=None, now=now)
        package = aggregate_evidence(snapshot=snapshot, signals=members, catalog=catalog, precedents=None,
                                     localisation_features=FEATURES if features is None else features,
                                     alert_weights=history.weights(members, first))
        hypotheses = generate_hypotheses(snapshot=snapshot, evidence=package, signals=members, catalog=catalog)
        scored = score_hypotheses(hypotheses, evidence=package, snapshot=snapshot)
        incident["hypotheses"] = [h.model_dump(mode="json", exclude={"evidence"}) for h in scored]
    return result


def evaluate_offline(directory: Path, *, config: Any = None, features: Any = None,
                     progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Rows for every labelled scenario in `directory`: the product (offline) and both baselines."""
    rows: list[dict[str, Any]] = []
    baseline_rows: dict[str, list[dict[str, Any]]] = {"time_gap": [], "most_alerts": []}
    for scenario_path, truth_path in labelled_scenarios(directory):
        document = json.loads(scenario_path.read_text())
        truth = json.loads(truth_path.read_text())
        catalog = Catalog.model_validate(document.get("catalog") or {})
        name = str(document.get("name") or truth_path.stem)
        started = datetime.now()
        signals = normalised_signals(document, catalog)
        result = analyse(correlate(signals, catalog, config, name), signals, catalog, scenario_changes(document),
                         features)
        rows.append(score_row(name, truth, result, document))
        baseline_rows["time_gap"].append(score_row(name, truth, time_gap_result(signals, scenario=name), document))
        baseline_rows["most_alerts"].append(
            score_row(name, truth, most_alerts_result(signals, truth, catalog, name), document))
        if progress:
            progress(f"{name}: {(datetime.now() - started).total_seconds():.1f} s")
    return summary_with_baselines(rows, baseline_rows)
