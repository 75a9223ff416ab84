"""Safety gates (seed 001): every gate must pass before an action may run, whoever approves it.

Each gate reports "pass", "pass: <why it did not apply>" or "fail: <reason>"; callers test the
prefix. Facts nobody could measure (no SLO data, no risk budget configured) pass, because blocking
on missing telemetry would stop every remediation the day a metric pipeline breaks; the card shows
which gates were evaluated.
"""

from __future__ import annotations

from datetime import datetime
from fnmatch import fnmatchcase

from pydantic import BaseModel, Field

from sre_copilot.actions.policy import ActionPolicy, PolicyRule, TimeWindow
from sre_copilot.domain.action import ActionPlan

PASS = "pass"

GATES = ("environment", "policy", "manual_override", "no_other_incident_on_target", "no_active_remediation",
         "deployment_age", "slo_burn_rate", "risk_budget", "time_window", "rate_limit")


class SafetyContext(BaseModel):
    """What the workflow knows about the target when it plans an action."""

    active_incidents_on_target: int = Field(default=0, ge=0, description="other open incidents on the service")
    active_remediations_on_target: int = Field(default=0, ge=0, description=(
        "actions on the service, from other incidents, still waiting for their recovery check"))
    last_deploy_age_s: float | None = Field(default=None, description="None: no deploy in the lookback window")
    slo_burn_rate: float | None = Field(default=None, ge=0, description="error-budget burn multiple; None: unknown")
    risk_budget_remaining: float | None = Field(default=None, description="points left this period; None: no budget")
    manual_override_active: bool = Field(default=False, description="an operator took manual control")
    actions_in_last_hour: int = Field(default=0, ge=0)
    environment: str = "prod"


def plan_service(plan: ActionPlan) -> str:
    service = plan.params.get("service")
    return str(service) if service else plan.target.rsplit("/", 1)[-1]


def plan_environment(plan: ActionPlan) -> str:
    return str(plan.params.get("environment") or "prod")


def fail(reason: str) -> str:
    return f"fail: {reason}"


def is_failure(result: str) -> bool:
    return result.startswith("fail")


def evaluate_gates(plan: ActionPlan, ctx: SafetyContext, policy: ActionPolicy,
                   at: datetime | None = None) -> dict[str, str]:
    """`at`: when the action would run (Act passes now); default the plan's creation time."""
    service = plan_service(plan)
    rule = policy.rule_for(ctx.environment, service, plan.action)
    checks = {
        "environment": _environment(plan, ctx),
        "policy": _policy(plan, rule, ctx.environment, service),
        "manual_override": _manual_override(ctx, policy, service),
        "no_other_incident_on_target": _other_incidents(ctx, service),
        "no_active_remediation": _active_remediation(ctx, service),
        "deployment_age": _deployment_age(ctx, policy),
        "slo_burn_rate": _slo_burn(ctx, policy),
        "risk_budget": _risk_budget(plan, ctx, policy),
        "time_window": _time_window(at or plan.created_at, rule.windows),
        "rate_limit": _rate_limit(ctx, rule, policy),
    }
    return {name: (f"pass: not applied to {plan.action} by rule {rule.name}"
                   if name in rule.skip_gates and is_failure(result) else result)
            for name, result in checks.items()}


def _environment(plan: ActionPlan, ctx: SafetyContext) -> str:
    planned_for = plan_environment(plan)
    if planned_for != ctx.environment:
        return fail(f"the plan was made for {planned_for} but this deployment runs {ctx.environment}")
    return PASS


def _policy(plan: ActionPlan, rule: PolicyRule, environment: str, service: str) -> str:
    if not rule.allowed:
        return fail(f"rule {rule.name} forbids {plan.action} on {service} in {environment}")
    return PASS


def _manual_override(ctx: SafetyContext, policy: ActionPolicy, service: str) -> str:
    if policy.emergency_stop:
        return fail("emergency stop is on: no automated action runs anywhere")
    disabled = next((p for p in policy.disabled_services if fnmatchcase(service, p)), None)
    if disabled is not None:
        return fail(f"automation is disabled for {service} (pattern {disabled})")
    if ctx.manual_override_active:
        return fail(f"an operator has taken manual control of {service}")
    return PASS


def _other_incidents(ctx: SafetyContext, service: str) -> str:
    if ctx.active_incidents_on_target:
        return fail(f"{ctx.active_incidents_on_target} other open incident(s) on {service}; "
                    "acting now could mask or worsen them")
    return PASS


def _active_remediation(ctx: SafetyContext, service: str) -> str:
    if ctx.active_remediations_on_target:
        return fail(f"{ctx.active_remediations_on_target} other remediation(s) on {service} are still being "
                    "verified; a second change now would blur which one worked")
    return PASS


def _deployment_age(ctx: SafetyContext, policy: ActionPolicy) -> str:
    if ctx.last_deploy_age_s is not None and ctx.last_deploy_age_s < policy.min_deploy_age_s:
        return fail(f"last deploy is {ctx.last_deploy_age_s:.0f}s old, under the {policy.min_deploy_age_s:.0f}s "
                    "threshold; it may still be rolling out")
    return PASS


def _slo_burn(ctx: SafetyContext, policy: ActionPolicy) -> str:
    if ctx.slo_burn_rate is not None and ctx.slo_burn_rate > policy.max_slo_burn_rate:
        return fail(f"error budget burning at {ctx.slo_burn_rate:.1f}x, over the {policy.max_slo_burn_rate:.1f}x "
                    "limit for automated change")
    return PASS


def _risk_budget(plan: ActionPlan, ctx: SafetyContext, policy: ActionPolicy) -> str:
    cost = policy.risk_costs.get(plan.risk, 0.0)
    if ctx.risk_budget_remaining is not None and ctx.risk_budget_remaining < cost:
        return fail(f"a {plan.risk.value}-risk action costs {cost:g} points but only "
                    f"{ctx.risk_budget_remaining:g} remain this period")
    return PASS


def _time_window(at: datetime, windows: list[TimeWindow]) -> str:
    if windows and not any(w.contains(at) for w in windows):
        allowed = "; ".join(w.describe() for w in windows)
        return fail(f"{at:%a %H:%M} UTC is outside the allowed windows ({allowed})")
    return PASS


def _rate_limit(ctx: SafetyContext, rule: PolicyRule, policy: ActionPolicy) -> str:
    limit = rule.max_actions_per_hour if rule.max_actions_per_hour is not None else policy.max_actions_per_hour
    if ctx.actions_in_last_hour >= limit:
        return fail(f"{ctx.actions_in_last_hour} action(s) in the last hour reach the limit of {limit}")
    return PASS


__all__ = ["GATES", "ActionPolicy", "PolicyRule", "SafetyContext", "TimeWindow", "evaluate_gates", "is_failure"]
