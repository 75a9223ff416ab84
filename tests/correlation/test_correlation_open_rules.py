"""Open rules: at once, after N related alerts, after a duration; background and silenced alerts never open."""

from __future__ import annotations

from correlation_fixtures import CATALOG, alert, at

from sre_copilot.correlation import CorrelationConfig, CorrelationEngine, OpenRule
from sre_copilot.domain.types import Priority


def engine(*rules: OpenRule, **config: object) -> CorrelationEngine:
    if rules:
        config["open_rules"] = list(rules)
    return CorrelationEngine(CATALOG, CorrelationConfig.model_validate(config))


def test_p0_opens_at_once() -> None:
    e = engine()
    outcome = e.ingest(alert("db", 0, service="db", severity="critical"))
    assert outcome.opened == [outcome.incident_id] and not outcome.held
    assert outcome.explanation is not None and outcome.explanation.rule == "open"
    assert "P0" in outcome.explanation.evidence
    assert e.incidents()[0].priority is Priority.P0


def test_critical_on_a_tier_2_service_is_p0_and_opens_at_once() -> None:
    outcome = engine().ingest(alert("api", 0, service="api", severity="critical"))
    assert outcome.opened and outcome.incident_id


def test_lone_warning_is_held_waiting_for_corroboration() -> None:
    e = engine()
    outcome = e.ingest(alert("q", 0, service="queue"))
    assert outcome.held and outcome.incident_id is None and not outcome.opened
    assert outcome.explanation is not None and outcome.explanation.rule == "held"
    assert "2 related alerts" in outcome.explanation.evidence
    assert e.incidents() == [] and [g.signal_ids for g in e.held()] == [["q"]]


def test_second_related_warning_opens_and_releases_the_held_one() -> None:
    e = engine()
    e.ingest(alert("worker", 0, service="worker"))
    outcome = e.ingest(alert("queue", 60, service="queue"))
    assert outcome.opened == [outcome.incident_id]
    assert outcome.released == {"worker": outcome.incident_id}
    [incident] = e.incidents()
    assert incident.explanations[0].rule == "open"
    assert "2 related alerts" in incident.explanations[0].evidence
    assert incident.priority is Priority.P1


def test_repeats_of_one_alert_are_not_corroboration() -> None:
    e = engine()
    e.ingest(alert("w1", 0, service="worker"))
    repeat = e.ingest(alert("w1-again", 30, service="worker", fp="fp-w1", duplicate_of="w1"))
    assert repeat.held and not repeat.opened


def test_unrelated_warnings_do_not_corroborate_each_other() -> None:
    e = engine()
    e.ingest(alert("queue", 0, service="queue"))
    outcome = e.ingest(alert("ledger", 30, service="ledger"))
    assert outcome.held and len(e.held()) == 2


def test_n_signals_rule_waits_for_the_configured_count() -> None:
    e = engine(OpenRule(priority=Priority.P1, min_signals=3, within_s=600))
    assert e.ingest(alert("a", 0, service="api")).held
    assert e.ingest(alert("b", 30, service="web")).held
    third = e.ingest(alert("c", 60, service="db", severity="warning"))
    assert third.opened and set(third.released) == {"a", "b"}


def test_corroboration_must_fall_within_the_rule_duration() -> None:
    e = engine(OpenRule(priority=Priority.P1, min_signals=2, within_s=60))
    e.ingest(alert("a", 0, service="api"))
    late = e.ingest(alert("b", 120, service="web"))  # related, inside the window, outside the rule's 60s
    assert late.held
    third = e.ingest(alert("c", 150, service="mobile"))
    assert third.opened  # b and c fired 30s apart


def test_duration_rule_opens_a_held_group_from_tick() -> None:
    # Given a P1 rule that also opens after 5 minutes of firing
    e = engine(OpenRule(priority=Priority.P1, min_signals=2, after_s=300))
    e.ingest(alert("q", 0, service="queue"))
    # When the sweeper ticks before and after the duration
    assert e.tick(at(200)) == []
    [outcome] = e.tick(at(301))
    # Then the group opens, reported against its first alert
    assert outcome.signal_id == "q" and outcome.opened == [outcome.incident_id]
    assert outcome.explanation is not None and "still firing" in outcome.explanation.evidence
    assert [i.id for i in e.incidents()] == [outcome.incident_id]
    assert e.tick(at(400)) == []


def test_duration_rule_found_by_ingest_is_reported_by_the_next_tick() -> None:
    e = engine(OpenRule(priority=Priority.P1, min_signals=2, after_s=300))
    e.ingest(alert("q", 0, service="queue"))
    e.ingest(alert("unrelated", 400, service="ledger"))  # time moves on past the duration
    outcomes = e.tick(at(401))
    assert [o.signal_id for o in outcomes] == ["q"]


