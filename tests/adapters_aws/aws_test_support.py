"""Constants and raw-table helpers shared by the AWS adapter tests (a module with a unique name,
so it imports the same way whichever test directory pytest collects first)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3

from sre_copilot.adapters.memory import MemoryAws

REGION = "eu-west-1"
TABLE = "sre-copilot-test"
BUCKET = "sre-copilot-test-artifacts"
START = datetime(2024, 5, 14, 9, 0, tzinfo=UTC)


_memory: list[MemoryAws] = []
"""The in-memory AWS the store under test runs on, when the contract suite runs it on the memory
backend (set by the `store` fixture); empty: moto."""


def use_memory(memory: MemoryAws | None) -> None:
    _memory.clear()
    if memory is not None:
        _memory.append(memory)


def _dynamodb() -> Any:
    return _memory[0].dynamodb if _memory else boto3.client("dynamodb", region_name=REGION)


def raw_objects() -> list[str]:
    """The keys in the test bucket."""
    if _memory:
        return _memory[0].s3.keys(BUCKET)
    listing = boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=BUCKET)
    return [o["Key"] for o in listing.get("Contents", [])]


def raw_item(pk: str, sk: str) -> dict[str, Any]:
    """The item as stored (for assertions on key and TTL attributes)."""
    ddb = _dynamodb()
    return dict(ddb.get_item(TableName=TABLE, Key={"pk": {"S": pk}, "sk": {"S": sk}}).get("Item", {}))


def raw_query(pk: str) -> list[dict[str, Any]]:
    ddb = _dynamodb()
    return [dict(i) for i in ddb.query(TableName=TABLE, KeyConditionExpression="pk = :pk",
                                       ExpressionAttributeValues={":pk": {"S": pk}})["Items"]]
