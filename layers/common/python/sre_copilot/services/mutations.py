"""Optimistic concurrency for every record more than one writer touches: read, apply a change,
save on the version read; on a conflict, read again and re-apply (a bounded number of times).

Correlation (adding signals, merging), the workflow's steps (snapshot, hypotheses, decision,
execution, lifecycle moves) and people (acks, resolves) change the same incident item; the
workflow's steps, approvers (Slack, the API, a keypress), the sweeper's timeouts and the next
analysis change the same action plan; Slack, Twilio and PagerDuty callbacks change the same
notification. In AWS they are concurrent Lambdas. The store's writes of those records refuse a
write over a version other than the one read (`ConcurrentUpdate`), and `mutate` is the one loop
that re-reads and re-applies a change on top of whatever won the race. `mutate_incident`,
`mutate_plan` and `mutate_notification` are that loop for each aggregate; no caller can skip the
version check, because the store's write itself is conditional.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol

from sre_copilot.errors import ConcurrentUpdate, NotFound
from sre_copilot.services.observability import logger

if TYPE_CHECKING:  # annotations only: each model loads with the step that reads it
    from pydantic import BaseModel

    from sre_copilot.domain.action import ActionPlan
    from sre_copilot.domain.incident import Incident
    from sre_copilot.domain.notification import Notification

MUTATE_ATTEMPTS = 8
"""Each retry re-reads; a conflict needs another writer to land between our read and write, so
eight in a row means something writes the record in a loop, which is a bug worth surfacing."""

type Change = Callable[[Incident], bool | None]
"""Applies one change to a freshly read record, in place. Return False when, on this copy, there
is nothing to change (nothing is written); anything else writes it. It must be safe to call again
on a newer copy: it re-derives the change from what it reads rather than from an earlier copy."""


def mutate[Record](read: Callable[[], Record | None], write: Callable[[Record], None],
           change: Callable[[Record], bool | None], *, what: str, attempts: int = MUTATE_ATTEMPTS) -> Record:
    """Read the record, apply `change`, write it conditionally on the version read; on
    `ConcurrentUpdate`, read again and re-apply (at most `attempts` times). Returns the record as
    stored (or as read, when `change` returned False). `NotFound` if there is no such record;
    `ConcurrentUpdate` if every attempt lost (a Lambda's retry, or SQS redelivery, runs it again)."""
    for attempt in range(attempts):
        record = read()
        if record is None:
            raise NotFound(f"{what} is not stored")
        if change(record) is False:
            return record
        try:
            write(record)
        except ConcurrentUpdate:
            logger.info("record changed under us; re-reading and re-applying",
                        extra={"record": what, "attempt": attempt + 1})
            continue
        return record
    raise ConcurrentUpdate(f"{what} kept changing during {attempts} attempts to update it; "
                           "the step or batch will be retried")


# -- incidents ----------------------------------------------------------------------------------
class _IncidentReadWrite(Protocol):
    def get_incident(self, tenant_id: str, incident_id: str) -> Incident | None: ...
    def put_incident(self, incident: Incident) -> None: ...


def mutate_incident(store: _IncidentReadWrite, tenant_id: str, incident_id: str, change: Change, *,
                    attempts: int = MUTATE_ATTEMPTS) -> Incident:
    """Apply `change` to the stored incident and save it on the version read (see `mutate`)."""
    return mutate(lambda: store.get_incident(tenant_id, incident_id), store.put_incident, change,
                  what=f"incident {incident_id} of tenant {tenant_id}", attempts=attempts)


def refresh(stale: BaseModel, fresh: BaseModel) -> None:
    """Copy a fresh record into a caller's object, so code holding it sees what was stored."""
    for name in type(fresh).model_fields:
        setattr(stale, name, getattr(fresh, name))


def _assign(fields: dict[str, object], params: Mapping[str, object] | None = None) -> Callable[[BaseModel], bool]:
    """A change that sets `fields` (and merges `params` into the record's params) on a fresh copy."""
    def assign(fresh: BaseModel) -> bool:
        current = getattr(fresh, "params", {})
        merged = {**current, **params} if params is not None else None
        if all(getattr(fresh, name) == value for name, value in fields.items()) and (
                merged is None or merged == current):
            return False
        for name, value in fields.items():
            setattr(fresh, name, value)
        if merged is not None:
            setattr(fresh, "params", merged)  # noqa: B010 - any record with params (plans)
        return True
    return assign


def save_fields(store: _IncidentReadWrite, incident: Incident, **fields: object) -> None:
    """Set `fields` on the stored incident (re-read and re-applied if another writer saved it
    meanwhile) and refresh the caller's copy with what was stored."""
    refresh(incident, mutate_incident(store, incident.tenant_id, incident.id, _assign(fields)))


# -- action plans -------------------------------------------------------------------------------
class _PlanReadWrite(Protocol):
    def get_action(self, tenant_id: str, incident_id: str, plan_id: str) -> ActionPlan | None: ...
    def put_action(self, tenant_id: str, plan: ActionPlan) -> None: ...


def mutate_plan(store: _PlanReadWrite, tenant_id: str, incident_id: str, plan_id: str,
                change: Callable[[ActionPlan], bool | None], *, attempts: int = MUTATE_ATTEMPTS) -> ActionPlan:
    """Apply `change` to the stored plan and save it on the version read (see `mutate`)."""
    return mutate(lambda: store.get_action(tenant_id, incident_id, plan_id),
                  lambda plan: store.put_action(tenant_id, plan), change,
                  what=f"action plan {plan_id} of incident {incident_id}", attempts=attempts)


def save_plan(store: _PlanReadWrite, tenant_id: str, plan: ActionPlan, *, params: Mapping[str, object] | None = None,
              **fields: object) -> ActionPlan:
    """Set `fields` on the stored plan and merge `params` into its params (re-read and re-applied if
    another writer saved it meanwhile: an approver's `approvals`, a recovery deadline, ...). Returns
    the plan as stored."""
    return mutate_plan(store, tenant_id, plan.incident_id, plan.id, _assign(fields, params))


def create_plan(store: _PlanReadWrite, tenant_id: str, plan: ActionPlan) -> tuple[ActionPlan, bool]:
    """Store a new plan unless one with its id exists: (the stored plan, whether this call created it).
    Plan ids derive from the incident, action and target, so two analyses racing to the same remedy
    end with one plan, the first one's."""
    try:
        store.put_action(tenant_id, plan.model_copy(update={"version": 0}))
    except ConcurrentUpdate:
        stored = store.get_action(tenant_id, plan.incident_id, plan.id)
        if stored is None:
            raise
        return stored, False
    stored = store.get_action(tenant_id, plan.incident_id, plan.id)
    return (stored or plan), True


# -- notifications ------------------------------------------------------------------------------
class _NotificationReadWrite(Protocol):
    def get_notification(self, tenant_id: str, incident_id: str, notification: Notification) -> Notification | None: ...
    def record_notification(self, notification: Notification, tenant_id: str | None = None) -> None: ...


def set_notification_status(store: _NotificationReadWrite, tenant_id: str, notification: Notification,
                            status: str) -> Notification:
    """Move a sent notification to `status` (acknowledged, no-answer, ...) on the stored copy."""
    return mutate(lambda: store.get_notification(tenant_id, notification.incident_id, notification),
                  lambda fresh: store.record_notification(fresh, tenant_id), _assign({"status": status}),
                  what=f"notification {notification.id} of incident {notification.incident_id}")


RESPONDED = frozenset({"acknowledged"})
"""Statuses a person's answer set: a repeated record of the same notification never undoes them."""


def record_notification(store: _NotificationReadWrite, tenant_id: str, notification: Notification) -> Notification:
    """Record a notification just sent (or failed). Ids derive from what was sent, so a retried step
    records the same one again: that lands on the stored copy (re-read and re-applied on a conflict)
    and keeps an acknowledgement a callback recorded meanwhile."""
    try:
        store.record_notification(notification.model_copy(update={"version": 0}), tenant_id)
        return notification
    except ConcurrentUpdate:
        pass

    def overlay(fresh: Notification) -> bool:
        status = fresh.status if fresh.status in RESPONDED else notification.status
        updated = notification.model_copy(update={"status": status, "version": fresh.version})
        if updated == fresh:
            return False
        refresh(fresh, updated)
        fresh.version = updated.version
        return True

    return mutate(lambda: store.get_notification(tenant_id, notification.incident_id, notification),
                  lambda fresh: store.record_notification(fresh, tenant_id), overlay,
                  what=f"notification {notification.id} of incident {notification.incident_id}")
