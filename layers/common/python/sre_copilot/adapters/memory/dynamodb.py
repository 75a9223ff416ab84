"""DynamoDB in memory: the part of the DynamoDB API the store and Powertools Idempotency call.

`DynamoStore` and Powertools' persistence layer run unchanged on top of it, so the memory backend
has the same keys, conditions, version checks, index membership and error codes as the deployed
table by construction: there is no second implementation of the store to drift apart. It answers
in wire form and raises botocore `ClientError`s with DynamoDB's codes.

Semantics kept: strongly consistent item operations, atomic per request (one lock); conditional
writes (`ConditionExpression`, `ReturnValuesOnConditionCheckFailure`); `UpdateExpression` SET /
REMOVE / ADD / DELETE read against the item as it was; sparse global secondary indexes with their
projection (`ALL`, `KEYS_ONLY`, `INCLUDE`) and no consistent reads on them; queries in sort-key
order with `Limit`, `ExclusiveStartKey`, `ScanIndexForward`, `FilterExpression` and
`ProjectionExpression`; the 400 KB item limit; key and index-key validation; unused or undefined
expression placeholders refused. TTL is an attribute, as in DynamoDB, which deletes expired items
in the background (up to two days late): `delete_expired_items` is that background pass, run
when the caller says. Not modelled: paging at 1 MB, capacity, streams, transactions.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sre_copilot.adapters.memory.expressions import (
    Compare,
    Condition,
    Context,
    Logical,
    Path,
    Value,
    apply_update,
    evaluate,
    parse_condition,
    parse_projection,
    parse_update,
    resolve,
    tokenize,
)
from sre_copilot.adapters.memory.wire import (
    MAX_ITEM_BYTES,
    WireItem,
    client_error,
    compare_key,
    copy_item,
    hashable,
    item_size,
    validation_error,
)

BATCH_GET_LIMIT = 100
Primary = tuple[Any, ...]


@dataclass
class _Index:
    name: str | None  # None: the table itself
    hash_key: str
    range_key: str | None
    projection: str = "ALL"
    non_key: frozenset[str] = frozenset()
    partitions: dict[Any, dict[Primary, WireItem]] = field(default_factory=dict)
    _ordered: dict[Any, list[tuple[Any, Primary, WireItem]]] = field(default_factory=dict)

    def member(self, item: WireItem) -> Any | None:
        """The partition an item is in, or None when it lacks the index's keys (sparse index)."""
        value = item.get(self.hash_key)
        if value is None or (self.range_key is not None and self.range_key not in item):
            return None
        return hashable(value)

    def put(self, primary: Primary, item: WireItem) -> None:
        partition = self.member(item)
        if partition is not None:
            self.partitions.setdefault(partition, {})[primary] = item
            self._ordered.pop(partition, None)

    def drop(self, primary: Primary, item: WireItem) -> None:
        partition = self.member(item)
        if partition is not None:
            members = self.partitions.get(partition)
            if members is not None and members.pop(primary, None) is not None:
                self._ordered.pop(partition, None)
                if not members:
                    del self.partitions[partition]

    def ordered(self, partition: Any) -> list[tuple[Any, Primary, WireItem]]:
        """(sort key, primary key, item) of one partition, in sort-key order (then primary key,
        so items with equal index sort keys come back in a fixed order)."""
        cached = self._ordered.get(partition)
        if cached is None:
            rows = [((compare_key(item[self.range_key]) if self.range_key else None), primary, item)
                    for primary, item in self.partitions.get(partition, {}).items()]
            rows.sort(key=lambda row: (row[0], row[1]))
            cached = self._ordered[partition] = rows
        return cached

    def project(self, item: WireItem, table: _Table) -> WireItem:
        if self.projection == "ALL":
            return item
        keep = {table.hash_key, self.hash_key} | ({table.range_key} if table.range_key else set())
        keep |= {self.range_key} if self.range_key else set()
        if self.projection == "INCLUDE":
            keep |= self.non_key
        return {name: value for name, value in item.items() if name in keep}


