"""The incident workflow's steps. Each Step Functions task Lambda calls one function here.

Steps read and write the stores (DynamoDB, S3) and return small summaries, so the execution
history in the console stays readable and far below the 256 KB payload limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING

from aws_lambda_powertools.metrics import MetricUnit

from sre_copilot.domain.action import ActionPlan
from sre_copilot.domain.incident import Incident, IncidentState
from sre_copilot.domain.json_types import JSONObject, StepEvent, as_list
from sre_copilot.domain.notification import AuditRecord, Notification, SentSummary
from sre_copilot.domain.reasoning import ContextSnapshot, Decision, EvidencePackage, Hypothesis
from sre_copilot.domain.routing import slack_channel_for
from sre_copilot.domain.signal import Signal, signals_from_documents, signals_to_documents
from sre_copilot.domain.types import (
    ActionStatus,
    Approval,
    Channel,
    DecisionOutcome,
    NotificationKind,
    Priority,
)
from sre_copilot.domain.workflow_state import WorkflowState
from sre_copilot.errors import ConfigurationError, NotFound
from sre_copilot.ports import clock
from sre_copilot.services import lifecycle, telemetry
from sre_copilot.services.container import Container
from sre_copilot.services.ids import short_hash
from sre_copilot.services.mutations import (
    create_plan,
    mutate_incident,
    mutate_plan,
    record_notification,
    refresh,
    save_fields,
    save_plan,
)
from sre_copilot.services.observability import logger, metrics

if TYPE_CHECKING:
    from sre_copilot.actions.gates import SafetyContext
    from sre_copilot.actions.runtime_gates import ActCheck

# Each step imports its own reasoning, action and message modules when it runs, so a function's
# cold start loads only its step's code (benchmarks/bench_cold_start.py).
COPILOT = "copilot:workflow"
PASS_SIGNALS = "signals"
"""The key of the snapshot document holding the signals the analysis pass weighs."""


class WorkflowSteps:
    def __init__(self, container: Container) -> None:
        self.c = container

    # -- helpers ------------------------------------------------------------------------------
    def _incident(self, state: WorkflowState) -> Incident:
        incident = self.c.store.get_incident(state.tenant_id, state.incident())
        if incident is None:
            raise NotFound(f"incident {state.incident_id} is not stored for tenant {state.tenant_id}")
        return incident

    def _save(self, incident: Incident, **fields: object) -> None:
        save_fields(self.c.store, incident, **fields)

    def _audit(self, incident: Incident, action: str, details: Mapping[str, object]) -> None:
        self.c.store.append(AuditRecord(at=clock.now(), tenant_id=incident.tenant_id, actor=COPILOT,
                                        action=action, subject=incident.id, details=dict(details)))

    def _pass_context(self, state: WorkflowState, incident: Incident) -> tuple[ContextSnapshot, list[Signal]]:
        """The pass's snapshot and the signals AssembleContext stored in it. A snapshot written by
        a version that did not store them reads the incident's signals as they are now."""
        document = self.c.blobs.get_json(state.ref("context", "snapshot_ref"))
        stored = document.get(PASS_SIGNALS) if isinstance(document, dict) else None
        signals = (signals_from_documents(stored) if stored is not None
                   else self.c.store.signals_for_incident(incident.tenant_id, incident.id))
        return ContextSnapshot.model_validate(document), signals

    def _key(self, incident: Incident, part: str) -> str:
        return f"incidents/{incident.tenant_id}/{incident.id}/v{incident.evidence_version}/{part}.json"

    # -- analysis -----------------------------------------------------------------------------
    def assemble_context(self, event: StepEvent) -> JSONObject:
        from sre_copilot.reasoning.context import assemble_context

        state = WorkflowState.parse(event)
        incident = self._incident(state)
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
        # The pass's later steps read the signals stored with the snapshot, not the index again:
        # evidence and hypotheses then weigh the alerts the snapshot lists, even when more join
        # while the pass runs. (Beside the model's fields: readers of the snapshot alone skip them.)
        ref = self.c.blobs.put_json(self._key(incident, "context"),
                                    {**snapshot.model_dump(mode="json"), PASS_SIGNALS: signals_to_documents(signals)})

        def count_pass(fresh: Incident) -> bool:
            # Counted on the fresh read: the re-analysis schedule spaces passes by this count.
            fresh.snapshot_ref, fresh.analyses, fresh.analysed_at = ref, fresh.analyses + 1, now
            return True

        refresh(incident, mutate_incident(self.c.store, incident.tenant_id, incident.id, count_pass))
        self._audit(incident, "context.assembled", {"ref": ref, "missing": snapshot.missing, "signals": len(signals)})
        return {"snapshot_ref": ref, "signals": len(signals), "changes": len(snapshot.recent_changes),
                "missing": sorted(snapshot.missing)}

    def aggregate_evidence(self, event: StepEvent) -> JSONObject:
        from sre_copilot.correlation.alert_history import weights_from_state
        from sre_copilot.reasoning.evidence import aggregate_evidence

        state = WorkflowState.parse(event)
        incident = self._incident(state)
        snapshot, signals = self._pass_context(state, incident)
        # How usual each alert was before the incident, from the correlation engine's alert history.
        engine_state, _version = self.c.store.load_correlation_state(incident.tenant_id)
        package = aggregate_evidence(snapshot=snapshot, signals=signals, catalog=self.c.catalog(),
                                     precedents=self.c.precedents(),
                                     alert_weights=weights_from_state(engine_state, signals))
        ref = self.c.blobs.put_json(self._key(incident, "evidence"), package.model_dump(mode="json"))
        kinds = sorted({e.kind for e in package.items})
        return {"evidence_ref": ref, "items": len(package.items), "kinds": kinds, "conflicts": len(package.conflicts)}

    def generate_hypotheses(self, event: StepEvent) -> JSONObject:
        from sre_copilot.reasoning.hypotheses import generate_hypotheses

        state = WorkflowState.parse(event)
        incident = self._incident(state)
        snapshot, signals = self._pass_context(state, incident)
        package = EvidencePackage.model_validate(self.c.blobs.get_json(state.ref("evidence", "evidence_ref")))
        hypotheses = generate_hypotheses(snapshot=snapshot, evidence=package, signals=signals,
                                         catalog=self.c.catalog(), assistant=self.c.assistant())
        ref = self.c.blobs.put_json(self._key(incident, "hypotheses"),
                                    [h.model_dump(mode="json") for h in hypotheses])
        return {"hypotheses_ref": ref, "count": len(hypotheses),
                "generators": sorted({h.generator for h in hypotheses})}

    def score_confidence(self, event: StepEvent) -> JSONObject:
        from sre_copilot.reasoning.confidence import score_hypotheses

        state = WorkflowState.parse(event)
        incident = self._incident(state)
        snapshot = ContextSnapshot.model_validate(self.c.blobs.get_json(state.ref("context", "snapshot_ref")))
        package = EvidencePackage.model_validate(self.c.blobs.get_json(state.ref("evidence", "evidence_ref")))
        raw = self.c.blobs.get_json(state.ref("hypotheses", "hypotheses_ref"))
        hypotheses = [Hypothesis.model_validate(h) for h in as_list(raw)]
        scored = score_hypotheses(hypotheses, evidence=package, snapshot=snapshot, weights=self.c.confidence_weights(),
                                  validation_history=self.c.store.validation_history(incident.tenant_id),
                                  calibration=self.c.confidence_calibration())
        self._save(incident, hypotheses=[h.model_dump(mode="json", exclude={"evidence"}) for h in scored])
        self._audit(incident, "hypotheses.scored", {"ranked": [
            {"entity": h.entity, "change_id": h.change_id, "confidence": h.confidence,
             "raw_confidence": h.raw_confidence, "calibration": h.calibration,
             "factors": h.factors.model_dump() if h.factors else None} for h in scored[:5]]})
        top = scored[0] if scored else None
        return {"count": len(scored), "top": None if top is None else {
            "entity": top.entity, "fault": top.fault, "change_id": top.change_id,
            "confidence": round(top.confidence, 3)}}

    def apply_policy(self, event: StepEvent) -> JSONObject:
        from sre_copilot.reasoning.policy import apply_policy

        state = WorkflowState.parse(event)
        incident = self._incident(state)
        hypotheses = [Hypothesis.model_validate(h) for h in incident.hypotheses]
        package = EvidencePackage.model_validate(self.c.blobs.get_json(state.ref("evidence", "evidence_ref")))
        decision = apply_policy(hypotheses, evidence=package, thresholds=self.c.policy_thresholds(), now=clock.now())
        self._save(incident, decision=decision.outcome)
        self._audit(incident, "policy.decided", decision.model_dump(mode="json"))
        if decision.outcome is DecisionOutcome.INCONCLUSIVE:
            lifecycle.move_if_allowed(self.c, incident, IncidentState.INCONCLUSIVE, actor=COPILOT,
                                      reason="; ".join(decision.reasons) or "no hypothesis above threshold")
        elif decision.outcome is DecisionOutcome.AUTO_ACK:
            lifecycle.move_if_allowed(self.c, incident, IncidentState.ACKNOWLEDGED, actor=COPILOT,
                                      reason="policy auto-ack: high confidence with precedent")
        metrics.add_metric(name=f"Decision_{decision.outcome.value}", unit=MetricUnit.Count, value=1)
        return {"outcome": decision.outcome.value, "presented": decision.presented, "reasons": decision.reasons}

    def recommend(self, event: StepEvent) -> JSONObject:
        from sre_copilot.actions.gates import evaluate_gates
        from sre_copilot.actions.routing import plan_from_recommendation, route_approval
        from sre_copilot.actions.runtime_gates import current_dry_run, plan_time_gates
        from sre_copilot.reasoning.recommend import recommend
        from sre_copilot.services.remediation_steps import RemediationSteps

        state = WorkflowState.parse(event)
        incident = self._incident(state)
        hypotheses = [Hypothesis.model_validate(h) for h in incident.hypotheses]
        decision = Decision.model_validate({**_decision_from(state), "at": clock.now()})
        recs = recommend(hypotheses, decision=decision, catalog=self.c.catalog(), runbooks=self.c.runbooks())
        if not recs:
            self._save(incident, recommendation=None)
            return {"approval": "none", "action": None}
        rec = recs[0]
        recommendation = rec.model_dump(mode="json")
        plans = self.c.store.actions_for(incident.tenant_id, incident.id)
        existing = [p for p in plans if p.action == rec.action and p.target == rec.target]
        if existing:  # a refresh that lands on the same remedy keeps the plan and its approval state
            plan = existing[-1]
            self._save(incident, recommendation=recommendation)
            # Only a plan still waiting to run may route to Act again; anything else waits.
            approval_state = plan.approval.value if plan.status is ActionStatus.PLANNED else f"already_{plan.status.value}"
            return {"approval": approval_state,
                    "plan_id": plan.id, "action": plan.action, "target": plan.target, "risk": plan.risk.value}
        plan = plan_from_recommendation(rec, incident, plan_id=f"plan-{short_hash(incident.id, rec.action, rec.target)}",
                                        now=clock.now(), dry_run=current_dry_run(self.c), catalog=self.c.catalog(),
                                        environment=self.c.settings.environment)
        plan = RemediationSteps(self).with_recovery_criteria(plan, incident)
        safety = self._safety_context(incident, plan, plans)
        gates = {**evaluate_gates(plan, safety, self.c.action_policy()),
                 **plan_time_gates(self.c, plan, clock.now())}
        approval, timeout = route_approval(plan, gates, self.c.action_policy())
        if decision.outcome in (DecisionOutcome.INCONCLUSIVE, DecisionOutcome.NEEDS_HUMAN) and approval is Approval.AUTO:
            approval = Approval.PENDING  # never act alone on weak or conflicting evidence
        plan = plan.model_copy(update={"approval": approval, "gate_results": gates,
                                       "params": {**plan.params, "approval_timeout_s": timeout,
                                                  "gate_inputs": safety.model_dump(mode="json")}})
        if approval is Approval.BLOCKED:
            plan = plan.model_copy(update={"status": ActionStatus.SKIPPED})
        plan, created = create_plan(self.c.store, incident.tenant_id, plan)  # a racing analysis's plan wins
        self._save(incident, recommendation=recommendation)
        if created:
            self._audit(incident, "action.planned", plan.model_dump(mode="json"))
        return {"approval": approval.value, "plan_id": plan.id, "action": plan.action, "target": plan.target,
                "risk": plan.risk.value, "runbook": rec.runbook,
                "blocked_by": sorted(name for name, result in gates.items() if result.startswith("fail"))}

    def _safety_context(self, incident: Incident, plan: ActionPlan, plans: list[ActionPlan]) -> SafetyContext:
        from sre_copilot.services.gate_inputs import GateInputs

        return GateInputs(self.c).safety_context(incident, plan, plans)

    # -- people ---------------------------------------------------------------------------------
    def notify(self, event: StepEvent) -> JSONObject:
        from sre_copilot.messages.pagerduty import hypotheses_note
        from sre_copilot.services.escalation import start_paging
        from sre_copilot.services.living_card import (
            LivingCard,
            analysis_events,
            pagerduty_note_is_material,
            save_card,
        )

        state = WorkflowState.parse(event)
        incident = self._incident(state)
        hypotheses = [Hypothesis.model_validate(h) for h in incident.hypotheses]
        decision = Decision.model_validate({**_decision_from(state), "at": clock.now()})
        plan = self._plan(incident, state)
        sent_before = self.c.store.notifications_for(incident.tenant_id, incident.id)
        first = not incident.slack_card.get("ts") and not any(n.kind is NotificationKind.PAGE for n in sent_before)
        out: list[SentSummary] = []
        digest = short_hash(decision.outcome.value, plan.approval.value if plan else "-",
                            *[f"{h.entity}:{h.change_id}:{h.confidence:.2f}" for h in hypotheses[:3]])
        if not first and digest == incident.last_card:
            return {"sent": [], "skipped": "conclusions unchanged since the last card"}
        self._save(incident, last_card=digest)
        card = LivingCard(self.c)
        events = analysis_events(incident, decision)
        text, blocks = card.render(incident, decision, plan)
        out.append(card.show(incident, text, blocks, NotificationKind.PAGE if first else NotificationKind.UPDATE))
        save_card(self.c, incident)  # the card's channel and ts, before anything can read them
        for line in events:
            card.thread(incident, line)
        if first and incident.priority in (Priority.P0, Priority.P1):
            # Paging runs as its own Step Functions execution (statemachines/escalation.asl.json):
            # P0 calls now, P1 after a delay if still unacknowledged, then level by level.
            out.append(start_paging(self.c, incident))
        if plan is not None and plan.approval is Approval.PENDING and not any(
            n.kind is NotificationKind.APPROVAL_REQUEST and plan.id in n.text for n in sent_before
        ):
            card.thread(incident, f"Approval needed: {plan.action} {plan.target} (risk {plan.risk.value}, "
                                  f"plan {plan.id}, {'dry run' if plan.dry_run else 'live'}): "
                                  "use the buttons on the card", NotificationKind.APPROVAL_REQUEST)
            out.append({"channel": "slack", "kind": "approval_request", "status": "sent"})
        if incident.pagerduty_incident_id and hypotheses and pagerduty_note_is_material(incident, hypotheses, decision):
            save_card(self.c, incident)
            try:
                self.c.pagerduty().add_note(incident.pagerduty_incident_id, hypotheses_note(hypotheses, decision))
                out.append(self._record(incident, Channel.PAGERDUTY, incident.pagerduty_incident_id,
                                        NotificationKind.UPDATE, "sent", "hypotheses note"))
            except Exception as exc:  # PagerDuty being down must not stop the page to humans
                logger.warning("pagerduty note failed", extra={"error": str(exc)})
                out.append(self._record(incident, Channel.PAGERDUTY, incident.pagerduty_incident_id,
                                        NotificationKind.UPDATE, "failed", str(exc)))
        return {"sent": [f"{n['channel']}:{n['kind']}:{n['status']}" for n in out]}

    def _send_slack(self, incident: Incident, channel: str, text: str, blocks: list[dict[str, object]],
                    kind: NotificationKind, thread_ts: str | None = None) -> SentSummary:
        try:
            ts = self.c.slack().post(channel, text, blocks, thread_ts=thread_ts)
            return self._record(incident, Channel.SLACK, channel, kind, "sent", text, ts)
        except Exception as exc:
            logger.warning("slack post failed", extra={"error": str(exc)})
            return self._record(incident, Channel.SLACK, channel, kind, "failed", f"{text} ({exc})")

    def _record(self, incident: Incident, channel: Channel, target: str, kind: NotificationKind, status: str,
                text: str, provider_id: str | None = None) -> SentSummary:
        notification = Notification(
            id=f"ntf-{short_hash(incident.id, channel, kind, str(incident.evidence_version), text[:200])}",
            incident_id=incident.id, at=clock.now(), channel=channel, target=target, kind=kind, status=status,
            text=text[:4000], provider_id=provider_id,
        )
        record_notification(self.c.store, incident.tenant_id, notification)
        if status == "failed":
            telemetry.notification_failed(channel.value)
        self._audit(incident, f"notify.{channel.value}.{kind.value}", {"status": status, "target": target})
        return {"channel": channel.value, "kind": kind.value, "status": status}

    def _plan(self, incident: Incident, state: WorkflowState) -> ActionPlan | None:
        plan_id = state.result("recommendation").plan_id
        if not plan_id:
            return None
        return next((p for p in self.c.store.actions_for(incident.tenant_id, incident.id) if p.id == plan_id), None)

    # -- waiting --------------------------------------------------------------------------------
    def await_decision(self, event: StepEvent) -> JSONObject:
        from sre_copilot.services.remediation_steps import recovery_due

        state = WorkflowState.parse(event)
        incident = self._incident(state)
        plans = self.c.store.actions_for(incident.tenant_id, incident.id)
        for rejected in [p for p in plans if p.approval is Approval.REJECTED and p.status is ActionStatus.PLANNED]:
            # A rejection ends that plan: it is never run, and (same action and target, same plan)
            # Recommend finds it ended and does not ask for it again.
            ended = mutate_plan(self.c.store, incident.tenant_id, incident.id, rejected.id, _end_rejected)
            self._audit(incident, "action.rejected", {"plan": ended.id, "approver": ended.approver})
        plan = next((p for p in plans if p.approval is Approval.PENDING), None)
        deadline = None
        if (waiting := recovery_due(plans)) is not None:  # Verify waits for recovery until this deadline
            plan, deadline = waiting
        elif plan is not None:
            timeout = plan.params.get("approval_timeout_s")
            # An explicit-approval request lapses too (approval_expiry_s), instead of waiting for weeks.
            limit = float(min(float(timeout), self.c.settings.approval_expiry_s) if timeout
                          else self.c.settings.approval_expiry_s)
            deadline = clock.now() + timedelta(seconds=limit)
        self.c.store.put_wait_token(incident.tenant_id, incident.id, state.task(), deadline,
                                    plan.id if plan else None)
        if (auto := _policy_approved(state, plans)) is not None:
            # This pass recommended a plan policy lets run without a human: act on it now, as the
            # approval of a person would (Act re-checks every gate).
            token = self.c.store.take_wait_token(incident.tenant_id, incident.id)
            if token:
                self.c.workflow.send_success(token["token"], {"reason": "approved", "by": "policy",
                                                              "plan_id": auto.id})
        elif incident.close_requested_at is not None:
            # Resolved while the analysis ran (services/resolution.py): go on to Document.
            token = self.c.store.take_wait_token(incident.tenant_id, incident.id)
            if token:
                self.c.workflow.send_success(token["token"], {"reason": "resolved"})
        elif self.c.store.refresh_flagged(incident.tenant_id, incident.id):
            # Evidence arrived while the analysis ran: go round again instead of sleeping on it.
            from sre_copilot.services.reanalysis import reanalyse

            token = self.c.store.take_wait_token(incident.tenant_id, incident.id)
            if token:
                reanalyse(self.c, incident.tenant_id, incident.id, str(token["token"]))
        return {"parked": True, "deadline": None if deadline is None else deadline.isoformat(),
                "plan_id": plan.id if plan else None}

    # -- acting ---------------------------------------------------------------------------------
    def act(self, event: StepEvent) -> JSONObject:
        """Run the approved plan. Never fails the execution over the plan itself: a plan no executor
        of this deployment can run is `not_executable`, an executor's error is `failed`; both are
        recorded on the plan, audited and handed to a human, and the execution goes on waiting
        (the ASL's `Acted` choice verifies only an `executed` plan). Only infrastructure faults
        (the store, the queue) still raise, to be retried and, failing that, recorded as Failed."""
        from sre_copilot.actions.runtime_gates import check_before_act, current_dry_run

        state = WorkflowState.parse(event)
        incident = self._incident(state)
        all_plans = self.c.store.actions_for(incident.tenant_id, incident.id)
        plans = [p for p in all_plans
                 if p.approval in (Approval.AUTO, Approval.APPROVED) and p.status is ActionStatus.PLANNED]
        if not plans:  # woken for a plan that has already run, been retired or been replaced
            self._audit(incident, "action.nothing_to_run", {"wake": state.wake.model_dump() if state.wake else None})
            return {"plan_id": None, "status": "no_plan", "dry_run": None}
        # Dry run is the current setting's (runtime_gates.current_dry_run), whatever the plan was made
        # as; the gates below (the risk budget counts live changes only) see the plan as it would run.
        planned_dry_run = plans[-1].dry_run
        plan = plans[-1].model_copy(update={"dry_run": current_dry_run(self.c)})
        # Every safety gate again, at execution time: the kill switch, freezes and a superseded plan
        # may have changed since the plan was made or approved.
        check = check_before_act(self.c, incident, plan, self._safety_context(incident, plan, all_plans),
                                 all_plans, clock.now())
        if not check.allowed:
            return self._refuse(incident, plan, check)
        plan = plan.model_copy(update={"dry_run": check.dry_run, "gate_results": check.gate_results})
        lifecycle.move_if_allowed(self.c, incident, IncidentState.INVESTIGATING, actor=plan.approver or COPILOT,
                                  reason=f"acting on {plan.action} {plan.target}")
        try:
            executor = self.c.executor_for(plan)
        except ConfigurationError as exc:
            return self._hand_over(incident, plan, "not_executable", ActionStatus.SKIPPED, exc.message)
        try:
            result = executor.execute(plan, dry_run=plan.dry_run)
        except ConfigurationError as exc:  # e.g. the target is not a kind of workload it acts on
            return self._hand_over(incident, plan, "not_executable", ActionStatus.SKIPPED, exc.message)
        except Exception as exc:  # the executor's fault (API refused, target gone): a person takes over
            logger.warning("action execution failed", extra={"plan": plan.id, "error": str(exc)})
            return self._hand_over(incident, plan, "failed", ActionStatus.FAILED, f"execution failed: {exc}")
        plan = save_plan(self.c.store, incident.tenant_id, plan, params=dict(result), status=ActionStatus.EXECUTED,
                         updated_at=clock.now(), detail=str(result.get("detail", "")), dry_run=plan.dry_run,
                         gate_results=plan.gate_results)
        self._audit(incident, "action.executed", {"plan": plan.id, "status": plan.status, "dry_run": plan.dry_run,
                                                  "planned_dry_run": planned_dry_run,
                                                  "approver": plan.approver, "detail": plan.detail})
        metrics.add_metric(name="ActionsExecuted", unit=MetricUnit.Count, value=1)
        return {"plan_id": plan.id, "status": plan.status.value, "dry_run": plan.dry_run}

    def _hand_over(self, incident: Incident, plan: ActionPlan, outcome: str, status: ActionStatus,
                   reason: str) -> JSONObject:
        """Record that the copilot will not (or could not) carry out `plan` and tell people to."""
        plan = save_plan(self.c.store, incident.tenant_id, plan, status=status, updated_at=clock.now(),
                         detail=f"{outcome}: {reason}", dry_run=plan.dry_run, gate_results=plan.gate_results)
        self._audit(incident, f"action.{outcome}", {"plan": plan.id, "action": plan.action, "target": plan.target,
                                                     "approver": plan.approver, "reason": reason})
        what = "cannot be run by SRE Copilot here" if outcome == "not_executable" else "failed"
        text = (f"{incident.id}: {plan.action} {plan.target} (plan {plan.id}) {what}: {reason}. "
                "A person needs to carry it out or choose another remedy; the copilot keeps watching "
                "for resolution and new evidence.")
        # One living card per incident: with a card, the hand-over is said in its thread (in full).
        card = incident.slack_card
        channel = str(card.get("channel") or slack_channel_for(incident, self.c.catalog()))
        self._send_slack(incident, channel, text, [], NotificationKind.ESCALATION,
                         thread_ts=str(card["ts"]) if card.get("ts") else None)
        metrics.add_metric(name="ActionsHandedOver", unit=MetricUnit.Count, value=1)
        return {"plan_id": plan.id, "status": outcome, "dry_run": plan.dry_run, "reason": reason}

    def _refuse(self, incident: Incident, plan: ActionPlan, check: ActCheck) -> JSONObject:
        """Act refused at execution time: nothing ran; the plan says why (Verify and Rollback skip it)."""
        plan = save_plan(self.c.store, incident.tenant_id, plan, status=ActionStatus.SKIPPED, updated_at=clock.now(),
                         gate_results=check.gate_results, detail=f"refused at execution: {check.summary()}")
        self._audit(incident, "action.refused", {"plan": plan.id, "reasons": check.refusals,
                                                 "approver": plan.approver})
        metrics.add_metric(name="ActionsRefused", unit=MetricUnit.Count, value=1)
        return {"plan_id": plan.id, "status": plan.status.value, "dry_run": plan.dry_run,
                "refused": sorted(check.refusals)}

    def verify(self, event: StepEvent) -> JSONObject:
        from sre_copilot.services.gate_inputs import GateInputs
        from sre_copilot.services.remediation_steps import RemediationSteps

        state = WorkflowState.parse(event)
        incident = self._incident(state)
        plan = next(p for p in reversed(self.c.store.actions_for(incident.tenant_id, incident.id))
                    if p.id == state.result("act").plan_id)
        if plan.status is ActionStatus.SKIPPED:  # refused at execution: nothing to verify or undo
            return {"ok": True, "plan_id": plan.id, "why": plan.detail, "executed": False}
        if plan.status is ActionStatus.EXECUTED:
            GateInputs(self.c).spend(incident, plan)  # once per plan, however often Verify runs
        if plan.status is ActionStatus.FAILED:
            ok, why = False, plan.detail
        else:
            try:
                ok, why = self.c.executor_for(plan).verify(plan)
            except Exception as exc:
                if type(exc).__name__ == "RolloutInProgress":
                    raise  # the ASL's Verify retry matches this error name while the rollout goes on
                # The executor could not check: not verified, so the Verified choice rolls back.
                logger.warning("action verification failed", extra={"plan": plan.id, "error": str(exc)})
                ok, why = False, f"verification failed: {exc}"
        if ok and (waiting := RemediationSteps(self).await_recovery(incident, plan, why)) is not None:
            return waiting[1]
        status = ActionStatus.VERIFIED if ok else plan.status
        plan = save_plan(self.c.store, incident.tenant_id, plan, status=status, updated_at=clock.now(), detail=why)
        self._audit(incident, "action.verified" if ok else "action.verification_failed", {"plan": plan.id, "why": why})
        if ok and not plan.dry_run:  # a dry run changed nothing, so it mitigated nothing
            lifecycle.move_if_allowed(self.c, incident, IncidentState.MITIGATED, actor=COPILOT,
                                      reason=f"{plan.action} {plan.target} verified: {why}")
        return {"ok": ok, "plan_id": plan.id, "why": why}

    def check_recovery(self, event: StepEvent) -> JSONObject:
        from sre_copilot.services.remediation_steps import RemediationSteps

        return RemediationSteps(self).check_recovery(event)

    def rollback(self, event: StepEvent) -> dict[str, object]:  # the executor's restore report, as it gave it
        from sre_copilot.services.remediation_steps import RemediationSteps

        return RemediationSteps(self).rollback(event)

    # -- closing --------------------------------------------------------------------------------
    def document(self, event: StepEvent) -> JSONObject:
        from sre_copilot.services.feedback import FeedbackService
        from sre_copilot.services.postmortem import write_postmortem

        state = WorkflowState.parse(event)
        incident = self._incident(state)
        # The execution ends here: nothing is left to re-analyse.
        self.c.store.clear_refresh(incident.tenant_id, incident.id)
        reason = (state.wake.reason if state.wake else None) or ("timeout" if state.error else "closed")
        if incident.merged_into:
            self._audit(incident, "incident.closed_by_merge", {"into": incident.merged_into})
            return {"merged_into": incident.merged_into}
        if reason == "resolved":
            lifecycle.move_if_allowed(self.c, incident, IncidentState.RESOLVED, actor=COPILOT,
                                      reason="all signals resolved")
        # Only a confirmed or verified cause joins the precedent corpus (services/feedback.py).
        FeedbackService(self.c).learn_on_close(incident)
        ref = write_postmortem(self.c, incident)
        self._save(incident, postmortem_ref=ref)
        if incident.state in (IncidentState.RESOLVED, IncidentState.INCONCLUSIVE):
            lifecycle.move(self.c, incident, IncidentState.LEARNED, actor=COPILOT, reason="postmortem written")
        if not incident.slack_card.get("ts"):
            # Without a card (Slack was down when it was due) the postmortem still gets its own post;
            # otherwise the LEARNED move threads it under the card (services/living_card.CardSync).
            self._send_slack(incident, slack_channel_for(incident, self.c.catalog()),
                             f"{incident.id} {incident.state.value}: postmortem draft at {ref}", [],
                             NotificationKind.RESOLUTION)
        return {"postmortem_ref": ref, "state": incident.state.value}

    def record_failure(self, event: StepEvent) -> JSONObject:
        state = WorkflowState.parse(event)
        error = state.error.unwrapped().model_dump(by_alias=True, exclude_unset=True) if state.error else {}
        incident_id, tenant_id = state.incident_id, state.tenant_id
        if incident_id:
            self.c.store.clear_refresh(tenant_id, incident_id)  # the execution ends here
        subject = incident_id or "?"
        self.c.store.append(AuditRecord(at=clock.now(), tenant_id=tenant_id, actor=COPILOT,
                                        action="workflow.failed", subject=subject, details=error))
        self.c.queue.send_to_review(f"workflow failed for {subject}: {error.get('Error')}: "
                                    f"{str(error.get('Cause'))[:500]}", f"incident:{subject}")
        metrics.add_metric(name="WorkflowFailures", unit=MetricUnit.Count, value=1)
        return {"recorded": True, "error": error.get("Error")}


def _policy_approved(state: WorkflowState, plans: list[ActionPlan]) -> ActionPlan | None:
    """The plan this analysis pass recommended with approval `auto`, if it has not run yet. Only
    then: AwaitDecision is entered after Act and Verify too, and the plan has run by then."""
    recommended = state.result("recommendation")
    if recommended.approval != Approval.AUTO.value or not recommended.plan_id:
        return None
    return next((p for p in plans if p.id == recommended.plan_id and p.approval is Approval.AUTO
                 and p.status is ActionStatus.PLANNED), None)


def _end_rejected(plan: ActionPlan) -> bool:
    """A rejected plan that has not run ends (re-checked on the fresh copy on every re-read)."""
    if plan.approval is not Approval.REJECTED or plan.status is not ActionStatus.PLANNED:
        return False
    plan.status, plan.updated_at = ActionStatus.SKIPPED, clock.now()
    plan.detail = f"rejected by {plan.approver or 'a person'}"
    return True


def _decision_from(state: WorkflowState) -> dict[str, object]:
    result = state.result("decision")
    return {"outcome": result.outcome or "needs_human", "reasons": result.reasons, "presented": result.presented}

