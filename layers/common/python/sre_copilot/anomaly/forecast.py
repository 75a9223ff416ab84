"""Capacity forecasts (disk, memory, connections) at 3, 6, 12 and 24 hours, with 80 % and 95 % intervals.

Method: a robust local linear trend. The slope is Theil-Sen's (the median of pairwise slopes, on at
most 64 evenly spaced points of the recent window, so it costs a few thousand float operations), the
level is the median residual at the window's end, and the noise scale is the MAD of the residuals.
Interval half-widths follow the ordinary least-squares prediction interval,
z * s * sqrt(1 + 1/n + (t - t_mean)^2 / Sxx), whose last term is the slope's own uncertainty.
Capacity metrics fill and drain roughly linearly over hours; seasonal models (Prophet, ETS) need tens
of MB of dependencies and seconds of cold start that a 5-minute Lambda cannot justify (they were not
benchmarked here). docs/anomaly-detection.md gives this method's measured error and interval coverage.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median

HORIZONS_H = (3, 6, 12, 24)
Z80, Z95 = 1.2816, 1.96
MAD_TO_SIGMA = 1.4826
MAX_PAIRS_POINTS = 64


@dataclass(frozen=True)
class HorizonForecast:
    hours: int
    value: float
    low80: float
    high80: float
    low95: float
    high95: float


@dataclass(frozen=True)
class CapacityForecast:
    service: str
    metric: str
    at: datetime
    level: float
    slope_per_h: float
    horizons: tuple[HorizonForecast, ...]
    threshold: float | None
    breach_at: datetime | None
    """When the point forecast crosses the threshold (None if not within the longest horizon)."""

    def breach_within(self, hours: float) -> bool:
        return self.breach_at is not None and (self.breach_at - self.at) <= timedelta(hours=hours)

    def describe(self) -> str:
        lines = [f"{self.metric} of {self.service} is {self.level:.4g}, trending {self.slope_per_h:+.3g}/h"]
        if self.breach_at is not None and self.threshold is not None:
            hours = (self.breach_at - self.at).total_seconds() / 3600
            lines.append(f"forecast to cross {self.threshold:.4g} in {hours:.1f} h ({self.breach_at.isoformat()})")
        lines += [f"+{h.hours}h: {h.value:.4g} (80% {h.low80:.4g}-{h.high80:.4g}, 95% {h.low95:.4g}-{h.high95:.4g})"
                  for h in self.horizons]
        return "; ".join(lines)


def theil_sen(xs: Sequence[float], ys: Sequence[float]) -> float:
    n = len(xs)
    step = max(1, n // MAX_PAIRS_POINTS)
    idx = list(range(0, n, step))
    slopes = [(ys[j] - ys[i]) / (xs[j] - xs[i]) for a, i in enumerate(idx) for j in idx[a + 1:] if xs[j] != xs[i]]
    return median(slopes) if slopes else 0.0


def forecast(service: str, metric: str, points: Sequence[tuple[datetime, float]], *, threshold: float | None,
             horizons: Sequence[int] = HORIZONS_H, rising: bool = True) -> CapacityForecast | None:
    """Forecast from recent points (oldest first; e.g. the last 12 hours). None with under 6 points."""
    clean = [(t, float(v)) for t, v in points if math.isfinite(float(v))]
    if len(clean) < 6:
        return None
    t0 = clean[-1][0]
    xs = [(t - t0).total_seconds() / 3600 for t, _ in clean]  # hours, <= 0
    ys = [v for _, v in clean]
    slope = theil_sen(xs, ys)
    residuals = [y - slope * x for x, y in zip(xs, ys, strict=True)]
    level = median(residuals[-max(3, len(residuals) // 10):])  # the trend line's value now, robustly
    spread = [abs(r - median(residuals)) for r in residuals]
    s = max(MAD_TO_SIGMA * median(spread), 1e-9)
    n = len(xs)
    mean_x = sum(xs) / n
    sxx = sum((x - mean_x) ** 2 for x in xs) or 1e-9
    out = []
    for h in horizons:
        width = s * math.sqrt(1 + 1 / n + (h - mean_x) ** 2 / sxx)
        value = level + slope * h
        out.append(HorizonForecast(hours=h, value=value, low80=value - Z80 * width, high80=value + Z80 * width,
                                   low95=value - Z95 * width, high95=value + Z95 * width))
    breach = None
    if threshold is not None:
        gap = threshold - level
        if (gap <= 0) if rising else (gap >= 0):
            breach = t0
        elif slope != 0 and (gap / slope) > 0 and gap / slope <= max(horizons):
            breach = t0 + timedelta(hours=gap / slope)
    return CapacityForecast(service=service, metric=metric, at=t0, level=level, slope_per_h=slope,
                            horizons=tuple(out), threshold=threshold, breach_at=breach)
