"""Real-time anomaly scoring against a seasonal baseline, with three gates (seed 001, issue #16).

A point's deviation is its robust z-score: (value - the hour-of-week median) / the hour's noise
sigma. An anomaly is raised only when all three gates pass:

1. statistically large: the recent points sit beyond `deviation_threshold` robust sigmas from the
   baseline, or (for slow drifts, which never jump) a one-sided CUSUM of the z-scores passes `cusum_h`
   and the deviation passes `drift_threshold`. Both thresholds are derived from a false-alarm budget
   per series-day (`false_alarms_per_day`): 288 scores a day are 288 tests, and a day's level error
   is shared by all of them;
2. persistent: `persist` of the last `window` points agree (same direction), so one odd sample
   never pages anyone; the CUSUM is persistent by construction and must also hold for `persist` points;
3. material: the deviation matters in absolute terms, at least `min_abs_change` in the metric's
   unit and `min_rel_change` of the baseline median, so a 4-sigma move of a flat series is ignored.

Before any of that, the baseline must hold `min_days` days of data (seed 001: a clear baseline).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from statistics import NormalDist, median

from sre_copilot.anomaly.baseline import SeasonalBaseline, hour_of_week


@dataclass(frozen=True)
class DetectorConfig:
    z_threshold: float = 3.0  # floor under the calibrated run threshold (see `deviation_threshold`)
    window: int = 5
    persist: int = 4
    cusum_k: float = 1.5
    cusum_h: float = 24.0
    drift_z: float = 2.5
    min_abs_change: float = 0.0
    min_rel_change: float = 0.2
    min_days: float = 7.0
    direction: str = "both"  # up, down or both: error rates and latency only matter going up
    # Multiple testing: a clean series is scored `points_per_day` times a day; persistent-deviation
    # thresholds are set so that it raises a drift at most this often (see `drift_threshold`).
    false_alarms_per_day: float = 0.01
    points_per_day: int = 288


@dataclass(frozen=True)
class Anomaly:
    service: str
    metric: str
    kind: str  # "deviation" (spike or level shift) or "drift"
    direction: str
    at: datetime
    observed: float
    expected: float
    sigma: float
    z: float
    p05: float
    p95: float
    since: datetime

    @property
    def score(self) -> float:
        """0-1 anomaly score: 0.5 at 4 robust sigma, 0.75 at 8, approaching 1 beyond."""
        return round(1.0 - 0.5 ** (abs(self.z) / 4.0), 3)

    def describe(self) -> str:
        word = "above" if self.direction == "up" else "below"
        return (f"{self.metric} of {self.service} is {self.observed:.4g}, {abs(self.z):.1f} robust sigma {word} "
                f"its baseline {self.expected:.4g} for this hour of the week (usual range "
                f"{self.p05:.4g}-{self.p95:.4g}); {self.kind} since {self.since.isoformat()}")


def zscores(baseline: SeasonalBaseline, points: Sequence[tuple[datetime, float]], offset: float = 0.0) -> list[float]:
    out = []
    for at, value in points:
        expected, sigma = baseline.expected(at)
        out.append((value - expected - offset) / sigma if sigma > 0 else 0.0)
    return out


def level_offset(baseline: SeasonalBaseline, reference: Sequence[tuple[datetime, float]]) -> float:
    """How far the series sat from its baseline just before the scored window (median residual).

    Growth over the month and busier or quieter days move the whole level; scored against that
    level, only what changed since the reference period stands out."""
    if not reference:
        return 0.0
    return median(value - baseline.expected(at)[0] for at, value in reference)


DEFAULT_CONFIG = DetectorConfig()


def detect(baseline: SeasonalBaseline, points: Sequence[tuple[datetime, float]],
           config: DetectorConfig = DEFAULT_CONFIG,
           reference: Sequence[tuple[datetime, float]] = ()) -> Anomaly | None:
    """The anomaly at the end of `points` (oldest first, e.g. the last 6 hours), or None.
    `reference` (e.g. the 24 hours before `points`) sets the current level; see `level_offset`."""
    if baseline.days < config.min_days or len(points) < config.window:
        return None
    offset = level_offset(baseline, reference)
    z = zscores(baseline, points, offset)
    found = _deviation(z, deviation_threshold(baseline, baseline.expected(points[-1][0])[1], config),
                       config) or _drift(z, config)
    if found is None:
        return None
    kind, sign, start = found
    direction = "up" if sign > 0 else "down"
    if config.direction != "both" and direction != config.direction:
        return None
    recent = points[-config.persist:]
    observed = median(v for _, v in recent)
    at = points[-1][0]
    expected, sigma = baseline.expected(at)
    expected_recent = median(baseline.expected(t)[0] for t, _ in recent) + offset
    change = abs(observed - expected_recent)
    if kind == "drift" and change < drift_threshold(baseline, sigma, config):
        return None  # gate 1 for drifts: within what a clean day's level and noise reach
    if change < config.min_abs_change or change < config.min_rel_change * abs(expected_recent):
        return None  # gate 3: statistically clear, but too small to matter
    hour = hour_of_week(at)
    return Anomaly(service=baseline.service, metric=baseline.metric, kind=kind, direction=direction, at=at,
                   observed=observed, expected=expected + offset, sigma=sigma, z=round(median(z[-config.persist:]), 2),
                   p05=baseline.p05[hour], p95=baseline.p95[hour], since=points[start][0])


@lru_cache(maxsize=16)
def _budget_z(config: DetectorConfig) -> tuple[float, float, float]:
    """(z_level, z_point, z_run) for the daily false-alarm budget, half to the level, half to the noise:
    the level's two-sided tail once a day; one point's Sidak tail over `points_per_day` tests; and
    the per-point tail that makes `points_per_day` tests of "`persist` of `window`" spend it."""
    alpha = config.false_alarms_per_day / 2
    z_level = NormalDist().inv_cdf(1 - alpha / 2)
    per_test = 1 - (1 - alpha) ** (1 / config.points_per_day)
    z_point = NormalDist().inv_cdf(1 - per_test / 2)
    per_point = (per_test / math.comb(config.window, config.persist)) ** (1 / config.persist)
    return z_level, z_point, NormalDist().inv_cdf(1 - per_point / 2)


def drift_threshold(baseline: SeasonalBaseline, sigma: float, config: DetectorConfig = DEFAULT_CONFIG) -> float:
    """The smallest persistent deviation, in the metric's unit, a drift must reach.

    The median of the last `persist` points, less the expected value at the current level, errs
    on a clean series by the day's level error (one draw a day, shared by all its points: the
    baseline's `level_sigma`) plus the points' own noise (sigma times sqrt(pi / 2 persist) for a
    median, drawn `points_per_day` times a day). A union bound gives half of the false-alarm
    budget to each: the level term at that two-sided tail once a day, the noise term at the
    Sidak per-test tail of 288 tests."""
    z_level, z_point, _ = _budget_z(config)
    level = baseline.level_sigma or baseline.residual_sigma  # baselines stored before level_sigma
    return z_level * level + z_point * sigma * math.sqrt(math.pi / (2 * config.persist))


def deviation_threshold(baseline: SeasonalBaseline, sigma: float,
                        config: DetectorConfig = DEFAULT_CONFIG) -> float:
    """The robust z `persist` of the last `window` points must pass to be a deviation.

    On a clean series a point's z errs by the day's level error (one draw a day) and its own
    noise. A union bound gives half of the daily false-alarm budget to each: the level term at
    its two-sided tail once a day; the run term so that `points_per_day` tests of "`persist` of
    `window` beyond z" (C(window, persist) p^persist each, independent noise) stay in budget
    (Sidak). Never below `z_threshold`: real noise has heavier tails than the Gaussian."""
    z_level, _, z_run = _budget_z(config)
    level = (baseline.level_sigma or baseline.residual_sigma) / sigma if sigma > 0 else 0.0
    return max(config.z_threshold, z_level * level + z_run)


def _deviation(z: list[float], threshold: float, config: DetectorConfig) -> tuple[str, int, int] | None:
    tail = z[-config.window:]
    for sign in (1, -1):
        hits = [i for i, value in enumerate(tail) if sign * value >= threshold]
        if len(hits) >= config.persist and sign * tail[-1] >= threshold / 2:
            start = len(z) - config.window + hits[0]
            while start > 0 and sign * z[start - 1] >= threshold:
                start -= 1
            return "deviation", sign, start
    return None


def _drift(z: list[float], config: DetectorConfig) -> tuple[str, int, int] | None:
    for sign in (1, -1):
        total, start, above = 0.0, 0, 0
        for i, value in enumerate(z):
            total = max(0.0, total + sign * value - config.cusum_k)
            if total == 0.0:
                start = i + 1
            above = above + 1 if total > config.cusum_h else 0
        # Slow drifts end far from the baseline; a level that merely sits a little off all day
        # (autocorrelated noise, a busy day) accumulates too, but never gets this far.
        if above >= config.persist and sign * median(z[-config.persist:]) >= config.drift_z:
            return "drift", sign, min(start, len(z) - 1)
    return None
