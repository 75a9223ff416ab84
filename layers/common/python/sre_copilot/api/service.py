"""The read API's operations. Every query is scoped by the caller's tenant (from the token, never
from the request), every call is audited under that tenant, and an incident of another tenant is
answered exactly like one that does not exist."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sre_copilot.api.access import ACKNOWLEDGE, APPROVE, READ, Principal
from sre_copilot.api.models import (
    ActionResult,
    History,
    HistoryEntry,
    HypothesisList,
    HypothesisView,
    IncidentDetail,
    IncidentList,
    IncidentSummary,
    Postmortem,
    Timeline,
    TimelineEntry,
)
from sre_copilot.domain.incident import Incident, IncidentState
from sre_copilot.domain.notification import AuditRecord
from sre_copilot.errors import ConcurrentUpdate, NotFound, SreCopilotError
from sre_copilot.ports import clock
from sre_copilot.services import tenancy

T = TypeVar("T")


class ReadApi:
    def __init__(self, container: Any) -> None:
        self.c = container

    # -- audit ----------------------------------------------------------------------------------
    def audited(self, principal: Principal, operation: str, subject: str, run: Callable[[], T]) -> T:
        """Run one API call and record who asked what and how it ended, refusals included."""
        outcome = "ok"
        try:
            with tenancy.scope(principal.tenant_id):  # e.g. a postmortem draft reads the caller's catalog
                return run()
        except SreCopilotError as exc:
            outcome = exc.code
            raise
        finally:
            self.c.store.append(AuditRecord(at=clock.now(), tenant_id=principal.tenant_id, actor=principal.actor,
                                            action=f"api.{operation}", subject=subject,
                                            details={"outcome": outcome, "role": principal.role.name.lower()}))

    def _incident(self, principal: Principal, incident_id: str) -> Incident:
        incident = self.c.store.get_incident(principal.tenant_id, incident_id)
        if incident is None or incident.tenant_id != principal.tenant_id:
            raise NotFound(f"incident {incident_id} does not exist")
        return incident

    # -- reads ----------------------------------------------------------------------------------
    def incidents(self, principal: Principal) -> IncidentList:
        principal.require(READ, "listing incidents")
        found = [i for i in self.c.store.open_incidents(principal.tenant_id) if i.tenant_id == principal.tenant_id]
        return IncidentList(tenant_id=principal.tenant_id, incidents=[
            IncidentSummary(id=i.id, title=i.title, state=i.state.value, priority=i.priority.value, service=i.service,
                            opened_at=i.opened_at, updated_at=i.updated_at)
            for i in sorted(found, key=lambda i: i.opened_at, reverse=True)])

    def incident(self, principal: Principal, incident_id: str) -> IncidentDetail:
        principal.require(READ, "reading an incident")
        i = self._incident(principal, incident_id)
        return IncidentDetail(id=i.id, title=i.title, state=i.state.value, priority=i.priority.value,
                              service=i.service, opened_at=i.opened_at, updated_at=i.updated_at,
                              services=i.services, entities=i.entities,
                              decision=i.decision.value if i.decision else None, acknowledged_at=i.acknowledged_at,
                              resolved_at=i.resolved_at, signal_count=len(i.signal_ids))

    def hypotheses(self, principal: Principal, incident_id: str) -> HypothesisList:
        principal.require(READ, "reading hypotheses")
        i = self._incident(principal, incident_id)
        views = []
        for h in i.hypotheses:
            confidence = h.get("confidence")
            rank = h.get("rank")
            views.append(HypothesisView(
                rank=int(rank) if isinstance(rank, int | float) else None,
                entity=str(h["entity"]) if h.get("entity") else None,
                fault=str(h["fault"]) if h.get("fault") else None,
                summary=str(h["summary"]) if h.get("summary") else None,
                confidence=float(confidence) if isinstance(confidence, int | float) else None,
                details={k: v for k, v in h.items() if k not in ("rank", "entity", "fault", "summary", "confidence")}))
        return HypothesisList(incident_id=i.id, hypotheses=views)

    def timeline(self, principal: Principal, incident_id: str) -> Timeline:
        principal.require(READ, "reading a timeline")
        i = self._incident(principal, incident_id)
        entries = [TimelineEntry(at=t.at, kind="transition", actor=t.actor,
                                 summary=f"{t.previous.value if t.previous else 'new'} -> {t.state.value}: {t.reason}")
                   for t in i.timeline]
        entries += [TimelineEntry(at=n.at, kind="notification", actor="copilot",
                                  summary=f"{n.channel.value} {n.kind.value} to {n.target}: {n.status}")
                    for n in self.c.store.notifications_for(principal.tenant_id, i.id)]
        entries += [TimelineEntry(at=a.updated_at, kind="action", actor=a.approver,
                                  summary=f"{a.action} {a.target}: approval {a.approval.value}, {a.status.value}")
                    for a in self.c.store.actions_for(principal.tenant_id, i.id)]
        return Timeline(incident_id=i.id, entries=sorted(entries, key=lambda e: e.at))

    def postmortem(self, principal: Principal, incident_id: str) -> Postmortem:
        from sre_copilot.services.postmortem import gather, render_postmortem

        principal.require(READ, "reading a postmortem")
        i = self._incident(principal, incident_id)
        # The postmortem Document wrote once the incident closed; before that, today's draft.
        markdown = (self.c.blobs.get_bytes(i.postmortem_ref).decode("utf-8", "replace") if i.postmortem_ref
                    else render_postmortem(gather(self.c, i)))
        return Postmortem(incident_id=i.id, markdown=markdown)

    def history(self, principal: Principal, incident_id: str) -> History:
        principal.require(READ, "reading an incident's history")
        i = self._incident(principal, incident_id)
        return History(incident_id=i.id, records=[
            HistoryEntry(at=r.at, actor=r.actor, action=r.action, details=r.details)
            for r in self.c.store.for_subject(principal.tenant_id, i.id) if r.tenant_id == principal.tenant_id])

    # -- acts -----------------------------------------------------------------------------------
    def acknowledge(self, principal: Principal, incident_id: str) -> ActionResult:
        from sre_copilot.services import lifecycle

        principal.require(ACKNOWLEDGE, "acknowledging an incident")
        i = self._incident(principal, incident_id)
        moved = lifecycle.move_if_allowed(self.c, i, IncidentState.ACKNOWLEDGED, actor=principal.actor,
                                          reason="acknowledged through the API")
        return ActionResult(incident_id=i.id, result="acknowledged" if moved else f"already {i.state.value}")

    def decide(self, principal: Principal, incident_id: str, plan_id: str, approve: bool) -> ActionResult:
        """The one approval path (`approval_service.decide`): the approver role lets a caller ask;
        the approvers control decides whether they may (`api_users` per service and risk), with
        expiry, the two-person rule and one conditional write, exactly as for a Slack click."""
        from sre_copilot.actions.approvers import ApproverIdentity
        from sre_copilot.services.approval_service import decide
        from sre_copilot.services.approvers import Forbidden

        principal.require(APPROVE, "approving or rejecting a plan")
        i = self._incident(principal, incident_id)
        outcome = decide(self.c, i.id, plan_id, approved=approve, who=ApproverIdentity("api", principal.subject),
                         tenant=principal.tenant_id)
        if outcome.outcome == "refused":
            raise Forbidden(outcome.text)
        if outcome.outcome == "lost_race":
            raise ConcurrentUpdate(outcome.text)
        if outcome.outcome == "decided":
            return ActionResult(incident_id=i.id, result=f"{outcome.plan}: {'approved' if approve else 'rejected'}")
        return ActionResult(incident_id=i.id, result=outcome.text)
