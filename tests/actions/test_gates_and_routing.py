"""Seed 001's policy matcher, safety gates and approval routing, and the action plan generator."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time
from pathlib import Path

import pytest

import sre_copilot
from sre_copilot.actions.gates import (
    GATES,
    ActionPolicy,
    PolicyRule,
    SafetyContext,
    TimeWindow,
    evaluate_gates,
)
from sre_copilot.actions.routing import plan_from_recommendation, route_approval
from sre_copilot.domain.action import ActionPlan, Recommendation
from sre_copilot.domain.catalog import Catalog
from sre_copilot.domain.incident import Incident
from sre_copilot.domain.types import ActionStatus, Approval, Priority, Risk

DEMO = Path(sre_copilot.__file__).parent / "data" / "demo-checkout-bad-deploy.json"
WEDNESDAY_10_12 = datetime(2026, 3, 4, 10, 12, tzinfo=UTC)  # 2026-03-04 is a Wednesday


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.model_validate(json.loads(DEMO.read_text())["catalog"])


@pytest.fixture
def incident() -> Incident:
    return Incident.open(incident_id="inc-7f3a", tenant_id="default", priority=Priority.P0,
                         title="checkout 5xx rate above 5%", service="checkout", at=WEDNESDAY_10_12,
                         actor="copilot:correlate", reason="first signal")


def _plan(catalog: Catalog, incident: Incident, action: str = "restart", risk: Risk = Risk.LOW,
          target: str = "deployment/checkout", at: datetime = WEDNESDAY_10_12,
          environment: str = "prod") -> ActionPlan:
    rec = Recommendation(hypothesis_id="hyp-1", action=action, target=target, risk=risk, runbook="restart-pods")
    return plan_from_recommendation(rec, incident, plan_id="plan-1", now=at, dry_run=False, catalog=catalog,
                                    environment=environment)


QUIET = SafetyContext(environment="prod")


# -- gates -----------------------------------------------------------------------------------------

def test_all_gates_pass_in_a_quiet_context(catalog: Catalog, incident: Incident) -> None:
    gates = evaluate_gates(_plan(catalog, incident), QUIET, ActionPolicy())
    assert gates == dict.fromkeys(GATES, "pass")


@pytest.mark.parametrize(("gate", "context", "reason"), [
    ("no_other_incident_on_target", {"active_incidents_on_target": 1},
     "1 other open incident(s) on checkout; acting now could mask or worsen them"),
    ("no_active_remediation", {"active_remediations_on_target": 1},
     "1 other remediation(s) on checkout are still being verified; a second change now would blur which one worked"),
    ("deployment_age", {"last_deploy_age_s": 120.0},
     "last deploy is 120s old, under the 600s threshold; it may still be rolling out"),
    ("slo_burn_rate", {"slo_burn_rate": 20.0},
     "error budget burning at 20.0x, over the 14.4x limit for automated change"),
    ("risk_budget", {"risk_budget_remaining": 0.5},
     "a low-risk action costs 1 points but only 0.5 remain this period"),
    ("manual_override", {"manual_override_active": True}, "an operator has taken manual control of checkout"),
    ("rate_limit", {"actions_in_last_hour": 3}, "3 action(s) in the last hour reach the limit of 3"),
    ("environment", {"environment": "staging"}, "the plan was made for prod but this deployment runs staging"),
])
def test_each_gate_fails_alone_with_its_reason(catalog: Catalog, incident: Incident, gate: str,
                                               context: dict[str, object], reason: str) -> None:
    # Given a context that breaks exactly one gate
    ctx = SafetyContext.model_validate({"environment": "prod", **context})
    # When the gates run
    gates = evaluate_gates(_plan(catalog, incident), ctx, ActionPolicy())
    # Then that gate fails with a reason a person can act on, and only that gate
    assert gates[gate] == f"fail: {reason}"
    assert [name for name, result in gates.items() if result != "pass"] == [gate]


@pytest.mark.parametrize(("context", "gate"), [
    ({"last_deploy_age_s": 600.0}, "deployment_age"),  # exactly at the threshold is old enough
    ({"last_deploy_age_s": None}, "deployment_age"),  # no deploy in the lookback window
    ({"slo_burn_rate": 14.4}, "slo_burn_rate"),
    ({"slo_burn_rate": None}, "slo_burn_rate"),  # no SLO data must not stop every remediation
    ({"risk_budget_remaining": 1.0}, "risk_budget"),
    ({"actions_in_last_hour": 2}, "rate_limit"),
])
def test_gates_pass_at_their_boundaries_and_on_missing_data(catalog: Catalog, incident: Incident,
                                                            context: dict[str, object], gate: str) -> None:
    ctx = SafetyContext.model_validate({"environment": "prod", **context})
    assert evaluate_gates(_plan(catalog, incident), ctx, ActionPolicy())[gate] == "pass"


def test_risk_budget_is_priced_by_risk(catalog: Catalog, incident: Incident) -> None:
    ctx = SafetyContext(environment="prod", risk_budget_remaining=2.0)
    assert evaluate_gates(_plan(catalog, incident, risk=Risk.LOW), ctx, ActionPolicy())["risk_budget"] == "pass"
    assert evaluate_gates(_plan(catalog, incident, risk=Risk.MEDIUM), ctx, ActionPolicy())["risk_budget"] == \
        "fail: a medium-risk action costs 3 points but only 2 remain this period"


def test_emergency_stop_and_per_service_disable_are_manual_overrides(catalog: Catalog, incident: Incident) -> None:
    plan = _plan(catalog, incident)
    assert evaluate_gates(plan, QUIET, ActionPolicy(emergency_stop=True))["manual_override"] == \
        "fail: emergency stop is on: no automated action runs anywhere"
    assert evaluate_gates(plan, QUIET, ActionPolicy(disabled_services=["check*"]))["manual_override"] == \
        "fail: automation is disabled for checkout (pattern check*)"
    assert evaluate_gates(plan, QUIET, ActionPolicy(disabled_services=["payments"]))["manual_override"] == "pass"


def test_a_rollback_is_not_held_back_by_the_fresh_deploy_it_undoes(catalog: Catalog, incident: Incident) -> None:
    # Given a deploy two minutes ago
    ctx = SafetyContext(environment="prod", last_deploy_age_s=120)
    # Then a restart waits, but the rollback of that deploy may go ahead
    assert evaluate_gates(_plan(catalog, incident, "restart"), ctx, ActionPolicy())["deployment_age"].startswith(
        "fail:")
    assert evaluate_gates(_plan(catalog, incident, "rollback"), ctx, ActionPolicy())["deployment_age"] == \
        "pass: not applied to rollback by rule rollback"


def test_time_windows_restrict_when_a_rule_lets_actions_run(catalog: Catalog, incident: Incident) -> None:
    # Given restarts allowed only on weekdays 09:00-17:00 and scale-outs overnight (wrapping midnight)
    policy = ActionPolicy(rules=[
        PolicyRule(name="office-hours", actions=["restart"], max_risk_auto=Risk.LOW,
                   windows=[TimeWindow(days=[0, 1, 2, 3, 4], start=time(9), end=time(17))]),
        PolicyRule(name="overnight", actions=["scale_out"], max_risk_auto=Risk.LOW,
                   windows=[TimeWindow(days=[2], start=time(22), end=time(6))]),
    ])
    saturday = datetime(2026, 3, 7, 10, 12, tzinfo=UTC)
    wednesday_night = datetime(2026, 3, 4, 23, 30, tzinfo=UTC)
    thursday_early = datetime(2026, 3, 5, 5, 0, tzinfo=UTC)
    thursday_night = datetime(2026, 3, 5, 23, 30, tzinfo=UTC)
    assert evaluate_gates(_plan(catalog, incident, at=WEDNESDAY_10_12), QUIET, policy)["time_window"] == "pass"
    assert evaluate_gates(_plan(catalog, incident, at=saturday), QUIET, policy)["time_window"] == (
        "fail: Sat 10:12 UTC is outside the allowed windows (Mon,Tue,Wed,Thu,Fri 09:00-17:00 UTC)")
    for at, allowed in ((wednesday_night, True), (thursday_early, True), (thursday_night, False)):
        result = evaluate_gates(_plan(catalog, incident, "scale_out", at=at), QUIET, policy)["time_window"]
        assert (result == "pass") is allowed, (at, result)


def test_a_rule_that_forbids_the_action_is_a_policy_violation(catalog: Catalog, incident: Incident) -> None:
    policy = ActionPolicy(rules=[PolicyRule(name="no-prod-restarts", environments=["prod"], actions=["restart"],
                                            allowed=False)])
    gates = evaluate_gates(_plan(catalog, incident), QUIET, policy)
    assert gates["policy"] == "fail: rule no-prod-restarts forbids restart on checkout in prod"
    assert route_approval(_plan(catalog, incident), gates, policy) == (Approval.BLOCKED, None)


def test_rules_match_environment_service_and_action_first_match_wins() -> None:
    policy = ActionPolicy(rules=[
        PolicyRule(name="staging-anything", environments=["staging", "dev"], max_risk_auto=Risk.HIGH),
        PolicyRule(name="payments-careful", services=["payments*"], max_risk_auto=None),
        PolicyRule(name="restarts", actions=["restart"], max_risk_auto=Risk.LOW),
    ])
    assert policy.rule_for("staging", "payments", "restart").name == "staging-anything"
    assert policy.rule_for("prod", "payments-db", "restart").name == "payments-careful"
    assert policy.rule_for("prod", "checkout", "restart").name == "restarts"
    assert policy.rule_for("prod", "checkout", "failover").name == "default"


def test_rate_limit_can_be_set_per_rule(catalog: Catalog, incident: Incident) -> None:
    policy = ActionPolicy(rules=[PolicyRule(name="restarts", actions=["restart"], max_actions_per_hour=1)])
    ctx = SafetyContext(environment="prod", actions_in_last_hour=1)
    assert evaluate_gates(_plan(catalog, incident), ctx, policy)["rate_limit"] == \
        "fail: 1 action(s) in the last hour reach the limit of 1"


# -- routing -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("action", "risk", "expected"), [
    ("restart", Risk.LOW, (Approval.AUTO, None)),  # low risk under an approving rule: auto-execute
    ("rollback", Risk.LOW, (Approval.AUTO, None)),
    ("restart", Risk.MEDIUM, (Approval.PENDING, 300)),  # medium: notify and wait five minutes
    ("restart", Risk.HIGH, (Approval.PENDING, None)),  # high: explicit approval, never by timeout
    ("restart", Risk.CRITICAL, (Approval.BLOCKED, None)),  # critical: block
    ("failover", Risk.LOW, (Approval.PENDING, 300)),  # no rule approves failover: low risk still asks
])
def test_default_routing_follows_seed_001(catalog: Catalog, incident: Incident, action: str, risk: Risk,
                                          expected: tuple[Approval, int | None]) -> None:
    plan = _plan(catalog, incident, action, risk)
    gates = evaluate_gates(plan, QUIET, ActionPolicy())
    assert route_approval(plan, gates, ActionPolicy()) == expected


def test_any_failed_gate_blocks_even_a_low_risk_action(catalog: Catalog, incident: Incident) -> None:
    plan = _plan(catalog, incident)
    gates = evaluate_gates(plan, SafetyContext(environment="prod", active_incidents_on_target=2), ActionPolicy())
    assert route_approval(plan, gates, ActionPolicy()) == (Approval.BLOCKED, None)


def test_rule_thresholds_change_routing(catalog: Catalog, incident: Incident) -> None:
    policy = ActionPolicy(rules=[PolicyRule(name="trusted", actions=["restart"], max_risk_auto=Risk.MEDIUM,
                                            require_approval_over=Risk.HIGH, approval_timeout_s=120,
                                            block_at=Risk.CRITICAL)])
    for risk, expected in ((Risk.MEDIUM, (Approval.AUTO, None)), (Risk.HIGH, (Approval.PENDING, 120)),
                           (Risk.CRITICAL, (Approval.BLOCKED, None))):
        plan = _plan(catalog, incident, risk=risk)
        assert route_approval(plan, evaluate_gates(plan, QUIET, policy), policy) == expected


def test_policy_loads_from_json() -> None:
    policy = ActionPolicy.model_validate({
        "emergency_stop": False, "min_deploy_age_s": 300,
        "rules": [{"name": "night", "actions": ["scale_out"], "max_risk_auto": "low",
                   "windows": [{"days": [5, 6], "start": "00:00", "end": "23:59"}]}],
    })
    assert policy.rules[0].windows[0].start == time(0, 0)
    assert policy.rule_for("prod", "x", "scale_out").max_risk_auto is Risk.LOW
    with pytest.raises(ValueError, match="days are 0"):
        TimeWindow(days=[7])


# -- planning ------------------------------------------------------------------------------------

def test_plan_names_the_workload_preconditions_rollback_and_verification(catalog: Catalog,
                                                                         incident: Incident) -> None:
    rec = Recommendation(hypothesis_id="hyp-1", action="rollback", target="deployment/checkout", risk=Risk.MEDIUM,
                         runbook="rollback-deploy", rationale="deploy-4711 preceded the errors",
                         blast_radius=["frontend"])
    plan = plan_from_recommendation(rec, incident, plan_id="plan-9", now=WEDNESDAY_10_12, dry_run=True,
                                    catalog=catalog)
    assert (plan.id, plan.incident_id, plan.action, plan.target, plan.risk) == (
        "plan-9", "inc-7f3a", "rollback", "deployment/checkout", Risk.MEDIUM)
    assert (plan.approval, plan.status, plan.dry_run) == (Approval.PENDING, ActionStatus.PLANNED, True)
    assert plan.params == {"runtime": "kubernetes", "cluster": "prod-eks", "namespace": "shop",
                           "kind": "deployment", "name": "checkout", "service": "checkout", "environment": "prod",
                           "hypothesis_id": "hyp-1", "runbook": "rollback-deploy", "blast_radius": ["frontend"]}
    assert plan.preconditions == [
        "deployment/checkout in namespace shop exists and the executor can read it",
        "no other remediation is running on deployment/checkout",
        "deployment/checkout has a previous revision to return to",
        "the previous revision ran healthily before the suspected change",
    ]
    assert plan.rollback.startswith("re-apply the pod template captured before the rollback")
    assert plan.verification.startswith("rollout of deployment/checkout complete: observedGeneration ≥ generation")
    assert plan.detail == "deploy-4711 preceded the errors"
    assert plan.created_at == plan.updated_at == WEDNESDAY_10_12


def test_plan_for_a_non_kubernetes_resource_and_scale_out_parameters(catalog: Catalog, incident: Incident) -> None:
    aws = next(s for s in catalog.services if s.runtime.get("kind") == "aws")
    failover = _plan(catalog, incident, "failover", Risk.HIGH, target=aws.runtime["resource"])
    assert failover.params["runtime"] == "aws" and failover.params["service"] == aws.name
    assert failover.rollback == "manual: follow runbook restart-pods"
    scale = _plan(catalog, incident, "scale_out")
    assert (scale.params["increment"], scale.params["max_replicas"]) == (2, 20)
