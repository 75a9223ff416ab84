"""The safety gates read real inputs: the snapshot's SLO burn rate, the service's risk budget in the
table, and other remediations on the service; a failing gate blocks the plan and says why."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sre_copilot.cli.commands import BUNDLED_DEMO as DEMO_SCENARIO
from sre_copilot.domain.incident import Incident
from sre_copilot.domain.reasoning import ConfidenceFactors, Hypothesis
from sre_copilot.domain.types import EntityKind, Priority
from sre_copilot.local.replay import Scenario
from sre_copilot.local.runtime import LocalDeployment
from sre_copilot.services.workflow_steps import WorkflowSteps

T0 = datetime(2026, 3, 10, 20, 0, tzinfo=UTC)


@pytest.fixture
def deployment() -> Iterator[LocalDeployment]:
    with LocalDeployment(start=T0) as running:
        running.put_catalog(Scenario.load(DEMO_SCENARIO).catalog)
        yield running


def _incident(deployment: LocalDeployment, burn_rate: float | None) -> Incident:
    """An incident on checkout whose top hypothesis is a bad deploy, with a context snapshot."""
    incident = Incident.open(incident_id="inc-gates", tenant_id="default", priority=Priority.P1,
                             title="checkout errors", service="checkout", at=T0, actor="test", reason="test")
    hypothesis = Hypothesis(id="hyp-1", rank=1, entity="checkout", entity_kind=EntityKind.SERVICE, service="checkout",
                            change_id="deploy-1", fault="bad deploy", summary="errors since deploy-1",
                            factors=ConfidenceFactors(signal_strength=0.9, temporal_correlation=0.9,
                                                      precedent_frequency=0.5, evidence_quality=0.8,
                                                      human_validation=0.5),
                            confidence=0.85, confidence_range=(0.8, 0.9))
    incident.hypotheses = [hypothesis.model_dump(mode="json", exclude={"evidence"})]
    slo: dict[str, Any] = {} if burn_rate is None else {"checkout": {"burn_rate": burn_rate}}
    incident.snapshot_ref = deployment.container.blobs.put_json(
        "incidents/default/inc-gates/v0/context.json", {"slo_state": {"services": slo, "burn_alerts": []}})
    deployment.container.store.put_incident(incident)
    return incident


def _recommend(deployment: LocalDeployment) -> dict[str, Any]:
    return WorkflowSteps(deployment.container).recommend({
        "tenant_id": "default", "incident_id": "inc-gates",
        "decision": {"result": {"outcome": "present", "presented": ["hyp-1"], "reasons": []}}})


def _planned(deployment: LocalDeployment) -> dict[str, Any]:
    trail = deployment.container.store.for_subject("default", "inc-gates")
    return next(r.details for r in trail if r.action == "action.planned")


def test_burn_rate_over_the_limit_blocks_the_plan_and_records_why(deployment: LocalDeployment) -> None:
    # Given the context snapshot shows checkout burning its error budget at 20x (limit 14.4x)
    _incident(deployment, burn_rate=20.0)
    # When the Recommend step plans the rollback
    result = _recommend(deployment)
    # Then the plan is blocked by the burn-rate gate, with the reason and its inputs in the audit
    assert result["approval"] == "blocked"
    planned = _planned(deployment)
    assert planned["gate_results"]["slo_burn_rate"].startswith("fail: error budget burning at 20.0x")
    assert planned["params"]["gate_inputs"]["slo_burn_rate"] == 20.0
    assert planned["status"] == "skipped"


def test_burn_rate_under_the_limit_passes(deployment: LocalDeployment) -> None:
    _incident(deployment, burn_rate=3.0)
    assert _recommend(deployment)["approval"] != "blocked"
    assert _planned(deployment)["gate_results"]["slo_burn_rate"] == "pass"


def test_spent_risk_budget_blocks_until_the_next_period_refills_it(deployment: LocalDeployment) -> None:
    # Given checkout spent its 10 risk points today (two earlier actions)
    ledger = deployment.container.risk_budget()
    assert ledger.spend("default", "checkout", "plan-a", 8.0, T0, 86_400)
    assert ledger.spend("default", "checkout", "plan-b", 2.0, T0, 86_400)
    # And charging the same plan again changes nothing
    assert not ledger.spend("default", "checkout", "plan-b", 2.0, T0, 86_400)
    _incident(deployment, burn_rate=None)
    # When a rollback is planned
    result = _recommend(deployment)
    # Then it is blocked by the risk budget, and the audit says how much was left
    assert result["approval"] == "blocked"
    planned = _planned(deployment)
    assert "only 0 remain this period" in planned["gate_results"]["risk_budget"]
    assert planned["params"]["gate_inputs"]["risk_budget_remaining"] == 0.0
    # When the next day starts, the budget is full again
    deployment.clock.set(T0 + timedelta(days=1))
    assert ledger.spent("default", "checkout", deployment.clock.now(), 86_400) == 0.0


def test_verify_charges_the_executed_plan_once(deployment: LocalDeployment) -> None:
    from sre_copilot.domain.action import ActionPlan
    from sre_copilot.domain.types import ActionStatus, Approval, Risk
    from sre_copilot.services.gate_inputs import GateInputs

    incident = _incident(deployment, burn_rate=None)
    plan = ActionPlan(id="plan-x", incident_id=incident.id, action="restart", target="deployment/checkout",
                      params={"service": "checkout"}, risk=Risk.MEDIUM, approval=Approval.APPROVED,
                      status=ActionStatus.EXECUTED, created_at=T0, updated_at=T0)
    inputs = GateInputs(deployment.container)
    assert inputs.spend(incident, plan) and not inputs.spend(incident, plan)
    assert deployment.container.risk_budget().spent("default", "checkout", T0, 86_400) == 3.0
    assert inputs.safety_context(incident, plan, []).risk_budget_remaining == 7.0
