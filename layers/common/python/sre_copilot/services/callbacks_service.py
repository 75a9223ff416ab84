"""Human answers: Slack approval buttons and phone keypresses, both verified before use."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from urllib.parse import parse_qsl

from sre_copilot.domain.incident import IncidentState
from sre_copilot.domain.notification import AuditRecord
from sre_copilot.domain.types import Approval
from sre_copilot.errors import InvalidTransition, NotFound
from sre_copilot.ports import clock
from sre_copilot.services import lifecycle
from sre_copilot.services.container import Container


class CallbacksService:
    def __init__(self, container: Container) -> None:
        self.c = container
        self.tenant = container.settings.tenant_id

    def slack_interaction(self, headers: Mapping[str, str], raw: bytes) -> dict[str, str]:
        # Each SDK is imported by the route that needs it (the sweeper and PagerDuty sync share this module).
        from sre_copilot.adapters.slack_notifier import parse_interaction, verify_slack_request
        from sre_copilot.services.correlate_service import CorrelateService

        verify_slack_request(headers, raw, self.c.secret("slack").get("signing_secret", ""), clock.now())
        answer = parse_interaction(raw)
        plan = next((p for p in self.c.store.actions_for(self.tenant, answer.incident_id) if p.id == answer.plan_id), None)
        if plan is None:
            raise NotFound(f"plan {answer.plan_id} of incident {answer.incident_id} does not exist")
        if plan.approval is not Approval.PENDING:
            return {"text": f"{plan.id} is already {plan.approval.value}"}
        approval = Approval.APPROVED if answer.approved else Approval.REJECTED
        plan = plan.model_copy(update={"approval": approval, "approver": f"slack:{answer.user}", "updated_at": clock.now()})
        self.c.store.put_action(self.tenant, plan)
        self.c.store.append(AuditRecord(at=clock.now(), tenant_id=self.tenant, actor=f"slack:{answer.user}",
                                        action=f"approval.{approval.value}", subject=answer.incident_id,
                                        details={"plan": plan.id, "action": plan.action, "target": plan.target}))
        CorrelateService(self.c).wake(answer.incident_id, "approved" if answer.approved else "rejected")
        return {"text": f"{plan.action} {plan.target}: {approval.value} by {answer.user}"}

    def twilio_voice(self, url: str, headers: Mapping[str, str], raw: bytes, incident_id: str) -> str:
        params = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
        signature = next((v for k, v in headers.items() if k.lower() == "x-twilio-signature"), "")
        from sre_copilot.adapters.twilio_pager import parse_keypress, verify_twilio_request

        verify_twilio_request(url, params, signature, self.c.secret("twilio").get("auth_token", ""))
        answer = parse_keypress(params)
        incident = self.c.store.get_incident(self.tenant, incident_id)
        if incident is None:
            raise NotFound(f"incident {incident_id} does not exist")
        who = f"phone:{params.get('To') or params.get('Called') or 'on-call'}"
        if answer.action == "call_ended":  # Twilio's status callback at hang-up: nothing to decide
            return "<Response/>"
        if answer.action == "acknowledge":
            with suppress(InvalidTransition):  # acked after the incident moved on: nothing to move
                lifecycle.move_if_allowed(self.c, incident, IncidentState.ACKNOWLEDGED, actor=who,
                                          reason="acknowledged by keypress")
            self._mark_phone_acknowledged(incident_id, answer.call_sid)
            return "<Response><Say>Acknowledged. The incident card is in Slack.</Say></Response>"
        self.c.store.append(AuditRecord(at=clock.now(), tenant_id=self.tenant, actor=who, action="page.escalated",
                                        subject=incident_id, details={"call": answer.call_sid}))
        return "<Response><Say>Escalating to the next responder.</Say></Response>"

    def _mark_phone_acknowledged(self, incident_id: str, call_sid: str | None) -> None:
        for notification in self.c.store.notifications_for(self.tenant, incident_id):
            if notification.channel.value == "phone" and (call_sid is None or notification.provider_id == call_sid):
                self.c.store.record_notification(notification.model_copy(update={"status": "acknowledged"}))


class SweeperService:
    """Scheduled every minute: approval timeouts, then duration-based correlation opens."""

    def __init__(self, container: Container) -> None:
        self.c = container
        self.tenant = container.settings.tenant_id

    def run(self) -> dict[str, int]:
        now = clock.now()
        timed_out = 0
        work = self.c.store.due_work(self.tenant, now)
        for due in work.wait_tokens:
            token = self.c.store.take_wait_token(self.tenant, due["incident_id"], token=due["token"])
            if not token:
                continue  # someone answered first
            plan_id = token.get("plan_id")
            for plan in self.c.store.actions_for(self.tenant, due["incident_id"]):
                if plan.id == plan_id and plan.approval is Approval.PENDING:
                    self.c.store.put_action(self.tenant, plan.model_copy(update={
                        "approval": Approval.TIMED_OUT, "updated_at": now,
                        "status": plan.status.SKIPPED, "detail": "no approval before the timeout"}))
                    self.c.store.append(AuditRecord(at=now, tenant_id=self.tenant, actor="copilot:sweeper",
                                                    action="approval.timed_out", subject=due["incident_id"],
                                                    details={"plan": plan.id}))
            self.c.workflow.send_success(token["token"], {"reason": "timed_out"})
            timed_out += 1
        from sre_copilot.services.correlate_service import CorrelateService

        correlate = CorrelateService(self.c)
        # The state is on the agenda for when its tick next has work; until then no minute loads it.
        if work.tick:
            correlate.tick(now)
        refreshed = correlate.wake_flagged(work.refresh)
        return {"timed_out": timed_out, "refreshed": refreshed}


class PagerDutySyncService:
    """Mirror our lifecycle moves into PagerDuty (never echoing moves that came from PagerDuty)."""

    def __init__(self, container: Container) -> None:
        self.c = container

    def on_transition(self, detail: Mapping[str, object]) -> dict[str, str]:
        external = detail.get("pagerduty_incident_id")
        actor = str(detail.get("actor") or "")
        if not external or actor.startswith("pagerduty:"):
            return {"skipped": "not linked to PagerDuty" if not external else "came from PagerDuty"}
        to = str(detail.get("to"))
        client = self.c.pagerduty()
        note = f"SRE Copilot: {detail.get('incident_id')} → {to} by {actor}: {detail.get('reason')}"
        if to == "ACKNOWLEDGED":
            client.acknowledge(str(external), note)
        elif to == "RESOLVED":
            client.resolve(str(external), note)
        else:
            client.add_note(str(external), note)
        return {"synced": to}
