"""The approval decision as one conditional write: exactly one decision wins.

A click, a second click, a phone keypress and the sweeper's timeout may all try to decide the same
plan. Each reads the plan, decides, and writes the new plan only over the version it read (the
store's `put_action` is conditional on it): the loser gets `False` and tells its person the plan
was already decided, instead of silently overwriting the winner.
"""

from __future__ import annotations

from sre_copilot.domain.action import ActionPlan
from sre_copilot.errors import ConcurrentUpdate
from sre_copilot.ports.stores import Store


def read_plan(store: Store, tenant_id: str, incident_id: str, plan_id: str) -> tuple[ActionPlan, int] | None:
    """The plan and the stored version it was read at (the write's expected version)."""
    plan = store.get_action(tenant_id, incident_id, plan_id)
    return None if plan is None else (plan, plan.version)


def replace_plan_if_unchanged(store: Store, tenant_id: str, plan: ActionPlan, expected_version: int) -> bool:
    """Write `plan` if the stored plan is still at `expected_version`; False when another writer came first."""
    try:
        store.put_action(tenant_id, plan.model_copy(update={"version": expected_version}))
    except ConcurrentUpdate:
        return False
    return True
