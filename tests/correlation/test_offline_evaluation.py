"""Offline evaluation of the labelled samples: product figures beside both baselines, one code path."""

from __future__ import annotations

from pathlib import Path

import pytest

from sre_copilot.cli.eval_table import render_margin
from sre_copilot.evaluation.offline import evaluate_offline

SCENARIOS = Path(__file__).resolve().parents[2].parent / "shared" / "scenarios"


@pytest.mark.skipif(not SCENARIOS.is_dir(), reason="../shared/scenarios is not present")
def test_the_samples_keep_their_figures_and_show_the_margin_over_both_baselines() -> None:
    # Given the labelled samples, evaluated offline with the domain code a replay runs
    report = evaluate_offline(SCENARIOS)
    micro = report["summary"]["micro"]
    # Then grouping, root cause and change stay perfect, noise reduction where it was
    assert micro["f1"] == 1.0 and micro["top1"] == 1.0 and micro["change_top1"] == 1.0
    assert micro["service_top1"] == 1.0 and micro["noise_opened"] == 0
    assert micro["noise_reduction"] == pytest.approx(0.858, abs=0.005)
    # And both baselines are scored beside it, and below it
    baselines = report["baselines"]
    assert baselines["time_gap"]["micro"]["f1"] < micro["f1"]
    assert baselines["most_alerts"]["micro"]["top1"] < micro["top1"]
    table = render_margin(report)
    assert "time gap 2 min" in table and "most alerts|truth" in table
    assert all(len(line) <= 100 for line in table.splitlines())
