"""Capacity forecasts: a linearly filling disk warns before the breach, within the stated horizon."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sre_copilot.anomaly.forecast import HORIZONS_H, forecast
from sre_copilot.services.anomaly_service import forecast_alert

START = datetime(2026, 5, 1, tzinfo=UTC)
STEP = timedelta(minutes=5)


def _disk(hours: float, rate: float = 1.5, level: float = 30.0, noise: float = 0.3) -> list[tuple[datetime, float]]:
    rng = random.Random(42)
    return [(START + i * STEP, level + rate * i * STEP.total_seconds() / 3600 + rng.gauss(0, noise))
            for i in range(int(hours * 3600 / STEP.total_seconds()))]


def test_linearly_filling_disk_warns_before_the_breach_within_the_horizon() -> None:
    # Given a disk filling 1.5 points an hour from 30 %: it reaches 90 % after 40 hours
    series = _disk(48)
    breach = START + timedelta(hours=40)
    # When the forecast runs every hour on the last 12 hours
    warnings = []
    for hour in range(12, 40):
        now = START + timedelta(hours=hour)
        result = forecast("db", "DiskUsedPercent", [p for p in series if now - timedelta(hours=12) < p[0] <= now],
                          threshold=90.0)
        assert result is not None
        if result.breach_at is not None:
            warnings.append((now, result))
    # Then the first warning comes once the breach is within the 24 h horizon, and well before it
    first_at, first = warnings[0]
    assert breach - timedelta(hours=25) <= first_at <= breach - timedelta(hours=23)
    # And the predicted breach time is within half an hour of the true one
    assert first.breach_at is not None and abs((first.breach_at - breach).total_seconds()) < 1800
    # And every later run keeps warning until the breach
    assert [w for w, _ in warnings] == [START + timedelta(hours=h) for h in range(first_at.hour + 24 * (first_at.day - 1), 40)]


def test_forecast_has_every_horizon_with_nested_80_and_95_percent_intervals() -> None:
    result = forecast("db", "DiskUsedPercent", _disk(12), threshold=None)
    assert result is not None and [h.hours for h in result.horizons] == list(HORIZONS_H)
    for h in result.horizons:
        assert h.low95 < h.low80 < h.value < h.high80 < h.high95
    widths = [h.high95 - h.low95 for h in result.horizons]
    assert widths == sorted(widths), "intervals widen with the horizon"
    # And the 12-hour point forecast is within a point of the truth (30 + 1.5 * 24)
    twelve = next(h for h in result.horizons if h.hours == 12)
    assert abs(twelve.value - (30 + 1.5 * 24)) < 1.0


def test_a_flat_disk_raises_nothing_and_a_breach_becomes_an_urgent_signal() -> None:
    flat = forecast("db", "DiskUsedPercent", _disk(12, rate=0.0), threshold=90.0)
    assert flat is not None and flat.breach_at is None
    # Given a disk 2 hours from full
    urgent = forecast("db", "DiskUsedPercent", _disk(12, rate=5.0, level=26.0), threshold=90.0)
    assert urgent is not None and urgent.breach_within(3)
    alert = forecast_alert(urgent)
    assert alert["severity"] == "critical" and alert["fingerprint"] == "forecast:db:DiskUsedPercent"
    assert "forecast_24h" in alert["labels"] and "80%" in alert["labels"]["forecast_3h"]
