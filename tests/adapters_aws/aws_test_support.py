"""Constants and raw-table helpers shared by the AWS adapter tests (a module with a unique name,
so it imports the same way whichever test directory pytest collects first)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3

REGION = "eu-west-1"
TABLE = "sre-copilot-test"
BUCKET = "sre-copilot-test-artifacts"
START = datetime(2024, 5, 14, 9, 0, tzinfo=UTC)


def raw_item(pk: str, sk: str) -> dict[str, Any]:
    """The item as stored (for assertions on key and TTL attributes)."""
    ddb = boto3.client("dynamodb", region_name=REGION)
    return dict(ddb.get_item(TableName=TABLE, Key={"pk": {"S": pk}, "sk": {"S": sk}}).get("Item", {}))


def raw_query(pk: str) -> list[dict[str, Any]]:
    ddb = boto3.client("dynamodb", region_name=REGION)
    return [dict(i) for i in ddb.query(TableName=TABLE, KeyConditionExpression="pk = :pk",
                                       ExpressionAttributeValues={":pk": {"S": pk}})["Items"]]
