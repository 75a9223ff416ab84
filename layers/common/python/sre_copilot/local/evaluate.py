"""`sre-copilot eval DIR`: replay every labelled scenario and compute the scenario-format measures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def evaluate_directory(directory: Path, approve: str = "none", backend: str = "moto") -> dict[str, Any]:
    from sre_copilot.evaluation import (
        noise_opened,
        noise_reduction,
        pairwise_grouping,
        root_cause_accuracy,
        summarise,
    )
    from sre_copilot.local.replay import Scenario, replay
    from sre_copilot.reasoning.calibration import calibration

    rows: list[dict[str, Any]] = []
    records: list[tuple[float, bool]] = []
    truths = sorted(directory.glob("*.truth.json"))
    if not truths:
        from sre_copilot.errors import InvalidPayload

        raise InvalidPayload(f"no labelled scenarios (NAME.json + NAME.truth.json) in {directory}")
    for truth_path in truths:
        scenario_path = truth_path.with_name(truth_path.name.replace(".truth.json", ".json"))
        scenario = Scenario.load(scenario_path)
        truth = json.loads(truth_path.read_text())
        result = replay(scenario, approve=approve, backend=backend).result
        document = json.loads(scenario_path.read_text())
        row = {"scenario": scenario.name,
               "grouping": pairwise_grouping(truth, result),
               "noise_reduction": noise_reduction(result),
               "noise_opened": noise_opened(truth, result),
               "root_cause": root_cause_accuracy(truth, result, document),
               "incidents": len(result["incidents"]),
               "signals": len(result["signals"])}
        rows.append(row)
        records.extend(_calibration_records(truth, result, document))
    return {"scenarios": rows, "summary": summarise(rows), "calibration": calibration(records)}


def _calibration_records(truth: dict[str, Any], result: dict[str, Any], scenario: dict[str, Any]) -> list[tuple[float, bool]]:
    """(confidence of each incident's top hypothesis, whether it named the labelled root cause)."""
    out: list[tuple[float, bool]] = []
    for incident, label in match_incidents(truth, result):
        if not incident.get("hypotheses"):
            continue
        top = incident["hypotheses"][0]
        out.append((float(top.get("confidence") or 0.0), _names(top, label, scenario)))
    return out


def match_incidents(truth: dict[str, Any], result: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Pair each labelled incident with the result incident holding most of its deliveries' signals."""
    by_delivery: dict[int, set[str]] = {}
    for signal in result["signals"]:
        if signal.get("incident_id"):
            by_delivery.setdefault(int(signal["origin"]["delivery"]), set()).add(signal["incident_id"])
    incidents = {i["id"]: i for i in result["incidents"]}
    pairs = []
    for label in truth.get("incidents", []):
        votes: dict[str, int] = {}
        for delivery in label.get("deliveries", []):
            for incident_id in by_delivery.get(int(delivery), ()):
                votes[incident_id] = votes.get(incident_id, 0) + 1
        if votes:
            best = max(votes, key=lambda k: votes[k])
            if best in incidents:
                pairs.append((incidents[best], label))
    return pairs


def _names(hypothesis: dict[str, Any], label: dict[str, Any], scenario: dict[str, Any]) -> bool:
    if hypothesis.get("entity") == label.get("entity"):
        return True
    return bool(label.get("entity_kind") == "service" and hypothesis.get("service") == label.get("entity"))
