"""The deployed confidence calibration: identity by default, a fitted logistic mapping when applied."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from reasoning_pipeline import LabelledIncident, load_labelled, run

from sre_copilot.cli.fitting import _deployed_version, write_calibration
from sre_copilot.errors import ConfigurationError, InvalidPayload
from sre_copilot.messages.text import confidence_phrase, factor_breakdown
from sre_copilot.reasoning.calibrated import IDENTITY, ConfidenceCalibration, parse_calibration
from sre_copilot.reasoning.confidence import ConfidenceWeights, score_hypotheses
from sre_copilot.reasoning.fitting import FACTORS, Example, fit
from sre_copilot.services.container import Container
from sre_copilot.settings import Settings

REPO = Path(__file__).resolve().parents[2]
FITTED = {"format": "sre-copilot/confidence-calibration@1", "version": 3, "kind": "logistic", "a": 9.0, "b": -4.0}


def _case(name: str) -> LabelledIncident:
    return next(c for c in load_labelled("simple") if c.name == name)


def test_without_a_record_the_scorer_is_unchanged() -> None:
    # Given an incident scored with seed 001's weights and no calibration
    outcome = run(_case("sample-2-006#2"))
    # When it is scored again with the identity record
    again = score_hypotheses(outcome.hypotheses, evidence=outcome.evidence, snapshot=outcome.snapshot,
                             calibration=parse_calibration(""))
    # Then every confidence, range and rank is the same, and no raw score is shown
    assert [(h.id, h.confidence, h.confidence_range) for h in again] == \
        [(h.id, h.confidence, h.confidence_range) for h in outcome.hypotheses]
    assert all(h.raw_confidence is None and h.calibration is None for h in again)


def test_a_logistic_record_maps_the_weighted_score_and_keeps_it() -> None:
    # Given a scored incident and a fitted mapping
    outcome = run(_case("sample-2-006#2"))
    record = parse_calibration(json.dumps(FITTED))
    # When the scorer applies it
    calibrated = score_hypotheses(outcome.hypotheses, evidence=outcome.evidence, snapshot=outcome.snapshot,
                                  calibration=record)
    before = {h.id: h for h in outcome.hypotheses}
    for h in calibrated:
        raw = before[h.id].confidence
        # Then confidence is 1/(1+exp(-(a*raw+b))), the raw score is kept and the factors are untouched
        assert h.raw_confidence == raw
        assert h.confidence == pytest.approx(1 / (1 + math.exp(-(9.0 * raw - 4.0))), abs=1e-4)
        assert h.factors == before[h.id].factors
        assert h.confidence_range[0] <= h.confidence <= h.confidence_range[1]
        assert h.calibration == "v3 logistic a=9.00 b=-4.00"
    # and the mapping is monotone, so the ranking does not change
    assert [h.id for h in calibrated] == [h.id for h in outcome.hypotheses]
    # and the card's wording shows both figures beside the factor breakdown
    top = calibrated[0]
    assert f"calibrated, raw score {round(top.raw_confidence * 100)}%" in confidence_phrase(top)
    assert "signal strength" in factor_breakdown(top.factors)


def test_fitted_weights_in_the_record_replace_the_seed_weights() -> None:
    outcome = run(_case("sample-2-006#2"))
    temporal_only = ConfidenceWeights(signal_strength=0, temporal_correlation=1, precedent_frequency=0,
                                      evidence_quality=0, human_validation=0)
    record = ConfidenceCalibration(version=1, kind="logistic", a=1.0, b=0.0, weights=temporal_only)
    ranked = score_hypotheses(outcome.hypotheses, evidence=outcome.evidence, snapshot=outcome.snapshot,
                              calibration=record)
    assert ranked[0].change_id == "deploy-1055" and ranked[0].raw_confidence == 0.95


@pytest.mark.parametrize("bad", ['{"kind": "logistic", "a": -2, "b": 0}', '{"kind": "identity", "a": 3}',
                                 '{"kind": "isotonic"}', "{not json", '{"kind": "logistic", "weights": '
                                 '{"signal_strength": 0.9, "temporal_correlation": 0.9, "precedent_frequency": 0,'
                                 ' "evidence_quality": 0, "human_validation": 0}}'])
def test_a_malformed_record_is_refused_with_a_fix(bad: str) -> None:
    with pytest.raises(ConfigurationError, match="eval DIR --fit --apply"):
        parse_calibration(bad)


def test_the_container_reads_the_record_from_settings() -> None:
    assert Container(Settings(confidence_calibration="")).confidence_calibration() == IDENTITY
    container = Container(Settings(confidence_calibration=json.dumps(FITTED)))
    assert container.confidence_calibration().a == 9.0
    assert container.confidence_weights() == ConfidenceWeights()  # no fitted weights: seed 001's


def test_a_fit_becomes_a_versioned_record_written_into_cdk_json(tmp_path: Path) -> None:
    # Given a fit on labelled examples and a copy of the repository's cdk.json
    examples = [Example(group=str(i % 3), factors=(s, 0.5, 0.3, s, 0.5), correct=s > 0.6, confidence=0.6)
                for i, s in enumerate([0.2, 0.3, 0.4, 0.5, 0.7, 0.8, 0.9, 0.95] * 3)]
    model = fit(examples, (0.25, 0.20, 0.20, 0.20, 0.15), steps=400)
    cdk_json = tmp_path / "cdk.json"
    cdk_json.write_text((REPO / "cdk.json").read_text())
    original = json.loads(cdk_json.read_text())
    # When it is applied twice
    for _ in range(2):
        record = model.as_calibration(version=_deployed_version(cdk_json) + 1, fitted_on="t", fitted_at="",
                                      examples=len(examples), cross_validation={"brier_after": 0.1})
        write_calibration(cdk_json, record)
    # Then cdk.json holds version 2, which the functions parse, and nothing else changed
    written = json.loads(cdk_json.read_text())
    assert written["context"]["confidence_calibration"]["version"] == 2
    deployed = parse_calibration(written["context"]["confidence_calibration"])
    assert deployed.kind == "logistic" and deployed.weights is not None
    assert sum(getattr(deployed.weights, f) for f in FACTORS) == pytest.approx(1.0)
    assert {k: v for k, v in written["context"].items() if k != "confidence_calibration"} == \
        {k: v for k, v in original["context"].items() if k != "confidence_calibration"}
    assert deployed.apply(0.9) > deployed.apply(0.3)


def test_apply_refuses_a_file_that_is_not_a_cdk_app(tmp_path: Path) -> None:
    bad = tmp_path / "cdk.json"
    bad.write_text("[]")
    with pytest.raises(InvalidPayload, match="context"):
        write_calibration(bad, FITTED)
