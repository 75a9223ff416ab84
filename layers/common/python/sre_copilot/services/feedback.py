"""Learning from people: human verdicts feed factor 5, confirmed causes feed factor 3.

Verdicts come from a Confirm or Reject on a hypothesis (Slack button, `/sre`, `sre-copilot feedback`),
and from closing: an action a person approved that then verified proves the hypothesis it acted on.
Each verdict counts once per incident and hypothesis, under three keys of growing generality that
the scorer's factor-5 lookup reads most specific first (reasoning/confidence.py `_keys`):
fault class on the service (`bad deploy|checkout`), fault class alone (`bad deploy`), and the
hypothesis kind (its generator).

Only an incident whose root cause a person confirmed, or a verified action proved, joins the
precedent corpus (factor 3). It is indexed with its symptoms (alert titles, services, entities and
symptom classes), the same description a live incident is searched with.
"""

from __future__ import annotations

from sre_copilot.domain.incident import Incident, IncidentState
from sre_copilot.domain.notification import AuditRecord
from sre_copilot.domain.types import ActionStatus, Approval
from sre_copilot.errors import InvalidPayload, NotFound
from sre_copilot.ports import clock
from sre_copilot.services import tenancy
from sre_copilot.services.container import Container
from sre_copilot.services.mutations import save_fields

PRECEDENTS = "incidents"  # the VectorPrecedents collection


def validation_keys(hypothesis: dict[str, object]) -> list[str]:
    """Fault class on the service, fault class, hypothesis kind: what factor 5 is kept by."""
    fault = str(hypothesis.get("fault") or "")
    where = str(hypothesis.get("service") or hypothesis.get("entity") or "")
    keys = [f"{fault}|{where}", fault, str(hypothesis.get("generator") or "deterministic")]
    return [k for k in dict.fromkeys(keys) if k and k != "|"]