@dataclass
class _Table:
    name: str
    hash_key: str
    range_key: str | None
    types: dict[str, str]
    indexes: dict[str, _Index]
    items: dict[Primary, WireItem] = field(default_factory=dict)
    base: _Index = field(init=False)
    ttl_attribute: str | None = None

    def __post_init__(self) -> None:
        self.base = _Index(None, self.hash_key, self.range_key)

    def primary(self, key: Mapping[str, Any], operation: str, *, exact: bool = True) -> Primary:
        names = [self.hash_key] + ([self.range_key] if self.range_key else [])
        if exact and set(key) != set(names):
            raise validation_error("The provided key element does not match the schema", operation)
        parts: list[Any] = []
        for name in names:
            value = key.get(name)
            if value is None or next(iter(value)) != self.types[name]:
                raise validation_error("The provided key element does not match the schema", operation)
            if next(iter(value.values())) in ("", b""):
                raise validation_error(f"One or more parameter values are not valid. The AttributeValue for a "
                                       f"key attribute cannot contain an empty string value. Key: {name}", operation)
            parts.append(hashable(value))
        return tuple(parts)

    def check_item(self, item: WireItem, operation: str) -> None:
        for index in self.indexes.values():
            for name in (index.hash_key, index.range_key):
                value = item.get(name) if name else None
                if value is None or name is None:
                    continue
                kind, inner = next(iter(value.items()))
                if kind != self.types[name]:
                    raise validation_error(f"One or more parameter values were invalid: Type mismatch for Index "
                                           f"Key {name} Expected: {self.types[name]} Actual: {kind} IndexName: "
                                           f"{index.name}", operation)
                if inner in ("", b""):
                    raise validation_error(f"One or more parameter values are not valid. A value specified for a "
                                           f"secondary index key is not supported. The AttributeValue for a key "
                                           f"attribute cannot contain an empty string value. IndexName: "
                                           f"{index.name}, IndexKey: {name}", operation)
        if item_size(item) > MAX_ITEM_BYTES:
            raise validation_error("Item size has exceeded the maximum allowed size", operation)

    def store(self, primary: Primary, item: WireItem) -> None:
        old = self.items.get(primary)
        if old is not None:
            self.base.drop(primary, old)
            for index in self.indexes.values():
                index.drop(primary, old)
        self.items[primary] = item
        self.base.put(primary, item)
        for index in self.indexes.values():
            index.put(primary, item)

    def remove(self, primary: Primary) -> WireItem | None:
        old = self.items.pop(primary, None)
        if old is not None:
            self.base.drop(primary, old)
            for index in self.indexes.values():
                index.drop(primary, old)
        return old

    def key_of(self, item: WireItem, index: _Index | None = None) -> WireItem:
        names = {self.hash_key, self.range_key}
        if index is not None:
            names |= {index.hash_key, index.range_key}
        return {name: item[name] for name in names if name and name in item}


