"""Lifecycle moves with their side effects: persisted, audited, published on the bus, measured."""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit

from sre_copilot.deployment_routes import LIFECYCLE_DETAIL_TYPE
from sre_copilot.domain.incident import Incident, IncidentState, Transition
from sre_copilot.domain.notification import AuditRecord
from sre_copilot.errors import InvalidTransition
from sre_copilot.ports import clock
from sre_copilot.services.container import Container
from sre_copilot.services.mutations import mutate_incident, refresh
from sre_copilot.services.observability import metrics


def move(container: Container, incident: Incident, to: IncidentState, *, actor: str, reason: str,
         publish: bool = True) -> bool:
    """Apply a transition if the lifecycle allows it; return False (and change nothing) if it is
    already there. Disallowed moves raise `InvalidTransition` from the domain model."""
    if incident.state is to:
        return False
    at = clock.now()
    steps: list[Transition] = []

    def apply(fresh: Incident) -> bool:
        # Re-derived from each fresh read: another writer may have moved it meanwhile.
        steps.clear()
        if fresh.state is to:
            return False
        steps.append(fresh.transition(to, at=at, actor=actor, reason=reason))
        return True

    stored = mutate_incident(container.store, incident.tenant_id, incident.id, apply)
    refresh(incident, stored)
    if not steps:
        return False
    step = steps[0]
    container.store.append(AuditRecord(
        at=at, tenant_id=incident.tenant_id, actor=actor, action=f"lifecycle.{to.value.lower()}",
        subject=incident.id, details={"from": step.previous, "to": to, "reason": reason},
    ))
    if publish:
        container.bus.publish(LIFECYCLE_DETAIL_TYPE, {
            "tenant_id": incident.tenant_id, "incident_id": incident.id, "from": step.previous,
            "to": to.value, "actor": actor, "reason": reason, "at": at.isoformat(),
            "pagerduty_incident_id": incident.pagerduty_incident_id,
        })
    if to is IncidentState.ACKNOWLEDGED and (mtta := incident.mtta_seconds()) is not None:
        metrics.add_metric(name="MTTA", unit=MetricUnit.Seconds, value=mtta)
    if to is IncidentState.RESOLVED and (mttr := incident.mttr_seconds()) is not None:
        metrics.add_metric(name="MTTR", unit=MetricUnit.Seconds, value=mttr)
    return True


def move_if_allowed(container: Container, incident: Incident, to: IncidentState, *, actor: str,
                    reason: str) -> bool:
    """For automatic moves (policy, verification) where being past the target is normal."""
    if incident.state is to or not incident.can_transition(to):
        return False
    try:
        return move(container, incident, to, actor=actor, reason=reason)
    except InvalidTransition:
        # Another writer moved it on since the caller read it, past where `to` is allowed.
        if (fresh := container.store.get_incident(incident.tenant_id, incident.id)) is not None:
            refresh(incident, fresh)
        return False
