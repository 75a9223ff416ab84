"""Calibration: accuracy per confidence bucket, Brier score, ECE."""

from __future__ import annotations

import pytest

from sre_copilot.reasoning.calibration import calibration


def test_buckets_brier_and_ece() -> None:
    records = [(0.9, True), (0.95, True), (0.92, False), (0.35, False), (0.31, True), (1.0, True)]
    report = calibration(records, buckets=10)
    assert report["count"] == 6
    top = report["buckets"][9]
    assert (top["range"], top["count"], top["accuracy"]) == ("0.9-1.0", 4, 0.75)
    assert report["buckets"][3]["count"] == 2 and report["buckets"][3]["accuracy"] == 0.5
    assert report["buckets"][0]["accuracy"] is None
    brier = (0.01 + 0.0025 + 0.8464 + 0.1225 + 0.4761 + 0.0) / 6
    assert report["brier"] == pytest.approx(brier, abs=1e-4)
    ece = 4 / 6 * abs(0.75 - (0.9 + 0.95 + 0.92 + 1.0) / 4) + 2 / 6 * abs(0.5 - 0.33)
    assert report["ece"] == pytest.approx(ece, abs=1e-4)


def test_perfect_and_empty() -> None:
    assert calibration([(1.0, True), (0.0, False)])["brier"] == 0.0
    assert calibration([]) == {}
    with pytest.raises(ValueError):
        calibration([(0.5, True)], buckets=0)
