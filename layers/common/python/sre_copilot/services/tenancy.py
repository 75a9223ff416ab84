"""Which tenant a piece of work belongs to, and per-tenant caches of what is configured per tenant.

A deployment serves its own tenant (`Settings.tenant_id`) and the tenants listed in
`Settings.served_tenants` (cdk.json `tenants`, which also grants each its table partitions in IAM),
each through its key in the webhook secret's `tenant_keys` (ingest/tenant_keys.py). The tenant of a piece of work is
the record's own: the delivery's key at ingest, the queue message's `tenant_id` at correlation, the
execution's state at every workflow step. Code that handles records reads the tenant from the record.

The configuration a service reads through the container's providers (the catalog, the silences,
the runbooks, the precedents) is per tenant too, and those providers take no argument; the entry
points therefore run each record's work inside `scope(tenant)`, and the providers read `current()`.
Outside any scope, `current()` is the deployment's tenant, so a single-tenant deployment behaves
exactly as before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sre_copilot.services.container import Dependencies

_current: ContextVar[str | None] = ContextVar("sre_copilot_tenant", default=None)


def current(deployment_tenant: str) -> str:
    """The tenant of the work in progress; the deployment's tenant outside any `scope`."""
    return _current.get() or deployment_tenant


@contextmanager
def scope(tenant_id: str) -> Iterator[None]:
    """Run the block as work of `tenant_id` (nested scopes restore the outer tenant on exit)."""
    token = _current.set(tenant_id)
    try:
        yield
    finally:
        _current.reset(token)


def served(c: Dependencies) -> list[str]:
    """Every tenant this deployment serves, its own first: the ones ingest may accept deliveries for
    and the scheduled work (the sweeper) visits."""
    return c.settings.served_tenant_list()


def tenant_of_incident(c: Dependencies, incident_id: str) -> str:
    """The served tenant that holds `incident_id` (a Slack click or a phone keypress names only the
    incident; its id derives from a tenant-scoped signal id, so at most one tenant holds it); the
    deployment's tenant when none does, where the caller then answers "no such incident"."""
    tenants = served(c)
    if len(tenants) > 1:
        for tenant in tenants:
            if c.store.get_incident(tenant, incident_id) is not None:
                return tenant
    return c.settings.tenant_id


def tenant_of_slack_command(c: Dependencies, channel: str | None, incident_id: str | None) -> str:
    """The tenant a `/sre` command works for. A channel mapped to a tenant (`slack_channel_tenants`)
    sees only that tenant's incidents, so one team's channel cannot list or act on another's; in
    other channels a command naming an incident works on the incident's own tenant (as a card
    click does), and listings show the deployment's tenant."""
    mapped = c.settings.slack_channel_tenant_map().get(channel or "")
    if mapped is not None:
        return mapped
    return tenant_of_incident(c, incident_id) if incident_id else c.settings.tenant_id


class PerTenant[T]:
    """A provider with one value per tenant (the tenant of the current `scope`), each built by
    `build(tenant)` on first use; `invalidate()` forgets them all (e.g. after a catalog import)."""

    def __init__(self, deployment_tenant: str, build: Callable[[str], Callable[[], T]]) -> None:
        self._deployment_tenant = deployment_tenant
        self._build = build
        self._providers: dict[str, Callable[[], T]] = {}

    def __call__(self) -> T:
        tenant = current(self._deployment_tenant)
        provider = self._providers.get(tenant)
        if provider is None:
            provider = self._providers[tenant] = self._build(tenant)
        return provider()

    def invalidate(self) -> None:
        self._providers.clear()
