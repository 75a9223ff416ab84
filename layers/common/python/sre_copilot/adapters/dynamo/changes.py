"""Change events (deploys, config changes) by time and by service."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sre_copilot.adapters.dynamo.table import (
    GSI1,
    ONE_MS,
    SingleTable,
    _doc,
    _document,
    _epoch,
    _tenant,
    change_key,
    changes_gsi1pk,
)
from sre_copilot.domain.change import ChangeEvent
from sre_copilot.domain.types import format_time
from sre_copilot.ports.stores import ChangeStore


class DynamoChanges(SingleTable):
    """ChangeStore: Change events."""

    def put_change(self, change: ChangeEvent) -> None:
        expires = change.at + timedelta(days=self.settings.signal_ttl_days)
        self._put(change_key(change), {
            "doc": _doc(change.model_dump(mode="json")), "item_type": "change", "ttl": _epoch(expires),
            "gsi1pk": changes_gsi1pk(change.tenant_id), "gsi1sk": f"{format_time(change.at)}#{change.id}",
        }, f"writing change {change.id}")

    def changes_between(self, tenant_id: str, start: datetime, end: datetime) -> list[ChangeEvent]:
        """Changes of the tenant with start <= at <= end, in time order."""
        items = self._query("listing changes", index=GSI1, pk=("gsi1pk", changes_gsi1pk(tenant_id)),
                            between=("gsi1sk", format_time(start), format_time(end + ONE_MS)))
        return [ChangeEvent.model_validate(_document(item)) for item in items]

    def changes_for_service(self, tenant_id: str, service: str, start: datetime, end: datetime) -> list[ChangeEvent]:
        """Changes of one service with start <= at <= end, in time order (strongly consistent)."""
        items = self._query(f"listing changes of {service}", pk=("pk", f"{_tenant(tenant_id)}#SERVICE#{service}"),
                            between=("sk", f"CHANGE#{format_time(start)}", f"CHANGE#{format_time(end + ONE_MS)}"),
                            consistent=True)
        return [ChangeEvent.model_validate(_document(item)) for item in items]


if TYPE_CHECKING:
    def _implements_changestore(repository: DynamoChanges) -> ChangeStore:  # mypy checks the port is met
        return repository
