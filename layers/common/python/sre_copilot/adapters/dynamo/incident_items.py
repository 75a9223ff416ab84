"""Notifications and action plans: the item collection of an incident, versioned."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sre_copilot.adapters.dynamo.table import (
    SingleTable,
    _doc,
    _epoch,
    _versioned,
    incident_pk,
    notification_key,
)
from sre_copilot.domain.action import ActionPlan
from sre_copilot.domain.notification import Notification
from sre_copilot.ports.stores import ActionStore, NotificationLog


class DynamoNotifications(SingleTable):
    """NotificationLog: What was sent to whom, versioned."""

    def record_notification(self, notification: Notification, tenant_id: str | None = None) -> None:
        """Insert (version 0: only if no such notification is stored) or update one read earlier
        (only over the version read, e.g. status -> acknowledged), else `ConcurrentUpdate`; callers
        go through `services.mutations`. `Notification` carries no tenant, so it defaults to this
        deployment's tenant."""
        tenant = tenant_id or self.settings.tenant_id
        expires = notification.at + timedelta(days=self.settings.incident_ttl_days)
        self._versioned_put(notification_key(tenant, notification),
                            {"doc": _doc(notification.model_dump(mode="json")), "item_type": "notification",
                             "ttl": _epoch(expires)}, notification, f"notification {notification.id}")

    def get_notification(self, tenant_id: str, incident_id: str, notification: Notification) -> Notification | None:
        """The stored copy of `notification` (same id and time), with its version."""
        item = self._get(notification_key(tenant_id, notification), f"reading notification {notification.id}")
        return _versioned(Notification, item) if item else None

    def notifications_for(self, tenant_id: str, incident_id: str) -> list[Notification]:
        items = self._query(f"listing notifications of {incident_id}", pk=("pk", incident_pk(tenant_id, incident_id)),
                            begins_with=("sk", "NOTIFICATION#"), consistent=True)
        return [_versioned(Notification, item) for item in items]


class DynamoActions(SingleTable):
    """ActionStore: Action plans and their approvals, versioned."""

    def put_action(self, tenant_id: str, plan: ActionPlan) -> None:
        """Write a new plan (version 0: only if none is stored under its id) or one read earlier (only
        over the version read), bumping `plan.version`; else `ConcurrentUpdate`. Callers change plans
        through `services.mutations.mutate_plan`, which re-reads and re-applies on a conflict."""
        expires = plan.updated_at + timedelta(days=self.settings.incident_ttl_days)
        self._versioned_put({"pk": incident_pk(tenant_id, plan.incident_id), "sk": f"ACTION#{plan.id}"},
                            {"doc": _doc(plan.model_dump(mode="json")), "item_type": "action_plan",
                             "ttl": _epoch(expires)}, plan, f"action plan {plan.id}")

    def get_action(self, tenant_id: str, incident_id: str, plan_id: str) -> ActionPlan | None:
        item = self._get({"pk": incident_pk(tenant_id, incident_id), "sk": f"ACTION#{plan_id}"},
                         f"reading action plan {plan_id}")
        return _versioned(ActionPlan, item) if item else None

    def actions_for(self, tenant_id: str, incident_id: str) -> list[ActionPlan]:
        """Plans of the incident in creation order (callers take the last one as the latest)."""
        items = self._query(f"listing action plans of {incident_id}", pk=("pk", incident_pk(tenant_id, incident_id)),
                            begins_with=("sk", "ACTION#"), consistent=True)
        plans = [_versioned(ActionPlan, item) for item in items]
        return sorted(plans, key=lambda p: (p.created_at, p.id))


if TYPE_CHECKING:
    def _implements_notificationlog(repository: DynamoNotifications) -> NotificationLog:  # mypy checks the port is met
        return repository

    def _implements_actionstore(repository: DynamoActions) -> ActionStore:  # mypy checks the port is met
        return repository
