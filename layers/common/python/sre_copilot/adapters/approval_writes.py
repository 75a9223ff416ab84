"""The approval decision as one conditional write: exactly one decision wins.

A click, a second click, a phone keypress and the sweeper's timeout may all try to decide the same
plan. Each reads the plan item, decides, and writes the new plan only if the item is still exactly
what it read (`doc` unchanged): the loser gets `False` and tells its person the plan was already
decided, instead of silently overwriting the winner.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from sre_copilot.adapters import aws_clients
from sre_copilot.adapters.dynamodb_store import _doc, incident_pk, marshal, unmarshal
from sre_copilot.domain.action import ActionPlan
from sre_copilot.ports.stores import Store


def read_plan(store: Store, tenant_id: str, incident_id: str, plan_id: str) -> tuple[ActionPlan, str] | None:
    """The plan and the exact stored document it was read from (the write's expected value)."""
    response = store.client.get_item(TableName=store.table_name, ConsistentRead=True, Key=marshal(
        {"pk": incident_pk(tenant_id, incident_id), "sk": f"ACTION#{plan_id}"}))
    item = response.get("Item")
    if not item:
        return None
    attributes = unmarshal(item)
    doc = str(attributes["doc"])
    return ActionPlan.model_validate_json(doc), doc


def replace_plan_if_unchanged(store: Store, tenant_id: str, plan: ActionPlan, expected_doc: str) -> bool:
    """Write `plan` if its item still holds `expected_doc`; False when another writer came first."""
    key = {"pk": incident_pk(tenant_id, plan.incident_id), "sk": f"ACTION#{plan.id}"}
    arguments: dict[str, Any] = {
        "TableName": store.table_name,
        "Key": marshal(key),
        "UpdateExpression": "SET #doc = :new",
        "ConditionExpression": "#doc = :old",
        "ExpressionAttributeNames": {"#doc": "doc"},
        "ExpressionAttributeValues": marshal({":new": _doc(plan.model_dump(mode="json")), ":old": expected_doc}),
    }
    try:
        store.client.update_item(**arguments)
    except ClientError as exc:
        if aws_clients.error_code(exc) == "ConditionalCheckFailedException":
            return False
        raise
    return True
