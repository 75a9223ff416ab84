"""Every store port on one DynamoDB table: the repositories of `adapters/dynamo/`, one per aggregate,
composed into the one object the container hands to services (docs/data-model.md is the reference).

Table: `pk` (S) / `sk` (S), one overloaded sparse index `gsi1` on `gsi1pk` / `gsi1sk`, TTL attribute
`ttl` (epoch seconds). Every partition key starts with `TENANT#<tenant>`, so no query can cross
tenants. Times inside keys are `format_time` strings (fixed-width RFC 3339, milliseconds, `Z`), which
sort lexicographically in time order.

Models are stored as top-level attributes (`model_dump(mode="json")`, floats as Decimal) next to the
key and bookkeeping attributes in `META`, which are stripped before validation on the way back.
Reads of single items are strongly consistent, because they feed read-modify-write cycles (a signal
read right after ingest, an incident updated by the workflow); index queries are eventually
consistent, so their callers re-check what they read (e.g. `is_open`).
"""

from __future__ import annotations

from sre_copilot.adapters.dynamo.approvals import DynamoApprovals
from sre_copilot.adapters.dynamo.audit import DynamoAudit
from sre_copilot.adapters.dynamo.changes import DynamoChanges
from sre_copilot.adapters.dynamo.correlation_state import DynamoCorrelationState
from sre_copilot.adapters.dynamo.incident_items import DynamoActions, DynamoNotifications
from sre_copilot.adapters.dynamo.incidents import DynamoIncidents
from sre_copilot.adapters.dynamo.signals import DynamoDedup, DynamoSignals
from sre_copilot.adapters.dynamo.small_records import (
    DynamoCatalogPointer,
    DynamoRefreshFlags,
    DynamoSilences,
    DynamoValidationHistory,
)
from sre_copilot.adapters.dynamo.table import (
    AGENDA,
    AGENDA_ATTRIBUTES,
    DedupWindow,
    DueWork,
    SingleTable,
    WaitToken,
    _tenant,
    audit_pk,
    incident_pk,
    marshal,
    table_definition,
    tenant_key,
    unmarshal,
)

__all__ = ["AGENDA", "AGENDA_ATTRIBUTES", "DedupWindow", "DueWork", "DynamoStore", "SingleTable", "WaitToken",
           "_tenant", "audit_pk", "incident_pk", "marshal", "table_definition", "tenant_key", "unmarshal"]


class DynamoStore(DynamoSignals, DynamoDedup, DynamoIncidents, DynamoChanges, DynamoAudit, DynamoNotifications, DynamoActions, DynamoApprovals, DynamoCorrelationState, DynamoSilences, DynamoRefreshFlags, DynamoValidationHistory, DynamoCatalogPointer):
    """Every repository on the one table: what `Dependencies.store` holds. Services still depend
    only on the ports (`ports.stores`); a function that needs one aggregate can build that
    repository alone (`DynamoIncidents(settings)`)."""
