"""Records what each Lambda function really does to the DynamoDB tables, on the embedded backend.

The local runtime runs every handler in-process (`InProcessLambdas.invoke`), so the function on the
current thread is known; every DynamoDB call botocore makes (moto serves it) is then recorded as
(function, operation, table, index, partition-key family). `infra_cdk.constructs.table_access`
grants exactly such families; `test_table_access_recorded.py` checks every recorded call against it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.client import BaseClient

from sre_copilot.local.moto_patches import InProcessLambdas

KEYED_OPERATIONS = ("GetItem", "PutItem", "UpdateItem", "DeleteItem")


@dataclass(frozen=True)
class Call:
    function: str
    operation: str
    table: str
    index: str | None
    partition_key: str


@dataclass
class Recorder:
    calls: set[Call] = field(default_factory=set)
    unreadable: list[tuple[str, str]] = field(default_factory=list)

    def by_function(self) -> dict[str, set[Call]]:
        out: dict[str, set[Call]] = {}
        for call in self.calls:
            out.setdefault(call.function, set()).add(call)
        return out


_current = threading.local()


def _partition_keys(operation: str, params: dict[str, Any]) -> list[tuple[str, str | None, str]]:
    """(table, index, partition-key value) of each item a call touches."""
    if operation in KEYED_OPERATIONS:
        key = params.get("Key") or params.get("Item") or {}
        name = "pk" if "pk" in key else next(iter(key), "")
        return [(params["TableName"], None, str(next(iter(key.get(name, {}).values()), "")))]
    if operation == "Query":
        values = params.get("ExpressionAttributeValues", {})
        first = re.split(r"\s+AND\s+", params["KeyConditionExpression"], flags=re.IGNORECASE)[0]
        placeholder = next(p for p in re.findall(r":\w+", first))
        return [(params["TableName"], params.get("IndexName"), str(next(iter(values[placeholder].values()))))]
    if operation == "BatchGetItem":
        return [(table, None, str(next(iter(k["pk"].values())))) for table, request in params["RequestItems"].items()
                for k in request["Keys"]]
    return [(str(params.get("TableName", "?")), None, "")]  # Scan, Transact*, Batch writes: recorded keyless


@contextmanager
def recording() -> Iterator[Recorder]:
    """Record every DynamoDB call made inside a Lambda handler while the block runs."""
    recorder = Recorder()
    original_invoke = InProcessLambdas.invoke
    original_call = BaseClient._make_api_call  # type: ignore[attr-defined]

    def invoke(self: InProcessLambdas, function_name: str, event: Any) -> tuple[str, bool, str]:
        outer = getattr(_current, "function", None)
        _current.function = function_name
        try:
            return original_invoke(self, function_name, event)
        finally:
            _current.function = outer

    def make_api_call(self: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
        function = getattr(_current, "function", None)
        if function is not None and self.meta.service_model.service_name == "dynamodb":
            try:
                for table, index, pk in _partition_keys(operation_name, api_params):
                    recorder.calls.add(Call(function, operation_name, table, index, pk))
            except (KeyError, StopIteration, IndexError) as exc:
                recorder.unreadable.append((function, f"{operation_name}: {exc!r}"))
        return original_call(self, operation_name, api_params)

    InProcessLambdas.invoke = invoke  # type: ignore[method-assign]
    setattr(BaseClient, "_make_api_call", make_api_call)  # noqa: B010 (botocore's private hook point)
    try:
        yield recorder
    finally:
        InProcessLambdas.invoke = original_invoke  # type: ignore[method-assign]
        setattr(BaseClient, "_make_api_call", original_call)  # noqa: B010