class FeedbackService:
    def __init__(self, container: Container) -> None:
        self.c = container
        self.tenant = tenancy.current(container.settings.tenant_id)

    # -- explicit verdicts ------------------------------------------------------------------------
    def confirm(self, incident_id: str, *, actor: str, rank: int = 1) -> dict[str, object]:
        """A person confirms hypothesis `rank` as the root cause."""
        incident, hypothesis = self._hypothesis(incident_id, rank)
        counted = self._count(incident, hypothesis, accepted=True, actor=actor, how="confirmed")
        incident.root_cause = _cause(hypothesis, how="confirmed", by=actor)
        save_fields(self.c.store, incident, root_cause=incident.root_cause, feedback=incident.feedback)
        # A confirmed cause joins the corpus at once (an open incident's own analysis never counts
        # itself as a precedent); Document re-indexes it with its final symptoms.
        self.index_precedent(incident)
        return {"incident": incident.id, "confirmed": _label(hypothesis), "counted": counted}

    def reject(self, incident_id: str, *, actor: str, rank: int = 1) -> dict[str, object]:
        """A person rejects hypothesis `rank`; a rejected confirmed cause leaves the corpus."""
        incident, hypothesis = self._hypothesis(incident_id, rank)
        counted = self._count(incident, hypothesis, accepted=False, actor=actor, how="rejected")
        if incident.root_cause and _same(incident.root_cause, hypothesis):
            incident.root_cause = None
            self._unindex(incident)
        save_fields(self.c.store, incident, root_cause=incident.root_cause, feedback=incident.feedback)
        return {"incident": incident.id, "rejected": _label(hypothesis), "counted": counted}

    # -- closing --------------------------------------------------------------------------------
    def learn_on_close(self, incident: Incident) -> bool:
        """At Document: a human-approved action that verified proves the hypothesis it acted on;
        then the incident joins the precedent corpus if its cause is confirmed or verified."""
        for plan in self.c.store.actions_for(incident.tenant_id, incident.id):
            if plan.approval is not Approval.APPROVED or plan.status is not ActionStatus.VERIFIED or plan.dry_run:
                continue
            hypothesis = self._acted_on(incident, plan.params.get("hypothesis_id"))
            if hypothesis is None:
                continue
            self._count(incident, hypothesis, accepted=True, actor=plan.approver or "human",
                        how=f"verified action {plan.action} {plan.target}")
            if incident.root_cause is None:
                incident.root_cause = _cause(hypothesis, how=f"verified {plan.action} {plan.target}",
                                             by=plan.approver or "human")
        save_fields(self.c.store, incident, root_cause=incident.root_cause, feedback=incident.feedback)
        return self.index_precedent(incident)

    def index_precedent(self, incident: Incident) -> bool:
        cause = incident.root_cause
        if not cause or (incident.state is IncidentState.INCONCLUSIVE and cause.get("how") != "confirmed"):
            return False
        from sre_copilot.reasoning.evidence import _change_kind, describe
        from sre_copilot.reasoning.symptoms import classify

        signals = self.c.store.signals_for_incident(incident.tenant_id, incident.id)
        firing = [s for s in signals if s.is_alert] or signals
        text = describe(titles=[incident.title, *[s.title for s in firing]],
                        services=incident.services or [incident.service or ""],
                        entities=incident.entities, symptoms=[classify(s).value for s in firing])
        vector = self.c.embedder.embed([text])[0]
        self.c.vector_index.upsert(PRECEDENTS, f"{incident.tenant_id}:{incident.id}", vector, {
            "incident_id": incident.id, "tenant_id": incident.tenant_id, "entity": cause.get("entity"),
            "service": cause.get("service"), "fault": cause.get("fault"),
            "change_kind": _change_kind(cause.get("fault")), "summary": str(cause.get("summary") or "")[:500],
            "state": incident.state.value, "validated": cause.get("how"),
        })
        return True

    def _unindex(self, incident: Incident) -> None:
        delete = getattr(self.c.vector_index, "delete", None)
        if delete is not None:
            delete(PRECEDENTS, f"{incident.tenant_id}:{incident.id}")

    # -- helpers --------------------------------------------------------------------------------
    def _hypothesis(self, incident_id: str, rank: int) -> tuple[Incident, dict[str, object]]:
        incident = self.c.store.get_incident(self.tenant, incident_id)
        if incident is None:
            raise NotFound(f"incident {incident_id} does not exist for tenant {self.tenant}")
        if not incident.hypotheses:
            raise InvalidPayload(f"incident {incident_id} has no hypotheses to confirm or reject")
        found = next((h for h in incident.hypotheses if int(str(h.get("rank") or 0)) == rank), None)
        if found is None:
            ranks = ", ".join(str(h.get("rank")) for h in incident.hypotheses)
            raise InvalidPayload(f"incident {incident_id} has no hypothesis ranked {rank}; ranks: {ranks}")
        return incident, dict(found)

    def _acted_on(self, incident: Incident, hypothesis_id: object) -> dict[str, object] | None:
        if hypothesis_id:
            found = next((h for h in incident.hypotheses if h.get("id") == hypothesis_id), None)
            if found is not None:
                return dict(found)
        return dict(incident.hypotheses[0]) if incident.hypotheses else None

    def _count(self, incident: Incident, hypothesis: dict[str, object], *, accepted: bool, actor: str, how: str) -> bool:
        """Record one verdict per incident and hypothesis (a second click changes nothing)."""
        marker = f"{'+' if accepted else '-'}{hypothesis.get('id') or _label(hypothesis)}"
        if marker in incident.feedback:
            return False
        # A changed mind counts as a second verdict: the history keeps both, as people gave them.
        for key in validation_keys(hypothesis):
            self.c.store.record_validation(self.tenant, key, accepted)
        incident.feedback = [*incident.feedback, marker]
        self.c.store.append(AuditRecord(
            at=clock.now(), tenant_id=incident.tenant_id, actor=actor,
            action=f"feedback.{'confirmed' if accepted else 'rejected'}", subject=incident.id,
            details={"hypothesis_key": validation_keys(hypothesis)[0], "how": how, "entity": hypothesis.get("entity"),
                     "fault": hypothesis.get("fault"), "change_id": hypothesis.get("change_id")}))
        return True


def _label(h: dict[str, object]) -> str:
    return f"{h.get('fault')} on {h.get('entity')}" + (f" (change {h.get('change_id')})" if h.get("change_id") else "")


def _cause(h: dict[str, object], *, how: str, by: str) -> dict[str, object]:
    return {"entity": h.get("entity"), "entity_kind": h.get("entity_kind"), "service": h.get("service"),
            "fault": h.get("fault"), "change_id": h.get("change_id"), "summary": h.get("summary"),
            "hypothesis_id": h.get("id"), "how": how, "by": by}


def _same(cause: dict[str, object], h: dict[str, object]) -> bool:
    return cause.get("entity") == h.get("entity") and cause.get("fault") == h.get("fault")
