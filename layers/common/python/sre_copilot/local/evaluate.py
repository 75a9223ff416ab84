"""`sre-copilot eval DIR`: replay every labelled scenario and compute the scenario-format measures,
beside the two simple baselines (`sre_copilot.evaluation_baselines`) scored by the same code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

BASELINES = ("time_gap", "most_alerts")
BASELINE_MEASURES = {"time_gap": ("f1", "precision", "recall"),
                     "most_alerts": ("top1", "top3", "service_top1", "service_top3")}
"""What each baseline is a baseline of: time-gap grouping names no root cause (its ranks score 0),
and the most-alerts ranking is given the true grouping (its grouping scores 1)."""


def score_row(name: str, truth: dict[str, Any], result: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    """Every measure of one result (a replay, the offline run or a baseline) against its labels."""
    from sre_copilot.evaluation import noise_opened, noise_reduction, pairwise_grouping, root_cause_accuracy

    return {"scenario": name,
            "grouping": pairwise_grouping(truth, result),
            "noise_reduction": noise_reduction(result),
            "noise_opened": noise_opened(truth, result),
            "root_cause": root_cause_accuracy(truth, result, document),
            "incidents": len(result["incidents"]),
            "signals": len(result["signals"])}


def summary_with_baselines(rows: list[dict[str, Any]], baseline_rows: dict[str, list[dict[str, Any]]],
                           calibration: dict[str, Any] | None = None) -> dict[str, Any]:
    from sre_copilot.evaluation import summarise

    report: dict[str, Any] = {"scenarios": rows, "summary": summarise(rows),
                              "baselines": {name: summarise(b) for name, b in baseline_rows.items()}}
    if calibration is not None:
        report["calibration"] = calibration
    return report


def evaluate_directory(directory: Path, approve: str = "none", backend: str = "moto",
                       llm: dict[str, Any] | None = None) -> dict[str, Any]:
    """Replay and score every labelled scenario in `directory`, beside the simple baselines.
    `llm` (the Anthropic `llm` secret: api_key, base_url, model): each scenario is replayed a second
    time with the LLM proposing hypotheses, and scored apart (`llm_summary`). The LLM only proposes;
    the first replay, without it, gives the figures that count."""
    from sre_copilot.domain.catalog import Catalog
    from sre_copilot.evaluation_baselines import most_alerts_result, time_gap_result
    from sre_copilot.local.offline_eval import normalised_signals
    from sre_copilot.local.replay import Scenario, replay
    from sre_copilot.reasoning.calibration import calibration

    rows: list[dict[str, Any]] = []
    llm_rows: list[dict[str, Any]] = []
    baseline_rows: dict[str, list[dict[str, Any]]] = {name: [] for name in BASELINES}
    records: list[tuple[float, bool]] = []
    truths = sorted(directory.glob("*.truth.json"))
    if not truths:
        from sre_copilot.errors import InvalidPayload

        raise InvalidPayload(f"no labelled scenarios (NAME.json + NAME.truth.json) in {directory}")
    for truth_path in truths:
        scenario_path = truth_path.with_name(truth_path.name.replace(".truth.json", ".json"))
        scenario = Scenario.load(scenario_path)
        truth = json.loads(truth_path.read_text())
        result = replay(scenario, approve=approve, backend=backend, trails=False).result
        document = json.loads(scenario_path.read_text())
        rows.append(score_row(scenario.name, truth, result, document))
        records.extend(_calibration_records(truth, result, document))
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
        from sre_copilot.evaluation import summarise

        report["llm_summary"] = {"model": str(llm.get("model") or ""), **summarise(llm_rows)}
    return report


def _calibration_records(truth: dict[str, Any], result: dict[str, Any], scenario: dict[str, Any]) -> list[tuple[float, bool]]:
    """(confidence of each incident's top hypothesis, whether it named the labelled root cause)."""
    from sre_copilot.domain.catalog import Catalog
    from sre_copilot.evaluation import match_incidents, names_entity

    catalog = Catalog.model_validate(scenario["catalog"]) if scenario.get("catalog") else None
    out: list[tuple[float, bool]] = []
    for label, incident in match_incidents(truth, result):
        if not incident or not incident.get("hypotheses"):
            continue
        top = sorted(incident["hypotheses"], key=lambda h: h.get("rank", 0))[0]
        out.append((float(top.get("confidence") or 0.0), names_entity(top, label, catalog)))
    return out


def matched_pairs(truth: dict[str, Any], result: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(result incident, its label) for each labelled incident that some result incident holds."""
    from sre_copilot.evaluation import match_incidents

    return [(incident, label) for label, incident in match_incidents(truth, result) if incident]


def names_label(hypothesis: dict[str, Any], label: dict[str, Any], scenario: dict[str, Any]) -> bool:
    """Whether `hypothesis` names the labelled root cause, by the scenario's own catalog."""
    from sre_copilot.domain.catalog import Catalog
    from sre_copilot.evaluation import names_entity

    catalog = Catalog.model_validate(scenario["catalog"]) if scenario.get("catalog") else None
    return names_entity(hypothesis, label, catalog)
