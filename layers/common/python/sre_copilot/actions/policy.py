"""Action policy (seed 001, "Policy Matcher"): rules matched on (environment, service, action type).

The first matching rule wins. A rule says whether the action is allowed at all, the risk up to
which it runs on its own, the risk up to which people are notified and given a timeout to object,
when it may run (time windows), how often (rate limit) and which safety gates do not apply to it.

Defaults follow seed 001's approval routing: nothing runs on its own unless a rule approves it
(the Kubernetes remediations below, at low risk); medium risk notifies and waits five minutes;
high risk waits for an explicit approval; critical risk is blocked.
"""

from __future__ import annotations

from datetime import datetime, time
from fnmatch import fnmatchcase

from pydantic import BaseModel, Field, field_validator

from sre_copilot.domain.types import Risk

RISK_ORDER: dict[Risk, int] = {Risk.LOW: 0, Risk.MEDIUM: 1, Risk.HIGH: 2, Risk.CRITICAL: 3}


def risk_at_most(risk: Risk, bound: Risk | None) -> bool:
    return bound is not None and RISK_ORDER[risk] <= RISK_ORDER[bound]


class TimeWindow(BaseModel):
    """When actions may run, in UTC. `end` before `start` wraps past midnight (22:00-06:00)."""

    days: list[int] = Field(default_factory=lambda: list(range(7)), description="0 = Monday ... 6 = Sunday")
    start: time = time(0, 0)
    end: time = time(23, 59, 59)

    @field_validator("days")
    @classmethod
    def _valid_days(cls, days: list[int]) -> list[int]:
        if any(d not in range(7) for d in days):
            raise ValueError("days are 0 (Monday) to 6 (Sunday)")
        return days

    def contains(self, at: datetime) -> bool:
        moment = at.time().replace(tzinfo=None)
        if self.start <= self.end:
            return at.weekday() in self.days and self.start <= moment <= self.end
        # Past midnight the window belongs to the day it started on.
        if moment >= self.start:
            return at.weekday() in self.days
        return moment <= self.end and (at.weekday() - 1) % 7 in self.days

    def describe(self) -> str:
        names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
        days = ",".join(names[d] for d in sorted(self.days))
        return f"{days} {self.start.strftime('%H:%M')}-{self.end.strftime('%H:%M')} UTC"


class PolicyRule(BaseModel):
    name: str
    environments: list[str] = Field(default_factory=lambda: ["*"], description="glob patterns")
    services: list[str] = Field(default_factory=lambda: ["*"], description="glob patterns")
    actions: list[str] = Field(default_factory=lambda: ["*"], description="glob patterns")
    allowed: bool = True
    max_risk_auto: Risk | None = Field(default=None, description="at or below: run without asking; None: never")
    require_approval_over: Risk = Field(default=Risk.MEDIUM,
                                        description="above: wait for an explicit approval, with no timeout")
    block_at: Risk = Field(default=Risk.CRITICAL, description="at or above: never run")
    approval_timeout_s: int = Field(default=300, gt=0, description="notify-and-wait timeout")
    windows: list[TimeWindow] = Field(default_factory=list, description="empty: any time")
    max_actions_per_hour: int | None = Field(default=None, ge=0, description="None: the policy's default")
    skip_gates: list[str] = Field(default_factory=list, description="safety gates that do not apply")

    def matches(self, environment: str, service: str, action: str) -> bool:
        return (any(fnmatchcase(environment, p) for p in self.environments)
                and any(fnmatchcase(service, p) for p in self.services)
                and any(fnmatchcase(action, p) for p in self.actions))


def _default_rules() -> list[PolicyRule]:
    return [
        # A rollback is the remedy for a fresh deploy, so the deployment-age gate would block exactly
        # the case it exists for.
        PolicyRule(name="rollback", actions=["rollback"], max_risk_auto=Risk.LOW, skip_gates=["deployment_age"]),
        PolicyRule(name="kubernetes-remediation", actions=["restart", "scale_out"], max_risk_auto=Risk.LOW),
    ]


class ActionPolicy(BaseModel):
    rules: list[PolicyRule] = Field(default_factory=_default_rules, description="first match wins")
    default: PolicyRule = Field(default_factory=lambda: PolicyRule(name="default"))
    # Human override (seed 001, "Trust & Safety"): emergency stop and per-service disable.
    emergency_stop: bool = False
    disabled_services: list[str] = Field(default_factory=list, description="glob patterns")
    min_deploy_age_s: float = Field(default=600.0, ge=0,
                                    description="no action while the service's last deploy is younger")
    max_slo_burn_rate: float = Field(default=14.4, gt=0,
                                     description="error-budget burn multiple above which actions stop")
    risk_costs: dict[Risk, float] = Field(default_factory=lambda: {
        Risk.LOW: 1.0, Risk.MEDIUM: 3.0, Risk.HIGH: 8.0, Risk.CRITICAL: 20.0})
    max_actions_per_hour: int = Field(default=3, ge=0)
    risk_budget_points: float | None = Field(default=10.0, ge=0, description=(
        "risk points each service may spend per period (actions cost risk_costs); None: no budget"))
    risk_budget_period_s: int = Field(default=86_400, gt=0, description="the budget refills at each period start")

    def rule_for(self, environment: str, service: str, action: str) -> PolicyRule:
        return next((r for r in self.rules if r.matches(environment, service, action)), self.default)
