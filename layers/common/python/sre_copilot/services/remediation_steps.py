"""Verify by recovery, the plan's own rollback strategy, and escalation (the workflow's last steps).

After an action's rollout is verified, the plan waits for its recovery criteria
(`actions.recovery`): the workflow parks with the criteria's deadline, and the sweeper wakes it
(`verify`) when the deadline passes; the alerts clearing first wakes it too (`resolved`). Then:
- recovered: the plan is VERIFIED and the incident MITIGATED;
- not recovered: the plan's rollback strategy runs, its result is verified, and a human is paged
  with what happened. A deploy rollback is never undone (that would redeploy the version it just
  removed for being bad), nor a drain (that would put work back on the failing host): those
  escalate only.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sre_copilot.actions.compensation import COMPENSATED
from sre_copilot.actions.recovery import (
    RecoveryCheck,
    RecoveryCriteria,
    check_recovery,
    criteria_for,
    deadline,
)
from sre_copilot.domain.action import ActionPlan
from sre_copilot.domain.catalog import RecoveryMetric
from sre_copilot.domain.incident import Incident, IncidentState
from sre_copilot.domain.json_types import JSONObject, StepEvent
from sre_copilot.domain.routing import oncall_phone_for, slack_channel_for
from sre_copilot.domain.types import ActionStatus, Channel, NotificationKind, parse_time
from sre_copilot.domain.workflow_state import WorkflowState
from sre_copilot.ports import clock
from sre_copilot.services import lifecycle
from sre_copilot.services.mutations import save_plan

if TYPE_CHECKING:
    from sre_copilot.services.workflow_steps import WorkflowSteps

COPILOT = "copilot:workflow"
_REDEPLOYS_BAD = "would redeploy the version it removed for being bad"
_BACK_TO_BAD_HOST = "would put work back on the host it was moved off"
NO_AUTOMATIC_UNDO: dict[str, str] = {
    "rollback": _REDEPLOYS_BAD, "rollback_ecs_service": _REDEPLOYS_BAD, "rollback_lambda_alias": _REDEPLOYS_BAD,
    "drain_host": _BACK_TO_BAD_HOST, "drain_node": _BACK_TO_BAD_HOST, "cordon_node": _BACK_TO_BAD_HOST,
    "delete_pod": "has nothing to restore: the pod's controller already replaced it",
}
"""Actions whose undo would do harm or nothing: they escalate only."""
RECOVERY = "recovery"
RECOVERY_DUE = "recovery_due"
RECOVERY_OUTCOME = "recovery_outcome"


def criteria_of(plan: ActionPlan) -> RecoveryCriteria | None:
    raw = plan.params.get(RECOVERY)
    return RecoveryCriteria.model_validate(raw) if isinstance(raw, dict) else None


def awaiting_recovery(plan: ActionPlan) -> bool:
    return (plan.status is ActionStatus.EXECUTED and not plan.dry_run and bool(plan.params.get(RECOVERY_DUE))
            and not plan.params.get(RECOVERY_OUTCOME))


def recovery_due(plans: list[ActionPlan]) -> tuple[ActionPlan, datetime] | None:
    """The plan waiting for its recovery check and when the check falls due, if any."""
    waiting = [p for p in plans if awaiting_recovery(p)]
    if not waiting:
        return None
    plan = waiting[-1]
    return plan, parse_time(plan.params[RECOVERY_DUE])


class RemediationSteps:
    def __init__(self, steps: WorkflowSteps) -> None:
        self.steps = steps
        self.c = steps.c

    # -- planning --------------------------------------------------------------------------------
    def with_recovery_criteria(self, plan: ActionPlan, incident: Incident) -> ActionPlan:
        if plan.action == "escalate":
            return plan
        signals = self.c.store.signals_for_incident(incident.tenant_id, incident.id)
        service = plan.params.get("service") or incident.service
        criteria = criteria_for(signals, str(service) if service else None,
                                window_s=self.c.settings.verification_window_s,
                                metrics=self._recovery_metrics(plan, str(service) if service else None))
        return plan.model_copy(update={
            "params": {**plan.params, RECOVERY: criteria.model_dump(mode="json")},
            "verification": f"{plan.verification}; recovery: {criteria.describe()}"})

    def _recovery_metrics(self, plan: ActionPlan, service: str | None) -> list[RecoveryMetric]:
        """The plan's own `recovery_metrics`, else those the catalog names for the service."""
        raw = plan.params.get("recovery_metrics")
        if isinstance(raw, list):
            return [RecoveryMetric.model_validate(m) for m in raw]
        if not service:
            return []
        entry = self.c.catalog().service(service)
        return list(entry.recovery_metrics) if entry else []

    def _metric_values(self, criteria: RecoveryCriteria, now: datetime) -> dict[str, list[tuple[datetime, float]]]:
        """GetMetricData for each metric criterion, from the action to now."""
        if not criteria.metrics:
            return {}
        since = criteria.since or now - timedelta(seconds=criteria.window_s)
        stats = {m.label(): {"Metric": {"Namespace": m.namespace, "MetricName": m.metric, "Dimensions": [
            {"Name": k, "Value": v} for k, v in sorted(m.dimensions.items())]}, "Period": m.period_s, "Stat": m.stat}
            for m in criteria.metrics}
        values: dict[str, list[tuple[datetime, float]]] = self.c.metrics_reader().metric_stats(stats, since, now)
        return values

    # -- Verify (after the rollout check) -----------------------------------------------------------
    def await_recovery(self, incident: Incident, plan: ActionPlan, why: str) -> tuple[ActionPlan, JSONObject] | None:
        """Start the recovery wait for a live plan whose rollout is verified; None when the plan names
        nothing to recover (the rollout check is then the whole verification)."""
        criteria = criteria_of(plan)
        if plan.dry_run or criteria is None or criteria.empty():
            return None
        due = deadline(clock.now(), criteria)
        criteria = criteria.model_copy(update={"since": clock.now()})
        plan = save_plan(self.c.store, incident.tenant_id, plan,
                         params={RECOVERY_DUE: due.isoformat(), RECOVERY: criteria.model_dump(mode="json")},
                         updated_at=clock.now(), detail=f"{why}; waiting for recovery")
        self.steps._audit(incident, "action.awaiting_recovery", {
            "plan": plan.id, "rollout": why, "deadline": due.isoformat(), "criteria": criteria.describe()})
        return plan, {"ok": True, "plan_id": plan.id, "why": why, "awaiting_recovery": True,
                      "deadline": due.isoformat()}

    # -- CheckRecovery ------------------------------------------------------------------------------
    def check_recovery(self, event: StepEvent) -> JSONObject:
        incident = self.steps._incident(WorkflowState.parse(event))
        due = recovery_due(self.c.store.actions_for(incident.tenant_id, incident.id))
        closed = incident.state in (IncidentState.RESOLVED, IncidentState.LEARNED)
        if due is None:
            return {"ok": True, "outcome": "none", "closed": closed}
        plan, at = due
        criteria = criteria_of(plan)
        assert criteria is not None  # awaiting_recovery implies criteria
        signals = self.c.store.signals_for_incident(incident.tenant_id, incident.id)
        alarms = [a.alarm for a in criteria.alerts if a.alarm]
        states = self.c.alarm_states(alarms) if alarms else {}
        now = clock.now()
        check = check_recovery(criteria, signals, states, self._metric_values(criteria, now))
        if not check.recovered and now < at:
            # Resolved by a person before the alerts cleared: the window still decides the verdict.
            return {"ok": True, "outcome": "pending", "plan_id": plan.id, "deadline": at.isoformat(),
                    "why": check.summary(), "closed": closed}
        if not check.recovered and closed:
            # A person closed the incident; nothing to roll back or escalate, but it stays unverified.
            plan = save_plan(self.c.store, incident.tenant_id, plan, updated_at=now,
                             detail=f"unverified: {check.summary()}",
                             params={RECOVERY_OUTCOME: check.model_dump(mode="json")})
            self.steps._audit(incident, "action.unverified", {"plan": plan.id, "why": check.summary(),
                                                              "how": check.how, "closed_by": "a person"})
            return {"ok": True, "outcome": "unverified", "plan_id": plan.id, "why": check.summary(), "closed": True}
        outcome = "recovered" if check.recovered else "unrecovered"
        plan = save_plan(self.c.store, incident.tenant_id, plan,
                         status=ActionStatus.VERIFIED if check.recovered else plan.status, updated_at=now,
                         detail=check.summary(), params={RECOVERY_OUTCOME: check.model_dump(mode="json")})
        self.steps._audit(incident, "action.verified" if check.recovered else "action.verification_failed",
                          {"plan": plan.id, "why": check.summary(), "how": check.how, "deadline": at.isoformat(),
                           **({"metrics": [m.model_dump(mode="json") for m in check.metrics]} if check.metrics else {})})
        if check.recovered:
            lifecycle.move_if_allowed(self.c, incident, IncidentState.MITIGATED, actor=COPILOT,
                                      reason=f"{plan.action} {plan.target} verified by recovery: {check.summary()}")
        return {"ok": check.recovered, "outcome": outcome, "plan_id": plan.id, "why": check.summary(),
                "closed": closed}

    # -- Rollback -----------------------------------------------------------------------------------
    def rollback(self, event: StepEvent) -> dict[str, object]:
        state = WorkflowState.parse(event)
        incident = self.steps._incident(state)
        plan_id = state.result("act").plan_id
        plans = self.c.store.actions_for(incident.tenant_id, incident.id)
        plan = next((p for p in reversed(plans) if p.id == plan_id), None)
        if plan is None:
            missing = f"incident {incident.id} has no plan {plan_id} to roll back"
            self.steps._audit(incident, "action.rollback_skipped", {"why": missing})
            return {"plan_id": plan_id, "status": "missing", "escalated": False}
        failure = _failure(plan)
        restored: dict[str, object] = {}
        if plan.dry_run:
            strategy, status, detail = "none", plan.status, "dry run: nothing was changed, nothing to undo"
        elif plan.status is ActionStatus.FAILED and COMPENSATED in plan.detail:
            # The executor undid its partial change before failing; the execution shows what it undid.
            strategy, status = "compensated_by_executor", plan.status
            detail = f"the action failed part-way and was undone: {plan.detail.split(COMPENSATED, 1)[1]}"
        elif plan.status is ActionStatus.FAILED and not plan.params.get("pre_state"):
            strategy, status, detail = "none", plan.status, "the action failed before changing anything"
        elif plan.action in NO_AUTOMATIC_UNDO:
            strategy, status = "escalate_only", plan.status
            detail = f"{failure}; not undone: undoing {plan.action} {NO_AUTOMATIC_UNDO[plan.action]}"
        else:
            strategy = "restore_pre_state"
            status, detail, restored = self._restore(incident, plan, failure)
        plan = save_plan(self.c.store, incident.tenant_id, plan, status=status, updated_at=clock.now(),
                         detail=detail, params={"rollback_result": {"strategy": strategy, **restored}})
        self.steps._audit(incident, "action.rolled_back", {"plan": plan.id, "status": plan.status, "strategy": strategy,
                                                           "detail": detail, **restored})
        escalated = self.escalate(incident, plan, f"{failure}. Rollback strategy: {strategy}: {detail}")
        return {"status": plan.status.value, "restore_verified": restored.get("verified"), "escalated": escalated,
                "strategy": strategy, "plan_id": plan.id}

    def _restore(self, incident: Incident, plan: ActionPlan, failure: str) -> tuple[ActionStatus, str, dict[str, object]]:
        try:
            result = self.c.executor_for(plan).rollback(plan)
        except Exception as exc:
            self.steps._audit(incident, "action.rollback_failed", {"plan": plan.id, "error": str(exc)})
            return ActionStatus.FAILED, f"{failure}; rollback failed: {exc}", {"verified": False}
        restored = {"calls": result.get("calls", []), "restored_state": result.get("restored_state")}
        try:
            ok, why = self.c.executor_for(plan).verify(plan.model_copy(update={"params": {
                **plan.params, "verifying": "rollback"}}))
        except Exception as exc:  # still rolling out, or unreadable: say so, a human takes it from here
            ok, why = False, f"restore not confirmed yet: {exc}"
        self.steps._audit(incident, "action.rollback_verified" if ok else "action.rollback_unverified",
                          {"plan": plan.id, "why": why})
        detail = f"rolled back: {result.get('detail', 'restored pre-action state')}; restore check: {why}"
        return ActionStatus.ROLLED_BACK, detail, {**restored, "verified": ok, "verify": why}

    # -- Escalate -----------------------------------------------------------------------------------
    def escalate(self, incident: Incident, plan: ActionPlan, what: str) -> bool:
        text = (f"Escalation for {incident.id} ({incident.title}): {plan.action} {plan.target} did not fix it. "
                f"{what}. A human must take over.")
        channel = slack_channel_for(incident, self.c.catalog())
        sent = [self.steps._send_slack(incident, channel, text, [], NotificationKind.ESCALATION)]
        number = oncall_phone_for(incident, self.c.catalog(), self.c.default_oncall_phone())
        try:
            callback = (f"{self.c.settings.public_base_url.rstrip('/')}/callbacks/twilio/voice"
                        f"?incident={incident.id}")
            sid = self.c.pager().call(number, _escalation_twiml(text), callback)
            sent.append(self.steps._record(incident, Channel.PHONE, number, NotificationKind.ESCALATION, "sent", text, sid))
        except Exception as exc:  # the Slack escalation above stands; the failure is recorded
            sent.append(self.steps._record(incident, Channel.PHONE, number, NotificationKind.ESCALATION, "failed",
                                           f"{text} ({exc})"))
        self.steps._audit(incident, "incident.escalated", {"plan": plan.id, "what": what,
                                                           "sent": [f"{n['channel']}:{n['status']}" for n in sent]})
        return any(n["status"] == "sent" for n in sent)


def _failure(plan: ActionPlan) -> str:
    outcome = plan.params.get(RECOVERY_OUTCOME)
    if isinstance(outcome, dict):
        return f"{plan.action} {plan.target} ran but the incident did not recover: " + \
            RecoveryCheck.model_validate(outcome).summary()
    return f"{plan.action} {plan.target} failed verification: {plan.detail}"


def _escalation_twiml(text: str) -> str:
    from xml.sax.saxutils import escape

    return f"<Response><Say>{escape(text[:600])}</Say></Response>"
