"""Seasonal baselines and the three-gate anomaly detector, on synthetic series with known answers."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from statistics import median

from sre_copilot.anomaly.baseline import SeasonalBaseline, build_baseline, hour_of_week
from sre_copilot.anomaly.detector import DEFAULT_CONFIG, DetectorConfig, detect
from sre_copilot.anomaly.synthetic import STEP, inject, seasonal_series

START = datetime(2026, 2, 2, tzinfo=UTC)
CUT = START + timedelta(days=30)


def _series(seed: int, kind: str = "none", magnitude: float = 60.0) -> tuple[list[tuple[datetime, float]], object]:
    rng = random.Random(seed)
    points = seasonal_series(rng, START, 31, base=200.0, daily_amp=80.0, weekly_amp=30.0, noise=4.0)
    return inject(rng, points, kind, after=CUT, magnitude=magnitude)


def _scan(points: list[tuple[datetime, float]], baseline: SeasonalBaseline,
          config: DetectorConfig = DEFAULT_CONFIG) -> list[datetime]:
    """Score every 5 minutes of the day after the baseline, as the scheduled function does."""
    hits = []
    points = [p for p in points if p[0] >= CUT - timedelta(hours=30)]
    for now, _ in (p for p in points if p[0] >= CUT):
        window = [p for p in points if now - timedelta(hours=6) < p[0] <= now]
        reference = [p for p in points if now - timedelta(hours=30) < p[0] <= now - timedelta(hours=6)]
        if detect(baseline, window, config, reference) is not None:
            hits.append(now)
    return hits


def test_baseline_learns_the_hour_of_week_profile_and_stays_compact() -> None:
    # Given 30 days of a strongly seasonal series
    points, _ = _series(1)
    # When its baseline is built
    baseline = build_baseline("checkout", "RequestCount", [p for p in points if p[0] < CUT], CUT)
    assert baseline is not None
    # Then each hour of the week has its own median, tracking the daily cycle (80 units of amplitude)
    assert max(baseline.median) - min(baseline.median) > 100
    monday_noon = START.replace(hour=12)
    observed = [v for t, v in points if t < CUT and hour_of_week(t) == hour_of_week(monday_noon)]
    assert abs(baseline.median[hour_of_week(monday_noon)] - median(observed)) < 1e-6
    # And the expected value is that median at the hour's centre, interpolated between centres
    assert abs(baseline.expected(monday_noon.replace(minute=30))[0] - median(observed)) < 1e-6
    eleven_thirty = baseline.median[hour_of_week(monday_noon) - 1]
    assert abs(baseline.expected(monday_noon)[0] - (eleven_thirty + median(observed)) / 2) < 1e-6
    # And its noise scale is near the series' own noise, not the seasonal swing
    assert 3.0 < baseline.residual_sigma < 25.0
    # And it round-trips through a small JSON document
    document = json.dumps(baseline.to_json())
    assert len(document) < 8000
    assert SeasonalBaseline.from_json(json.loads(document)).median[5] == baseline.to_json()["median"][5]


def test_strongly_seasonal_series_without_anomalies_raise_nothing() -> None:
    # Given five clean seasonal series (daily cycle 40 % of the level, quieter weekends, lone outliers)
    for seed in range(5):
        points, _ = _series(seed)
        baseline = build_baseline("svc", "RequestCount", [p for p in points if p[0] < CUT], CUT)
        assert baseline is not None
        # Then a day of scoring every 5 minutes raises no anomaly
        assert _scan(points, baseline) == [], f"seed {seed}"


def test_spike_level_shift_and_drift_are_found_inside_their_window() -> None:
    for kind in ("spike", "level_shift", "drift"):
        # Given a seasonal series with one injected anomaly of 60 units (15 noise sigmas, 30 % of the level)
        points, label = _series(11, kind)
        baseline = build_baseline("svc", "RequestCount", [p for p in points if p[0] < CUT], CUT)
        assert baseline is not None
        # When the day is scored
        hits = _scan(points, baseline)
        # Then it alerts, first inside the anomaly's window, and never before it
        assert hits, kind
        assert label.start <= hits[0] <= label.end + timedelta(minutes=30), kind  # type: ignore[attr-defined]


def test_one_odd_point_is_not_persistent_enough() -> None:
    # Given a clean series with a single 20-sigma sample at the end
    points, _ = _series(3)
    baseline = build_baseline("svc", "RequestCount", [p for p in points if p[0] < CUT], CUT)
    assert baseline is not None
    now = CUT + timedelta(hours=10)
    window = [(t, v) for t, v in points if now - timedelta(hours=6) < t <= now]
    window[-1] = (window[-1][0], window[-1][1] + 80.0)
    # Then the persistence gate holds it back
    assert detect(baseline, window) is None


def test_immaterial_deviation_is_gated_out_and_material_one_is_not() -> None:
    # Given a flat, nearly noiseless series whose level moves by 1 % (many sigmas, but immaterial)
    rng = random.Random(5)
    points = [(START + i * STEP, 100.0 + rng.gauss(0, 0.05)) for i in range(int(31 * 86400 / 300))]
    baseline = build_baseline("svc", "ErrorRate", [p for p in points if p[0] < CUT], CUT)
    assert baseline is not None
    now = CUT + timedelta(hours=3)
    window = [(t, v + 1.0) for t, v in points if now - timedelta(hours=1) < t <= now]
    # Then the 20 % materiality gate rejects it
    assert detect(baseline, window) is None
    # And a 30 % move passes all three gates, with the baseline and deviation as evidence
    found = detect(baseline, [(t, v + 30.0) for t, v in window])
    assert found is not None and found.direction == "up" and found.z > 4
    assert abs(found.expected - 100.0) < 0.5 and "robust sigma above its baseline" in found.describe()


def test_a_baseline_needs_a_week_of_data() -> None:
    points, _ = _series(2, "level_shift")
    short = [p for p in points if CUT - timedelta(days=5) <= p[0] < CUT]
    baseline = build_baseline("svc", "RequestCount", short, CUT)
    assert baseline is not None and baseline.days < 7
    window = [(t, v + 100.0) for t, v in points if CUT < t <= CUT + timedelta(hours=2)]
    assert detect(baseline, window) is None
