"""Simulated clock: replay sets it to each delivery's time, so hours of incident pass in seconds."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta


class SimClock:
    def __init__(self, start: datetime) -> None:
        self._now = start
        self._lock = threading.Lock()
        # (wall, simulated) pairs, to place moto's wall-clock history events on the simulated axis.
        self.checkpoints: list[tuple[float, datetime]] = [(time.time(), start)]

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, at: datetime) -> None:
        with self._lock:
            if at > self._now:
                self._now = at
            self.checkpoints.append((time.time(), self._now))

    def advance(self, seconds: float) -> None:
        self.set(self.now() + timedelta(seconds=seconds))

    def simulated(self, wall: datetime) -> datetime:
        """Map a wall-clock timestamp (e.g. a history event) to simulated time."""
        ts = wall.timestamp()
        best = self.checkpoints[0]
        for checkpoint in self.checkpoints:
            if checkpoint[0] <= ts:
                best = checkpoint
            else:
                break
        return best[1] + timedelta(seconds=max(0.0, ts - best[0]))
