"""Incident lifecycle: the allowed moves, what each move records, and MTTA/MTTR."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sre_copilot.domain.incident import ALLOWED_TRANSITIONS, Incident, IncidentState
from sre_copilot.domain.types import Priority
from sre_copilot.errors import InvalidTransition

T0 = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
S = IncidentState


def _incident() -> Incident:
    return Incident.open(incident_id="inc-1", tenant_id="t", priority=Priority.P0, title="checkout 5xx",
                         service="checkout", at=T0, actor="copilot", reason="P0 opens at once")


def test_main_path_records_time_actor_and_reason() -> None:
    # Given a detected incident
    incident = _incident()
    # When it walks the main path
    path = [S.ACKNOWLEDGED, S.INVESTIGATING, S.MITIGATED, S.RESOLVED, S.LEARNED]
    for minutes, state in enumerate(path, 1):
        incident.transition(state, at=T0 + timedelta(minutes=minutes), actor=f"user{minutes}", reason=f"r{minutes}")
    # Then every step is on the timeline with its actor, reason and previous state
    assert [t.state for t in incident.timeline] == [S.DETECTED, *path]
    assert incident.timeline[2].previous is S.ACKNOWLEDGED and incident.timeline[2].actor == "user2"
    assert incident.mtta_seconds() == 60 and incident.mttr_seconds() == 240


def test_inconclusive_path_ends_learned() -> None:
    incident = _incident()
    incident.transition(S.INCONCLUSIVE, at=T0, actor="copilot", reason="all hypotheses below 0.3")
    incident.transition(S.LEARNED, at=T0, actor="copilot", reason="postmortem")
    assert incident.state is S.LEARNED and not incident.is_open


@pytest.mark.parametrize(("start", "target"), [
    (S.RESOLVED, S.DETECTED), (S.LEARNED, S.INVESTIGATING), (S.ACKNOWLEDGED, S.DETECTED),
    (S.INVESTIGATING, S.ACKNOWLEDGED), (S.DETECTED, S.LEARNED), (S.MITIGATED, S.LEARNED),
])
def test_disallowed_moves_raise_with_the_allowed_ones_named(start: IncidentState, target: IncidentState) -> None:
    # Given an incident in `start`
    incident = _incident()
    incident.state = start
    # When a disallowed move is attempted, Then it raises and names what is allowed
    with pytest.raises(InvalidTransition, match=f"cannot move from {start.value} to {target.value}"):
        incident.transition(target, at=T0, actor="x", reason="y")
    assert incident.state is start


def test_every_state_except_learned_has_a_way_forward_to_learned() -> None:
    for state in S:
        seen, frontier = {state}, [state]
        while frontier:
            for nxt in ALLOWED_TRANSITIONS[frontier.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    frontier.append(nxt)
        assert S.LEARNED in seen
