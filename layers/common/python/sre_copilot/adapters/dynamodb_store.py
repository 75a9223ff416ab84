"""Every store port on one DynamoDB table: the repositories of `adapters/dynamo/`, one per aggregate,
composed into the one object the container hands to services. The single-table design, keys and
consistency rules are in `adapters/dynamo/table.py` and docs/data-model.md."""

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
