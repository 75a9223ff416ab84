"""The re-analysis schedule: passes a minute apart at first, then further apart, up to a cap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sre_copilot.domain.reanalysis import next_pass_due, pass_interval_s

NOW = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


def test_the_gap_between_passes_doubles_from_a_minute_up_to_the_cap() -> None:
    # Given a cap of 8 minutes
    # When the least gap after each pass is asked for
    gaps = [pass_interval_s(passes, max_interval_s=480) for passes in range(0, 7)]
    # Then an incident never analysed waits for nothing, then 1, 2, 4, 8, 8, 8 minutes
    assert gaps == [0, 60, 120, 240, 480, 480, 480]


def test_a_cap_under_the_doubling_holds_and_a_minute_is_the_floor() -> None:
    # Given caps of 5 minutes and of less than the sweeper's minute
    # Then the gap stops at 5 minutes, and never goes under a minute
    assert [pass_interval_s(p, max_interval_s=300) for p in (3, 4, 9)] == [240, 300, 300]
    assert pass_interval_s(1, max_interval_s=10) == 60


def test_new_evidence_waits_for_the_schedule_after_the_last_pass() -> None:
    # Given an incident whose third pass started 100 s ago (next gap: 4 minutes)
    analysed_at = NOW - timedelta(seconds=100)
    # When evidence joins now
    due = next_pass_due(now=NOW, analysed_at=analysed_at, passes=3, max_interval_s=480)
    # Then it is analysed 4 minutes after that pass started, not now
    assert due == analysed_at + timedelta(minutes=4)


def test_evidence_long_after_the_last_pass_is_analysed_at_once_or_after_its_settle_wait() -> None:
    # Given an incident last analysed an hour ago
    analysed_at = NOW - timedelta(hours=1)
    # When new evidence joins, and when more alerts of known kinds join (a 300 s settle wait)
    # Then the first is due now and the second once it has settled
    assert next_pass_due(now=NOW, analysed_at=analysed_at, passes=6, max_interval_s=480) == NOW
    assert next_pass_due(now=NOW, analysed_at=analysed_at, passes=6, max_interval_s=480,
                         wait_s=300) == NOW + timedelta(seconds=300)


def test_an_incident_not_yet_analysed_is_due_at_once() -> None:
    # Given an incident whose first pass has not started
    # Then new evidence is due now (its first pass will take it in anyway)
    assert next_pass_due(now=NOW, analysed_at=None, passes=0, max_interval_s=480) == NOW
