"""No actionable alert is dropped (correlation/actionable.py, docs/correlation.md "Opening"), with the
default open rules: a lone P1 opens when its group wait ends, a P2 after fifteen minutes of firing
or when it fires again, and info or silenced alerts never; a P1 that clears in its wait opens nothing."""

from __future__ import annotations

from correlation_fixtures import CATALOG, alert, at

from sre_copilot.correlation import CorrelationConfig, CorrelationEngine
from sre_copilot.correlation.config import GROUP_WAIT_S, P2_PERSISTENCE_S


def _engine() -> CorrelationEngine:
    return CorrelationEngine(CATALOG, CorrelationConfig())


def test_a_lone_p1_still_firing_when_its_group_wait_ends_opens_its_own_incident() -> None:
    # Given one error alert (P1) that nothing else joins
    e = _engine()
    first = e.ingest(alert("lone", 0, service="queue", severity="error", fp="queue-lag"))
    assert first.held
    # When the sweeper ticks before and after the group wait
    assert e.tick(at(GROUP_WAIT_S - 1)) == []
    [opened] = e.tick(at(GROUP_WAIT_S + 1))
    # Then it opens an incident of its own, saying why
    assert opened.signal_id == "lone" and opened.opened == [opened.incident_id]
    assert opened.explanation is not None and "still firing" in opened.explanation.evidence


def test_a_lone_p1_that_clears_inside_its_group_wait_opens_nothing() -> None:
    # Given one warning (P1) that resolves a minute later and never fires again
    e = _engine()
    e.ingest(alert("blip", 0, service="queue", fp="queue-lag"))
    resolved = e.ingest(alert("blip-ok", 60, service="queue", fp="queue-lag", status="resolved"))
    # When time passes well beyond the group wait and the memory of the group
    outcomes = [o for t in range(60, 3600, 60) for o in e.tick(at(t))]
    # Then nothing opened, and the engine forgot it
    assert resolved.incident_id is None and outcomes == [] and e.incidents() == [] and e.held() == []


def test_a_p2_opens_only_once_it_has_fired_for_the_persistence_time() -> None:
    # Given one P2 alert that keeps firing
    e = _engine()
    e.ingest(alert("slow", 0, service="queue", priority="P2", fp="slow-disk"))
    # When the sweeper ticks every minute
    early = [o for t in range(60, P2_PERSISTENCE_S, 60) for o in e.tick(at(t))]
    late = e.tick(at(P2_PERSISTENCE_S + 1))
    # Then it stays held for fifteen minutes, and opens once that time has passed
    assert early == [] and P2_PERSISTENCE_S == 15 * 60
    assert [o.signal_id for o in late] == ["slow"] and late[0].opened


def test_a_p2_that_cleared_and_fires_again_opens_when_its_persistence_time_ends() -> None:
    # Given a P2 alert that fired, cleared after a minute, and fired again ten minutes in
    e = _engine()
    e.ingest(alert("flap-1", 0, service="queue", priority="P2", fp="flapping"))
    e.ingest(alert("flap-1-ok", 60, service="queue", priority="P2", fp="flapping", status="resolved"))
    assert [o for t in range(120, 600, 60) for o in e.tick(at(t))] == []
    again = e.ingest(alert("flap-2", 600, service="queue", priority="P2", fp="flapping"))
    assert again.held
    # When the sweeper ticks past fifteen minutes from its first firing
    early = [o for t in range(660, P2_PERSISTENCE_S, 60) for o in e.tick(at(t))]
    [opened] = e.tick(at(P2_PERSISTENCE_S + 1))
    # Then it opens then, with both firings
    assert early == [] and opened.opened
    [incident] = e.incidents()
    assert {"flap-1", "flap-2"} <= set(incident.signal_ids)


def test_a_p2_that_cleared_and_fires_again_after_its_persistence_time_opens_at_once() -> None:
    # Given a P2 alert that fired, cleared after a minute, and stayed quiet through fifteen minutes of ticks
    e = _engine()
    e.ingest(alert("flap-1", 0, service="queue", priority="P2", fp="flapping"))
    e.ingest(alert("flap-1-ok", 60, service="queue", priority="P2", fp="flapping", status="resolved"))
    assert [o for t in range(120, P2_PERSISTENCE_S + 60, 60) for o in e.tick(at(t))] == []
    # When the same alert fires again after the persistence time
    again = e.ingest(alert("flap-2", P2_PERSISTENCE_S + 90, service="queue", priority="P2", fp="flapping"))
    # Then it opens at once, holding both firings, and says why
    assert again.opened
    [incident] = e.incidents()
    assert {"flap-1", "flap-2"} <= set(incident.signal_ids)
    assert "fired again" in incident.explanations[0].evidence


def test_a_p2_that_cleared_and_stays_quiet_opens_nothing() -> None:
    e = _engine()
    e.ingest(alert("once", 0, service="queue", priority="P2", fp="once"))
    e.ingest(alert("once-ok", 60, service="queue", priority="P2", fp="once", status="resolved"))
    assert [o for t in range(120, 3600, 60) for o in e.tick(at(t))] == [] and e.held() == []


def test_background_and_silenced_alerts_never_open_however_long_they_fire() -> None:
    # Given an info alert and a silenced error alert that never resolve
    e = _engine()
    info = e.ingest(alert("gc", 0, service="api", severity="info"))
    silenced = e.ingest(alert("muted", 0, service="queue", severity="error", suppressed_by="maint-1"))
    # When an hour of ticks passes
    outcomes = [o for t in range(60, 3600, 60) for o in e.tick(at(t))]
    # Then neither opened an incident
    assert info.incident_id is None and silenced.incident_id is None
    assert outcomes == [] and e.incidents() == []
