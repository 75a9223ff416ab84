"""When an incident's new evidence is next analysed: the re-analysis schedule.

Each analysis pass is a round of the incident workflow (assemble context to notify), billed per
state transition. During a storm evidence arrives all the time; analysing it every minute for the
whole storm costs a pass a minute and tells responders little after the first few. The gap between
passes therefore doubles with each pass, from a minute up to a cap: the first minutes of an incident
are analysed as often as before, a long one a few times an hour. Evidence is never dropped: a
pass takes in everything stored so far, and evidence after it is flagged for the next one.
"""

from __future__ import annotations

from datetime import datetime, timedelta

FIRST_INTERVAL_S = 60  # the sweeper's cadence: a flagged incident is woken at most once a minute


def pass_interval_s(passes: int, max_interval_s: int) -> int:
    """The least time between the start of pass `passes` and the next one: 1, 2, 4, ... minutes,
    at most `max_interval_s` (and never under a minute)."""
    if passes <= 0:
        return 0
    doubled = FIRST_INTERVAL_S * 2 ** min(passes - 1, 20)
    return max(FIRST_INTERVAL_S, min(doubled, max_interval_s))


def next_pass_due(*, now: datetime, analysed_at: datetime | None, passes: int, max_interval_s: int,
                  wait_s: int = 0) -> datetime:
    """When evidence that joins now is analysed: after `wait_s` (more alerts of known kinds settle
    first), and no sooner than the schedule allows after the last pass started."""
    due = now + timedelta(seconds=wait_s)
    if analysed_at is not None:
        due = max(due, analysed_at + timedelta(seconds=pass_interval_s(passes, max_interval_s)))
    return due
