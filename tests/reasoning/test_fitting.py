"""Fitting confidence weights and mapping: proposals stay valid weights and improve held-out Brier."""

from __future__ import annotations

import random

from sre_copilot.reasoning.confidence import ConfidenceWeights
from sre_copilot.reasoning.fitting import FACTORS, Example, cross_validate, fit

PRIOR = (0.25, 0.20, 0.20, 0.20, 0.15)


def _examples(seed: int = 3) -> list[Example]:
    # Right hypotheses have strong signals and evidence; precedent and validation never vary (no feedback yet).
    rng = random.Random(seed)
    out = []
    for group in range(6):
        for _ in range(8):
            right = rng.random() < 0.5
            strong = rng.uniform(0.7, 0.95) if right else rng.uniform(0.3, 0.6)
            out.append(Example(group=f"s{group}", correct=right, confidence=0.6,
                               factors=(strong, rng.uniform(0.3, 0.95), 0.3, strong, 0.5)))
    return out


def test_fitted_weights_are_valid_and_constant_factors_keep_their_weight() -> None:
    model = fit(_examples(), PRIOR)
    weights = dict(zip(FACTORS, model.weights, strict=True))
    ConfidenceWeights(**weights)  # non-negative, summing to 1: the deployed model accepts them
    assert weights["precedent_frequency"] == 0.20 and weights["human_validation"] == 0.15
    assert weights["signal_strength"] + weights["evidence_quality"] > weights["temporal_correlation"]


def test_cross_validation_improves_held_out_brier_over_a_constant_confidence() -> None:
    report = cross_validate(_examples(), PRIOR)
    assert report["folds"] == 6 and report["examples"] == 48
    assert report["after"]["brier"] < report["before"]["brier"]
