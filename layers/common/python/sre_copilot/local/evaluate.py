"""`sre-copilot eval DIR`: replay every labelled scenario on the embedded backend and score it
(`evaluation/scoring.py`), beside the two simple baselines scored by the same code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sre_copilot.domain.catalog import Catalog
from sre_copilot.errors import InvalidPayload
from sre_copilot.evaluation.baselines import most_alerts_result, time_gap_result
from sre_copilot.evaluation.measures import summarise
from sre_copilot.evaluation.offline import normalised_signals
from sre_copilot.evaluation.scoring import (
    BASELINES,
    calibration_records,
    labelled_scenarios,
    score_row,
    summary_with_baselines,
)
from sre_copilot.reasoning.calibration import calibration


def evaluate_directory(directory: Path, approve: str = "none", backend: str = "moto",
                       llm: dict[str, Any] | None = None) -> dict[str, Any]:
    """Replay and score every labelled scenario in `directory`, beside the simple baselines.
    `llm` (the Anthropic `llm` secret: api_key, base_url, model): each scenario is replayed a second
    time with the LLM proposing hypotheses, and scored apart (`llm_summary`). The LLM only proposes;
    the first replay, without it, gives the figures that count."""
    from sre_copilot.local.replay import Scenario, replay

    rows: list[dict[str, Any]] = []
    llm_rows: list[dict[str, Any]] = []
    baseline_rows: dict[str, list[dict[str, Any]]] = {name: [] for name in BASELINES}
    records: list[tuple[float, bool]] = []
    labelled = labelled_scenarios(directory)
    if not labelled:
        raise InvalidPayload(f"no labelled scenarios (NAME.json + NAME.truth.json) in {directory}")
    for scenario_path, truth_path in labelled:
        scenario = Scenario.load(scenario_path)
        truth = json.loads(truth_path.read_text())
        result = replay(scenario, approve=approve, backend=backend, trails=False).result
        document = json.loads(scenario_path.read_text())
        rows.append(score_row(scenario.name, truth, result, document))
        records.extend(calibration_records(truth, result, document))
        # The baselines see the signals ingestion's own normaliser makes of the same deliveries.
        catalog = Catalog.model_validate(document.get("catalog") or {})
        signals = normalised_signals(document, catalog)
        baseline_rows["time_gap"].append(score_row(scenario.name, truth, time_gap_result(signals), document))
        baseline_rows["most_alerts"].append(
            score_row(scenario.name, truth, most_alerts_result(signals, truth, catalog), document))
        if llm is not None:
            proposed = replay(scenario, approve=approve, backend=backend, trails=False, llm=llm).result
            llm_rows.append(score_row(scenario.name, truth, proposed, document))
    report = summary_with_baselines(rows, baseline_rows, calibration(records))
    if llm is not None:
        report["llm_summary"] = {"model": str(llm.get("model") or ""), **summarise(llm_rows)}
    return report
