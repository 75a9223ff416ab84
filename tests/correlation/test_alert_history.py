"""The online alert history: how usual an alert key was before an incident (correlation/alert_history.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from correlation_fixtures import CATALOG

from sre_copilot.correlation import CorrelationEngine
from sre_copilot.correlation.alert_history import (
    RECENT,
    WINDOW_S,
    AlertHistory,
    alert_key,
    weights_from_state,
)
from sre_copilot.domain.signal import Signal
from sre_copilot.domain.types import EntityKind, Severity, SignalStatus

T0 = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
_n = iter(range(100_000))


def anomaly(entity: str, metric: str, window: int, *, offset_s: int = 5) -> Signal:
    at = T0 + timedelta(seconds=window * WINDOW_S + offset_s)
    return Signal(id=f"a{next(_n)}", source="alertmanager", status=SignalStatus.FIRING, severity=Severity.WARNING,
                  event_time=at, received_at=at, title=f"{metric} up on {entity}",
                  labels={"metric": metric, "direction": "up"}, entity=entity, entity_kind=EntityKind.INSTANCE,
                  fingerprint=f"fp-{entity}-{metric}")


def chronic_history(windows: int) -> AlertHistory:
    """A pod whose memory is anomalous in every window, and a different one-off anomaly in each."""
    history = AlertHistory()
    for w in range(windows):
        history.observe(anomaly("noisy-0", "memory", w))
        history.observe(anomaly(f"pod-{w}", "cpu", w))
    return history


def test_an_alert_that_fires_in_every_window_weighs_far_less_than_one_never_seen() -> None:
    # Given 60 windows in which one pod's memory alert fired every time
    history = chronic_history(60)
    # When an incident starts in the next window with that alert and a new one
    incident = [anomaly("noisy-0", "memory", 60), anomaly("quiet-0", "disk", 60)]
    weights = history.weights(incident)
    # Then the chronic alert is near the floor and the new one keeps full weight
    chronic, fresh = (weights[s.id] for s in incident)
    assert fresh == 1.0
    assert chronic <= 0.1


def test_with_no_history_every_alert_weighs_one() -> None:
    # Given a new tenant (empty history, or no persisted state at all)
    incident = [anomaly("noisy-0", "memory", 3), anomaly("quiet-0", "disk", 3)]
    # Then the ranking sees every alert as unusual, as it did without a history
    assert set(AlertHistory().weights(incident).values()) == {1.0}
    assert set(weights_from_state(None, incident).values()) == {1.0}


def test_only_windows_before_the_incident_count() -> None:
    # Given a key first seen in the incident's own window and in later windows
    history = AlertHistory()
    for w in range(10, 16):
        history.observe(anomaly("late-0", "cpu", w))
    for w in range(40):
        history.observe(anomaly(f"other-{w}", "io", w))
    # When weights are asked for an incident that started in window 10
    weights = history.weights([anomaly("late-0", "cpu", 10)])
    # Then what came at or after its start does not make it look usual
    assert list(weights.values()) == [1.0]
    # And asked for an incident in window 30, the six earlier windows do count
    assert history.weight(alert_key(anomaly("late-0", "cpu", 30)), T0 + timedelta(seconds=30 * WINDOW_S)) < 1.0


def test_repeats_within_one_window_count_once() -> None:
    # Given an alert re-raised ten times in one window and once in another
    history = AlertHistory()
    for _ in range(10):
        history.observe(anomaly("pod-0", "cpu", 2))
    history.observe(anomaly("pod-0", "cpu", 5))
    # Then it was seen in two windows before window 6, out of two active windows
    key = alert_key(anomaly("pod-0", "cpu", 0))
    assert history.share(str(key), T0 + timedelta(seconds=6 * WINDOW_S)) == (2 + 1) / (2 + 20)


def test_history_survives_the_engine_state_round_trip() -> None:
    # Given an engine that ingested a stream with a chronic alert
    engine = CorrelationEngine(CATALOG)
    for w in range(30):
        engine.ingest(anomaly("noisy-0", "memory", w))
    state = json.loads(json.dumps(engine.to_state()))
    # When the next incident's alerts are weighed from the persisted state alone
    incident = [anomaly("noisy-0", "memory", 30), anomaly("quiet-0", "disk", 30)]
    weights = weights_from_state(state, incident)
    # Then the chronic alert is discounted exactly as the live engine would
    assert weights == engine.history.weights(incident)
    assert weights[incident[0].id] < 0.5 < weights[incident[1].id]


def test_memory_stays_bounded_per_key() -> None:
    # Given a key seen in far more windows than it keeps individually
    history = chronic_history(5 * RECENT)
    saved = history.to_json()["keys"][str(alert_key(anomaly("noisy-0", "memory", 0)))]
    # Then it keeps a count and only its RECENT latest windows
    assert saved[0] == 5 * RECENT and len(saved[1]) == RECENT
