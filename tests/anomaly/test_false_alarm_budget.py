"""The detector's thresholds come from a false-alarm budget per series-day (multiple testing)."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from statistics import NormalDist

from sre_copilot.anomaly.baseline import SeasonalBaseline, build_baseline
from sre_copilot.anomaly.detector import (
    DEFAULT_CONFIG,
    DetectorConfig,
    detect,
    deviation_threshold,
    drift_threshold,
)
from sre_copilot.anomaly.synthetic import STEP, seasonal_series

START = datetime(2026, 1, 5, tzinfo=UTC)
CUT = START + timedelta(days=30)
PER_HOUR = int(timedelta(hours=1) / STEP)
# Materiality gate at 10 % of the level, as in the bench, so the statistical gates are what is tested
STATISTICAL = DetectorConfig(min_rel_change=0.1)


def _strongly_seasonal(seed: int, days: int) -> list[tuple[datetime, float]]:
    # daily cycle of half the level, weekends 20 % quieter, 2 % noise, lone 4-8 sigma outliers
    return seasonal_series(random.Random(seed), START, days, base=300.0, daily_amp=150.0, weekly_amp=60.0,
                           noise=6.0)


def _baseline(points: list[tuple[datetime, float]]) -> SeasonalBaseline:
    baseline = build_baseline("checkout", "RequestCount", [p for p in points if p[0] < CUT], CUT)
    assert baseline is not None
    return baseline


def _alerts(baseline: SeasonalBaseline, points: list[tuple[datetime, float]],
            config: DetectorConfig = DEFAULT_CONFIG) -> list[datetime]:
    """Score every 5 minutes after the baseline: 6 h window, the 24 h before it as the level."""
    first = next(i for i, (t, _) in enumerate(points) if t >= CUT)
    hits = []
    for i in range(first, len(points)):
        window = points[i + 1 - 6 * PER_HOUR:i + 1]
        reference = points[i + 1 - 30 * PER_HOUR:i + 1 - 6 * PER_HOUR]
        if detect(baseline, window, config, reference) is not None:
            hits.append(points[i][0])
    return hits


def test_clean_strongly_seasonal_series_raise_nothing_over_several_days() -> None:
    for seed in (21, 22):
        # Given a strongly seasonal series without anomaly and its 30-day baseline
        points = _strongly_seasonal(seed, 34)
        baseline = _baseline(points)
        # When the 4 days after the baseline are scored every 5 minutes (1,152 scores)
        hits = _alerts(baseline, points, STATISTICAL)
        # Then nothing is raised
        assert hits == [], f"seed {seed}: {hits[:3]}"


def test_a_spike_of_six_robust_sigmas_for_half_an_hour_is_detected_inside_it() -> None:
    # Given a clean strongly seasonal series, and a 30-minute spike of 6 robust sigmas of its
    # baseline (sigma at the spike's time), starting on the second day after the baseline
    points = _strongly_seasonal(23, 32)
    baseline = _baseline(points)
    begin = CUT + timedelta(days=1, hours=14, minutes=5)
    end = begin + timedelta(minutes=30)
    spiked = [(t, v + 6 * baseline.expected(t)[1] if begin <= t < end else v) for t, v in points]
    # When it is scored
    hits = _alerts(baseline, spiked)
    # Then it alerts inside the spike, and nowhere else
    assert hits, "6-sigma spike missed"
    assert all(begin <= at < end for at in hits), hits
    # And 6 sigmas clears the calibrated threshold at that time
    assert deviation_threshold(baseline, baseline.expected(begin)[1]) < 6


def test_thresholds_spend_the_daily_false_alarm_budget() -> None:
    # Given a baseline whose day-to-day level does not move (only point noise)
    points = _strongly_seasonal(24, 31)
    baseline = _baseline(points)
    baseline.level_sigma = 1e-12
    sigma = baseline.residual_sigma
    config = DetectorConfig(z_threshold=0.0, false_alarms_per_day=0.01)
    # When the run threshold is derived
    z = deviation_threshold(baseline, sigma, config)
    # Then 288 daily tests of "4 of 5 points beyond z" (Gaussian noise) spend the half of the
    # budget given to the noise term: Sidak, exact for independent tests, within 1 % of the union bound
    p = 2 * (1 - NormalDist().cdf(z))
    spent = config.points_per_day * math.comb(config.window, config.persist) * p ** config.persist
    assert 0.005 * 0.99 <= spent <= 0.005 * 1.01
    # And a stricter budget raises both thresholds; the floor still holds under a loose one
    strict = DetectorConfig(z_threshold=0.0, false_alarms_per_day=0.0001)
    assert deviation_threshold(baseline, sigma, strict) > z
    assert drift_threshold(baseline, sigma, strict) > drift_threshold(baseline, sigma, config)
    assert deviation_threshold(baseline, sigma, DetectorConfig(false_alarms_per_day=0.5)) == 3.0


def test_clean_series_across_the_range_of_seasonality_and_noise_raise_nothing() -> None:
    # Given clean series drawn across the bench's range: level 50-500, daily cycle 20-50 % of it,
    # weekends 0-20 % quieter, noise 1-5 % (low noise makes the day-to-day level change, 2 %, loom
    # large: the step-per-hour profile and fixed thresholds raised a drift on the first of seed 7)
    for seed in (7, 8):
        rng = random.Random(seed)
        for _ in range(3):
            base = rng.uniform(50, 500)
            noise = base * rng.uniform(0.01, 0.05)
            points = seasonal_series(rng, START, 31, base=base, daily_amp=base * rng.uniform(0.2, 0.5),
                                     weekly_amp=base * rng.uniform(0.0, 0.2), noise=noise)
            rng.uniform(0.12, 0.35)  # the bench draws an anomaly's magnitude here; keep the same series
            # When the day after the baseline is scored every 5 minutes
            hits = _alerts(_baseline(points), points, STATISTICAL)
            # Then nothing is raised
            assert hits == [], f"seed {seed}, level {base:.0f}, noise {noise / base:.1%}: {hits[:3]}"
