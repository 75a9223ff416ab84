"""Simulated clock: replay sets it to each delivery's time, so hours of incident pass in seconds."""

from __future__ import annotations

import bisect
import threading
import time
from datetime import datetime, timedelta


class SimClock:
    def __init__(self, start: datetime) -> None:
        self._now = start
        self._lock = threading.Lock()
        # (wall, simulated) pairs, to place moto's wall-clock history events on the simulated axis;
        # walls never decrease (a wall clock stepping back is held), so they can be bisected.
        self.checkpoints: list[tuple[float, datetime]] = [(time.time(), start)]
        self._walls: list[float] = [self.checkpoints[0][0]]

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, at: datetime) -> None:
        with self._lock:
            if at > self._now:
                self._now = at
            wall = max(time.time(), self._walls[-1])
            self.checkpoints.append((wall, self._now))
            self._walls.append(wall)

    def advance(self, seconds: float) -> None:
        self.set(self.now() + timedelta(seconds=seconds))

    def simulated(self, wall: datetime) -> datetime:
        """Map a wall-clock timestamp (e.g. a history event) to simulated time: the simulated time
        of the last checkpoint at or before it. Simulated time moves only when it is set, never by
        the wall time a step took, so a replay's times are the same on any machine under any load
        (the local runtime sets the clock only between settled steps, so each step falls between
        the same two checkpoints every run)."""
        ts = wall.timestamp()
        with self._lock:
            # The last checkpoint at or before `ts` (the first one when `ts` precedes them all).
            return self.checkpoints[max(0, bisect.bisect_right(self._walls, ts) - 1)][1]
