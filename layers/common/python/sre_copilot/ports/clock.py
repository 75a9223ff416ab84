"""Time source. Lambda uses the system clock; the local runtime swaps in a simulated clock."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


_clock: Clock = SystemClock()


def current_clock() -> Clock:
    return _clock


def use_clock(clock: Clock) -> None:
    """Install a process-wide clock (the local runtime's simulated clock)."""
    global _clock
    _clock = clock


def now() -> datetime:
    return _clock.now()
