"""Run-time gates: the run-time controls as gates, at planning and again at execution.

A plan approved at 02:10 may run at 02:40, after someone pulled the kill switch, froze changes,
disabled the service, or new evidence produced a different plan. So Act re-evaluates every safety
gate with the controls and facts as they are *now*, refuses a superseded plan or a lapsed
approval, takes dry-run from the current setting, and names each refusal's reason:

`emergency_stop`, `disabled_service`, `manual_override`, `change_freeze`, `controls_unavailable`,
`superseded`, `approval_expired`, `llm_hypothesis`, and the name of any seed-001 gate that now fails.

Reading the controls is fail-closed: if Parameter Store cannot be read, nothing runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sre_copilot.actions.gates import SafetyContext, evaluate_gates, fail, is_failure, plan_service
from sre_copilot.actions.policy import ActionPolicy
from sre_copilot.domain.action import ActionPlan
from sre_copilot.domain.types import ActionStatus, Approval, parse_time
from sre_copilot.errors import ConfigurationError
from sre_copilot.runtime_settings import RuntimeControls

CLOSED_STATES = ("RESOLVED", "LEARNED")


def control_gates(plan: ActionPlan, controls: RuntimeControls | None, at: datetime,
                  controls_error: str | None = None) -> dict[str, str]:
    """The run-time controls as named gate results ("pass" or "fail: <reason>")."""
    if controls is None:
        return {"controls_unavailable": fail(controls_error or "the run-time controls cannot be read")}
    service = plan_service(plan)
    out = {"emergency_stop": "pass", "disabled_service": "pass", "change_freeze": "pass"}
    if controls.emergency_stop:
        out["emergency_stop"] = fail("emergency stop is on: no automated action runs anywhere")
    pattern = controls.disabled_pattern(service)
    if pattern is not None:
        out["disabled_service"] = fail(f"automation is disabled for {service} (pattern {pattern})")
    freeze = controls.freeze_for(service, at)
    if freeze is not None:
        why = f": {freeze.reason}" if freeze.reason else ""
        out["change_freeze"] = fail(f"change freeze on {service} until {freeze.end:%Y-%m-%d %H:%M} UTC{why}")
    return out


def with_controls(policy: ActionPolicy, controls: RuntimeControls | None) -> ActionPolicy:
    """The action policy with the run-time kill switch and disabled services folded in."""
    if controls is None:
        return policy.model_copy(update={"emergency_stop": True})
    return policy.model_copy(update={
        "emergency_stop": policy.emergency_stop or controls.emergency_stop,
        "disabled_services": [*policy.disabled_services, *controls.disabled_services]})


@dataclass
class ActCheck:
    gate_results: dict[str, str]
    refusals: dict[str, str] = field(default_factory=dict)
    dry_run: bool = True

    @property
    def allowed(self) -> bool:
        return not self.refusals

    def summary(self) -> str:
        return "; ".join(f"{name}: {why.removeprefix('fail: ')}" for name, why in self.refusals.items())


def check_at_execution(plan: ActionPlan, *, ctx: SafetyContext, policy: ActionPolicy,
                       controls: RuntimeControls | None, controls_error: str | None, plans: list[ActionPlan],
                       current_recommendation: dict[str, Any] | None, incident_state: str, now: datetime,
                       approval_expiry_s: int, deployed_dry_run: bool,
                       hypotheses: list[dict[str, Any]] | None = None) -> ActCheck:
    """Pure: every gate as of `now`. `plans` are the incident's plans in creation order;
    `hypotheses` the incident's scored hypotheses (documents)."""
    hypotheses = hypotheses or []
    if controls is not None:
        ctx = ctx.model_copy(update={"manual_override_active":
                                     ctx.manual_override_active or controls.manual_override_for(plan_service(plan))})
    results = {**evaluate_gates(plan, ctx, with_controls(policy, controls), at=now),
               **control_gates(plan, controls, now, controls_error)}
    refusals = {name: why for name, why in results.items() if is_failure(why)}
    if refusals.get("manual_override", "").startswith("fail: emergency stop") or \
            refusals.get("manual_override", "").startswith("fail: automation is disabled"):
        refusals.pop("manual_override")  # named on its own, as emergency_stop / disabled_service
    newer = [p for p in plans if p.created_at > plan.created_at and p.id != plan.id
             and p.status is ActionStatus.PLANNED]
    recommended = current_recommendation or {}
    if newer:
        refusals["superseded"] = fail(f"plan {newer[-1].id} ({newer[-1].action} {newer[-1].target}) replaced it")
    elif (recommended.get("action"), recommended.get("target")) != (plan.action, plan.target):
        now_recommended = (f"{recommended.get('action')} {recommended.get('target')}" if recommended.get("action")
                           else "no action")
        refusals["superseded"] = fail(f"the current analysis recommends {now_recommended}")
    if incident_state in CLOSED_STATES:
        refusals["superseded"] = fail(f"the incident is already {incident_state}")
    hypothesis = next((h for h in hypotheses if h.get("id") == plan.params.get("hypothesis_id")), None)
    if hypothesis is not None and hypothesis.get("generator") == "llm":
        refusals["llm_hypothesis"] = fail("the plan comes from an LLM hypothesis; only deterministic ones may act")
    decided_at = _decided_at(plan)
    if now - decided_at > timedelta(seconds=approval_expiry_s):
        refusals["approval_expired"] = fail(
            f"the {'approval' if plan.approval is Approval.APPROVED else 'plan'} is from "
            f"{decided_at:%H:%M:%S} UTC, older than {approval_expiry_s} s")
    results.update({k: v for k, v in refusals.items() if k not in results})
    # The current setting alone decides, in both directions: what the plan was made as is history.
    dry_run = controls.effective_dry_run(deployed_dry_run) if controls is not None else True
    return ActCheck(gate_results=results, refusals=refusals, dry_run=dry_run)


