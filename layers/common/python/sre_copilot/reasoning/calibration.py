"""Calibration of confidence against outcomes (`sre-copilot eval`): is 0.7 right 70% of the time?"""

from __future__ import annotations

from typing import Any


def calibration(records: list[tuple[float, bool]], buckets: int = 10) -> dict[str, Any]:
    """Accuracy per equal-width confidence bucket, the Brier score and the expected calibration
    error (ECE: count-weighted mean |accuracy - mean confidence| over buckets).

    `records` are (confidence of the top hypothesis, whether it named the real root cause).
    Returns {} when there is nothing to measure."""
    if buckets < 1:
        raise ValueError("buckets must be at least 1")
    clean = [(min(1.0, max(0.0, float(c))), bool(ok)) for c, ok in records]
    if not clean:
        return {}
    width = 1.0 / buckets
    rows: list[dict[str, Any]] = []
    for i in range(buckets):
        low, high = i * width, (i + 1) * width
        inside = [(c, ok) for c, ok in clean if low <= c < high or (i == buckets - 1 and c == 1.0)]
        count = len(inside)
        rows.append({
            "range": f"{low:.1f}-{high:.1f}", "low": round(low, 4), "high": round(high, 4), "count": count,
            "accuracy": round(sum(ok for _, ok in inside) / count, 4) if count else None,
            "mean_confidence": round(sum(c for c, _ in inside) / count, 4) if count else None,
        })
    n = len(clean)
    brier = sum((c - (1.0 if ok else 0.0)) ** 2 for c, ok in clean) / n
    ece = sum(r["count"] / n * abs(r["accuracy"] - r["mean_confidence"]) for r in rows if r["count"])
    accuracy = sum(ok for _, ok in clean) / n
    return {"count": n, "brier": round(brier, 4), "ece": round(ece, 4), "accuracy": round(accuracy, 4),
            "mean_confidence": round(sum(c for c, _ in clean) / n, 4), "buckets": rows}
