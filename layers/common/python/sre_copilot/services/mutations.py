"""Optimistic concurrency for incidents: read, apply a change, save on the version read; on a
conflict, read again and re-apply.

Correlation (adding signals, merging), the workflow's steps (snapshot, hypotheses, decision,
execution, lifecycle moves) and people (acks, resolves) change the same incident item, in AWS
from concurrent Lambdas. `IncidentStore.put_incident` refuses a write over a version other than
the one read (`ConcurrentUpdate`); `mutate_incident` is how every caller changes an incident, so no
caller can skip that check and each change is re-applied on top of whatever won the race.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from sre_copilot.domain.incident import Incident
from sre_copilot.errors import ConcurrentUpdate, NotFound
from sre_copilot.services.observability import logger

MUTATE_ATTEMPTS = 8
"""Each retry re-reads; a conflict needs another writer to land between our read and write, so
eight in a row means something writes the incident in a loop, which is a bug worth surfacing."""

Change = Callable[[Incident], bool | None]
"""Applies one change to a freshly read incident, in place. Return False when, on this copy, there
is nothing to change (nothing is written); anything else writes it. It must be safe to call again
on a newer copy: it re-derives the change from what it reads rather than from an earlier copy."""


class _IncidentReadWrite(Protocol):
    def get_incident(self, tenant_id: str, incident_id: str) -> Incident | None: ...
    def put_incident(self, incident: Incident) -> None: ...


def mutate_incident(store: _IncidentReadWrite, tenant_id: str, incident_id: str, change: Change, *,
                    attempts: int = MUTATE_ATTEMPTS) -> Incident:
    """Apply `change` to the stored incident and save it on the version read, re-reading and
    re-applying on a conflict (at most `attempts` times). Returns the incident as stored (or as read,
    when `change` returned False). `NotFound` if there is no such incident; `ConcurrentUpdate` if
    every attempt lost (a Lambda's retry, or SQS redelivery, runs it again)."""
    for attempt in range(attempts):
        incident = store.get_incident(tenant_id, incident_id)
        if incident is None:
            raise NotFound(f"incident {incident_id} is not stored for tenant {tenant_id}")
        if change(incident) is False:
            return incident
        try:
            store.put_incident(incident)
        except ConcurrentUpdate:
            logger.info("incident changed under us; re-reading and re-applying",
                        extra={"incident_id": incident_id, "attempt": attempt + 1})
            continue
        return incident
    raise ConcurrentUpdate(f"incident {incident_id} kept changing during {attempts} attempts to update it; "
                           "the step or batch will be retried")


def refresh(stale: Incident, fresh: Incident) -> None:
    """Copy a fresh incident into a caller's object, so code holding it sees what was stored."""
    for name in type(fresh).model_fields:
        setattr(stale, name, getattr(fresh, name))


def save_fields(store: _IncidentReadWrite, incident: Incident, **fields: object) -> None:
    """Set `fields` on the stored incident (re-read and re-applied if another writer saved it
    meanwhile) and refresh the caller's copy with what was stored."""
    def assign(fresh: Incident) -> bool:
        if all(getattr(fresh, name) == value for name, value in fields.items()):
            return False
        for name, value in fields.items():
            setattr(fresh, name, value)
        return True

    refresh(incident, mutate_incident(store, incident.tenant_id, incident.id, assign))
