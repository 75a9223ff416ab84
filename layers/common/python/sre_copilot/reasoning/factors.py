"""Seed 001's confidence-factor value tables, and how values between the table rows interpolate.

Every table row of the seed is reproduced exactly at its anchor; between anchors values are linear
(docs/reasoning.md shows the curves). Evidence and scoring both call these, so a temporal value
stored on an evidence item and the factor the scorer reports can never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from sre_copilot.domain.types import ChangeKind


def interpolate(x: float, points: Sequence[tuple[float, float]]) -> float:
    """Piecewise-linear through (x, y) anchors sorted by x; flat outside the first and last anchor."""
    if x <= points[0][0]:
        return points[0][1]
    for (x0, y0), (x1, y1) in pairwise(points):
        if x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return points[-1][1]


# Factor 1, signal strength: 3+ sigma -> 0.9, 2 sigma -> 0.7, 1 sigma -> 0.4 (0 sigma -> 0.1).
SIGMA_ANCHORS: tuple[tuple[float, float], ...] = ((0.0, 0.1), (1.0, 0.4), (2.0, 0.7), (3.0, 0.9))


def signal_strength_value(sigma: float) -> float:
    return round(interpolate(abs(sigma), SIGMA_ANCHORS), 4)


# Factor 2, temporal correlation. "Deploy at T, symptom at T+5min -> 0.95", "recent config change
# -> 0.85", "none -> 0.3". The peak is held for the first five minutes after the change and then
# decays: halfway to 0.3 by 30 minutes, to 0.35 by 6 hours, 0.3 from 24 hours on.
NO_TEMPORAL = 0.3
ONSET_LEAD = 0.4  # no change, but this entity's symptoms came first: weak ordering evidence only
PEAK_BY_KIND: dict[ChangeKind, float] = {
    ChangeKind.DEPLOY: 0.95,
    ChangeKind.ROLLBACK: 0.95,
    ChangeKind.CONFIG: 0.85,
    ChangeKind.FEATURE_FLAG: 0.85,
    ChangeKind.INFRA: 0.85,
    ChangeKind.SCALING: 0.7,
}
HOLD_S = 5 * 60
COSMETIC_SCALE = 0.0  # a docs-only change is no temporal evidence at all


def temporal_value(kind: ChangeKind, lag_s: float, *, cosmetic: bool = False) -> float:
    """Temporal correlation of a change that landed `lag_s` seconds before the first symptom.

    A change after the first symptom cannot have triggered it (negative lag beyond a 30 s clock
    skew allowance gives the no-correlation value)."""
    if lag_s < -30:
        return NO_TEMPORAL
    peak = PEAK_BY_KIND.get(kind, 0.85)
    middle = (peak + NO_TEMPORAL) / 2
    value = interpolate(max(lag_s, 0.0), ((HOLD_S, peak), (1800.0, middle), (6 * 3600.0, 0.35),
                                          (24 * 3600.0, NO_TEMPORAL)))
    if cosmetic:
        value = NO_TEMPORAL + (value - NO_TEMPORAL) * COSMETIC_SCALE
    return round(value, 4)


# Factor 3, precedent frequency: 10+ -> 0.9, 3-9 -> 0.7, 1-2 -> 0.5, first time -> 0.3.
def precedent_value(count: int) -> float:
    if count >= 10:
        return 0.9
    if count >= 3:
        return 0.7
    if count >= 1:
        return 0.5
    return 0.3


# Factor 4, evidence quality: multiple independent sources and no contradictions -> 0.95, a single
# strong source -> 0.7, weak or conflicting -> 0.4. Contradictions pull the value toward 0.4 in
# proportion to how much of the incident the hypothesis leaves unexplained (plus 0.25 per explicit
# conflict recorded against it).
QUALITY_MULTI, QUALITY_SINGLE, QUALITY_WEAK = 0.95, 0.7, 0.4


def evidence_quality_value(independent_sources: int, strong: bool, contradiction: float) -> float:
    if independent_sources >= 2:
        base = QUALITY_MULTI
    elif independent_sources == 1 and strong:
        base = QUALITY_SINGLE
    else:
        return QUALITY_WEAK
    return round(base - (base - QUALITY_WEAK) * min(1.0, max(0.0, contradiction)), 4)


# Factor 5, human validation: accepted 8 of 10 -> 0.8, no history -> 0.5, rejected frequently -> 0.2.
# The acceptance rate is used directly (clamped to [0.2, 0.9]) once there are 5 or more verdicts;
# fewer verdicts blend toward the neutral 0.5 in proportion (n / 5).
def human_validation_value(accepted: int, total: int) -> float:
    if total <= 0:
        return 0.5
    rate = min(0.9, max(0.2, accepted / total))
    trust = min(1.0, total / 5)
    return round(0.5 + (rate - 0.5) * trust, 4)
