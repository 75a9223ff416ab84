"""Paging records in the incident's DynamoDB partition: one claim per (round, level), one status.

The claim is a conditional put, so a retried or redelivered page step never calls the same level
twice; the status item says whether the escalation is still paging, and how it ended (an ending,
once written, is never overwritten).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from sre_copilot.adapters.dynamodb_store import incident_pk, marshal, unmarshal
from sre_copilot.domain.types import format_time
from sre_copilot.ports import clock


class PagingStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self.client = client
        self.table_name = table_name

    def claim_level(self, tenant_id: str, incident_id: str, round_: int, level: int) -> bool:
        """True for the first caller only: never a second page for the same incident, round and level."""
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=marshal({"pk": incident_pk(tenant_id, incident_id), "sk": f"PAGE#{round_:02d}#{level:02d}",
                              "item_type": "page_claim", "at": format_time(clock.now())}),
                ConditionExpression="attribute_not_exists(pk)")
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise

    def set_status(self, tenant_id: str, incident_id: str, status: str, **fields: Any) -> bool:
        """Record where the escalation is; False (nothing written) once it has ended. The steps of
        one paging execution write in turn, but a retried or late step (a page after the keypress
        that acknowledged it) must not bring an ended escalation back to `paging`, nor one ending
        replace another: the write is conditional on the stored status not being an ending."""
        try:
            self.client.put_item(
                TableName=self.table_name, Item=marshal({
                    "pk": incident_pk(tenant_id, incident_id), "sk": "PAGING", "item_type": "paging_status",
                    "status": status, "updated_at": format_time(clock.now()), **fields}),
                ConditionExpression="attribute_not_exists(#status) OR NOT #status IN (:ack, :closed, :exhausted)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=marshal({":ack": "acknowledged", ":closed": "closed",
                                                   ":exhausted": "exhausted"}))
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise

    def status(self, tenant_id: str, incident_id: str) -> dict[str, Any] | None:
        item = self.client.get_item(TableName=self.table_name, ConsistentRead=True,
                                    Key=marshal({"pk": incident_pk(tenant_id, incident_id), "sk": "PAGING"}))
        return unmarshal(item["Item"]) if "Item" in item else None
