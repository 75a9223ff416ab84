"""One scored row per scenario, and the report that sums rows beside the two simple baselines
(`evaluation/baselines.py`): the same code scores a replay (`sre-copilot eval`), the offline run
(`evaluation/offline.py`) and a baseline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sre_copilot.evaluation.measures import (
    match_incidents,
    names_entity,
    noise_opened,
    noise_reduction,
    pairwise_grouping,
    root_cause_accuracy,
    scenario_catalog,
    summarise,
)

BASELINES = ("time_gap", "most_alerts")


def labelled_scenarios(directory: Path) -> list[tuple[Path, Path]]:
    """Every labelled scenario in `directory` by name: its `NAME.json` and `NAME.truth.json`."""
    return [(truth.with_name(truth.name.replace(".truth.json", ".json")), truth)
            for truth in sorted(directory.glob("*.truth.json"))]
BASELINE_MEASURES = {"time_gap": ("f1", "precision", "recall"),
                     "most_alerts": ("top1", "top3", "service_top1", "service_top3")}
"""What each baseline is a baseline of: time-gap grouping names no root cause (its ranks score 0),
and the most-alerts ranking is given the true grouping (its grouping scores 1)."""


def score_row(name: str, truth: dict[str, Any], result: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    """Every measure of one result (a replay, the offline run or a baseline) against its labels."""
    return {"scenario": name,
            "grouping": pairwise_grouping(truth, result),
            "noise_reduction": noise_reduction(result),
            "noise_opened": noise_opened(truth, result),
            "root_cause": root_cause_accuracy(truth, result, document),
            "incidents": len(result["incidents"]),
            "signals": len(result["signals"])}


def summary_with_baselines(rows: list[dict[str, Any]], baseline_rows: dict[str, list[dict[str, Any]]],
                           calibration: dict[str, Any] | None = None) -> dict[str, Any]:
    report: dict[str, Any] = {"scenarios": rows, "summary": summarise(rows),
                              "baselines": {name: summarise(b) for name, b in baseline_rows.items()}}
    if calibration is not None:
        report["calibration"] = calibration
    return report


def calibration_records(truth: dict[str, Any], result: dict[str, Any], scenario: dict[str, Any]) -> list[tuple[float, bool]]:
    """(confidence of each incident's top hypothesis, whether it named the labelled root cause)."""
    catalog = scenario_catalog(scenario)
    out: list[tuple[float, bool]] = []
    for label, incident in match_incidents(truth, result):
        if not incident or not incident.get("hypotheses"):
            continue
        top = sorted(incident["hypotheses"], key=lambda h: h.get("rank", 0))[0]
        out.append((float(top.get("confidence") or 0.0), names_entity(top, label, catalog)))
    return out


def matched_pairs(truth: dict[str, Any], result: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(result incident, its label) for each labelled incident that some result incident holds."""
    return [(incident, label) for label, incident in match_incidents(truth, result) if incident]


def names_label(hypothesis: dict[str, Any], label: dict[str, Any], scenario: dict[str, Any]) -> bool:
    """Whether `hypothesis` names the labelled root cause, by the scenario's own catalog."""
    return names_entity(hypothesis, label, scenario_catalog(scenario))
