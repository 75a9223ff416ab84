"""The simulated clock: wall-clock timestamps (moto's history events) placed on the simulated axis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sre_copilot.local import clock as clock_module
from sre_copilot.local.clock import SimClock

START = datetime(2026, 5, 1, 8, tzinfo=UTC)


def _wall(seconds: float) -> datetime:
    return datetime.fromtimestamp(1_000_000 + seconds, tz=UTC)


def test_wall_times_map_to_the_simulated_time_of_the_last_checkpoint_before_them(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a clock created at wall 0, moved an hour on at wall 10, held at wall 20, moved on at
    # wall 30, and set at wall 25 by a wall clock that stepped back
    walls = iter([0.0, 10.0, 20.0, 30.0, 25.0])
    monkeypatch.setattr(clock_module.time, "time", lambda: 1_000_000 + next(walls))
    sim = SimClock(START)
    sim.set(START + timedelta(hours=1))
    sim.set(START + timedelta(minutes=30))  # earlier than now: time holds, the checkpoint still counts
    sim.set(START + timedelta(hours=2))
    sim.set(START + timedelta(hours=3))
    # When wall timestamps before, between and after the checkpoints are mapped
    mapped = {at: sim.simulated(_wall(at)) for at in (-5.0, 0.0, 4.0, 12.0, 20.0, 21.5, 30.0, 31.0)}
    # Then each lands on the last checkpoint at or before it; the wall time since adds nothing,
    # so a slow machine's replay shows the same simulated times as a fast one's
    assert mapped == {
        -5.0: START, 0.0: START, 4.0: START,
        12.0: START + timedelta(hours=1), 20.0: START + timedelta(hours=1),
        21.5: START + timedelta(hours=1),
        # the stepped-back set is held at wall 30, and is the later checkpoint there
        30.0: START + timedelta(hours=3), 31.0: START + timedelta(hours=3),
    }
