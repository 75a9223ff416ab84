"""The two simple baselines and the service-level measures, scored by the evaluation code."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sre_copilot.domain.catalog import Catalog
from sre_copilot.domain.signal import Origin, Signal
from sre_copilot.domain.types import EntityKind, Severity, SignalStatus
from sre_copilot.evaluation.baselines import most_alerts_result, time_gap_result
from sre_copilot.evaluation.measures import pairwise_grouping, root_cause_accuracy

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SCENARIO = {"catalog": {
    "services": [{"name": "cart", "instances": [{"name": "cart-0", "host": "n1"}, {"name": "cart-1", "host": "n1"}]},
                 {"name": "shop", "instances": [{"name": "shop-0", "host": "n1"}]}],
    "hosts": [{"name": "n1"}]}}
CATALOG = Catalog.model_validate(SCENARIO["catalog"])


def sig(delivery: int, at_s: float, entity: str, labels: dict[str, str] | None = None) -> Signal:
    service, host, _ = CATALOG.find_instance(entity) or (None, None, entity)
    return Signal(id=f"s{delivery}", source="alertmanager", status=SignalStatus.FIRING, severity=Severity.WARNING,
                  event_time=T0 + timedelta(seconds=at_s), received_at=T0 + timedelta(seconds=at_s), title="t",
                  labels=labels or {"metric": "cpu", "direction": "up"}, origin=Origin(delivery=delivery),
                  service=service, entity=entity, entity_kind=EntityKind.INSTANCE, host=host, fingerprint=f"fp{delivery}")


TRUTH = {"incidents": [
    {"entity": "cart-1", "entity_kind": "instance", "service": "cart", "deliveries": [0, 1, 2, 3]},
    {"entity": "shop", "entity_kind": "service", "service": "shop", "deliveries": [4, 5]},
]}
SIGNALS = [sig(0, 0, "cart-1"), sig(1, 30, "cart-1"), sig(2, 60, "cart-0"),
           sig(3, 70, "cart-0", {"client": "cart-0", "server": "cart-1"}),
           sig(4, 400, "shop-0"), sig(5, 600, "shop-0")]


def test_time_gap_grouping_starts_a_new_incident_after_the_gap() -> None:
    # Given alerts 0-70 s, then 400 s and 600 s
    result = time_gap_result(SIGNALS, gap_s=120)
    # Then the first four are one incident, and each later one starts its own (gaps over 2 minutes)
    ids = [s["incident_id"] for s in result["signals"]]
    assert len(set(ids[:4])) == 1 and len(set(ids)) == 3
    grouping = pairwise_grouping(TRUTH, result)
    assert grouping["precision"] == 1.0 and grouping["fn"] == 1


def test_most_alerts_ranks_metric_alert_entities_given_the_true_grouping() -> None:
    # Given cart-1 with two metric alerts, cart-0 with one (its call alert does not count)
    result = most_alerts_result(SIGNALS, TRUTH, CATALOG)
    first = result["incidents"][0]["hypotheses"]
    assert [h["entity"] for h in first] == ["cart-1", "cart-0"]
    # Then entity and service top-1 hit on both faults (an instance of the labelled service counts)
    scores = root_cause_accuracy(TRUTH, result, SCENARIO)
    assert scores["top1"] == 1.0 and scores["service_top1"] == 1.0


def test_service_top_k_counts_the_owning_service_when_the_instance_is_wrong() -> None:
    # Given a result naming cart-0 for the cart-1 fault
    result = most_alerts_result([sig(0, 0, "cart-0"), sig(1, 5, "cart-0"), sig(2, 9, "cart-1")],
                                {"incidents": [TRUTH["incidents"][0] | {"deliveries": [0, 1, 2]}]}, CATALOG)
    scores = root_cause_accuracy({"incidents": [TRUTH["incidents"][0] | {"deliveries": [0, 1, 2]}]}, result, SCENARIO)
    # Then the entity misses at top-1 but the service hits; both hit at top-3
    assert scores["top1"] == 0.0 and scores["service_top1"] == 1.0 and scores["top3"] == 1.0
