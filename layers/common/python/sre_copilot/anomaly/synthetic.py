"""Synthetic seasonal metric series with labelled anomalies, for `make bench` and tests.

A series is a daily cycle plus a weekly one (quieter weekends), Gaussian noise with occasional
heavy-tailed outliers, and optionally one injected anomaly: a spike (a short burst), a level shift
(a step that stays) or a slow drift (a ramp over hours). The label says where the anomaly is.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

STEP = timedelta(minutes=5)


@dataclass(frozen=True)
class Injected:
    kind: str  # none, spike, level_shift, drift
    start: datetime | None
    end: datetime | None


def seasonal_series(rng: random.Random, start: datetime, days: int, *, base: float, daily_amp: float,
                    weekly_amp: float, noise: float, outlier_rate: float = 0.002) -> list[tuple[datetime, float]]:
    points = []
    phase = rng.uniform(0, 2 * math.pi)
    harmonic = rng.uniform(0.0, 0.4)  # a second daily peak: real traffic is not a pure sine
    trend = rng.uniform(-0.1, 0.1)  # the month's growth or decline, as a fraction of base
    n = int(days * 24 * 3600 / STEP.total_seconds())
    day_level = 1.0
    for i in range(n):
        at = start + i * STEP
        if at.hour == 0 and at.minute == 0:
            day_level = 1.0 + rng.gauss(0, 0.02)  # one day busier than another
        hours = at.hour + at.minute / 60
        shape = math.sin(2 * math.pi * hours / 24 + phase) + harmonic * math.sin(4 * math.pi * hours / 24 + phase)
        daily = daily_amp * shape
        weekly = -weekly_amp if at.weekday() >= 5 else 0.0
        drift = base * trend * i / n
        value = (base + daily + weekly + drift) * day_level + rng.gauss(0, noise)
        if rng.random() < outlier_rate:  # lone outliers: never persistent, must never alert
            value += rng.choice((-1, 1)) * rng.uniform(4, 8) * noise
        points.append((at, value))
    return points


def inject(rng: random.Random, points: list[tuple[datetime, float]], kind: str, *, after: datetime,
           magnitude: float) -> tuple[list[tuple[datetime, float]], Injected]:
    """Add one anomaly of `kind` at a random time after `after`; `magnitude` in the metric's unit."""
    if kind == "none":
        return points, Injected("none", None, None)
    candidates = [t for t, _ in points if t >= after + timedelta(hours=1)]
    begin = candidates[rng.randrange(0, max(1, len(candidates) - int(timedelta(hours=8) / STEP)))]
    if kind == "spike":
        end = begin + timedelta(minutes=rng.choice((30, 45, 60)))
        shape = lambda t: magnitude if begin <= t < end else 0.0  # noqa: E731
    elif kind == "level_shift":
        end = points[-1][0] + STEP
        shape = lambda t: magnitude if t >= begin else 0.0  # noqa: E731
    elif kind == "drift":
        ramp = timedelta(hours=6)
        end = points[-1][0] + STEP
        shape = lambda t: 0.0 if t < begin else magnitude * min(1.0, (t - begin) / ramp)  # noqa: E731
    else:
        raise ValueError(f"unknown anomaly kind {kind}")
    return [(t, v + shape(t)) for t, v in points], Injected(kind, begin, end)
