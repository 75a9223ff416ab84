"""Resolution: when an incident is over, and making sure every resolution ends in a postmortem.

Three ways an incident resolves:
- its signals all clear and stay clear for `auto_resolve_after_s` (the sweeper checks once a minute);
  with `resolution_policy=propose` the copilot asks in the incident's Slack channel instead;
- a person resolves it (Slack, `/sre`, the CLI, or PagerDuty/Opsgenie), which takes effect at once;
- (unchanged) the execution's Document step after a merge.

Whatever the state of the incident's Step Functions execution, the resolution reaches the Document
step: a parked execution is woken with `resolved`; one that is mid-analysis finds the request when
it parks (`close_requested_at`, read by AwaitDecision); one that has ended (succeeded, failed at
some step, timed out) cannot run Document any more, so a documentation-only execution of the same
state machine is started (`document_only` in its input; the ASL's Start choice goes to Document).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sre_copilot.domain.incident import Incident, IncidentState
from sre_copilot.domain.notification import AuditRecord, Notification
from sre_copilot.domain.routing import slack_channel_for
from sre_copilot.domain.types import Channel, NotificationKind
from sre_copilot.errors import NotFound
from sre_copilot.ports import clock
from sre_copilot.services import lifecycle, tenancy
from sre_copilot.services.container import Container
from sre_copilot.services.ids import short_hash
from sre_copilot.services.mutations import record_notification, save_fields
from sre_copilot.services.observability import logger

RESOLVER = "copilot:resolution"
RECOVERY_GRACE = timedelta(minutes=2)
"""How long past a recovery deadline the stay-clear rule still waits for the verdict."""


class ResolutionService:
    def __init__(self, container: Container) -> None:
        self.c = container
        self.tenant = tenancy.current(container.settings.tenant_id)

    # -- signals ------------------------------------------------------------------------------
    def signals_cleared(self, incident_id: str) -> None:
        """Correlation saw the incident's last firing alert clear: start the stay-clear window."""
        incident = self.c.store.get_incident(self.tenant, incident_id)
        if incident is None or not incident.is_open or incident.signals_clear_since is not None:
            return
        save_fields(self.c.store, incident, signals_clear_since=clock.now())
        self._audit(incident, RESOLVER, "resolution.signals_clear",
                    {"auto_resolve_after_s": self.c.settings.auto_resolve_after_s})
        self._recovery_first(incident)
        if self.c.settings.auto_resolve_after_s == 0:
            self.sweep_one(incident, clock.now())

    def sweep(self, now: datetime) -> int:
        """Resolve (or propose resolving) every open incident whose signals stayed clear long enough."""
        done = 0
        for incident in self.c.store.open_incidents_clearing(self.tenant):
            if self.sweep_one(incident, now):
                done += 1
        return done

    def sweep_one(self, incident: Incident, now: datetime) -> bool:
        since = incident.signals_clear_since
        if since is None or now - since < timedelta(seconds=self.c.settings.auto_resolve_after_s):
            return False
        if self._recovery_first(incident):
            return False
        minutes = (now - since).total_seconds() / 60
        reason = f"every alert of the incident clear for {minutes:.0f} min"
        if self.c.settings.resolution_policy == "propose":
            return self._propose(incident, reason)
        return self.resolve(incident.id, actor=RESOLVER, reason=reason)

    def _recovery_first(self, incident: Incident) -> bool:
        """An executed action still waiting for its recovery verdict: ask for the verdict now (the
        parked execution goes to CheckRecovery, which moves the incident to MITIGATED when its criteria
        are met), and let the stay-clear rule resolve only after it. Resolving first would skip
        MITIGATED and leave the action's verdict to its deadline. The wait lasts at most the
        verification window: at its deadline the sweeper wakes the check anyway."""
        from sre_copilot.services.correlate_service import CorrelateService
        from sre_copilot.services.remediation_steps import recovery_due

        waiting = recovery_due(self.c.store.actions_for(self.tenant, incident.id))
        # Past the deadline (plus two sweeps) nobody is coming to decide: an execution that ended
        # while it waited must not hold the resolution forever.
        if waiting is None or clock.now() > waiting[1] + RECOVERY_GRACE:
            return False
        CorrelateService(self.c).wake(incident.id, "verify")  # not parked: a later sweep asks again
        return True

    # -- people -------------------------------------------------------------------------------
    def resolve(self, incident_id: str, *, actor: str, reason: str) -> bool:
        """Resolve now (a person, or the stay-clear rule) and see that the postmortem gets written.
        Returns False when the incident was already closed."""
        incident = self.c.store.get_incident(self.tenant, incident_id)
        if incident is None:
            raise NotFound(f"incident {incident_id} does not exist for tenant {self.tenant}")
        if incident.merged_into:
            return self.resolve(incident.merged_into, actor=actor, reason=reason)
        if incident.state in (IncidentState.RESOLVED, IncidentState.LEARNED) and incident.postmortem_ref:
            return False
        lifecycle.move_if_allowed(self.c, incident, IncidentState.RESOLVED, actor=actor, reason=reason)
        save_fields(self.c.store, incident, close_requested_at=incident.close_requested_at or clock.now())
        self._audit(incident, actor, "resolution.requested", {"reason": reason})
        self._hand_to_documentation(incident)
        return True

    def _hand_to_documentation(self, incident: Incident) -> None:
        from sre_copilot.services.correlate_service import CorrelateService

        if CorrelateService(self.c).wake(incident.id, "resolved"):
            return  # the parked execution goes on to Document
        if incident.execution and self.c.workflow.is_running(incident.execution):
            # Mid-analysis: AwaitDecision sees close_requested_at when it parks and goes to Document.
            return
        # The execution ended (succeeded, failed at a step, timed out): a documentation-only
        # execution of the same state machine runs Document (the ASL's Start choice).
        name = f"{incident.id}-doc{len(incident.timeline)}"
        arn = self.c.workflow.start(name, {"tenant_id": incident.tenant_id, "incident_id": incident.id,
                                           "document_only": True, "wake": {"reason": "resolved"}})
        logger.info("execution ended before the resolution; documentation execution started",
                    extra={"incident_id": incident.id, "execution": incident.execution, "documentation": arn})

    def _propose(self, incident: Incident, reason: str) -> bool:
        if incident.resolution_proposed:
            return False
        save_fields(self.c.store, incident, resolution_proposed=True)
        text = (f"{incident.title}: {reason}. Resolve the incident? Reply with Resolve in this thread, "
                f"`/sre resolve {incident.id}` or `sre-copilot resolve {incident.id}`.")
        channel = slack_channel_for(incident, self.c.catalog())
        try:
            ts = self.c.slack().post(channel, text, [])
            status: str = "sent"
        except Exception as exc:  # Slack down: the proposal stays recorded as failed, nothing else stops
            ts, status = None, "failed"
            logger.warning("slack resolution proposal failed", extra={"error": str(exc)})
        record_notification(self.c.store, incident.tenant_id, Notification(
            id=f"ntf-{short_hash(incident.id, 'resolution-proposal')}", incident_id=incident.id, at=clock.now(),
            channel=Channel.SLACK, target=channel, kind=NotificationKind.APPROVAL_REQUEST, status=status,
            text=text, provider_id=ts))
        self._audit(incident, RESOLVER, "resolution.proposed", {"reason": reason})
        return True

    def firing_again(self, incident: Incident) -> None:
        """A firing signal joined: the stay-clear window (and any proposal) starts over later."""
        incident.signals_clear_since = None
        incident.resolution_proposed = False

    def _audit(self, incident: Incident, actor: str, action: str, details: dict[str, object]) -> None:
        self.c.store.append(AuditRecord(at=clock.now(), tenant_id=incident.tenant_id, actor=actor,
                                        action=action, subject=incident.id, details=details))
