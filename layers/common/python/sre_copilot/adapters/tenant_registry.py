"""The tenants a deployment has served, so that its scheduled work (the sweeper: approval timeouts,
duration-based opens, re-analysis, resolution) visits every tenant, not only the deployment's own.

Which tenants exist is known to ingest (the webhook secret's `tenant_keys`), but the sweeper has no
access to that secret (least privilege), so correlation records each tenant here the first time it
saves that tenant's correlation state: one item per tenant in the deployment tenant's own partition
(`pk TENANT#<deployment>`, `sk SERVED#<tenant>`), written once per tenant and read by the sweeper
with one Query a minute. The deployment's own tenant is always served and never recorded.
"""

from __future__ import annotations

from typing import Any

from sre_copilot.adapters.dynamodb_store import _tenant
from sre_copilot.domain.types import format_time
from sre_copilot.ports import clock

PREFIX = "SERVED#"


class TenantRegistry:
    def __init__(self, client: Any, table_name: str, deployment_tenant: str) -> None:
        self.client = client
        self.table_name = table_name
        self.deployment_tenant = deployment_tenant

    def record(self, tenant_id: str) -> None:
        """Remember that this deployment serves `tenant_id` (idempotent: a repeat rewrites the same item)."""
        if tenant_id == self.deployment_tenant:
            return
        _tenant(tenant_id)  # refuses an id that cannot key the table
        self.client.put_item(TableName=self.table_name, Item={
            "pk": {"S": _tenant(self.deployment_tenant)}, "sk": {"S": f"{PREFIX}{tenant_id}"},
            "item_type": {"S": "served_tenant"}, "tenant_id": {"S": tenant_id},
            "first_seen": {"S": format_time(clock.now())}})

    def served(self) -> list[str]:
        """The deployment's tenant first, then every recorded tenant in name order."""
        tenants = [self.deployment_tenant]
        arguments: dict[str, Any] = {
            "TableName": self.table_name, "ConsistentRead": True,
            "KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :prefix)",
            "ExpressionAttributeNames": {"#pk": "pk", "#sk": "sk"},
            "ExpressionAttributeValues": {":pk": {"S": _tenant(self.deployment_tenant)}, ":prefix": {"S": PREFIX}}}
        while True:
            page = self.client.query(**arguments)
            tenants += [str(item["tenant_id"]["S"]) for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return tenants
            arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]
