"""Properties over random alert streams: outcomes tell the whole story, state round-trips, noise stays out."""

from __future__ import annotations

import json

from correlation_fixtures import CATALOG, alert, at
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sre_copilot.correlation import CorrelationEngine, CorrelationOutcome
from sre_copilot.correlation.offline import OutcomeLedger
from sre_copilot.domain.signal import Signal

SERVICES = [s.name for s in CATALOG.services]
INSTANCES = [(s.name, i.name) for s in CATALOG.services for i in s.instances]
HOSTS = ["host-a", "host-b", "host-c"]


@st.composite
def streams(draw: st.DrawFn) -> list[Signal]:
    count = draw(st.integers(min_value=1, max_value=40))
    t = 0.0
    out: list[Signal] = []
    for i in range(count):
        t += draw(st.floats(min_value=0, max_value=400))
        kind = draw(st.sampled_from(["service", "instance", "host", "resolve", "dup", "background", "silenced"]))
        severity = draw(st.sampled_from(["critical", "warning", "error"]))
        fp = f"fp{draw(st.integers(min_value=0, max_value=12))}"
        sid = f"s{i}"
        if kind == "instance":
            service, instance = draw(st.sampled_from(INSTANCES))
            out.append(alert(sid, t, service=service, instance=instance, severity=severity, fp=fp))
        elif kind == "host":
            out.append(alert(sid, t, host=draw(st.sampled_from(HOSTS)), severity=severity, fp=fp))
        elif kind == "resolve":
            out.append(alert(sid, t, service=draw(st.sampled_from(SERVICES)), status="resolved", fp=fp))
        elif kind == "dup" and out:
            original = draw(st.sampled_from(out))
            out.append(alert(sid, t, service=original.service, severity=original.severity.value,
                             fp=original.fingerprint, duplicate_of=original.id))
        else:
            out.append(alert(sid, t, service=draw(st.sampled_from(SERVICES)), severity=severity, fp=fp,
                             background=kind == "background", suppressed_by="sil" if kind == "silenced" else None))
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams(), st.integers(min_value=0, max_value=40))
def test_outcomes_match_engine_state_and_survive_a_round_trip(signals: list[Signal], cut: int) -> None:
    engine = CorrelationEngine(CATALOG)
    ledger = OutcomeLedger()
    explained: set[str] = set()
    for i, signal in enumerate(signals):
        if i == cut:
            engine = CorrelationEngine.from_state(CATALOG, json.loads(json.dumps(engine.to_state())))
        outcome = engine.ingest(signal)
        # an outcome is self-consistent
        if outcome.held:
            assert outcome.incident_id is None and not outcome.opened
        if outcome.joined:
            assert outcome.incident_id == outcome.joined
        assert set(outcome.opened) <= {outcome.incident_id}
        if signal.background or signal.suppressed_by:
            assert outcome.incident_id is None and not outcome.opened and not outcome.released
        ledger.apply(outcome)
        for result in engine.tick(signal.event_time):
            ledger.apply(result)
        # What the engine showed of its incidents so far (a saved incident keeps only why it opened)
        explained |= {x.signal_id for g in engine.incidents() for x in g.explanations}
    live = [g for g in engine.incidents() if not g.merged_into]
    seen: set[str] = set()
    for incident in live:
        # no signal sits in two incidents, and the outcomes told the caller exactly what the engine holds
        assert not seen & set(incident.signal_ids)
        seen |= set(incident.signal_ids)
        assert ledger.members.get(incident.id, set()) == set(incident.signal_ids)
        assert explained >= set(incident.signal_ids)
    quiet = engine.tick(at(10**6))
    assert all(o.opened for o in quiet) and engine.to_state()["groups"] == []


def _summary(outcome: CorrelationOutcome) -> tuple[object, ...]:
    return (outcome.signal_id, outcome.incident_id, tuple(outcome.opened), outcome.joined, outcome.held,
            outcome.explanation.rule if outcome.explanation else None, tuple(outcome.merged),
            tuple(outcome.resolution_proposed), tuple(sorted(outcome.released.items())))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(streams())
def test_an_engine_restored_before_every_alert_decides_as_one_kept_in_memory(signals: list[Signal]) -> None:
    # Given the same stream for an engine kept in memory and one restored from its saved state before
    # each alert (a correlate batch of one, every time: the queue may cut batches anywhere)
    live = CorrelationEngine(CATALOG)
    restored = CorrelationEngine(CATALOG)
    for signal in signals:
        restored = CorrelationEngine.from_state(CATALOG, json.loads(json.dumps(restored.to_state())))
        # Then every alert and every sweep is decided the same way by both
        assert _summary(restored.ingest(signal)) == _summary(live.ingest(signal))
        assert [_summary(o) for o in restored.tick(signal.event_time)] == [
            _summary(o) for o in live.tick(signal.event_time)]
