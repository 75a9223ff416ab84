"""Anomaly detection and capacity forecasting on synthetic series with known answers.

Anomaly detection: seasonal series (daily cycle, quieter weekends, noise with lone outliers), each
with no anomaly or one injected spike, level shift or slow drift. A 30-day baseline is built, then
the next day is scored every 5 minutes over the last 6 hours, against the level of the 24 hours
before them, as the scheduled function does.
Consecutive alerting steps form one alert; an alert is a true positive when it starts inside an
injected anomaly (or up to 30 minutes after a spike ends), else a false positive.
False alarm rate: further clean series (200 per seed, 3 seeds by default), one day scored each,
counted per series-day (288 scores a day). The materiality gate is 10 % of the level here (20 % by
default), so the statistical gates are what is measured.

Forecasting: disks filling linearly (with noise) at random rates: error of the 3/6/12/24 h point
forecasts and how often the 80 % and 95 % intervals hold the true value.

    .venv/bin/python benchmarks/bench_anomaly.py [--series 30] [--seed 7] [--clean-series 200] [--clean-seeds 3]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from bisect import bisect_left
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from statistics import median

from sre_copilot.anomaly.baseline import SeasonalBaseline, build_baseline
from sre_copilot.anomaly.detector import DetectorConfig, detect
from sre_copilot.anomaly.forecast import HORIZONS_H, forecast
from sre_copilot.anomaly.synthetic import STEP, inject, seasonal_series

KINDS = ("none", "spike", "level_shift", "drift")
START = datetime(2026, 1, 5, tzinfo=UTC)
CONFIG = DetectorConfig(min_rel_change=0.1)


def score_day(baseline: SeasonalBaseline, points: list[tuple[datetime, float]], cut: datetime,
              score_ms: list[float]) -> list[datetime]:
    """Score each 5-minute step of the day after `cut` over the last 6 hours, against the level of
    the 24 hours before them, as the scheduled function does; the starts of alerting runs."""
    per_hour = int(timedelta(hours=1) / STEP)
    first = bisect_left([t for t, _ in points], cut)
    events: list[datetime] = []
    alerting = False
    for i in range(first, len(points)):
        window = points[i + 1 - 6 * per_hour:i + 1]
        reference = points[i + 1 - 30 * per_hour:i + 1 - 6 * per_hour]
        started = time.perf_counter()
        found = detect(baseline, window, CONFIG, reference)
        score_ms.append((time.perf_counter() - started) * 1000)
        if found is not None and not alerting:
            events.append(points[i][0])
        alerting = found is not None
    return events


def _series(rng: random.Random) -> tuple[list[tuple[datetime, float]], float]:
    base = rng.uniform(50, 500)
    noise = base * rng.uniform(0.01, 0.05)
    return seasonal_series(rng, START, 31, base=base, daily_amp=base * rng.uniform(0.2, 0.5),
                           weekly_amp=base * rng.uniform(0.0, 0.2), noise=noise), base


def run_clean(series: int, seeds: Sequence[int]) -> dict[str, object]:
    """False alarms per series-day on strongly seasonal series without any anomaly, over several seeds."""
    cut = START + timedelta(days=30)
    alarms = days = scored = 0
    alarmed_series = 0
    for seed in seeds:
        rng = random.Random(seed * 1000 + 1)
        for _ in range(series):
            points, _ = _series(rng)
            baseline = build_baseline("svc", "RequestCount", [p for p in points if p[0] < cut], cut)
            assert baseline is not None
            ms: list[float] = []
            events = score_day(baseline, points, cut, ms)
            alarms += len(events)
            alarmed_series += bool(events)
            days += 1
            scored += len(ms)
    return {"series_days": days, "scored_points": scored, "false_alarms": alarms, "series_alarmed": alarmed_series,
            "seeds": list(seeds), "rate_per_series_day": alarms / days}


def run_detection(series_per_kind: int, seed: int) -> dict[str, object]:
    rng = random.Random(seed)
    per_kind: dict[str, dict[str, float | None]] = {}
    build_ms: list[float] = []
    score_ms: list[float] = []
    sizes: list[int] = []
    tp = fp = 0
    for kind in KINDS:
        detected = alerts_fp = 0
        delays: list[float] = []
        for _ in range(series_per_kind):
            points, base = _series(rng)
            cut = START + timedelta(days=30)
            magnitude = base * rng.uniform(0.12, 0.35)
            points, label = inject(rng, points, kind, after=cut, magnitude=magnitude)
            started = time.perf_counter()
            baseline = build_baseline("svc", "RequestCount", [p for p in points if p[0] < cut], cut)
            build_ms.append((time.perf_counter() - started) * 1000)
            assert baseline is not None
            sizes.append(len(json.dumps(baseline.to_json(), separators=(",", ":"))))
            events = score_day(baseline, points, cut, score_ms)
            hit = False
            for at in events:
                inside = (label.start is not None and label.end is not None
                          and label.start <= at <= label.end + timedelta(minutes=30))
                if inside:
                    tp += 1
                    if not hit:
                        delays.append((at - label.start).total_seconds() / 60)  # type: ignore[operator]
                    hit = True
                else:
                    fp += 1
                    alerts_fp += 1
            detected += hit
        per_kind[kind] = {"series": series_per_kind, "detected": detected, "false_alerts": alerts_fp,
                          "median_delay_min": round(median(delays), 1) if delays else None}
    injected = series_per_kind * (len(KINDS) - 1)
    found_anomalies = sum(int(per_kind[k]["detected"] or 0) for k in KINDS if k != "none")
    return {"precision": round(tp / (tp + fp), 3) if tp + fp else None,
            "recall": round(found_anomalies / injected, 3),
            "seasonal_without_anomaly_alerting": f"{per_kind['none']['false_alerts']} alerts on "
                                                  f"{series_per_kind} clean series-days",
            "per_kind": per_kind,
            "baseline_build_ms_median": round(median(build_ms), 1),
            "score_ms_median": round(median(score_ms), 3),
            "baseline_json_bytes_median": int(median(sizes))}


def run_forecast(series: int, seed: int) -> dict[str, object]:
    rng = random.Random(seed)
    errors: dict[int, list[float]] = {h: [] for h in HORIZONS_H}
    in80: dict[int, int] = dict.fromkeys(HORIZONS_H, 0)
    in95: dict[int, int] = dict.fromkeys(HORIZONS_H, 0)
    ms: list[float] = []
    for _ in range(series):
        rate = rng.uniform(0.2, 2.0)  # percentage points per hour
        level = rng.uniform(20, 50)
        noise = rng.uniform(0.1, 0.6)
        points = [(START + i * STEP, level + rate * i * STEP.total_seconds() / 3600 + rng.gauss(0, noise))
                  for i in range(int(12 * 3600 / STEP.total_seconds()))]
        started = time.perf_counter()
        result = forecast("db", "DiskUsedPercent", points, threshold=90.0)
        ms.append((time.perf_counter() - started) * 1000)
        assert result is not None
        end_h = (points[-1][0] - START).total_seconds() / 3600
        for h in result.horizons:
            truth = level + rate * (end_h + h.hours) + rng.gauss(0, noise)
            errors[h.hours].append(abs(h.value - truth))
            in80[h.hours] += h.low80 <= truth <= h.high80
            in95[h.hours] += h.low95 <= truth <= h.high95
    return {"series": series, "forecast_ms_median": round(median(ms), 2),
            "horizons": {f"{h}h": {"median_abs_error_pp": round(median(errors[h]), 3),
                                   "coverage80": round(in80[h] / series, 3),
                                   "coverage95": round(in95[h] / series, 3)} for h in HORIZONS_H}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", type=int, default=30, help="series per anomaly kind")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--clean-series", type=int, default=200, help="clean series per seed (false alarm rate)")
    parser.add_argument("--clean-seeds", type=int, default=3, help="seeds for the clean series")
    args = parser.parse_args()
    detection = run_detection(args.series, args.seed)
    print("anomaly detection (synthetic seasonal series, 5-min points, 30-day baseline, next day scored):")
    print(f"  precision {detection['precision']}  recall {detection['recall']}  "
          f"clean seasonal series: {detection['seasonal_without_anomaly_alerting']}")
    for kind, row in detection["per_kind"].items():  # type: ignore[attr-defined]
        print(f"  {kind:<12} detected {row['detected']}/{row['series']}  false alerts {row['false_alerts']}  "
              f"median delay {row['median_delay_min']} min")
    print(f"  baseline build {detection['baseline_build_ms_median']} ms, stored {detection['baseline_json_bytes_median']}"
          f" bytes; scoring {detection['score_ms_median']} ms per series and step (medians)")
    seeds = range(args.seed, args.seed + args.clean_seeds)
    clean = run_clean(args.clean_series, seeds)
    print(f"  false alarms on clean strongly seasonal series: {clean['false_alarms']} on "
          f"{clean['series_days']} series-days, {clean['rate_per_series_day']:.4f} per series-day")
    print(f"    ({clean['scored_points']} points scored, seeds {seeds.start}-{seeds.stop - 1}; "
          f"{clean['series_alarmed']} series alarmed; budget {CONFIG.false_alarms_per_day} per series-day)")
    # 400 series: a coverage share measured on 60 moves by +-5 points between seeds
    fc = run_forecast(max(400, args.series * 2), args.seed)
    print(f"capacity forecast (linear fill with noise, 12 h of 5-min history, {fc['series']} series, "
          f"{fc['forecast_ms_median']} ms each):")
    for h, row in fc["horizons"].items():  # type: ignore[attr-defined]
        print(f"  +{h:<4} median abs error {row['median_abs_error_pp']} pp  80% interval holds "
              f"{row['coverage80']:.0%}  95% interval holds {row['coverage95']:.0%}")


if __name__ == "__main__":
    main()
