"""The incident workflow's steps. Each Step Functions task Lambda calls one function here.

Steps read and write the stores (DynamoDB, S3) and return small summaries, so the execution
history in the console stays readable and far below the 256 KB payload limit.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from sre_copilot.domain.action import ActionPlan, Recommendation
from sre_copilot.domain.incident import Incident, IncidentState
from sre_copilot.domain.notification import AuditRecord, Notification
from sre_copilot.domain.reasoning import ContextSnapshot, Decision, EvidencePackage, Hypothesis
from sre_copilot.domain.types import (
    ActionStatus,
    Approval,
    Channel,
    DecisionOutcome,
    NotificationKind,
    Priority,
)
from sre_copilot.errors import NotFound
from sre_copilot.ports import clock
from sre_copilot.services import lifecycle, telemetry
from sre_copilot.services.container import Container
from sre_copilot.services.ids import short_hash
from sre_copilot.services.observability import logger, metrics

if TYPE_CHECKING:
    from sre_copilot.actions.gates import SafetyContext

# Each step imports its own reasoning, action and message modules when it runs, so a function's
# cold start loads only its step's code (benchmarks/bench_cold_start.py).
COPILOT = "copilot:workflow"


class WorkflowSteps:
    def __init__(self, container: Container) -> None:
        self.c = container

    # -- helpers ------------------------------------------------------------------------------
    def _incident(self, event: dict[str, Any]) -> Incident:
        incident = self.c.store.get_incident(event["tenant_id"], event["incident_id"])
        if incident is None:
            raise NotFound(f"incident {event['incident_id']} is not stored for tenant {event['tenant_id']}")
        return incident

    def _audit(self, incident: Incident, action: str, details: dict[str, Any]) -> None:
        self.c.store.append(AuditRecord(at=clock.now(), tenant_id=incident.tenant_id, actor=COPILOT,
                                        action=action, subject=incident.id, details=details))

    def _key(self, incident: Incident, part: str) -> str:
        return f"incidents/{incident.tenant_id}/{incident.id}/v{incident.evidence_version}/{part}.json"

    # -- analysis -----------------------------------------------------------------------------
    def assemble_context(self, event: dict[str, Any]) -> dict[str, Any]:
        from sre_copilot.reasoning.context import assemble_context

        incident = self._incident(event)
        # This analysis takes in all evidence stored so far, so any pending re-analysis is served.
        self.c.store.clear_refresh(incident.tenant_id, incident.id)
        if incident.state is IncidentState.INCONCLUSIVE:
            lifecycle.move(self.c, incident, IncidentState.INVESTIGATING, actor=COPILOT,
                           reason="new evidence on an inconclusive incident")
        signals = self.c.store.signals_for_incident(incident.tenant_id, incident.id)
        now = clock.now()
        start = min((s.event_time for s in signals), default=incident.opened_at)
        changes = self.c.store.changes_between(incident.tenant_id, start - timedelta(hours=24), now)
        snapshot = assemble_context(incident=incident, signals=signals, catalog=self.c.catalog(),
                                    changes=changes, metrics=self.c.metrics_reader(), now=now)
        ref = self.c.blobs.put_json(self._key(incident, "context"), snapshot.model_dump(mode="json"))
        incident.snapshot_ref = ref
        self.c.store.put_incident(incident)
        self._audit(incident, "context.assembled", {"ref": ref, "missing": snapshot.missing})
        return {"snapshot_ref": ref, "signals": len(signals), "changes": len(snapshot.recent_changes),
                "missing": sorted(snapshot.missing)}

    def aggregate_evidence(self, event: dict[str, Any]) -> dict[str, Any]:
        from sre_copilot.reasoning.evidence import aggregate_evidence

        incident = self._incident(event)
        snapshot = ContextSnapshot.model_validate(self.c.blobs.get_json(event["context"]["result"]["snapshot_ref"]))
        signals = self.c.store.signals_for_incident(incident.tenant_id, incident.id)
        package = aggregate_evidence(snapshot=snapshot, signals=signals, catalog=self.c.catalog(),
                                     precedents=self.c.precedents())
        ref = self.c.blobs.put_json(self._key(incident, "evidence"), package.model_dump(mode="json"))
        kinds = sorted({e.kind for e in package.items})
        return {"evidence_ref": ref, "items": len(package.items), "kinds": kinds, "conflicts": len(package.conflicts)}

    def generate_hypotheses(self, event: dict[str, Any]) -> dict[str, Any]:
        from sre_copilot.reasoning.hypotheses import generate_hypotheses

        incident = self._incident(event)
        snapshot = ContextSnapshot.model_validate(self.c.blobs.get_json(event["context"]["result"]["snapshot_ref"]))
        package = EvidencePackage.model_validate(self.c.blobs.get_json(event["evidence"]["result"]["evidence_ref"]))
        signals = self.c.store.signals_for_incident(incident.tenant_id, incident.id)
        hypotheses = generate_hypotheses(snapshot=snapshot, evidence=package, signals=signals,
                                         catalog=self.c.catalog(), assistant=self.c.assistant())
        ref = self.c.blobs.put_json(self._key(incident, "hypotheses"),
                                    [h.model_dump(mode="json") for h in hypotheses])
        return {"hypotheses_ref": ref, "count": len(hypotheses),
                "generators": sorted({h.generator for h in hypotheses})}

    def score_confidence(self, event: dict[str, Any]) -> dict[str, Any]:
        from sre_copilot.reasoning.confidence import score_hypotheses

        incident = self._incident(event)
        snapshot = ContextSnapshot.model_validate(self.c.blobs.get_json(event["context"]["result"]["snapshot_ref"]))
        package = EvidencePackage.model_validate(self.c.blobs.get_json(event["evidence"]["result"]["evidence_ref"]))
        raw = self.c.blobs.get_json(event["hypotheses"]["result"]["hypotheses_ref"])
        hypotheses = [Hypothesis.model_validate(h) for h in raw]
        scored = score_hypotheses(hypotheses, evidence=package, snapshot=snapshot, weights=self.c.confidence_weights(),
                                  validation_history=self.c.store.validation_history(incident.tenant_id))
        incident.hypotheses = [h.model_dump(mode="json", exclude={"evidence"}) for h in scored]
        self.c.store.put_incident(incident)
        self._audit(incident, "hypotheses.scored", {"ranked": [
            {"entity": h.entity, "change_id": h.change_id, "confidence": h.confidence,
             "factors": h.factors.model_dump() if h.factors else None} for h in scored[:5]]})
        top = scored[0] if scored else None
        return {"count": len(scored), "top": None if top is None else {
            "entity": top.entity, "fault": top.fault, "change_id": top.change_id,
            "confidence": round(top.confidence, 3)}}

    def apply_policy(self, event: dict[str, Any]) -> dict[str, Any]:
        from sre_copilot.reasoning.policy import apply_policy

        incident = self._incident(event)
        hypotheses = [Hypothesis.model_validate(h) for h in incident.hypotheses]
        package = EvidencePackage.model_validate(self.c.blobs.get_json(event["evidence"]["result"]["evidence_ref"]))
        decision = apply_policy(hypotheses, evidence=package, thresholds=self.c.policy_thresholds(), now=clock.now())
        incident.decision = decision.outcome
        self.c.store.put_incident(incident)
        self._audit(incident, "policy.decided", decision.model_dump(mode="json"))
        if decision.outcome is DecisionOutcome.INCONCLUSIVE:
            lifecycle.move_if_allowed(self.c, incident, IncidentState.INCONCLUSIVE, actor=COPILOT,
                                      reason="; ".join(decision.reasons) or "no hypothesis above threshold")
        elif decision.outcome is DecisionOutcome.AUTO_ACK:
            lifecycle.move_if_allowed(self.c, incident, IncidentState.ACKNOWLEDGED, actor=COPILOT,
                                      reason="policy auto-ack: high confidence with precedent")
        metrics.add_metric(name=f"Decision_{decision.outcome.value}", unit=MetricUnit.Count, value=1)
        return {"outcome": decision.outcome.value, "presented": decision.presented, "reasons": decision.reasons}

    def recommend(self, event: dict[str, Any]) -> dict[str, Any]:
        from sre_copilot.actions.gates import evaluate_gates
        from sre_copilot.actions.routing import plan_from_recommendation, route_approval
        from sre_copilot.reasoning.recommend import recommend

        incident = self._incident(event)
        hypotheses = [Hypothesis.model_validate(h) for h in incident.hypotheses]
        decision = Decision.model_validate({**_decision_from(event), "at": clock.now()})
        recs = recommend(hypotheses, decision=decision, catalog=self.c.catalog(), runbooks=self.c.runbooks())
        if not recs:
            incident.recommendation = None
            self.c.store.put_incident(incident)
            return {"approval": "none", "action": None}
        rec = recs[0]
        incident.recommendation = rec.model_dump(mode="json")
        plans = self.c.store.actions_for(incident.tenant_id, incident.id)
        existing = [p for p in plans if p.action == rec.action and p.target == rec.target]
        if existing:  # a refresh that lands on the same remedy keeps the plan and its approval state
            plan = existing[-1]
            self.c.store.put_incident(incident)
            # Only a plan still waiting to run may route to Act again; anything else waits.
            state = plan.approval.value if plan.status is ActionStatus.PLANNED else f"already_{plan.status.value}"
            return {"approval": state,
                    "plan_id": plan.id, "action": plan.action, "target": plan.target, "risk": plan.risk.value}
        plan = plan_from_recommendation(rec, incident, plan_id=f"plan-{short_hash(incident.id, rec.action, rec.target)}",
                                        now=clock.now(), dry_run=self.c.settings.dry_run, catalog=self.c.catalog(),
                                        environment=self.c.settings.environment)
        gates = evaluate_gates(plan, self._safety_context(incident, plan, plans), self.c.action_policy())
        approval, timeout = route_approval(plan, gates, self.c.action_policy())
        if decision.outcome in (DecisionOutcome.INCONCLUSIVE, DecisionOutcome.NEEDS_HUMAN) and approval is Approval.AUTO:
            approval = Approval.PENDING  # never act alone on weak or conflicting evidence
        plan = plan.model_copy(update={"approval": approval, "gate_results": gates,
                                       "params": {**plan.params, "approval_timeout_s": timeout}})
        if approval is Approval.BLOCKED:
            plan = plan.model_copy(update={"status": ActionStatus.SKIPPED})
        self.c.store.put_action(incident.tenant_id, plan)
        self.c.store.put_incident(incident)
        self._audit(incident, "action.planned", plan.model_dump(mode="json"))
        return {"approval": approval.value, "plan_id": plan.id, "action": plan.action, "target": plan.target,
                "risk": plan.risk.value, "runbook": rec.runbook}

    def _safety_context(self, incident: Incident, plan: ActionPlan, plans: list[ActionPlan]) -> SafetyContext:
        from sre_copilot.actions.gates import SafetyContext

        target_service = plan.params.get("service") or incident.service
        others = [other for other, service in self.c.store.open_incident_services(incident.tenant_id).items()
                  if other != incident.id and service and service == target_service]
        # The service's own change partition: the gate needs its last deploy, not the tenant's week.
        changes = ([] if not incident.service else
                   self.c.store.changes_for_service(incident.tenant_id, incident.service,
                                                    clock.now() - timedelta(days=7), clock.now()))
        last_deploy = max((c.at for c in changes), default=None)
        recent_actions = [p for p in plans if p.status in (ActionStatus.EXECUTED, ActionStatus.VERIFIED)]
        return SafetyContext(
            active_incidents_on_target=len(others),
            last_deploy_age_s=None if last_deploy is None else (clock.now() - last_deploy).total_seconds(),
            slo_burn_rate=None, risk_budget_remaining=None, manual_override_active=False,
            actions_in_last_hour=len(recent_actions), environment=self.c.settings.environment,
        )

    # -- people ---------------------------------------------------------------------------------
    def notify(self, event: dict[str, Any]) -> dict[str, Any]:
        from sre_copilot.messages.pagerduty import hypotheses_note
        from sre_copilot.messages.slack import incident_card

        incident = self._incident(event)
        hypotheses = [Hypothesis.model_validate(h) for h in incident.hypotheses]
        decision = Decision.model_validate({**_decision_from(event), "at": clock.now()})
        rec = Recommendation.model_validate(incident.recommendation) if incident.recommendation else None
        plan = self._plan(incident, event)
        sent_before = self.c.store.notifications_for(incident.tenant_id, incident.id)
        first = not any(n.kind is NotificationKind.PAGE for n in sent_before)
        channel = self.c.slack_channel_for(incident)
        text, blocks = incident_card(incident, hypotheses, decision, rec, plan)
        out: list[dict[str, Any]] = []
        kind = NotificationKind.PAGE if first else NotificationKind.UPDATE
        digest = short_hash(decision.outcome.value, plan.approval.value if plan else "-",
                            *[f"{h.entity}:{h.change_id}:{h.confidence:.2f}" for h in hypotheses[:3]])
        if not first and digest == incident.last_card:
            return {"sent": [], "skipped": "conclusions unchanged since the last card"}
        incident.last_card = digest
        self.c.store.put_incident(incident)
        out.append(self._send_slack(incident, channel, text, blocks, kind))
        if first and incident.priority in (Priority.P0, Priority.P1):
            out.append(self._page_phone(incident, hypotheses[0] if hypotheses else None))
        if plan is not None and plan.approval is Approval.PENDING and not any(
            n.kind is NotificationKind.APPROVAL_REQUEST and plan.id in n.text for n in sent_before
        ):
            approval_text = (f"Approval needed for {incident.id}: {plan.action} {plan.target} "
                             f"(risk {plan.risk.value}, plan {plan.id}, dry_run={plan.dry_run})")
            out.append(self._send_slack(incident, channel, approval_text, blocks, NotificationKind.APPROVAL_REQUEST))
        if incident.pagerduty_incident_id and hypotheses:
            try:
                self.c.pagerduty().add_note(incident.pagerduty_incident_id, hypotheses_note(hypotheses, decision))
                out.append(self._record(incident, Channel.PAGERDUTY, incident.pagerduty_incident_id,
                                        NotificationKind.UPDATE, "sent", "hypotheses note"))
            except Exception as exc:  # PagerDuty being down must not stop the page to humans
                logger.warning("pagerduty note failed", extra={"error": str(exc)})
                out.append(self._record(incident, Channel.PAGERDUTY, incident.pagerduty_incident_id,
                                        NotificationKind.UPDATE, "failed", str(exc)))
        return {"sent": [f"{n['channel']}:{n['kind']}:{n['status']}" for n in out]}

    def _send_slack(self, incident: Incident, channel: str, text: str, blocks: list[dict[str, Any]],
                    kind: NotificationKind) -> dict[str, Any]:
        try:
            ts = self.c.slack().post(channel, text, blocks)
            return self._record(incident, Channel.SLACK, channel, kind, "sent", text, ts)
        except Exception as exc:
            logger.warning("slack post failed", extra={"error": str(exc)})
            return self._record(incident, Channel.SLACK, channel, kind, "failed", f"{text} ({exc})")

    def _page_phone(self, incident: Incident, top: Hypothesis | None) -> dict[str, Any]:
        from sre_copilot.messages.phone import page_twiml

        number = self.c.oncall_phone_for(incident)
        callback = f"{self.c.settings.public_base_url.rstrip('/')}/callbacks/twilio/voice?incident={incident.id}"
        twiml = page_twiml(incident, top, callback)
        try:
            sid = self.c.pager().call(number, twiml, callback)
            return self._record(incident, Channel.PHONE, number, NotificationKind.PAGE, "sent", twiml, sid)
        except Exception as exc:
            logger.warning("phone page failed", extra={"error": str(exc)})
            return self._record(incident, Channel.PHONE, number, NotificationKind.PAGE, "failed", str(exc))

    def _record(self, incident: Incident, channel: Channel, target: str, kind: NotificationKind, status: str,
                text: str, provider_id: str | None = None) -> dict[str, Any]:
        notification = Notification(
            id=f"ntf-{short_hash(incident.id, channel, kind, str(incident.evidence_version), text[:200])}",
            incident_id=incident.id, at=clock.now(), channel=channel, target=target, kind=kind, status=status,
            text=text[:4000], provider_id=provider_id,
        )
        self.c.store.record_notification(notification)
        if status == "failed":
            telemetry.notification_failed(channel.value)
        self._audit(incident, f"notify.{channel.value}.{kind.value}", {"status": status, "target": target})
        return {"channel": channel.value, "kind": kind.value, "status": status}

    def _plan(self, incident: Incident, event: dict[str, Any]) -> ActionPlan | None:
        plan_id = ((event.get("recommendation") or {}).get("result") or {}).get("plan_id")
        if not plan_id:
            return None
        return next((p for p in self.c.store.actions_for(incident.tenant_id, incident.id) if p.id == plan_id), None)

    # -- waiting --------------------------------------------------------------------------------
    def await_decision(self, event: dict[str, Any]) -> dict[str, Any]:
        incident = self._incident(event)
        plan = next((p for p in self.c.store.actions_for(incident.tenant_id, incident.id)
                     if p.approval is Approval.PENDING), None)
        deadline = None
        if plan is not None:
            timeout = plan.params.get("approval_timeout_s")
            if timeout:
                deadline = clock.now() + timedelta(seconds=float(timeout))
        self.c.store.put_wait_token(incident.tenant_id, incident.id, event["task_token"], deadline,
                                    plan.id if plan else None)
        if self.c.store.refresh_flagged(incident.tenant_id, incident.id):
            # Evidence arrived while the analysis ran: go round again instead of sleeping on it.
            token = self.c.store.take_wait_token(incident.tenant_id, incident.id)
            if token:
                self.c.workflow.send_success(token["token"], {"reason": "refresh"})
        return {"parked": True, "deadline": None if deadline is None else deadline.isoformat(),
                "plan_id": plan.id if plan else None}

    # -- acting ---------------------------------------------------------------------------------
    def _current_plan(self, incident: Incident) -> ActionPlan:
        plans = [p for p in self.c.store.actions_for(incident.tenant_id, incident.id)
                 if p.approval in (Approval.AUTO, Approval.APPROVED) and p.status is ActionStatus.PLANNED]
        if not plans:
            raise NotFound(f"incident {incident.id} has no approved plan waiting to run")
        return plans[-1]

    def act(self, event: dict[str, Any]) -> dict[str, Any]:
        incident = self._incident(event)
        plan = self._current_plan(incident)
        lifecycle.move_if_allowed(self.c, incident, IncidentState.INVESTIGATING, actor=plan.approver or COPILOT,
                                  reason=f"acting on {plan.action} {plan.target}")
        executor = self.c.executor_for(plan)
        try:
            result = executor.execute(plan, dry_run=plan.dry_run)
            plan = plan.model_copy(update={"status": ActionStatus.EXECUTED, "updated_at": clock.now(),
                                           "params": {**plan.params, **result}, "detail": str(result.get("detail", ""))})
        except Exception as exc:
            plan = plan.model_copy(update={"status": ActionStatus.FAILED, "updated_at": clock.now(),
                                           "detail": f"execution failed: {exc}"})
        self.c.store.put_action(incident.tenant_id, plan)
        self._audit(incident, "action.executed", {"plan": plan.id, "status": plan.status, "dry_run": plan.dry_run,
                                                  "approver": plan.approver, "detail": plan.detail})
        metrics.add_metric(name="ActionsExecuted", unit=MetricUnit.Count, value=1)
        return {"plan_id": plan.id, "status": plan.status.value, "dry_run": plan.dry_run}

    def verify(self, event: dict[str, Any]) -> dict[str, Any]:
        incident = self._incident(event)
        plan = next(p for p in reversed(self.c.store.actions_for(incident.tenant_id, incident.id))
                    if p.id == event["act"]["result"]["plan_id"])
        if plan.status is ActionStatus.FAILED:
            ok, why = False, plan.detail
        else:
            ok, why = self.c.executor_for(plan).verify(plan)
        status = ActionStatus.VERIFIED if ok else plan.status
        plan = plan.model_copy(update={"status": status, "updated_at": clock.now(), "detail": why})
        self.c.store.put_action(incident.tenant_id, plan)
        self._audit(incident, "action.verified" if ok else "action.verification_failed", {"plan": plan.id, "why": why})
        if ok and not plan.dry_run:  # a dry run changed nothing, so it mitigated nothing
            lifecycle.move_if_allowed(self.c, incident, IncidentState.MITIGATED, actor=COPILOT,
                                      reason=f"{plan.action} {plan.target} verified: {why}")
        return {"ok": ok, "plan_id": plan.id, "why": why}

    def rollback(self, event: dict[str, Any]) -> dict[str, Any]:
        incident = self._incident(event)
        plan = next(p for p in reversed(self.c.store.actions_for(incident.tenant_id, incident.id))
                    if p.id == event["act"]["result"]["plan_id"])
        try:
            result = self.c.executor_for(plan).rollback(plan) if plan.status is not ActionStatus.FAILED else {}
            plan = plan.model_copy(update={"status": ActionStatus.ROLLED_BACK, "updated_at": clock.now(),
                                           "detail": f"rolled back: {result.get('detail', 'restored pre-action state')}"})
        except Exception as exc:
            plan = plan.model_copy(update={"status": ActionStatus.FAILED, "updated_at": clock.now(),
                                           "detail": f"rollback failed: {exc}"})
        self.c.store.put_action(incident.tenant_id, plan)
        self._audit(incident, "action.rolled_back", {"plan": plan.id, "status": plan.status, "detail": plan.detail})
        return {"plan_id": plan.id, "status": plan.status.value}

    # -- closing --------------------------------------------------------------------------------
    def document(self, event: dict[str, Any]) -> dict[str, Any]:
        from sre_copilot.services.postmortem import render_postmortem

        incident = self._incident(event)
        # The execution ends here: nothing is left to re-analyse.
        self.c.store.clear_refresh(incident.tenant_id, incident.id)
        reason = (event.get("wake") or {}).get("reason") or ("timeout" if event.get("error") else "closed")
        if incident.merged_into:
            self._audit(incident, "incident.closed_by_merge", {"into": incident.merged_into})
            return {"merged_into": incident.merged_into}
        if reason == "resolved":
            lifecycle.move_if_allowed(self.c, incident, IncidentState.RESOLVED, actor=COPILOT,
                                      reason="all signals resolved")
        signals = self.c.store.signals_for_incident(incident.tenant_id, incident.id)
        doc = render_postmortem(incident, signals, self.c.store.actions_for(incident.tenant_id, incident.id),
                                self.c.store.notifications_for(incident.tenant_id, incident.id),
                                self.c.store.for_subject(incident.tenant_id, incident.id))
        ref = self.c.blobs.put_bytes(f"postmortems/{incident.tenant_id}/{incident.id}.md", doc.encode(),
                                     "text/markdown")
        incident.postmortem_ref = ref
        self.c.store.put_incident(incident)
        self.c.index_precedent(incident)
        if incident.state in (IncidentState.RESOLVED, IncidentState.INCONCLUSIVE):
            lifecycle.move(self.c, incident, IncidentState.LEARNED, actor=COPILOT, reason="postmortem written")
        # _send_slack records a failed post instead of raising, so closing never fails on Slack.
        self._send_slack(incident, self.c.slack_channel_for(incident),
                         f"{incident.id} {incident.state.value}: postmortem draft at {ref}", [],
                         NotificationKind.RESOLUTION)
        return {"postmortem_ref": ref, "state": incident.state.value}

    def record_failure(self, event: dict[str, Any]) -> dict[str, Any]:
        error = event.get("error") or {}
        incident_id = event.get("incident_id")
        tenant_id = event.get("tenant_id", "default")
        if incident_id:
            self.c.store.clear_refresh(tenant_id, incident_id)  # the execution ends here
        subject = incident_id or "?"
        self.c.store.append(AuditRecord(at=clock.now(), tenant_id=tenant_id, actor=COPILOT,
                                        action="workflow.failed", subject=subject, details=error))
        self.c.queue.send_to_review(f"workflow failed for {subject}: {error.get('Error')}: "
                                    f"{str(error.get('Cause'))[:500]}", f"incident:{subject}")
        metrics.add_metric(name="WorkflowFailures", unit=MetricUnit.Count, value=1)
        return {"recorded": True, "error": error.get("Error")}


def _decision_from(event: dict[str, Any]) -> dict[str, Any]:
    result = (event.get("decision") or {}).get("result") or {}
    return {"outcome": result.get("outcome", "needs_human"), "reasons": result.get("reasons", []),
            "presented": result.get("presented", [])}

