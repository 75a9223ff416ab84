"""A small catalog and a signal builder for the correlation unit tests.

    gateway -> web -> api -> db          mobile -> api          admin -> web, ledger
               |         -> cache        worker -> queue        billing -> ledger

Hosts: host-a runs api-0, worker-0, billing-0; host-b runs api-1, ledger-0; host-c runs web-0.
Priorities follow ingestion's classifier in its simplest form: critical is P0 (P1 on the tier-3
admin service), error and warning are P1, info is P3; tests that need another priority pass
`priority=`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sre_copilot.domain.catalog import Catalog
from sre_copilot.domain.signal import Origin, Signal
from sre_copilot.domain.types import Priority, Severity, SignalStatus

T0 = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)


def shop_catalog() -> Catalog:
    return Catalog.model_validate({
        "services": [
            {"name": "gateway", "depends_on": ["web", "worker"], "tier": 2},
            {"name": "web", "depends_on": ["api"], "tier": 1, "instances": [{"name": "web-0", "host": "host-c"}]},
            {"name": "mobile", "depends_on": ["api"], "tier": 2},
            {"name": "api", "depends_on": ["db", "cache"], "tier": 2,
             "instances": [{"name": "api-0", "host": "host-a"}, {"name": "api-1", "host": "host-b"}]},
            {"name": "db", "tier": 1},
            {"name": "cache", "tier": 2},
            {"name": "worker", "depends_on": ["queue"], "tier": 2, "instances": [{"name": "worker-0", "host": "host-a"}]},
            {"name": "queue", "tier": 2},
            {"name": "admin", "depends_on": ["web", "ledger"], "tier": 3},
            {"name": "billing", "depends_on": ["ledger"], "tier": 2,
             "instances": [{"name": "billing-0", "host": "host-a"}]},
            {"name": "ledger", "tier": 2, "instances": [{"name": "ledger-0", "host": "host-b"}]},
        ],
        "hosts": [{"name": "host-a"}, {"name": "host-b"}, {"name": "host-c"}],
    })


CATALOG = shop_catalog()


def priority_for(severity: Severity, service: str | None, catalog: Catalog = CATALOG) -> Priority:
    found = catalog.service(service) if service else None
    if severity is Severity.CRITICAL:  # only a known tier-3+ service caps a critical at P1
        return Priority.P0 if found is None or found.tier <= 2 else Priority.P1
    if severity in (Severity.ERROR, Severity.WARNING):
        return Priority.P1
    return Priority.P3


def alert(sid: str, at_s: float, *, service: str | None = None, instance: str | None = None,
          host: str | None = None, severity: str = "warning", status: str = "firing", fp: str | None = None,
          alertname: str | None = None, duplicate_of: str | None = None, background: bool = False,
          suppressed_by: str | None = None, priority: str | None = None, catalog: Catalog = CATALOG,
          **extra: Any) -> Signal:
    resolution = catalog.resolve(service_hints=[service], instance_hints=[instance], host_hints=[host])
    sev = Severity(severity)
    at = T0 + timedelta(seconds=at_s)
    name = alertname or f"Alert-{sid}"
    return Signal(
        id=sid, source="test", status=SignalStatus(status), severity=sev,
        priority=Priority(priority) if priority else priority_for(sev, resolution.service, catalog),
        event_time=at, received_at=at,
        title=f"{name} on {resolution.entity or service or host}", labels={"alertname": name},
        origin=Origin(delivery=sid), service=resolution.service, entity=resolution.entity,
        entity_kind=resolution.entity_kind, host=resolution.host, fingerprint=fp or f"fp-{sid}",
        duplicate_of=duplicate_of, background=background, suppressed_by=suppressed_by, **extra,
    )


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)
