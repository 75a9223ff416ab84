"""Capacity forecasts (disk, memory, connections) at 3, 6, 12 and 24 hours, with 80 % and 95 % intervals.

Method: a robust local linear trend. The slope is Theil-Sen's (the median of pairwise slopes, on at
most 64 evenly spaced points of the recent window, so it costs a few thousand float operations), the
level is the median residual at the window's end, and the noise scale is the MAD of the residuals.

Intervals widen with the horizon through the estimators' own uncertainty, not a least-squares formula
they do not follow: the forecast variance at h hours is
    s^2 * (1 + (pi/2) / k)  +  (h - x_L)^2 * se_slope^2
where (pi/2)/k is the variance of a median of k residuals (the level), x_L their mean time, and
se_slope comes from Sen's distribution-free confidence interval of the Theil-Sen slope (the ranks
(N -/+ z * sqrt(n(n-1)(2n+5)/18)) / 2 among the N pairwise slopes), on the points the slope used.
A backtest then checks that variance on the window itself: the model is refitted on its first two
thirds and forecasts the last third; if those errors are larger than the variance predicts
(autocorrelated noise, a bending trend), every interval is widened by that ratio (never narrowed).
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
MAX_INFLATION = 4.0  # a backtest on a handful of points must not blow the intervals up without bound


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


def _subsample(n: int) -> list[int]:
    step = max(1, n // MAX_PAIRS_POINTS)
    return list(range(0, n, step))


def _pair_slopes(xs: Sequence[float], ys: Sequence[float]) -> tuple[list[float], int]:
    idx = _subsample(len(xs))
    slopes = [(ys[j] - ys[i]) / (xs[j] - xs[i]) for a, i in enumerate(idx) for j in idx[a + 1:] if xs[j] != xs[i]]
    return slopes, len(idx)


def theil_sen(xs: Sequence[float], ys: Sequence[float]) -> float:
    slopes, _ = _pair_slopes(xs, ys)
    return median(slopes) if slopes else 0.0


def _sen_slope_se(slopes: list[float], points: int) -> float:
    """Standard error of the Theil-Sen slope from Sen's (1968) rank-based 95 % interval."""
    ordered = sorted(slopes)
    n_pairs = len(ordered)
    if n_pairs < 3:
        return 0.0
    c = Z95 * math.sqrt(points * (points - 1) * (2 * points + 5) / 18)
    lower = max(0, min(n_pairs - 1, math.floor((n_pairs - c) / 2)))
    upper = max(0, min(n_pairs - 1, math.ceil((n_pairs + c) / 2)))
    return (ordered[upper] - ordered[lower]) / (2 * Z95)


@dataclass(frozen=True)
class _Trend:
    slope: float
    level: float
    level_x: float  # mean time (hours, <= 0) of the residuals the level is the median of
    level_points: int
    s: float
    se_slope: float

    def value(self, h: float) -> float:
        return self.level + self.slope * h

    def sd(self, h: float) -> float:
        return math.sqrt(self.s ** 2 * (1 + (math.pi / 2) / self.level_points)
                         + (h - self.level_x) ** 2 * self.se_slope ** 2)


def _fit(xs: Sequence[float], ys: Sequence[float]) -> _Trend:
    slopes, used = _pair_slopes(xs, ys)
    slope = median(slopes) if slopes else 0.0
    residuals = [y - slope * x for x, y in zip(xs, ys, strict=True)]
    k = max(3, len(residuals) // 10)
    level = median(residuals[-k:])  # the trend line's value at the last point, robustly
    centre = median(residuals)
    s = max(MAD_TO_SIGMA * median(abs(r - centre) for r in residuals), 1e-9)
    return _Trend(slope=slope, level=level, level_x=sum(xs[-k:]) / k, level_points=k, s=s,
                  se_slope=_sen_slope_se(slopes, used))


def _backtest_inflation(xs: Sequence[float], ys: Sequence[float]) -> float:
    """How much wider the intervals must be: refit on the first two thirds, forecast the rest, and
    compare the standardised errors' spread with a unit normal's (robustly: median |z| / 0.6745)."""
    cut = (2 * len(xs)) // 3
    if cut < 6 or len(xs) - cut < 3:
        return 1.0
    origin = xs[cut - 1]
    head = _fit([x - origin for x in xs[:cut]], ys[:cut])
    z = [abs(y - head.value(x - origin)) / head.sd(x - origin) for x, y in zip(xs[cut:], ys[cut:], strict=True)]
    return min(MAX_INFLATION, max(1.0, median(z) / 0.6745))


def forecast(service: str, metric: str, points: Sequence[tuple[datetime, float]], *, threshold: float | None,
             horizons: Sequence[int] = HORIZONS_H, rising: bool = True) -> CapacityForecast | None:
    """Forecast from recent points (oldest first; e.g. the last 12 hours). None with under 6 points."""
    clean = [(t, float(v)) for t, v in points if math.isfinite(float(v))]
    if len(clean) < 6:
        return None
    t0 = clean[-1][0]
    xs = [(t - t0).total_seconds() / 3600 for t, _ in clean]  # hours, <= 0
    ys = [v for _, v in clean]
    trend = _fit(xs, ys)
    inflation = _backtest_inflation(xs, ys)
    slope, level = trend.slope, trend.level
    out = []
    for h in horizons:
        width = trend.sd(h) * inflation
        value = trend.value(h)
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
