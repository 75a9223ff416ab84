"""Grouping rules for real alert storms: startsAt firings, silence, bursts (docs/correlation.md)."""

from __future__ import annotations

from correlation_fixtures import CATALOG, alert

from sre_copilot.correlation import CorrelationConfig, CorrelationEngine
from sre_copilot.domain.signal import Signal


def engine(**config: object) -> CorrelationEngine:
    return CorrelationEngine(CATALOG, CorrelationConfig.model_validate(config) if config else None)


def _am(signal: Signal) -> Signal:
    return signal.model_copy(update={"source": "alertmanager"})


def test_a_new_startsat_of_a_still_firing_alertmanager_alert_is_not_a_renotification() -> None:
    # Given an incident holding an Alertmanager alert that never resolves
    e = engine(quiet_s=None)
    first = e.ingest(_am(alert("a1", 0, service="api", severity="critical", fp="api-5xx")))
    # When the same fingerprint fires with a new start 15 minutes later (past the window)
    again = e.ingest(_am(alert("a2", 900, service="api", severity="critical", fp="api-5xx")))
    # Then it is a new firing and opens its own incident
    assert again.incident_id and again.incident_id != first.incident_id


def test_a_group_that_has_gone_quiet_stops_absorbing_related_alerts() -> None:
    # Given an incident whose last alert was 5.5 minutes ago (no resolve ever came)
    e = engine(quiet_s=300)
    first = e.ingest(alert("db", 0, service="db", severity="critical"))
    # When an alert on a caller arrives after the silence, still inside the 8-minute window
    later = e.ingest(alert("api", 330, service="api", severity="critical"))
    # Then it does not join the quiet incident
    assert later.incident_id != first.incident_id
    # And with the silence off it would have joined by the graph
    e2 = engine(quiet_s=None)
    first2 = e2.ingest(alert("db", 0, service="db", severity="critical"))
    assert e2.ingest(alert("api", 330, service="api", severity="critical")).incident_id == first2.incident_id


def test_a_steady_group_goes_quiet_after_three_times_its_longest_pause() -> None:
    # Given a storm incident: 12 alerts on db at most 10 s apart
    e = engine()
    opened = [e.ingest(alert(f"s{i}", 10 * i, service="db", severity="critical", alertname=f"M{i}"))
              for i in range(12)]
    incident = opened[0].incident_id
    # When a related alert starts 150 s after the last one (over max(120, 3 x 10) s, under quiet_s)
    late = e.ingest(alert("late", 110 + 150, service="api", severity="critical"))
    # Then the storm is over and the alert stands alone
    assert incident and late.incident_id != incident


def test_a_warning_with_no_link_joins_a_young_storm_starting_around_it() -> None:
    # Given an open incident of several alerts on db
    e = engine()
    first = e.ingest(alert("d1", 0, service="db", severity="critical"))
    e.ingest(alert("d2", 5, service="db", severity="critical", alertname="Other"))
    # When a warning on an unrelated service starts 20 s later
    lone = e.ingest(alert("q", 25, service="queue"))
    # Then it joins by burst; a critical there would open its own incident
    assert lone.incident_id == first.incident_id and lone.explanation is not None
    assert lone.explanation.rule == "burst"
    critical = e.ingest(alert("q2", 30, service="billing", severity="critical"))
    assert critical.incident_id != first.incident_id


def test_a_warning_with_no_link_joins_no_storm_while_two_are_under_way() -> None:
    # Given two young incidents in progress on services with no link between them
    e = engine()
    db = e.ingest(alert("d1", 0, service="db", severity="critical")).incident_id
    e.ingest(alert("d2", 5, service="db", severity="critical", alertname="Other"))
    ledger = e.ingest(alert("l1", 10, service="ledger", severity="critical")).incident_id
    e.ingest(alert("l2", 12, service="ledger", severity="critical", alertname="Other"))
    assert db and ledger and db != ledger
    # When a warning on a third unrelated service starts 18 s after the last of them
    lone = e.ingest(alert("q", 30, service="queue"))
    # Then its timing cannot say which fault it belongs to (if either): it joins neither
    assert lone.incident_id not in (db, ledger)
    assert lone.explanation is None or lone.explanation.rule != "burst"


def test_bursts_join_again_once_the_other_storm_has_gone_quiet() -> None:
    # Given an incident on ledger whose alerts stopped 6 minutes ago, and a new storm on db
    e = engine()
    e.ingest(alert("l1", 0, service="ledger", severity="critical"))
    e.ingest(alert("l2", 5, service="ledger", severity="critical", alertname="Other"))
    db = e.ingest(alert("d1", 365, service="db", severity="critical")).incident_id
    e.ingest(alert("d2", 370, service="db", severity="critical", alertname="Other"))
    # When a warning with no link starts 20 s into the db storm
    lone = e.ingest(alert("q", 390, service="queue"))
    # Then db is the one fault under way, and the warning joins it by burst
    assert lone.incident_id == db and lone.explanation is not None and lone.explanation.rule == "burst"
