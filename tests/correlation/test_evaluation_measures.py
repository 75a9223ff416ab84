"""Evaluation measures on small hand-made truth/result documents."""

from __future__ import annotations

from typing import Any

import pytest

from sre_copilot.evaluation.measures import (
    noise_opened,
    noise_reduction,
    pairwise_grouping,
    root_cause_accuracy,
    summarise,
)

TRUTH = {"scenario": "t", "incidents": [
    {"entity": "pricing", "entity_kind": "service", "service": "pricing", "change_id": "config-1",
     "deliveries": [0, 1, 2]},
    {"entity": "node-1", "entity_kind": "host", "service": None, "change_id": None, "deliveries": [3, 4]},
], "noise": [5, 6]}

SCENARIO = {"catalog": {
    "services": [{"name": "pricing", "instances": [{"name": "pricing-abc-0", "host": "node-1"}]}],
    "hosts": [{"name": "node-1", "aliases": ["i-0123"]}],
}}


def sig(delivery: int, incident: str | None, *, item: int = 0, status: str = "firing",
        duplicate_of: str | None = None) -> dict[str, Any]:
    return {"id": f"s{delivery}.{item}", "origin": {"delivery": delivery, "item": item}, "status": status,
            "incident_id": incident, "duplicate_of": duplicate_of}


def result(signals: list[dict[str, Any]], incidents: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    ids = sorted({s["incident_id"] for s in signals if s["incident_id"]})
    return {"signals": signals, "incidents": incidents if incidents is not None else
            [{"id": i, "hypotheses": []} for i in ids]}


def test_perfect_grouping_scores_one() -> None:
    r = result([sig(0, "A"), sig(1, "A"), sig(2, "A"), sig(3, "B"), sig(4, "B"), sig(5, None), sig(6, None)])
    g = pairwise_grouping(TRUTH, r)
    assert (g["precision"], g["recall"], g["f1"]) == (1.0, 1.0, 1.0)
    assert (g["tp"], g["fp"], g["fn"], g["alert_signals"]) == (4, 0, 0, 7)


def test_over_merging_costs_precision_and_splitting_costs_recall() -> None:
    merged = pairwise_grouping(TRUTH, result([sig(d, "A") for d in range(5)]))
    assert merged["tp"] == 4 and merged["fp"] == 6 and merged["recall"] == 1.0
    assert merged["precision"] == pytest.approx(0.4)
    split = pairwise_grouping(TRUTH, result([sig(0, "A"), sig(1, "A"), sig(2, "C"), sig(3, "B"), sig(4, "D")]))
    assert (split["tp"], split["fp"], split["fn"]) == (1, 0, 3)


def test_noise_joining_an_incident_is_a_false_pair_and_counts_as_noise_opened() -> None:
    r = result([sig(0, "A"), sig(1, "A"), sig(2, "A"), sig(5, "A"), sig(6, None)])
    assert pairwise_grouping(TRUTH, r)["fp"] == 3
    assert noise_opened(TRUTH, r) == 1


def test_signals_of_one_delivery_pair_up_and_resolved_notices_are_not_alerts() -> None:
    r = result([sig(0, "A", item=0), sig(0, "A", item=1), sig(1, "A", status="resolved")])
    g = pairwise_grouping(TRUTH, r)
    assert (g["tp"], g["alert_signals"]) == (1, 2)


def test_noise_reduction_counts_incidents_against_alert_signals() -> None:
    r = result([sig(0, "A"), sig(1, "A"), sig(2, "A"), sig(3, "B"), sig(4, "B"), sig(5, None),
                sig(6, None, status="resolved")])
    assert noise_reduction(r) == pytest.approx(1 - 2 / 6)
    assert noise_reduction({"signals": [], "incidents": []}) == 0.0


def hyp(entity: str, *, service: str | None = None, change_id: str | None = None, rank: int = 1) -> dict[str, Any]:
    return {"rank": rank, "entity": entity, "service": service, "change_id": change_id}


def test_root_cause_top1_top3_and_change_accuracy() -> None:
    signals = [sig(0, "A"), sig(1, "A"), sig(2, "A"), sig(3, "B"), sig(4, "B")]
    incidents = [
        {"id": "A", "hypotheses": [hyp("pricing-abc-0", service="pricing", change_id="config-1")]},
        {"id": "B", "hypotheses": [hyp("pricing", rank=1), hyp("db", rank=2), hyp("i-0123", rank=3)]},
    ]
    acc = root_cause_accuracy(TRUTH, result(signals, incidents), SCENARIO)
    # an instance of the labelled service counts; a host named by its alias counts at rank 3
    assert (acc["top1"], acc["top3"]) == (0.5, 1.0)
    assert (acc["change_top1"], acc["change_top3"], acc["changes"]) == (1.0, 1.0, 1)


def test_a_labelled_incident_with_no_result_incident_is_a_miss() -> None:
    acc = root_cause_accuracy(TRUTH, result([sig(0, None)]), SCENARIO)
    assert (acc["incidents"], acc["top1"], acc["top3"], acc["change_top1"]) == (2, 0.0, 0.0, 0.0)


def test_summary_pools_counts_for_micro_and_averages_for_macro() -> None:
    good = result([sig(0, "A"), sig(1, "A"), sig(2, "A"), sig(3, "B"), sig(4, "B"), sig(5, None), sig(6, None)])
    bad = result([sig(d, f"X{d}") for d in range(7)])
    rows = [{"grouping": pairwise_grouping(TRUTH, r), "noise_reduction": noise_reduction(r),
             "noise_opened": noise_opened(TRUTH, r), "incidents": len(r["incidents"]),
             "root_cause": root_cause_accuracy(TRUTH, r, SCENARIO)} for r in (good, bad)]
    summary = summarise(rows)
    assert summary["scenarios"] == 2
    assert summary["micro"]["recall"] == pytest.approx(4 / 8)
    assert summary["macro"]["recall"] == pytest.approx(0.5)
    assert summary["micro"]["noise_reduction"] == pytest.approx(1 - 9 / 14)
    assert summary["micro"]["noise_opened"] == 2
    assert summary["micro"]["top1"] == 0.0
