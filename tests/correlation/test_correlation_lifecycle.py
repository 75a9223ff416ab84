"""Resolution proposals, acknowledgements, expiry and state persistence."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from correlation_fixtures import CATALOG, alert, at

from sre_copilot.correlation import CorrelationConfig, CorrelationEngine, CorrelationOutcome
from sre_copilot.correlation.groups import IncidentGroup
from sre_copilot.domain.signal import Signal


def test_resolution_is_proposed_once_every_alert_has_resolved() -> None:
    # Given an incident of two alerts
    e = CorrelationEngine(CATALOG)
    opened = e.ingest(alert("db", 0, service="db", severity="critical", fp="db-down"))
    e.ingest(alert("api", 30, service="api", fp="api-5xx"))
    # When the first resolves, nothing is proposed; when the second resolves, resolution is proposed
    first = e.ingest(alert("db-ok", 300, service="db", status="resolved", fp="db-down"))
    assert first.joined == opened.incident_id and first.resolution_proposed == []
    last = e.ingest(alert("api-ok", 320, service="api", status="resolved", fp="api-5xx"))
    assert last.resolution_proposed == [opened.incident_id]
    assert last.explanation is not None and last.explanation.rule == "resolved"
    [incident] = e.incidents()
    assert incident.resolution_proposed and incident.firing == 0
    assert {"db-ok", "api-ok"} <= set(incident.signal_ids)


def test_an_alert_firing_again_withdraws_the_proposal_until_it_resolves_again() -> None:
    e = CorrelationEngine(CATALOG)
    opened = e.ingest(alert("db", 0, service="db", severity="critical", fp="db-down"))
    assert e.ingest(alert("ok1", 60, service="db", status="resolved", fp="db-down")).resolution_proposed
    refire = e.ingest(alert("db2", 120, service="db", severity="critical", fp="db-down"))
    assert refire.joined == opened.incident_id and not e.incidents()[0].resolution_proposed
    again = e.ingest(alert("ok2", 180, service="db", status="resolved", fp="db-down"))
    assert again.resolution_proposed == [opened.incident_id]


def test_resolved_notice_for_an_unknown_alert_is_recorded_as_noise() -> None:
    outcome = CorrelationEngine(CATALOG).ingest(alert("ok", 0, service="db", status="resolved", fp="never-seen"))
    assert outcome.incident_id is None and not outcome.opened and outcome.explanation is not None


def test_acknowledged_notice_joins_without_changing_what_is_firing() -> None:
    e = CorrelationEngine(CATALOG)
    opened = e.ingest(alert("db", 0, service="db", severity="critical", fp="db-down"))
    ack = e.ingest(alert("db-ack", 60, service="db", status="acknowledged", fp="db-down"))
    assert ack.joined == opened.incident_id and ack.resolution_proposed == []
    assert e.incidents()[0].firing == 1


def test_idle_incidents_are_forgotten_after_the_horizon() -> None:
    config = CorrelationConfig(window_s=300, expire_factor=2)
    e = CorrelationEngine(CATALOG, config)
    first = e.ingest(alert("db", 0, service="db", severity="critical", fp="db-down"))
    e.tick(at(599))
    assert [i.id for i in e.incidents()] == [first.incident_id]
    e.tick(at(601))
    assert e.incidents() == [] and e.to_state()["groups"] == []
    # the same alert after that opens a new incident
    later = e.ingest(alert("db-again", 700, service="db", severity="critical", fp="db-down"))
    assert later.opened and later.incident_id != first.incident_id


def _stream() -> list[Signal]:
    return [
        alert("db", 0, service="db", severity="critical", fp="db-down"),
        alert("cache", 20, service="cache", severity="critical"),
        alert("lone", 25, service="queue"),
        alert("api", 60, service="api", severity="critical"),
        alert("host", 90, host="host-b", severity="critical"),
        alert("ledger-0", 100, service="ledger", instance="ledger-0"),
        alert("gc", 110, service="api", severity="info"),
        alert("db-dup", 120, service="db", severity="critical", fp="db-down", duplicate_of="db"),
        alert("db-ok", 200, service="db", status="resolved", fp="db-down"),
        alert("worker", 240, service="worker"),
        alert("cache-ok", 300, service="cache", status="resolved", fp="fp-cache"),
    ]


def _summary(outcome: CorrelationOutcome) -> tuple[object, ...]:
    return (outcome.signal_id, outcome.incident_id, tuple(outcome.opened), outcome.joined, outcome.held,
            outcome.explanation.rule if outcome.explanation else None, tuple(outcome.merged),
            tuple(outcome.resolution_proposed), tuple(sorted(outcome.released.items())))


def _as_persisted(incident: IncidentGroup) -> IncidentGroup:
    return replace(incident, explanations=incident.explanations[:1])


@pytest.mark.parametrize("cut", range(len(_stream()) + 1))
def test_state_round_trip_at_any_point_continues_identically(cut: int) -> None:
    # Given an engine that has seen the first `cut` signals, and a copy restored from its JSON state
    signals = _stream()
    original = CorrelationEngine(CATALOG)
    for signal in signals[:cut]:
        original.ingest(signal)
    state = json.loads(json.dumps(original.to_state()))
    restored = CorrelationEngine.from_state(CATALOG, state)
    # Then both hold the same incidents (an opened one keeps only why it opened: the rest were handed
    # out in outcomes already) and the same held groups
    assert restored.incidents() == [_as_persisted(i) for i in original.incidents()]
    assert sorted(g.id for g in restored.held()) == sorted(g.id for g in original.held())
    # And they decide the rest of the stream, and the sweeps after it, the same way
    for signal in signals[cut:]:
        assert _summary(restored.ingest(signal)) == _summary(original.ingest(signal))
    for seconds in (600, 3000, 9000):
        assert [_summary(o) for o in restored.tick(at(seconds))] == [_summary(o) for o in original.tick(at(seconds))]
    assert restored.to_state() == original.to_state()


def test_state_keeps_merged_incidents_on_record() -> None:
    e = CorrelationEngine(CATALOG)
    for signal in _stream()[:4]:
        e.ingest(signal)
    restored = CorrelationEngine.from_state(CATALOG, json.loads(json.dumps(e.to_state())))
    merged = [i for i in restored.incidents() if i.merged_into]
    assert len(merged) == 1 and merged[0].signal_ids == ["cache"]


def test_state_stays_bounded_over_a_long_stream() -> None:
    # Given one unrelated critical every 90 seconds for 10 hours, each service alerting every 4.5 minutes
    config = CorrelationConfig(window_s=300, expire_factor=2, max_group_members=20)
    e = CorrelationEngine(CATALOG, config)
    services = ["db", "queue", "ledger"]
    for i in range(400):
        e.ingest(alert(f"s{i}", i * 90, service=services[i % 3], severity="critical", fp=f"fp{i}"))
    # Then each service is one long incident, remembered compactly, and counted in full
    incidents = e.incidents()
    assert len(incidents) == 3
    assert all(len(i.signal_ids) <= 20 and i.signal_count >= 130 for i in incidents)
    assert len(json.dumps(e.to_state())) < 40_000
    # and a quiet estate forgets everything after the horizon
    e.tick(at(400 * 90 + 601))
    assert e.to_state()["groups"] == []


def test_foreign_state_is_rejected_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="correlation-state@1"):
        CorrelationEngine.from_state(CATALOG, {"format": "something-else", "groups": []})
    assert CorrelationEngine.from_state(CATALOG, {}).incidents() == []


def test_an_opened_incident_persists_only_why_it_opened() -> None:
    # Given an incident that has taken in several alerts, each with its explanation
    engine = CorrelationEngine(CATALOG)
    for signal in _stream()[:4]:
        engine.ingest(signal)
    opened = [i for i in engine.incidents() if not i.merged_into]
    assert opened and len(opened[0].explanations) > 1
    # When its state is saved
    saved = {g["id"]: g for g in engine.to_state()["groups"]}
    # Then it keeps only the explanation of its opening: the others already went out in outcomes
    assert [row[1] for row in saved[opened[0].id]["explanations"]] == [opened[0].explanations[0].rule]


def test_a_held_alert_that_fires_again_after_its_resolve_opens_when_its_duration_rule_is_met() -> None:
    # Given a held P1 warning that resolved at once (nothing firing: the group waits to be forgotten)
    engine = CorrelationEngine(CATALOG)
    held = engine.ingest(alert("w", 0, host="host-a", severity="warning", fp="fp-w"))
    engine.ingest(alert("w-ok", 0, service="gateway", status="resolved", fp="fp-w"))
    assert held.held and not engine.tick(at(60))
    # When the same alert fires again five minutes later, past the P1 rule's 300 s
    engine.ingest(alert("w-again", 301, severity="warning", fp="fp-w", duplicate_of="w"))
    # Then the next sweep opens it, as a restored engine would, not at the group's forget time
    opened = [o for o in engine.tick(at(302)) if o.opened]
    assert [o.explanation.rule for o in opened if o.explanation] == ["open"]
    assert opened[0].opened == [engine.group_of("w")]
