"""Fit the confidence factor weights and the confidence mapping to labelled outcomes.

Each hypothesis of a labelled incident is one example: its five factors, and whether it named the
labelled root cause. The model is seed 001's weighted sum passed through a logistic mapping,
P(right) = 1 / (1 + exp(-(a * sum_i w_i f_i + b))), with non-negative weights summing to 1 (so the
fitted weights drop into `ConfidenceWeights` unchanged) and (a, b) the mapping from the weighted
score to a calibrated probability. It is fitted by projected gradient descent on the log loss with
a small L2 pull toward the current weights, which keeps a small labelled set from swinging them.

Cross-validation holds out one group (a scenario) at a time, so every reported "after" figure is
measured on incidents the fit never saw. Pure Python: a few hundred examples fit in milliseconds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sre_copilot.reasoning.calibration import calibration

FACTORS = ("signal_strength", "temporal_correlation", "precedent_frequency", "evidence_quality", "human_validation")


@dataclass(frozen=True)
class Example:
    group: str
    factors: tuple[float, ...]
    correct: bool
    confidence: float  # what the deployed scorer said


@dataclass(frozen=True)
class Fit:
    weights: tuple[float, ...]
    a: float
    b: float

    def predict(self, factors: Sequence[float]) -> float:
        score = sum(w * f for w, f in zip(self.weights, factors, strict=True))
        return 1.0 / (1.0 + math.exp(-(self.a * score + self.b)))

    def as_config(self) -> dict[str, Any]:
        return {"confidence_weights": {name: round(w, 4) for name, w in zip(FACTORS, self.weights, strict=True)},
                "confidence_mapping": {"kind": "logistic", "a": round(self.a, 4), "b": round(self.b, 4),
                                       "formula": "1 / (1 + exp(-(a * weighted_score + b)))"}}


    def as_calibration(self, *, version: int, fitted_on: str, fitted_at: str, examples: int,
                       cross_validation: dict[str, Any]) -> dict[str, Any]:
        """The record `eval --fit --apply` deploys (reasoning.calibrated.ConfidenceCalibration)."""
        from sre_copilot.reasoning.calibrated import FORMAT, ConfidenceCalibration

        weights = _normalised(self.weights)
        record = {"format": FORMAT, "version": version, "kind": "logistic", "a": round(self.a, 4),
                  "b": round(self.b, 4), "weights": dict(zip(FACTORS, weights, strict=True)),
                  "fitted_on": fitted_on, "fitted_at": fitted_at, "examples": examples,
                  "cross_validation": cross_validation}
        return ConfidenceCalibration.model_validate(record).model_dump(mode="json")


def _normalised(weights: Sequence[float]) -> list[float]:
    """Rounded to 4 decimals and still summing to exactly 1 (ConfidenceWeights checks to 1e-6)."""
    rounded = [round(w, 4) for w in weights]
    rounded[rounded.index(max(rounded))] += round(1.0 - sum(rounded), 4)
    return [round(w, 4) for w in rounded]


def _project(weights: list[float], mass: float = 1.0) -> list[float]:
    """Euclidean projection onto the simplex of non-negative weights summing to `mass`."""
    if not weights:
        return []
    ordered = sorted(weights, reverse=True)
    total, theta = 0.0, 0.0
    for i, value in enumerate(ordered, start=1):
        total += value
        candidate = (total - mass) / i
        if value - candidate > 0:
            theta = candidate
    return [max(0.0, w - theta) for w in weights]


def _informative(examples: Sequence[Example], count: int) -> list[bool]:
    """Factors that vary in the training set. A factor that never varies (precedent and human
    validation before anyone gave feedback) carries no evidence about its weight: it keeps its
    current weight instead of being fitted to zero, so the learning loop it feeds stays switched on."""
    out = []
    for i in range(count):
        values = [ex.factors[i] for ex in examples]
        out.append(bool(values) and max(values) - min(values) > 1e-6)
    return out


def fit(examples: Sequence[Example], prior: Sequence[float], *, steps: int = 3000, rate: float = 0.5,
        l2: float = 0.05) -> Fit:
    weights = list(prior)
    free = _informative(examples, len(prior))
    mass = 1.0 - sum(p for p, f in zip(prior, free, strict=True) if not f)
    a, b = 4.0, -2.0
    n = max(1, len(examples))
    for _ in range(steps):
        gw = [0.0] * len(weights)
        ga = gb = 0.0
        for ex in examples:
            score = sum(w * f for w, f in zip(weights, ex.factors, strict=True))
            p = 1.0 / (1.0 + math.exp(-(a * score + b)))
            err = p - (1.0 if ex.correct else 0.0)
            ga += err * score
            gb += err
            for i, f in enumerate(ex.factors):
                gw[i] += err * a * f
        stepped = _project([w - rate * (g / n + l2 * (w - p0))
                            for w, g, p0, f in zip(weights, gw, prior, free, strict=True) if f], mass)
        it = iter(stepped)
        weights = [next(it) if f else p0 for f, p0 in zip(free, prior, strict=True)]
        a -= rate * ga / n
        b -= rate * gb / n
    return Fit(tuple(weights), a, b)


def cross_validate(examples: Sequence[Example], prior: Sequence[float]) -> dict[str, Any]:
    """Leave-one-group-out: before (deployed confidence) and after (held-out fitted probability)."""
    groups = sorted({ex.group for ex in examples})
    before: list[tuple[float, bool]] = []
    after: list[tuple[float, bool]] = []
    for held in groups:
        train = [ex for ex in examples if ex.group != held]
        test = [ex for ex in examples if ex.group == held]
        if not train or not test:
            continue
        model = fit(train, prior)
        for ex in test:
            before.append((ex.confidence, ex.correct))
            after.append((model.predict(ex.factors), ex.correct))
    return {"folds": len(groups), "examples": len(before), "before": calibration(before),
            "after": calibration(after)}


def examples_from_result(group: str, result: dict[str, Any], truth: dict[str, Any],
                         scenario: dict[str, Any]) -> list[Example]:
    from sre_copilot.evaluation.scoring import matched_pairs, names_label

    out: list[Example] = []
    for incident, label in matched_pairs(truth, result):
        for h in incident.get("hypotheses") or []:
            factors = h.get("factors") or {}
            if not all(k in factors for k in FACTORS):
                continue
            out.append(Example(group=group, factors=tuple(float(factors[k]) for k in FACTORS),
                               correct=names_label(h, label, scenario), confidence=float(h.get("confidence") or 0.0)))
    return out