def _decided_at(plan: ActionPlan) -> datetime:
    approved_at = plan.params.get("approved_at")
    return parse_time(approved_at) if isinstance(approved_at, str) else plan.created_at


def load_controls(container: Any) -> tuple[RuntimeControls | None, str | None]:
    try:
        return container.controls(), None
    except ConfigurationError as exc:
        return None, exc.message


def current_dry_run(container: Any) -> bool:
    """Dry run as set now: the `dry_run` control, else the deployment's; unreadable controls mean
    dry run (nothing runs then anyway: Act refuses with `controls_unavailable`)."""
    controls, _ = load_controls(container)
    return controls.effective_dry_run(container.settings.dry_run) if controls is not None else True


def check_before_act(container: Any, incident: Any, plan: ActionPlan, ctx: SafetyContext,
                     plans: list[ActionPlan], now: datetime) -> ActCheck:
    """`check_at_execution` with the deployment's controls, policy and settings."""
    controls, error = load_controls(container)
    return check_at_execution(
        plan, ctx=ctx, policy=container.action_policy(), controls=controls, controls_error=error, plans=plans,
        current_recommendation=incident.recommendation, incident_state=incident.state.value, now=now,
        approval_expiry_s=container.settings.approval_expiry_s, deployed_dry_run=container.settings.dry_run,
        hypotheses=list(incident.hypotheses or []))


def plan_time_gates(container: Any, plan: ActionPlan, now: datetime) -> dict[str, str]:
    controls, error = load_controls(container)
    return control_gates(plan, controls, now, error)


def manual_override_active(container: Any, plan: ActionPlan) -> bool:
    """Whether an operator has taken manual control of the plan's service (the `manual_override`
    control). Unreadable controls count as an override: fail closed."""
    controls, _ = load_controls(container)
    return True if controls is None else controls.manual_override_for(plan_service(plan))
