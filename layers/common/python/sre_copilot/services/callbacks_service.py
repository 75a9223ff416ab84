"""Human answers by phone (keypresses, verified before use), the sweeper and PagerDuty sync.

Slack's buttons and slash command are `slack_actions.SlackActions`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from sre_copilot.domain.action import ActionPlan
from sre_copilot.domain.notification import AuditRecord
from sre_copilot.domain.types import ActionStatus, Approval
from sre_copilot.errors import NotFound, SourceNotConfigured
from sre_copilot.ports import clock
from sre_copilot.services import tenancy
from sre_copilot.services.container import Container
from sre_copilot.services.mutations import mutate_plan, set_notification_status

if TYPE_CHECKING:  # Twilio's SDK loads with the voice callback only
    from sre_copilot.adapters.twilio_pager import KeypressAnswer


class CallbacksService:
    def __init__(self, container: Container) -> None:
        self.c = container
        self.tenant = tenancy.current(container.settings.tenant_id)

    def twilio_voice(self, url: str, headers: Mapping[str, str], raw: bytes, incident_id: str) -> str:
        # Twilio's SDK (and requests) load with the voice callback only, not with the sweeper or the
        # PagerDuty sync that share this module.
        from sre_copilot.adapters.twilio_pager import parse_keypress, verify_twilio_request

        params = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
        signature = next((v for k, v in headers.items() if k.lower() == "x-twilio-signature"), "")
        auth_token = str(self.c.secret("twilio").get("auth_token", ""))
        if not auth_token:
            raise SourceNotConfigured("source not configured: no Twilio auth token is configured, so voice "
                                      "callbacks are refused")
        verify_twilio_request(url, params, signature, auth_token)
        answer = parse_keypress(params)
        self.tenant = tenancy.tenant_of_incident(self.c, incident_id)  # verified first: nothing read before
        with tenancy.scope(self.tenant):
            return self._keypress(answer, params, incident_id)

    def _keypress(self, answer: KeypressAnswer, params: dict[str, str], incident_id: str) -> str:
        incident = self.c.store.get_incident(self.tenant, incident_id)
        if incident is None:
            raise NotFound(f"incident {incident_id} does not exist")
        who = f"phone:{params.get('To') or params.get('Called') or 'on-call'}"
        if answer.action == "call_ended":  # Twilio's status callback at hang-up: nothing to decide
            return "<Response/>"
        if answer.action == "acknowledge":
            from sre_copilot.services.escalation import acknowledge

            acknowledge(self.c, incident, who, "acknowledged by keypress")  # stops paging, edits the card
            self._mark_phone_acknowledged(incident_id, answer.call_sid)
            return "<Response><Say>Acknowledged. The incident card is in Slack.</Say></Response>"
        if answer.action in ("hear_details", "call_failed"):
            from sre_copilot.services.escalation_calls import call_failed, hear_details

            if answer.action == "call_failed":
                return call_failed(self.c, incident, params, answer.call_status or "failed")
            return hear_details(self.c, incident)
        from sre_copilot.services.escalation import escalate_now

        self.c.store.append(AuditRecord(at=clock.now(), tenant_id=self.tenant, actor=who, action="page.escalated",
                                        subject=incident_id, details={"call": answer.call_sid}))
        escalate_now(self.c, self.tenant, incident_id, who)
        return "<Response><Say>Escalating to the next responder.</Say></Response>"

    def _mark_phone_acknowledged(self, incident_id: str, call_sid: str | None) -> None:
        for notification in self.c.store.notifications_for(self.tenant, incident_id):
            if notification.channel.value == "phone" and (call_sid is None or notification.provider_id == call_sid):
                set_notification_status(self.c.store, self.tenant, notification, "acknowledged")


class SweeperService:
    """Scheduled every minute: approval timeouts, then duration-based correlation opens."""

    def __init__(self, container: Container) -> None:
        self.c = container
        self.tenant = tenancy.current(container.settings.tenant_id)

    def run(self) -> dict[str, int]:
        """Every served tenant's agenda, each as that tenant's work (services/tenancy.py)."""
        totals = {"timed_out": 0, "refreshed": 0, "resolved": 0}
        for tenant in tenancy.served(self.c):
            self.tenant = tenant
            with tenancy.scope(tenant):
                for name, count in self._run_tenant().items():
                    totals[name] += count
        return totals

    def _run_tenant(self) -> dict[str, int]:
        # Loaded with the sweeper's run, not with the PagerDuty sync and the Twilio callback that
        # share this module (cold start: they pull in the remediation steps and the catalog).
        from sre_copilot.services import escalation
        from sre_copilot.services.remediation_steps import recovery_due
        from sre_copilot.services.resolution import ResolutionService

        now = clock.now()
        timed_out = 0
        work = self.c.store.due_work(self.tenant, now)
        for due in work.wait_tokens:
            token = self.c.store.take_wait_token(self.tenant, due["incident_id"], token=due["token"])
            if not token:
                continue  # someone answered first
            paged = escalation.paged_incident(due["incident_id"])
            if paged is not None:  # a paging level's timeout: page the next level (or end)
                escalation.resume(self.c, self.tenant, paged, str(token["token"]), "timed_out")
                timed_out += 1
                continue
            plan_id = token.get("plan_id")
            plans = self.c.store.actions_for(self.tenant, due["incident_id"])
            if plan_id and self._time_out(due["incident_id"], plan_id, now):
                self.c.store.append(AuditRecord(at=now, tenant_id=self.tenant, actor="copilot:sweeper",
                                                action="approval.timed_out", subject=due["incident_id"],
                                                details={"plan": plan_id}))
            # A deadline on an executed plan is its recovery check's (Verify waits), not an approval's.
            waiting = recovery_due(plans)
            reason = "verify" if waiting is not None and waiting[0].id == plan_id else "timed_out"
            self.c.workflow.send_success(token["token"], {"reason": reason})
            timed_out += 1

        # The correlation engine loads with the sweeper's run, not with the PagerDuty sync and the
        # Twilio callback that share this module.
        from sre_copilot.services.correlate_service import CorrelateService

        correlate = CorrelateService(self.c)
        # The state is on the agenda for when its tick next has work; until then no minute loads it.
        if work.tick:
            correlate.tick(now)
        refreshed = correlate.wake_flagged(work.refresh)
        resolved = ResolutionService(self.c).sweep(now)
        return {"timed_out": timed_out, "refreshed": refreshed, "resolved": resolved}


    def _time_out(self, incident_id: str, plan_id: str, now: datetime) -> bool:
        """Time the plan out if it still waits for a decision (re-checked on every re-read: a click
        that landed first keeps its decision); True if this call timed it out."""
        timed_out = False

        def lapse(plan: ActionPlan) -> bool:
            nonlocal timed_out
            timed_out = plan.approval is Approval.PENDING
            if timed_out:
                plan.approval, plan.status, plan.updated_at = Approval.TIMED_OUT, ActionStatus.SKIPPED, now
                plan.detail = "no approval before the timeout"
            return timed_out

        try:
            mutate_plan(self.c.store, self.tenant, incident_id, plan_id, lapse)
        except NotFound:
            return False
        return timed_out


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
