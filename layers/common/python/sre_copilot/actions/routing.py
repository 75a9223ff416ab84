"""Approval routing (seed 001): auto-execute, notify and wait, require explicit approval, or block."""

from __future__ import annotations

from sre_copilot.actions.gates import is_failure, plan_environment, plan_service
from sre_copilot.actions.planning import plan_from_recommendation
from sre_copilot.actions.policy import RISK_ORDER, ActionPolicy, risk_at_most
from sre_copilot.domain.action import ActionPlan
from sre_copilot.domain.types import Approval


def route_approval(plan: ActionPlan, gates: dict[str, str], policy: ActionPolicy) -> tuple[Approval, int | None]:
    """(approval, timeout): a timeout only for notify-and-wait; explicit approvals never time into action."""
    if any(is_failure(result) for result in gates.values()):
        return Approval.BLOCKED, None
    rule = policy.rule_for(plan_environment(plan), plan_service(plan), plan.action)
    if not rule.allowed or RISK_ORDER[plan.risk] >= RISK_ORDER[rule.block_at]:
        return Approval.BLOCKED, None
    if risk_at_most(plan.risk, rule.max_risk_auto):
        return Approval.AUTO, None
    if risk_at_most(plan.risk, rule.require_approval_over):
        return Approval.PENDING, rule.approval_timeout_s
    return Approval.PENDING, None


__all__ = ["plan_from_recommendation", "route_approval"]
