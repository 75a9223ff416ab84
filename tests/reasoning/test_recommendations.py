"""Recommendations: fault -> remediation action and target, risk, MTTR estimate, blast radius, runbook."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from reasoning_pipeline import LabelledIncident, load_labelled, run

from sre_copilot.domain.action import Recommendation
from sre_copilot.domain.reasoning import ConfidenceFactors, Decision, Hypothesis
from sre_copilot.domain.types import DecisionOutcome, EntityKind, Risk
from sre_copilot.reasoning.recommend import RunbookIndex, assess_risk, blast_radius, recommend
from sre_copilot.reasoning.vectors import HashingEmbedder, LocalVectorIndex


@pytest.fixture(scope="module")
def runbooks() -> RunbookIndex:
    return RunbookIndex(index=LocalVectorIndex(), embedder=HashingEmbedder())


def _case(name: str) -> LabelledIncident:
    return next(c for c in load_labelled("simple") if c.name == name)


def _first(name: str, runbooks: RunbookIndex) -> tuple[LabelledIncident, list[Recommendation]]:
    case = _case(name)
    outcome = run(case)
    return case, recommend(outcome.hypotheses, decision=outcome.decision, catalog=case.catalog, runbooks=runbooks)


def test_a_bad_deploy_is_rolled_back_on_its_workload(runbooks: RunbookIndex) -> None:
    case, recs = _first("sample-2-006#2", runbooks)
    rec = recs[0]
    assert (rec.action, rec.target, rec.runbook) == ("rollback", "deployment/catalog", "rollback-deploy")
    assert rec.blast_radius == blast_radius(run(case).hypotheses[0], case.catalog)
    assert {"pricing", "quote", "tax"} <= set(rec.blast_radius)
    assert rec.estimated_mttr_reduction_min == 0.0 and 0 < rec.score <= 1  # no invented saving
    assert "deploy-1055" in rec.rationale


def test_a_bad_config_is_reverted_by_rollback(runbooks: RunbookIndex) -> None:
    _, recs = _first("sample-1-005#1", runbooks)
    assert (recs[0].action, recs[0].target, recs[0].runbook) == ("rollback", "deployment/billing", "revert-config")


def test_a_failed_host_is_drained_then_cordoned(runbooks: RunbookIndex) -> None:
    case, recs = _first("sample-1-000#1", runbooks)
    assert [(r.action, r.target) for r in recs[:2]] == [("drain_host", "node/ip-10-0-6-183"),
                                                        ("cordon_host", "node/ip-10-0-6-183")]
    assert recs[0].runbook == "host-failure-drain"
    # The blast radius of draining a node is every service with a pod on it.
    assert recs[0].blast_radius == sorted({svc for svc, _ in case.catalog.instances_on_host("ip-10-0-6-183")})
    assert recs[1].risk is Risk.LOW


def test_saturation_scales_out_first(runbooks: RunbookIndex) -> None:
    _, recs = _first("sample-1-001#0", runbooks)
    assert [(r.action, r.target) for r in recs] == [("scale_out", "deployment/auth"), ("restart", "deployment/auth")]
    assert recs[0].risk is Risk.LOW and recs[0].runbook == "saturation-scale-out"


def test_a_managed_datastore_fails_over_or_escalates_to_its_owner(runbooks: RunbookIndex) -> None:
    case, recs = _first("sample-1-000#0", runbooks)
    mine = [r for r in recs if r.hypothesis_id == recs[0].hypothesis_id]
    assert {r.action for r in mine} == {"failover", "escalate"}
    failover = next(r for r in mine if r.action == "failover")
    resource = case.catalog.service("search-os").runtime.get("resource")  # type: ignore[union-attr]
    assert failover.target == (resource or "datastore/search-os")
    assert failover.risk in (Risk.HIGH, Risk.CRITICAL) and failover.runbook == "dependency-outage"
    escalate = next(r for r in mine if r.action == "escalate")
    assert escalate.target.startswith("team/") and escalate.risk is Risk.LOW
    if failover.risk is Risk.CRITICAL:  # the safety gates would block it: the safe step leads
        assert mine[0].action == "escalate"


def test_one_pod_is_restarted_by_name(runbooks: RunbookIndex) -> None:
    _, recs = _first("sample-1-003#1", runbooks)
    pod = next(r for r in recs if r.target.startswith("pod/"))
    assert (pod.action, pod.target, pod.runbook) == ("restart", "pod/session-4cc99-0", "instance-crashloop-restart")


def _hypothesis(fault: str, entity: str, confidence: float, change_id: str | None = None) -> Hypothesis:
    return Hypothesis(id=f"h-{fault}", rank=1, entity=entity, entity_kind=EntityKind.SERVICE, service=entity,
                      change_id=change_id, fault=fault, summary="s", confidence=confidence,
                      factors=ConfidenceFactors(signal_strength=0.9, temporal_correlation=0.85, precedent_frequency=0.3,
                                                evidence_quality=0.9, human_validation=0.5),
                      confidence_range=(confidence - 0.05, confidence + 0.05))


def test_a_bad_flag_is_disabled_and_nothing_is_recommended_when_nothing_is_presented(runbooks: RunbookIndex) -> None:
    catalog = _case("sample-2-006#2").catalog
    flag = _hypothesis("bad feature flag", "catalog", 0.7, change_id="flag-new-search")
    at = datetime(2026, 3, 4, tzinfo=UTC)
    recs = recommend([flag], decision=Decision(outcome=DecisionOutcome.PRESENT, presented=[flag.id], at=at),
                     catalog=catalog, runbooks=runbooks)
    assert (recs[0].action, recs[0].target, recs[0].risk, recs[0].runbook) == (
        "disable_flag", "flag/flag-new-search", Risk.LOW, "disable-feature-flag")
    assert recommend([flag], decision=Decision(outcome=DecisionOutcome.INCONCLUSIVE, at=at), catalog=catalog,
                     runbooks=runbooks) == []
    no_index = recommend([flag], decision=Decision(outcome=DecisionOutcome.PRESENT, presented=[flag.id], at=at),
                         catalog=catalog, runbooks=None)
    assert no_index[0].runbook is None


def test_risk_rises_with_tier_blast_radius_and_doubt() -> None:
    catalog = _case("sample-2-006#2").catalog
    sure = _hypothesis("bad deploy", "catalog", 0.8)
    unsure = _hypothesis("bad deploy", "catalog", 0.45)
    radius = blast_radius(sure, catalog)
    tier1 = catalog.service("catalog").tier == 1  # type: ignore[union-attr]
    levels = [Risk.LOW, Risk.MEDIUM, Risk.HIGH, Risk.CRITICAL]
    expected = min(3, 1 + int(tier1) + int(len(radius) >= 5))
    assert assess_risk("rollback", sure, catalog, radius) is levels[expected]
    assert assess_risk("rollback", unsure, catalog, radius) is levels[min(3, expected + 1)]
    assert assess_risk("escalate", unsure, catalog, radius) is Risk.LOW  # not disruptive