class MemoryDynamoDB:
    """A DynamoDB client's item and query operations, on tables held in this process."""

    def __init__(self) -> None:
        self._tables: dict[str, _Table] = {}
        self._lock = threading.RLock()

    # -- tables -------------------------------------------------------------------------------
    def create_table(self, **request: Any) -> dict[str, Any]:
        name = request["TableName"]
        with self._lock:
            if name in self._tables:
                raise client_error("ResourceInUseException", f"Table already exists: {name}", "CreateTable")
            types = {d["AttributeName"]: d["AttributeType"] for d in request.get("AttributeDefinitions", [])}
            hash_key, range_key = _key_schema(request["KeySchema"])
            indexes: dict[str, _Index] = {}
            for spec in request.get("GlobalSecondaryIndexes", []):
                index_hash, index_range = _key_schema(spec["KeySchema"])
                projection = spec.get("Projection", {})
                indexes[spec["IndexName"]] = _Index(
                    spec["IndexName"], index_hash, index_range, projection.get("ProjectionType", "ALL"),
                    frozenset(projection.get("NonKeyAttributes", [])))
            for key in (hash_key, range_key, *(k for i in indexes.values() for k in (i.hash_key, i.range_key))):
                if key and key not in types:
                    raise validation_error(f"No attribute definition for key attribute {key}", "CreateTable")
            self._tables[name] = _Table(name, hash_key, range_key, types, indexes)
        return {"TableDescription": {"TableName": name, "TableStatus": "ACTIVE"}}

    def update_time_to_live(self, *, TableName: str, TimeToLiveSpecification: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            table = self._table(TableName, "UpdateTimeToLive")
            table.ttl_attribute = (TimeToLiveSpecification["AttributeName"]
                                   if TimeToLiveSpecification.get("Enabled") else None)
        return {"TimeToLiveSpecification": dict(TimeToLiveSpecification)}

    def delete_expired_items(self, table_name: str, now_epoch: float) -> int:
        """DynamoDB's background TTL pass: delete items whose TTL attribute (epoch seconds, a
        Number) is before `now_epoch`. Items without one, or with a non-number, stay."""
        with self._lock:
            table = self._table(table_name, "TimeToLive")
            if table.ttl_attribute is None:
                return 0
            expired = [primary for primary, item in table.items.items()
                       if "N" in item.get(table.ttl_attribute, {})
                       and Decimal(item[table.ttl_attribute]["N"]) < Decimal(str(now_epoch))]
            for primary in expired:
                table.remove(primary)
            return len(expired)

    # -- items --------------------------------------------------------------------------------
    def get_item(self, *, TableName: str, Key: Mapping[str, Any], ConsistentRead: bool = False,
                 ProjectionExpression: str | None = None,
                 ExpressionAttributeNames: Mapping[str, str] | None = None) -> dict[str, Any]:
        _check_placeholders("GetItem", ExpressionAttributeNames, None, ProjectionExpression)
        with self._lock:
            table = self._table(TableName, "GetItem")
            item = table.items.get(table.primary(Key, "GetItem"))
            if item is None:
                return {}
            return {"Item": _projected(item, ProjectionExpression, ExpressionAttributeNames)}

    def put_item(self, *, TableName: str, Item: Mapping[str, Any], ConditionExpression: str | None = None,
                 ExpressionAttributeNames: Mapping[str, str] | None = None,
                 ExpressionAttributeValues: Mapping[str, Any] | None = None, ReturnValues: str = "NONE",
                 ReturnValuesOnConditionCheckFailure: str = "NONE") -> dict[str, Any]:
        if ReturnValues not in ("NONE", "ALL_OLD"):
            raise validation_error(f"ReturnValues can only be ALL_OLD or NONE, not {ReturnValues}", "PutItem")
        _check_placeholders("PutItem", ExpressionAttributeNames, ExpressionAttributeValues, ConditionExpression)
        item = copy_item(dict(Item))
        with self._lock:
            table, primary, old = self._checked("PutItem", TableName, item, ConditionExpression, ExpressionAttributeNames,
                                                ExpressionAttributeValues, ReturnValuesOnConditionCheckFailure,
                                                new_item=item)
            table.store(primary, item)
        return {"Attributes": copy_item(old)} if old is not None and ReturnValues == "ALL_OLD" else {}

    def update_item(self, *, TableName: str, Key: Mapping[str, Any], UpdateExpression: str | None = None,
                    ConditionExpression: str | None = None, ExpressionAttributeNames: Mapping[str, str] | None = None,
                    ExpressionAttributeValues: Mapping[str, Any] | None = None, ReturnValues: str = "NONE",
                    ReturnValuesOnConditionCheckFailure: str = "NONE") -> dict[str, Any]:
        _check_placeholders("UpdateItem", ExpressionAttributeNames, ExpressionAttributeValues,
                            UpdateExpression, ConditionExpression)
        with self._lock:
            table, primary, old = self._checked("UpdateItem", TableName, Key, ConditionExpression,
                                                ExpressionAttributeNames, ExpressionAttributeValues,
                                                ReturnValuesOnConditionCheckFailure)
            new = copy_item(old) if old is not None else copy_item(dict(Key))
            touched: set[str] = set()
            if UpdateExpression:
                context = Context(ExpressionAttributeNames, ExpressionAttributeValues)
                key_names = frozenset(n for n in (table.hash_key, table.range_key) if n)
                touched = apply_update(new, parse_update(UpdateExpression), context, key_names)
            table.check_item(new, "UpdateItem")
            table.store(primary, new)
            return _update_answer(ReturnValues, old, new, touched)

    def delete_item(self, *, TableName: str, Key: Mapping[str, Any], ConditionExpression: str | None = None,
                    ExpressionAttributeNames: Mapping[str, str] | None = None,
                    ExpressionAttributeValues: Mapping[str, Any] | None = None, ReturnValues: str = "NONE",
                    ReturnValuesOnConditionCheckFailure: str = "NONE") -> dict[str, Any]:
        _check_placeholders("DeleteItem", ExpressionAttributeNames, ExpressionAttributeValues, ConditionExpression)
        with self._lock:
            table, primary, old = self._checked("DeleteItem", TableName, Key, ConditionExpression,
                                                ExpressionAttributeNames, ExpressionAttributeValues,
                                                ReturnValuesOnConditionCheckFailure)
            table.remove(primary)
        return {"Attributes": copy_item(old)} if old is not None and ReturnValues == "ALL_OLD" else {}

    def batch_get_item(self, *, RequestItems: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
        if sum(len(request["Keys"]) for request in RequestItems.values()) > BATCH_GET_LIMIT:
            raise validation_error("Too many items requested for the BatchGetItem call", "BatchGetItem")
        responses: dict[str, list[WireItem]] = {}
        with self._lock:
            for name, request in RequestItems.items():
                table = self._table(name, "BatchGetItem")
                projection = request.get("ProjectionExpression")
                names = request.get("ExpressionAttributeNames")
                found = [table.items.get(table.primary(key, "BatchGetItem")) for key in request["Keys"]]
                responses[name] = [_projected(item, projection, names) for item in found if item is not None]
        return {"Responses": responses, "UnprocessedKeys": {}}

    # -- queries ------------------------------------------------------------------------------
    def query(self, *, TableName: str, KeyConditionExpression: str, IndexName: str | None = None,
              ExpressionAttributeNames: Mapping[str, str] | None = None,
              ExpressionAttributeValues: Mapping[str, Any] | None = None, ConsistentRead: bool = False,
              ScanIndexForward: bool = True, Limit: int | None = None,
              ExclusiveStartKey: Mapping[str, Any] | None = None, FilterExpression: str | None = None,
              ProjectionExpression: str | None = None, Select: str | None = None) -> dict[str, Any]:
        _check_placeholders("Query", ExpressionAttributeNames, ExpressionAttributeValues,
                            KeyConditionExpression, FilterExpression, ProjectionExpression)
        context = Context(ExpressionAttributeNames, ExpressionAttributeValues)
        with self._lock:
            table = self._table(TableName, "Query")
            index = table.base
            if IndexName is not None:
                if IndexName not in table.indexes:
                    raise validation_error(f"The table does not have the specified index: {IndexName}", "Query")
                if ConsistentRead:
                    raise validation_error("Consistent reads are not supported on global secondary indexes", "Query")
                index = table.indexes[IndexName]
            partition, range_condition = _key_condition(parse_condition(KeyConditionExpression), index, context)
            rows = index.ordered(partition)
            if not ScanIndexForward:
                rows = rows[::-1]
            if ExclusiveStartKey is not None:
                rows = _after(rows, ExclusiveStartKey, table, index, ScanIndexForward)
            items: list[WireItem] = []
            scanned = 0
            last: WireItem | None = None
            for _sort, _primary, item in rows:
                if range_condition is not None and not evaluate(item, range_condition, context):
                    continue
                scanned += 1
                if FilterExpression is None or evaluate(item, parse_condition(FilterExpression), context):
                    items.append(_projected(index.project(item, table), ProjectionExpression,
                                            ExpressionAttributeNames))
                if Limit is not None and scanned >= Limit:
                    last = table.key_of(item, index if index.name else None)
                    break
            answer: dict[str, Any] = {"Count": len(items), "ScannedCount": scanned}
            if Select != "COUNT":
                answer["Items"] = items
            if last is not None:
                answer["LastEvaluatedKey"] = last
            return answer

    def scan(self, *, TableName: str, FilterExpression: str | None = None,
             ExpressionAttributeNames: Mapping[str, str] | None = None,
             ExpressionAttributeValues: Mapping[str, Any] | None = None) -> dict[str, Any]:
        _check_placeholders("Scan", ExpressionAttributeNames, ExpressionAttributeValues, FilterExpression)
        context = Context(ExpressionAttributeNames, ExpressionAttributeValues)
        with self._lock:
            table = self._table(TableName, "Scan")
            items = [copy_item(item) for item in table.items.values()
                     if FilterExpression is None or evaluate(item, parse_condition(FilterExpression), context)]
        return {"Items": items, "Count": len(items), "ScannedCount": len(table.items)}

    # -- plumbing -----------------------------------------------------------------------------
    def _table(self, name: str, operation: str) -> _Table:
        table = self._tables.get(name)
        if table is None:
            raise client_error("ResourceNotFoundException", "Requested resource not found", operation)
        return table

    def _checked(self, operation: str, table_name: str, key: Mapping[str, Any], condition: str | None,
                 names: Mapping[str, str] | None, values: Mapping[str, Any] | None, on_failure: str, *,
                 new_item: WireItem | None = None) -> tuple[_Table, Primary, WireItem | None]:
        """The table, the key and the stored item of a write, once the request is valid and its
        condition holds (validation errors come before condition failures, as in DynamoDB)."""
        table = self._table(table_name, operation)
        primary = table.primary(key, operation, exact=new_item is None)
        if new_item is not None:
            table.check_item(new_item, operation)
        old = table.items.get(primary)
        if condition is not None and not evaluate(old, parse_condition(condition), Context(names, values)):
            extra = {"Item": copy_item(old)} if on_failure == "ALL_OLD" and old is not None else {}
            raise client_error("ConditionalCheckFailedException", "The conditional request failed", operation,
                               extra=extra)
        return table, primary, old


def _key_schema(schema: Iterable[Mapping[str, str]]) -> tuple[str, str | None]:
    hash_key = next(k["AttributeName"] for k in schema if k["KeyType"] == "HASH")
    range_key = next((k["AttributeName"] for k in schema if k["KeyType"] == "RANGE"), None)
    return hash_key, range_key


@functools.lru_cache(maxsize=2048)
def _placeholders(text: str) -> frozenset[str]:
    return frozenset(t for t in tokenize(text) if t[0] in "#:")


def _check_placeholders(operation: str, names: Mapping[str, str] | None, values: Mapping[str, Any] | None,
                        *texts: str | None) -> None:
    """DynamoDB refuses a placeholder an expression uses but the request does not define, and one
    the request defines but no expression uses."""
    used: set[str] = set()
    for text in texts:
        if text:
            used |= _placeholders(text)
    defined = set(names or ()) | set(values or ())
    if used - defined:
        missing = sorted(used - defined)[0]
        kind = "name" if missing.startswith("#") else "value"
        raise validation_error(f"Invalid expression: An expression attribute {kind} used in expression is not "
                               f"defined; attribute {kind}: {missing}", operation)
    if defined - used:
        raise validation_error("Value provided in ExpressionAttributeNames or ExpressionAttributeValues unused in "
                               f"expressions: keys: {{{', '.join(sorted(defined - used))}}}", operation)


def _projected(item: WireItem, projection: str | None, names: Mapping[str, str] | None) -> WireItem:
    if projection is None:
        return copy_item(item)
    context = Context(names, None)
    out: WireItem = {}
    for path in parse_projection(projection):
        value = resolve(item, Path(path.parts[:1]), context)
        if value is not None:
            out[context.name(str(path.parts[0]))] = value
    return copy_item(out)


def _update_answer(returns: str, old: WireItem | None, new: WireItem, touched: set[str]) -> dict[str, Any]:
    if returns == "NONE":
        return {}
    if returns == "ALL_NEW":
        return {"Attributes": copy_item(new)}
    if returns == "ALL_OLD":
        return {"Attributes": copy_item(old)} if old else {}
    source = new if returns == "UPDATED_NEW" else (old or {})
    if returns not in ("UPDATED_NEW", "UPDATED_OLD"):
        raise validation_error(f"ReturnValues {returns} is not one of NONE, ALL_OLD, UPDATED_OLD, ALL_NEW, "
                               "UPDATED_NEW", "UpdateItem")
    attributes = {name: value for name, value in source.items() if name in touched}
    return {"Attributes": copy_item(attributes)} if attributes else {}


def _key_condition(condition: Condition, index: _Index, context: Context) -> tuple[Any, Condition | None]:
    """The partition a key condition names and the sort-key condition beside it (if any)."""
    parts = [condition.left, condition.right] if isinstance(condition, Logical) and condition.operator == "AND" \
        else [condition]
    partition: Any = None
    rest: list[Condition] = []
    for part in parts:
        if (isinstance(part, Compare) and part.operator == "=" and isinstance(part.left, Path)
                and isinstance(part.right, Value) and context.name(str(part.left.parts[0])) == index.hash_key):
            partition = hashable(context.value(part.right.placeholder))
        else:
            rest.append(part)
    if partition is None or len(rest) > 1:
        raise validation_error("Query condition missed key schema element: " + index.hash_key, "Query")
    return partition, (rest[0] if rest else None)


def _after(rows: list[tuple[Any, Primary, WireItem]], start: Mapping[str, Any], table: _Table, index: _Index,
           forward: bool) -> list[tuple[Any, Primary, WireItem]]:
    primary = table.primary(start, "Query", exact=False)
    for position, (_sort, row_primary, _item) in enumerate(rows):
        if row_primary == primary:
            return rows[position + 1:]
    # The start item is gone: resume after its place in sort order.
    sort = compare_key(start[index.range_key]) if index.range_key else None
    return [row for row in rows if ((row[0], row[1]) > (sort, primary)) == forward]