def test_next_tick_is_when_the_duration_rule_or_the_idle_horizon_comes_due() -> None:
    # Given a P1 rule that opens after 5 minutes of firing, and no group yet
    e = engine(OpenRule(priority=Priority.P1, min_signals=2, after_s=300))
    assert e.next_tick_at() is None
    # When a warning is held at t=0
    e.ingest(alert("q", 0, service="queue"))
    # Then the next tick with work is the rule's 5 minutes, and ticking before it changes nothing
    assert e.next_tick_at() == at(300).timestamp()
    before = e.to_state()
    assert e.tick(at(299)) == [] and e.to_state() == before
    # And once the group opens, the next work is forgetting it after the idle horizon
    [opened] = e.tick(at(301))
    assert opened.opened
    assert e.next_tick_at() == at(0).timestamp() + e.config.horizon_s


def test_next_tick_is_at_once_while_ingest_left_an_opening_for_tick() -> None:
    e = engine(OpenRule(priority=Priority.P1, min_signals=2, after_s=300))
    e.ingest(alert("q", 0, service="queue"))
    e.ingest(alert("unrelated", 400, service="ledger"))  # ingest found q's duration met
    assert e.next_tick_at() == at(400).timestamp()


def test_held_alert_that_resolves_never_opens() -> None:
    e = engine(OpenRule(priority=Priority.P1, min_signals=2, after_s=300))
    e.ingest(alert("q", 0, service="queue", fp="queue-lag"))
    resolved = e.ingest(alert("q-ok", 100, service="queue", fp="queue-lag", status="resolved"))
    assert resolved.incident_id is None
    # It is remembered (for a re-fire) until a window past its rule's time, then forgotten
    assert e.tick(at(400)) == []
    assert e.tick(at(300 + e.config.window_s + 1)) == [] and e.held() == []


def test_held_alert_is_forgotten_after_the_window() -> None:
    e = engine(window_s=300)
    e.ingest(alert("q", 0, service="queue"))
    e.tick(at(301))
    assert e.held() == []
    # a related warning after that starts a new held group instead of opening
    assert e.ingest(alert("w", 310, service="worker")).held


def test_background_alerts_never_open_or_join() -> None:
    e = engine()
    incident = e.ingest(alert("db", 0, service="db", severity="critical"))
    noise = e.ingest(alert("gc", 10, service="db", severity="critical", background=True))
    assert noise.incident_id is None and not noise.opened and not noise.held and noise.joined is None
    assert noise.explanation is not None and noise.explanation.rule == "background"
    assert "gc" not in e.incidents()[0].signal_ids
    assert incident.incident_id


def test_info_severity_is_background_even_without_the_flag() -> None:
    e = engine()
    outcome = e.ingest(alert("info", 0, service="db", severity="info"))
    assert outcome.incident_id is None and outcome.explanation is not None
    assert outcome.explanation.rule == "background"


def test_background_alerts_never_corroborate() -> None:
    e = engine()
    e.ingest(alert("w", 0, service="worker"))
    e.ingest(alert("bg", 10, service="queue", background=True))
    assert e.incidents() == []


def test_silenced_alerts_never_open_or_join() -> None:
    e = engine()
    e.ingest(alert("db", 0, service="db", severity="critical"))
    outcome = e.ingest(alert("s", 5, service="db", severity="critical", suppressed_by="silence-7"))
    assert outcome.incident_id is None and not outcome.opened
    assert outcome.explanation is not None and "silence-7" in outcome.explanation.evidence
    lone = engine().ingest(alert("s2", 0, service="db", severity="critical", suppressed_by="silence-7"))
    assert lone.incident_id is None and not lone.opened


def test_priority_is_the_highest_of_the_members() -> None:
    e = engine()
    e.ingest(alert("w", 0, service="web"))
    e.ingest(alert("a", 20, service="api"))
    e.ingest(alert("db", 40, service="db", severity="critical"))
    [incident] = e.incidents()
    assert incident.priority is Priority.P0


def test_lower_priorities_follow_their_own_rules() -> None:
    e = engine()
    assert e.ingest(alert("a", 0, service="api", priority="P2")).held
    assert e.ingest(alert("b", 30, service="web", priority="P3")).opened  # P2 rule: 2 related alerts
    f = engine()
    f.ingest(alert("a", 0, service="api", priority="P3"))
    assert f.ingest(alert("b", 30, service="web", priority="P3")).held
    assert f.ingest(alert("c", 60, service="db", priority="P3")).opened  # P3 rule: 3 related alerts


def test_priority_without_a_rule_never_opens_on_its_own() -> None:
    e = engine(OpenRule(priority=Priority.P0, min_signals=1))
    outcome = e.ingest(alert("api", 0, service="api"))  # P1, no rule
    assert outcome.held and "never opens on its own" in (outcome.explanation.evidence if outcome.explanation else "")
    assert e.ingest(alert("db", 30, service="db", severity="critical")).opened


def test_config_validation_rejects_duplicate_rules_and_unreachable_durations() -> None:
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="more than one rule for P2"):
        CorrelationConfig(open_rules=[OpenRule(priority=Priority.P2), OpenRule(priority=Priority.P2)])
    with pytest.raises(ValidationError, match="expire_factor"):
        CorrelationConfig(window_s=60, expire_factor=2, open_rules=[OpenRule(priority=Priority.P1, after_s=600)])
    with pytest.raises(ValidationError):
        CorrelationConfig(window_s=0)
