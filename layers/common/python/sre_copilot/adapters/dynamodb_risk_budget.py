"""Per-service risk budget in the main table: each executed action spends its risk's cost, and the
budget refills at every period boundary (one item per service and period, so a refill is simply the
next period's empty item; old periods expire by TTL).

Spending is idempotent on the plan id: the item keeps the ids it was charged for, and the update is
conditional on the id not being there yet, so a retried step never charges twice.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from sre_copilot.adapters import aws_clients
from sre_copilot.adapters.dynamodb_store import _tenant


def period_start(at: datetime, period_s: int) -> datetime:
    epoch = int(at.timestamp())
    return datetime.fromtimestamp(epoch - epoch % period_s, UTC)


class RiskBudgetLedger:
    def __init__(self, client: Any, table_name: str) -> None:
        self.client = client
        self.table_name = table_name

    def _key(self, tenant_id: str, service: str, start: datetime) -> dict[str, Any]:
        return {"pk": {"S": f"{_tenant(tenant_id)}#RISKBUDGET#{service}"},
                "sk": {"S": f"PERIOD#{start.strftime('%Y-%m-%dT%H:%M:%SZ')}"}}

    def spent(self, tenant_id: str, service: str, at: datetime, period_s: int) -> float:
        item = self.client.get_item(TableName=self.table_name, ConsistentRead=True,
                                    Key=self._key(tenant_id, service, period_start(at, period_s))).get("Item")
        return float(item["spent"]["N"]) if item and "spent" in item else 0.0

    def spend(self, tenant_id: str, service: str, plan_id: str, cost: float, at: datetime, period_s: int) -> bool:
        """Charge `cost` for `plan_id` in the period holding `at`; False if it was already charged."""
        start = period_start(at, period_s)
        expires = int((start + timedelta(seconds=2 * period_s)).timestamp())
        try:
            self.client.update_item(
                TableName=self.table_name, Key=self._key(tenant_id, service, start),
                UpdateExpression="ADD spent :cost, plans :plan SET #ttl = :ttl, item_type = :type",
                ConditionExpression="attribute_not_exists(plans) OR NOT contains(plans, :id)",
                ExpressionAttributeNames={"#ttl": "ttl"},
                ExpressionAttributeValues={":cost": {"N": repr(float(cost))}, ":plan": {"SS": [plan_id]},
                                           ":id": {"S": plan_id}, ":ttl": {"N": str(expires)},
                                           ":type": {"S": "risk_budget"}})
        except ClientError as exc:
            if aws_clients.error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True
