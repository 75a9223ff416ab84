"""Seasonal baselines: per service and metric, an hour-of-week profile of robust statistics.

Built from a 30-day window (5-minute points: about 8,600 values), each of the week's 168 hours
keeps the median, the MAD (scaled to a standard deviation), the 5th and 95th percentiles and its
point count. Robust statistics let the past month's own incidents sit in the window without
widening the bands. A week has only 4-5 samples of each hour, so the noise scale of an hour is
floored by the series' overall residual scale (values minus their hour's median), which every
point informs. Stored as one small JSON document (about 5 KB) per series.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from statistics import median
from typing import Any

HOURS_PER_WEEK = 168
MAD_TO_SIGMA = 1.4826
WINDOW_DAYS = 30
BASELINE_FORMAT = 1


def hour_of_week(at: datetime) -> int:
    return at.weekday() * 24 + at.hour


def interpolate(profile: Sequence[float], at: datetime) -> float:
    """The hour-of-week profile at `at`, linear between the hours' centres (h:30).

    A step per hour would misplace every point of a rising or falling hour by up to half the
    hour's change: on a daily cycle of 50 % that bias is several times the noise, and it is
    autocorrelated, so it both widens the noise scale (missed spikes) and feeds the drift CUSUM
    (false alarms on clean series)."""
    position = hour_of_week(at) + (at.minute + at.second / 60) / 60 - 0.5
    low = math.floor(position)
    frac = position - low
    return profile[low % HOURS_PER_WEEK] * (1 - frac) + profile[(low + 1) % HOURS_PER_WEEK] * frac


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile of already sorted values (q in [0, 1])."""
    if not sorted_values:
        return math.nan
    position = (len(sorted_values) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


@dataclass
class SeasonalBaseline:
    service: str
    metric: str
    built_at: str
    days: float
    median: list[float]
    sigma: list[float]
    p05: list[float]
    p95: list[float]
    count: list[int]
    residual_sigma: float
    overall_median: float
    # How much a day's level moves from the day before's (robust sigma); 0 in baselines built before it.
    level_sigma: float = 0.0
    unit: str = "None"
    format: int = BASELINE_FORMAT
    extra: dict[str, Any] = field(default_factory=dict)

    def expected(self, at: datetime) -> tuple[float, float]:
        """(median, noise sigma) expected at `at`, interpolated between hour centres."""
        return interpolate(self.median, at), interpolate(self.sigma, at)

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        for key in ("median", "sigma", "p05", "p95"):
            doc[key] = [_compact(v) for v in doc[key]]
        doc["residual_sigma"] = _compact(self.residual_sigma)
        doc["overall_median"] = _compact(self.overall_median)
        doc["level_sigma"] = _compact(self.level_sigma)
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> SeasonalBaseline:
        return cls(**{k: v for k, v in doc.items() if k in cls.__dataclass_fields__})


def _compact(value: float) -> float:
    return float(f"{value:.6g}") if math.isfinite(value) else 0.0


def build_baseline(service: str, metric: str, points: Sequence[tuple[datetime, float]], now: datetime, *,
                   window_days: int = WINDOW_DAYS, unit: str = "None") -> SeasonalBaseline | None:
    """The seasonal baseline of the `window_days` before `now`; None without any usable point."""
    start = now - timedelta(days=window_days)
    usable = [(t, float(v)) for t, v in points if start <= t < now and math.isfinite(float(v))]
    if not usable:
        return None
    buckets: list[list[float]] = [[] for _ in range(HOURS_PER_WEEK)]
    for t, v in usable:
        buckets[hour_of_week(t)].append(v)
    overall = median(v for _, v in usable)
    # Hours without data borrow the same hour of the nearest day that has some, else the overall median.
    medians = [median(b) if b else math.nan for b in buckets]
    for h in range(HOURS_PER_WEEK):
        if math.isnan(medians[h]):
            near = [medians[(h + d * 24) % HOURS_PER_WEEK] for d in (1, -1, 2, -2, 3, -3)]
            medians[h] = next((m for m in near if not math.isnan(m)), overall)
    deviations: list[list[float]] = [[] for _ in range(HOURS_PER_WEEK)]
    for t, v in usable:
        deviations[hour_of_week(t)].append(abs(v - interpolate(medians, t)))
    residual_sigma = MAD_TO_SIGMA * median(d for bucket in deviations for d in bucket)
    floor = max(residual_sigma, 1e-9 + 1e-3 * abs(overall))
    sigmas, p05, p95 = [], [], []
    for h, values in enumerate(buckets):
        ordered = sorted(values)
        mad = MAD_TO_SIGMA * median(deviations[h]) if ordered else 0.0
        # Few points per hour: its own MAD is noisy, so it may widen the band but never narrow it
        # below the series' residual scale.
        sigmas.append(max(mad, floor))
        p05.append(percentile(ordered, 0.05) if ordered else medians[h] - 1.645 * floor)
        p95.append(percentile(ordered, 0.95) if ordered else medians[h] + 1.645 * floor)
    level_sigma = _day_to_day_level_sigma(usable, medians, residual_sigma)
    days = (max(t for t, _ in usable) - min(t for t, _ in usable)).total_seconds() / 86400
    return SeasonalBaseline(service=service, metric=metric, built_at=now.isoformat(), days=round(days, 2),
                            median=medians, sigma=sigmas, p05=p05, p95=p95, count=[len(b) for b in buckets],
                            residual_sigma=residual_sigma, overall_median=overall, level_sigma=level_sigma,
                            unit=unit)


def _day_to_day_level_sigma(usable: Sequence[tuple[datetime, float]], medians: Sequence[float],
                            fallback: float) -> float:
    """Robust sigma of the change in a day's level (its median residual) from the previous day's.

    The detector scores against the level of the 24 hours before, so this is the error it keeps
    on a clean day: one draw per day, shared by every point of the day. A CUSUM or a median over
    many points does not average it away, so a persistent-deviation threshold must include it."""
    by_day: dict[Any, list[float]] = {}
    for t, v in usable:
        by_day.setdefault(t.date(), []).append(v - interpolate(medians, t))
    full = {d: median(r) for d, r in by_day.items() if len(r) >= 144}  # half a day of 5-min points
    changes = [full[d] - full[d - timedelta(days=1)] for d in full if d - timedelta(days=1) in full]
    if len(changes) < 3:
        return fallback
    centre = median(changes)
    return MAD_TO_SIGMA * median(abs(c - centre) for c in changes)
