"""Evidence aggregation: temporal correlation, decoys, dependency mapping, shared hosts, precedents,
conflicts."""

from __future__ import annotations

from datetime import timedelta

from botocore.credentials import Credentials
from reasoning_pipeline import LabelledIncident, load_labelled, run

from sre_copilot.adapters.opensearch_index import OpenSearchVectorIndex
from sre_copilot.domain.change import ChangeEvent
from sre_copilot.domain.types import ChangeKind, DecisionOutcome
from sre_copilot.reasoning.evidence import VectorPrecedents
from sre_copilot.reasoning.vectors import HashingEmbedder


def _case(name: str) -> LabelledIncident:
    return next(c for c in load_labelled("simple") if c.name == name)


def test_changes_shortly_before_the_first_symptom_on_involved_services_are_temporal_evidence() -> None:
    package = run(_case("sample-2-006#2")).evidence
    temporal = {e.refs[0]: e for e in package.items if e.kind == "temporal"}
    assert temporal["deploy-1055"].supports and temporal["deploy-1055"].strength == 0.95
    assert temporal["deploy-1055"].subject == "catalog"
    assert "4m48s before the first symptom" in temporal["deploy-1055"].summary
    # ads is a dependency of two alerting services; its config change 43 minutes earlier still counts, weaker
    assert temporal["config-9623"].supports and 0.3 < temporal["config-9623"].strength < 0.7
    # Decoys: docs-only deploys on a dependency are discounted; changes on uninvolved services are absent
    assert temporal["deploy-6989"].supports is False and "docs-only" in temporal["deploy-6989"].summary
    assert "deploy-8743" not in temporal


def test_a_docs_deploy_on_the_alerting_service_itself_is_not_blamed() -> None:
    outcome = run(_case("sample-1-001#0"))  # auth got a "docs update" deploy 6 minutes before saturating
    item = next(e for e in outcome.evidence.items if e.kind == "temporal")
    assert item.refs == ["deploy-2519"] and item.supports is False
    assert all(h.change_id is None for h in outcome.hypotheses)


def test_changes_after_the_first_symptom_cannot_be_the_trigger() -> None:
    package = run(_case("sample-1-002#1")).evidence  # a deploy on search's dependency cart, 4 minutes in
    late = next(e for e in package.items if e.kind == "temporal" and e.refs == ["deploy-5702"])
    assert late.supports is False and "after the first symptom" in late.summary


def test_dependency_mapping_names_the_alerting_callers_of_each_alerting_service() -> None:
    package = run(_case("sample-1-000#0")).evidence
    deps = {e.subject: e for e in package.items if e.kind == "dependency"}
    assert set(deps["search-os"].refs) == {"cart", "quote", "reviews"}
    assert deps["search-os"].strength == 1.0
    assert set(deps["quote"].refs) == {"cart", "reviews"}
    strengths = {(e.subject, e.source) for e in package.items if e.kind == "signal_strength"}
    assert ("search-os", "cloudwatch") in strengths and ("cart", "pagerduty") in strengths


def test_hosts_shared_by_alerting_instances_are_evidence() -> None:
    package = run(_case("sample-2-006#0")).evidence
    host = next(e for e in package.items if e.kind == "host")
    assert host.subject == "ip-10-0-4-146" and host.strength == 1.0 and len(host.refs) == 9
    assert "host-level alarm" in host.summary and "8 alerting instance(s)" in host.summary
    onset = {e.subject for e in package.items if e.kind == "onset"}
    assert "ip-10-0-4-146" in onset


def test_several_strong_changes_on_different_services_are_a_conflict() -> None:
    # Given a second, unrelated-looking config change on an alerting caller 3 minutes before the symptoms
    case = _case("sample-2-006#2")
    first = min(s.event_time for s in case.signals)
    extra = ChangeEvent(id="config-7777", service="pricing", kind=ChangeKind.CONFIG, at=first - timedelta(minutes=3),
                        summary="lower pricing cache ttl")
    outcome = run(LabelledIncident(**{**case.__dict__, "changes": [*case.changes, extra]}))

    # Then the package records the conflict, and policy asks a human instead of presenting
    assert any("config-7777" in c and "deploy-1055" in c for c in outcome.evidence.conflicts)
    assert outcome.decision.outcome is DecisionOutcome.NEEDS_HUMAN
    assert outcome.hypotheses[0].change_id == "deploy-1055"  # still ranked first: it explains more


def test_a_failing_precedent_lookup_is_noted_and_analysis_goes_on() -> None:
    dead = OpenSearchVectorIndex(endpoint="http://127.0.0.1:9", region="us-east-1", timeout=1,
                                 credentials=Credentials("AKIDEXAMPLE", "secret"))
    outcome = run(_case("sample-2-003#0"), precedents=VectorPrecedents(index=dead, embedder=HashingEmbedder()))
    note = next(e for e in outcome.evidence.items if e.kind == "note")
    assert note.summary.startswith("precedent lookup failed") and not note.supports
    assert outcome.hypotheses[0].change_id == "deploy-5389"
