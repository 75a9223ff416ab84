"""The deployed confidence calibration: a versioned record that maps the weighted factor score to
a probability that the hypothesis names the real cause.

Seed 001's weighted sum is a score, not a probability: on the labelled samples every top-1 answer
was right while confidence stayed near 0.7. `sre-copilot eval --fit` fits a logistic mapping
P = 1 / (1 + exp(-(a * score + b))), and optionally the factor weights, to labelled outcomes;
`eval --fit --apply` writes the result as this record into `cdk.json` context
(`confidence_calibration`), which reaches every function as SRE_COPILOT_CONFIDENCE_CALIBRATION.

Without a record the mapping is the identity and the deployed weights are seed 001's: the scorer
behaves exactly as before. The raw score stays on every hypothesis (`raw_confidence`) so the
factor breakdown and the calibrated figure can be shown side by side.
"""

from __future__ import annotations

import json
import math
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sre_copilot.errors import ConfigurationError
from sre_copilot.reasoning.confidence import ConfidenceWeights

FORMAT: Final = "sre-copilot/confidence-calibration@1"


class ConfidenceCalibration(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["sre-copilot/confidence-calibration@1"] = FORMAT
    version: int = Field(default=0, ge=0, description="0: the identity (no fit applied); +1 per applied fit")
    kind: Literal["identity", "logistic"] = "identity"
    a: float = Field(default=1.0, gt=0.0, le=100.0, description="slope: the mapping must rise with the score")
    b: float = Field(default=0.0, ge=-100.0, le=100.0)
    weights: ConfidenceWeights | None = Field(default=None, description="fitted factor weights; None: seed 001's")
    fitted_on: str = ""
    fitted_at: str = ""
    examples: int = Field(default=0, ge=0)
    cross_validation: dict[str, Any] = Field(default_factory=dict,
                                             description="held-out Brier/ECE before and after, as measured")

    @model_validator(mode="after")
    def _identity_has_no_parameters(self) -> ConfidenceCalibration:
        if self.kind == "identity" and (self.a != 1.0 or self.b != 0.0):
            raise ValueError("an identity calibration takes no a or b; use kind 'logistic'")
        return self

    @property
    def identity(self) -> bool:
        return self.kind == "identity"

    def apply(self, score: float) -> float:
        """The calibrated probability of a weighted score (monotone, so ranks and ranges keep their order)."""
        score = min(1.0, max(0.0, score))
        if self.kind == "identity":
            return score
        z = self.a * score + self.b
        return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))

    def label(self) -> str:
        return "identity" if self.identity else f"v{self.version} logistic a={self.a:.2f} b={self.b:.2f}"


IDENTITY = ConfidenceCalibration()


def parse_calibration(text: str | dict[str, Any] | None) -> ConfidenceCalibration:
    """The record from its JSON (settings) or dict (cdk.json context). Empty: the identity.
    A malformed record is a ConfigurationError: a deployment must not score with a half-read mapping."""
    if not text:
        return IDENTITY
    try:
        document = json.loads(text) if isinstance(text, str) else dict(text)
        if not document:
            return IDENTITY
        return ConfidenceCalibration.model_validate(document)
    except (ValueError, ValidationError) as exc:
        raise ConfigurationError(f"the confidence calibration (cdk.json confidence_calibration) is invalid: {exc}; "
                                 "rewrite it with `sre-copilot eval DIR --fit --apply` or remove it") from exc
