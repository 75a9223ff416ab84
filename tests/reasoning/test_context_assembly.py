"""Context assembly: the six parts of the snapshot, and that missing or failing sources are recorded
instead of raised. Metrics come from the real CloudWatch adapter on moto, loaded with the bundled
demo scenario's series (a checkout deploy that takes the error rate from 0.3% to 7.5%)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from importlib import resources
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto import mock_aws
from reasoning_pipeline import LabelledIncident, ingest_signals, load_labelled, run

from sre_copilot.adapters.cloudwatch_metrics import CloudWatchMetrics
from sre_copilot.domain.catalog import Catalog
from sre_copilot.domain.change import ChangeEvent
from sre_copilot.domain.incident import Incident
from sre_copilot.domain.types import Priority, parse_time
from sre_copilot.reasoning.context import PARTS, assemble_context
from sre_copilot.reasoning.evidence import aggregate_evidence


def _case(name: str) -> LabelledIncident:
    return next(c for c in load_labelled("simple") if c.name == name)


def _demo() -> dict[str, Any]:
    return json.loads((resources.files("sre_copilot") / "data" / "demo-checkout-bad-deploy.json").read_text())


@pytest.fixture
def cloudwatch(monkeypatch: pytest.MonkeyPatch) -> Iterator[CloudWatchMetrics]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        metrics = CloudWatchMetrics(boto3.client("cloudwatch", region_name="us-east-1"))
        for series in _demo()["metrics"]:
            start = parse_time(series["start"])
            metrics.put_series(series["service"], series["name"], series["unit"],
                               [(start + timedelta(seconds=i * series["period_s"]), float(v))
                                for i, v in enumerate(series["values"])])
        yield metrics


def _demo_case(slo: dict[str, Any] | None = None) -> LabelledIncident:
    document = _demo()
    if slo:
        next(s for s in document["catalog"]["services"] if s["name"] == "checkout")["slo"] = slo
    catalog = Catalog.model_validate(document["catalog"])
    signals = []
    for index in (1, 2, 3, 5):  # CloudWatch, PagerDuty, Alertmanager, Grafana while it is firing
        delivery = document["deliveries"][index]
        signals += ingest_signals(delivery["source"], delivery["body"], catalog=catalog,
                                  received_at=parse_time(delivery["at"]), delivery=index)
    return LabelledIncident(scenario="demo", index=0, label={"entity": "checkout", "entity_kind": "service",
                                                             "change_id": "deploy-4711"},
                            catalog=catalog, signals=signals,
                            changes=[ChangeEvent.model_validate(c) for c in document["changes"]],
                            now=parse_time("2026-03-04T10:09:00Z"))


# -- the six parts --------------------------------------------------------------------------------------
def test_topology_changes_and_signals_without_metrics() -> None:
    outcome = run(_case("sample-2-006#2"))
    snapshot = outcome.snapshot
    topo = snapshot.topology
    assert topo["alerting_services"] == ["catalog", "pricing", "quote", "tax"]
    assert topo["first_symptom_at"] == "2026-03-24T02:23:20.724Z"
    catalog = topo["services"]["catalog"]
    assert catalog["version"] == "v1.3.6" and catalog["deployed_at"] == "2026-03-24T02:18:31.987Z"
    assert "pricing" in catalog["callers"] and catalog["depends_on"] == ["orders-db"]
    assert topo["services"]["orders-db"]["managed"] is True
    assert catalog["replicas"] == catalog["healthy_replicas"] == 3

    relation = {c["id"]: c["relation"] for c in snapshot.recent_changes}
    assert relation["deploy-1055"] == "alerting" and relation["config-9623"] == "dependency"
    deploy = next(c for c in snapshot.recent_changes if c["id"] == "deploy-1055")
    assert deploy["lag_s"] == pytest.approx(288.737) and deploy["before_first_symptom"] and not deploy["cosmetic"]
    assert all(c["cosmetic"] for c in snapshot.recent_changes if c["summary"] == "docs update")

    assert len(snapshot.correlated_signals) == len(_case("sample-2-006#2").signals)
    symptoms = {row["title"]: row["symptom"] for row in snapshot.correlated_signals}
    assert set(symptoms.values()) <= {"latency", "errors"}
    assert snapshot.missing["traffic_baseline"] == "no metrics reader configured"
    assert "slo_state" in snapshot.missing
    assert set(PARTS) <= set(type(snapshot).model_fields)


def test_host_incident_marks_unhealthy_replicas_and_the_host_alarm() -> None:
    snapshot = run(_case("sample-1-000#1")).snapshot
    host = snapshot.topology["hosts"]["ip-10-0-6-183"]
    assert host["host_alarm"] is True
    assert host["alerting_instances"] == ["cart-97410-1", "pricing-0fe76-0", "recommend-a1efd-0", "reviews-7a7b4-0"]
    cart = snapshot.topology["services"]["cart"]
    assert cart["replicas"] == 3 and cart["healthy_replicas"] == 2
    assert next(r for r in snapshot.correlated_signals if r["entity_kind"] == "host")["symptom"] == "host_down"


def test_duplicates_are_listed_but_not_counted_twice() -> None:
    snapshot = run(_case("sample-1-003#1")).snapshot  # the same PodCrashLooping alert delivered twice
    rows = snapshot.correlated_signals
    assert len(rows) == 2 and [r["alert"] for r in rows] == [True, False]


def test_traffic_baseline_sigma_and_slo_burn_from_cloudwatch(cloudwatch: CloudWatchMetrics) -> None:
    # Given checkout has a 99.9% availability SLO and its error rate went from ~0.3% to ~7.5%
    case = _demo_case(slo={"availability": 99.9, "window_days": 30})

    outcome = run(case, metrics=cloudwatch)
    snapshot = outcome.snapshot

    # Then the baseline is the 7-day history before the first symptom and sigma is far above 3
    error_rate = snapshot.traffic_baseline["services"]["checkout"]["ErrorRate"]
    assert error_rate["baseline_mean"] == pytest.approx(0.3, abs=0.05)
    assert error_rate["current"] == pytest.approx(7.5, abs=0.2) and error_rate["sigma"] > 3
    assert snapshot.traffic_baseline["services"]["frontend"]["ErrorRate"]["sigma"] > 3
    # And burn rate = 7.5% / 0.1% allowed, with time to exhaust the 30-day budget at that rate
    slo = snapshot.slo_state["services"]["checkout"]
    assert slo["burn_rate"] == pytest.approx(error_rate["current"] / 0.1, rel=1e-3)
    assert slo["time_to_breach_h"] == pytest.approx(30 * 24 / slo["burn_rate"], rel=1e-3)
    assert slo["compliant_now"] is False and snapshot.slo_state["burn_alerts"] == ["checkout"]
    assert snapshot.dependency_health["dependencies"]["checkout"]["metric_sigma"]["ErrorRate"] > 3
    assert "traffic_baseline" not in snapshot.missing and "slo_state" not in snapshot.missing

    # And evidence carries the metric deviation, scoring the change first with full signal strength
    metric_items = [e for e in outcome.evidence.items if e.source == "metric:ErrorRate" and e.subject == "checkout"]
    assert metric_items and metric_items[0].strength == 1.0
    top = outcome.hypotheses[0]
    assert (top.entity, top.change_id) == ("checkout", "deploy-4711")
    assert top.factors is not None and top.factors.signal_strength == 0.9
    # The decoy feature flag on search landed 47 minutes early on a dependency: listed, never first.
    assert any(h.change_id == "flag-search-typeahead" for h in outcome.hypotheses[1:])


def test_metrics_that_stay_normal_contradict_the_alerts(cloudwatch: CloudWatchMetrics) -> None:
    # Given alerts on cart, whose (loaded) metrics never moved
    start = parse_time("2026-03-04T08:00:00Z")
    cloudwatch.put_series("cart", "ErrorRate", "Percent", [(start + timedelta(minutes=i), 0.2 + (i % 3) * 0.01)
                                                           for i in range(180)])
    case = _demo_case()
    cart_signal = case.signals[0].model_copy(update={"id": "sig-cart", "service": "cart", "entity": "cart",
                                                     "fingerprint": "cart-alert", "title": "cart-errorrate-high"})
    case = LabelledIncident(**{**case.__dict__, "signals": [*case.signals, cart_signal]})

    outcome = run(case, metrics=cloudwatch)

    assert "[cart] alerts on cart but its metrics are within 1 sigma of baseline" in outcome.evidence.conflicts
    assert any(e.kind == "metric_contradiction" and e.subject == "cart" and not e.supports
               for e in outcome.evidence.items)


# -- missing and failing sources ------------------------------------------------------------------------
def _incident(case: LabelledIncident) -> Incident:
    return Incident.open(incident_id="inc-x", tenant_id="default", priority=Priority.P1, title="t", service=None,
                         at=min(s.event_time for s in case.signals), actor="t", reason="t")


def test_a_failing_metrics_source_is_recorded_not_raised() -> None:
    # A real CloudWatch client pointed at a port nobody listens on
    client = boto3.client("cloudwatch", region_name="us-east-1", endpoint_url="http://127.0.0.1:9",
                          aws_access_key_id="x", aws_secret_access_key="y",
                          config=Config(retries={"max_attempts": 1}, connect_timeout=1, read_timeout=1))
    case = _case("sample-2-003#0")
    snapshot = assemble_context(incident=_incident(case), signals=case.signals, catalog=case.catalog,
                                changes=case.changes, metrics=CloudWatchMetrics(client), now=case.now)
    assert snapshot.missing["traffic_baseline"].startswith("metric reads failed: shipping/RequestCount")
    assert snapshot.topology and snapshot.recent_changes and snapshot.correlated_signals


def test_extra_sources_merge_or_are_recorded_as_missing() -> None:
    case = _case("sample-2-003#0")

    def broken() -> Any:
        raise TimeoutError("pool stats endpoint timed out")

    snapshot = assemble_context(
        incident=_incident(case), signals=case.signals, catalog=case.catalog, changes=case.changes, metrics=None,
        now=case.now, extra_sources={"pool_stats": lambda: {"shipping": {"active": 98, "max": 100}},
                                     "slo_state": lambda: {"external": {"provider": "nobl9"}},
                                     "queue_depths": broken})
    assert snapshot.dependency_health["extra"]["pool_stats"] == {"shipping": {"active": 98, "max": 100}}
    assert snapshot.slo_state["external"] == {"provider": "nobl9"}
    assert snapshot.missing["queue_depths"] == "TimeoutError: pool stats endpoint timed out"


def test_unknown_names_and_empty_input_never_raise() -> None:
    case = _case("sample-2-003#0")
    stranger = case.signals[0].model_copy(update={"service": "not-in-catalog", "entity": "not-in-catalog"})
    snapshot = assemble_context(incident=_incident(case), signals=[stranger], catalog=case.catalog, changes=[],
                                metrics=None, now=case.now)
    assert snapshot.topology["alerting_services"] == []
    package = aggregate_evidence(snapshot=snapshot, signals=[stranger], catalog=case.catalog, precedents=None)
    assert package.conflicts == []
    empty = assemble_context(incident=_incident(case), signals=[], catalog=Catalog(), changes=[], metrics=None,
                             now=case.now)
    assert empty.correlated_signals == [] and empty.topology["services"] == {}
