"""The single-table helper every DynamoDB repository shares (docs/data-model.md is the reference).

Table: `pk` (S) / `sk` (S), one overloaded sparse index `gsi1` on `gsi1pk` / `gsi1sk`, TTL attribute
`ttl` (epoch seconds). Every partition key starts with `TENANT#<tenant>`, so no query can cross
tenants. Times inside keys are `format_time` strings (fixed-width RFC 3339, milliseconds, `Z`), which
sort lexicographically in time order.

Models are stored as top-level attributes (`model_dump(mode="json")`, floats as Decimal) next to the
key and bookkeeping attributes in `META`, which are stripped before validation on the way back.
Reads of single items are strongly consistent, because they feed read-modify-write cycles (a signal
read right after ingest, an incident updated by the workflow); index queries are eventually
consistent, so their callers re-check what they read (e.g. `is_open`).

Here: keys, marshalling, expressions, paginated queries, versioned puts and the mapping of
DynamoDB errors to domain errors. Each aggregate's repository (`adapters/dynamo/*.py`) is a
`SingleTable` implementing one port of `ports/stores.py`.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, SupportsBytes, TypedDict

from botocore.exceptions import ClientError

from sre_copilot.adapters import aws_clients
from sre_copilot.adapters.s3_blobs import S3Blobs
from sre_copilot.domain.change import ChangeEvent
from sre_copilot.domain.notification import Notification
from sre_copilot.domain.types import format_time, parse_time
from sre_copilot.errors import ConcurrentUpdate, InvalidPayload, PayloadTooLarge
from sre_copilot.settings import Settings, get_settings

if TYPE_CHECKING:
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        AttributeValueTypeDef,
        CreateTableInputTypeDef,
        GlobalSecondaryIndexTypeDef,
        QueryInputTypeDef,
        UniversalAttributeValueTypeDef,
    )

    from sre_copilot.domain.action import ActionPlan

Item = dict[str, object]
"""An item as repositories read it: JSON-mode values (numbers int or float), validated by a model
before use."""
WireItem = dict[str, "AttributeValueTypeDef"]
"""An item in DynamoDB's wire format, as the client sends and returns it."""


class ExpressionArguments(TypedDict, total=False):
    """The placeholder maps of one expression, as keyword arguments of the client's calls."""

    ExpressionAttributeNames: Mapping[str, str]
    ExpressionAttributeValues: Mapping[str, UniversalAttributeValueTypeDef]


class ConditionArguments(ExpressionArguments, total=False):
    """A conditional write's condition and its placeholders, as keyword arguments."""

    ConditionExpression: str


GSI1 = "gsi1"
AGENDA = "gsi2"
AGENDA_ATTRIBUTES = ("item_type", "tenant_id", "incident_id", "token", "plan_id", "deadline", "parked_at")
"""What the sweeper's agenda index (gsi2) carries besides keys: enough to act on a wait token or a
flag. It projects nothing else, so the correlation state's document never lands in an index."""


def table_definition(name: str) -> CreateTableInputTypeDef:
    """`CreateTable` arguments of the single table, as infra_cdk/constructs/storage.py declares it."""
    indexes: list[GlobalSecondaryIndexTypeDef] = [
        {"IndexName": GSI1, "Projection": {"ProjectionType": "ALL"},
         "KeySchema": [{"AttributeName": "gsi1pk", "KeyType": "HASH"}, {"AttributeName": "gsi1sk", "KeyType": "RANGE"}]},
        {"IndexName": AGENDA, "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(AGENDA_ATTRIBUTES)},
         "KeySchema": [{"AttributeName": "gsi2pk", "KeyType": "HASH"}, {"AttributeName": "gsi2sk", "KeyType": "RANGE"}]},
    ]
    return {
        "TableName": name, "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": n, "AttributeType": "S"}
                                 for n in ("pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk")],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "GlobalSecondaryIndexes": indexes,
    }


META = frozenset({"pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "ttl", "item_type", "doc", "doc_z"})
STATE_INLINE_LIMIT_BYTES = 350 * 1024  # DynamoDB items stop at 400 KB, keys and bookkeeping included
SPILL_READ_ATTEMPTS = 3
AUDIT_KEY_ATTEMPTS = 8
BATCH_GET_LIMIT = 100  # keys per BatchGetItem request
ONE_MS = timedelta(milliseconds=1)
SILENCE_GRACE = timedelta(days=1)


@functools.cache
def _codec() -> tuple[TypeSerializer, TypeDeserializer]:
    """boto3's item codec, built on first use: importing boto3's package loads botocore's session
    and client machinery, the heaviest part of a cold start for a function that never needs it."""
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

    return TypeSerializer(), TypeDeserializer()


_audit_sequence = itertools.count()


@dataclass(frozen=True)
class DedupWindow:
    """A fingerprint's dedup window: the original signal holding it and the repeats it absorbed."""

    holder: str
    until: datetime
    repeats: int


@dataclass
class DueWork:
    """The sweeper's agenda at one moment (see `DynamoStore.due_work`)."""

    wait_tokens: list[WaitToken] = field(default_factory=list)
    refresh: list[str] = field(default_factory=list)
    tick: bool = False
    """The correlation engine's tick has work (its saved `next_tick` has come)."""


class WaitToken(TypedDict):
    """An execution parked on `waitForTaskToken` for an incident (approval or wake-up)."""

    tenant_id: str
    incident_id: str
    token: str
    deadline: datetime | None
    plan_id: str | None
    parked_at: datetime


# -- keys -------------------------------------------------------------------------------------------
def _tenant(tenant_id: str) -> str:
    if not tenant_id or "#" in tenant_id:
        raise InvalidPayload(f"tenant id '{tenant_id}' is empty or contains '#'; use letters, digits, '-' or '_'")
    return f"TENANT#{tenant_id}"


def signal_key(tenant_id: str, signal_id: str) -> dict[str, str]:
    return {"pk": f"{_tenant(tenant_id)}#SIGNAL#{signal_id}", "sk": "SIGNAL"}


def fingerprint_key(tenant_id: str, fingerprint: str) -> dict[str, str]:
    return {"pk": f"{_tenant(tenant_id)}#FINGERPRINT#{fingerprint}", "sk": "CLAIM"}


def incident_pk(tenant_id: str, incident_id: str) -> str:
    return f"{_tenant(tenant_id)}#INCIDENT#{incident_id}"


def incident_key(tenant_id: str, incident_id: str) -> dict[str, str]:
    return {"pk": incident_pk(tenant_id, incident_id), "sk": "INCIDENT"}


def execution_key(tenant_id: str, execution_name: str) -> dict[str, str]:
    return {"pk": f"{_tenant(tenant_id)}#EXECUTION#{execution_name}", "sk": "EXECUTION"}


def change_key(change: ChangeEvent) -> dict[str, str]:
    return {"pk": f"{_tenant(change.tenant_id)}#SERVICE#{change.service}",
            "sk": f"CHANGE#{format_time(change.at)}#{change.id}"}


def audit_pk(tenant_id: str, subject: str) -> str:
    return f"{_tenant(tenant_id)}#AUDIT#{subject}"


def correlation_key(tenant_id: str) -> dict[str, str]:
    return {"pk": f"{_tenant(tenant_id)}#CORRELATION", "sk": "STATE"}


def tenant_key(tenant_id: str, sk: str) -> dict[str, str]:
    return {"pk": _tenant(tenant_id), "sk": sk}


def open_incidents_gsi1pk(tenant_id: str) -> str:
    return f"{_tenant(tenant_id)}#OPEN_INCIDENTS"


def incident_signals_gsi1pk(tenant_id: str, incident_id: str) -> str:
    return f"{incident_pk(tenant_id, incident_id)}#SIGNALS"


def changes_gsi1pk(tenant_id: str) -> str:
    return f"{_tenant(tenant_id)}#CHANGES"


def due_gsi2pk(tenant_id: str) -> str:
    """The sweeper's agenda (index gsi2): wait-token deadlines, re-analysis flags and the correlation
    engine's next tick, by due time (gsi2sk `<time>#WAIT#<incident>`, `<time>#REFRESH#<incident>`,
    `<time>#TICK`), read with one query a minute."""
    return f"{_tenant(tenant_id)}#DUE"


def execution_name(execution: str) -> str:
    """The name part of an execution ARN (`arn:aws:states:<region>:<account>:execution:<sm>:<name>`)."""
    return execution.rsplit(":", 1)[-1] if execution.startswith("arn:") else execution


# -- values ---------------------------------------------------------------------------------------
def _epoch(at: datetime) -> int:
    return math.ceil(at.timestamp())


def to_dynamo(value: object) -> object:
    """JSON-mode values -> what TypeSerializer accepts (no floats; NaN/inf have no DynamoDB form)."""
    if isinstance(value, bool) or value is None or isinstance(value, str | int | Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value)) if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): to_dynamo(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_dynamo(v) for v in value]
    if isinstance(value, datetime):
        return format_time(value)
    return value


def from_dynamo(value: object) -> object:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_dynamo(v) for v in value]
    if isinstance(value, set):
        return [from_dynamo(v) for v in sorted(value)]
    return value


def _number(value: object) -> int | float:
    """A numeric attribute read back (`from_dynamo` gives int or float)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number, got {value!r}")
    return value


def as_int(value: object) -> int:
    return int(_number(value))


def as_float(value: object) -> float:
    """As a float: times kept as epoch seconds with a fraction."""
    return float(_number(value))


def marshal(attributes: Mapping[str, object]) -> WireItem:
    serializer = _codec()[0]
    return {k: serializer.serialize(to_dynamo(v)) for k, v in attributes.items()}


def unmarshal(item: Mapping[str, AttributeValueTypeDef]) -> Item:
    deserializer = _codec()[1]
    return {k: _read_value(v, deserializer) for k, v in item.items()}


def _read_value(value: AttributeValueTypeDef, deserializer: TypeDeserializer) -> object:
    """One attribute as `from_dynamo(deserializer.deserialize(value))` gives it. Strings and
    binaries (an item's keys, index keys and compressed document: most of what is read) are taken
    as they are; boto3's codec does the rest."""
    if "S" in value:
        return value["S"]
    if "B" in value:
        return bytes(value["B"])
    return from_dynamo(deserializer.deserialize(value))


def _doc(document: Mapping[str, object]) -> str:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def _packed_doc(document: Mapping[str, object]) -> bytes:
    """`_doc` zlib-compressed, for the items written per alert: on-demand DynamoDB bills a write
    per started KB of the item, an incident is rewritten whole for every alert that joins it, and a
    signal (written with every alert) drops under 1 KB with its labels compressed."""
    return zlib.compress(_doc(document).encode("utf-8"), 6)


def as_bytes(value: object) -> bytes:
    """A binary attribute read back (boto3's `Binary`, or bytes)."""
    if isinstance(value, bytes | bytearray | memoryview | SupportsBytes):
        return bytes(value)
    raise TypeError(f"expected a binary attribute, got {type(value).__name__}")


def _document(item: Mapping[str, object]) -> Item:
    """The model document of an item. Signals, incidents, changes, notifications, action plans and
    audit records keep theirs as one JSON string (`doc`): one attribute to write and read instead
    of dozens of nested ones (no query filters on their fields), which is what makes them cheap;
    the attributes beside it (counters, index keys) are merged over it. An item written with
    plain attributes reads the same. Incidents and signals keep theirs compressed (`doc_z`, see
    `_packed_doc`)."""
    base: Item = (json.loads(zlib.decompress(as_bytes(item["doc_z"]))) if "doc_z" in item
                  else json.loads(str(item["doc"])) if "doc" in item else {})
    base.update({k: v for k, v in item.items() if k not in META})
    return base


class _Expression:
    """Builds one Update/Condition expression with generated placeholders (many model fields,
    `status`, `state`, `at`, `ttl`..., are DynamoDB reserved words)."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, object] = {}
        self._counter = itertools.count()

    def name(self, attribute: str) -> str:
        placeholder = f"#n{next(self._counter)}"
        self.names[placeholder] = attribute
        return placeholder

    def value(self, value: object) -> str:
        placeholder = f":v{next(self._counter)}"
        self.values[placeholder] = value
        return placeholder

    def arguments(self) -> ExpressionArguments:
        arguments: ExpressionArguments = {}
        if self.names:
            arguments["ExpressionAttributeNames"] = self.names
        if self.values:
            arguments["ExpressionAttributeValues"] = marshal(self.values)
        return arguments


class SingleTable:
    """One DynamoDB table and the plumbing its repositories share."""

    def __init__(self, settings: Settings | None = None, *, client: DynamoDBClient | None = None,
                 table_name: str | None = None, blobs: S3Blobs | None = None) -> None:
        self.settings = settings or get_settings()
        self.client = client or aws_clients.dynamodb(self.settings)
        self.table_name = table_name or self.settings.table_name
        # The audit trail has its own append-only table in AWS (IAM denies update and delete there).
        self.audit_table_name = self.settings.audit_table_name or self.table_name
        self._blobs = blobs

    @property
    def blobs(self) -> S3Blobs:
        # Only the rare spilled correlation state needs S3; most functions never build the client.
        if self._blobs is None:
            self._blobs = S3Blobs(self.settings)
        return self._blobs

    def _versioned_put(self, key: Mapping[str, str], attributes: Mapping[str, object],
                       record: Notification | ActionPlan, what: str) -> None:
        """Write `record`'s item only over the version it was read at (0: only if there is none, or
        a legacy item without a version), then bump `record.version`; else `ConcurrentUpdate`."""
        expected = int(record.version)
        placed = _Expression()
        version = placed.name("version")
        condition = (f"attribute_not_exists({version})" if expected == 0
                     else f"{version} = {placed.value(expected)}")
        try:
            with self._errors(f"writing {what}"):
                self.client.put_item(TableName=self.table_name,
                                     Item=marshal({**attributes, "version": expected + 1, **key}),
                                     ConditionExpression=condition, **placed.arguments())
        except ClientError as exc:
            if aws_clients.error_code(exc) != "ConditionalCheckFailedException":
                raise
            raise ConcurrentUpdate(f"{what} was saved by another writer since it was read (yours: version "
                                   f"{expected}); read it again, re-apply the change and save") from exc
        record.version = expected + 1

    # == plumbing ==================================================================================
    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except ClientError as exc:
            code = aws_clients.error_code(exc)
            message = str(exc.response.get("Error", {}).get("Message", ""))
            if code == "ValidationException" and "size" in message.lower():
                raise PayloadTooLarge(
                    f"{action}: the item is over DynamoDB's 400 KB limit ({message}); keep large parts in S3"
                ) from exc
            if code == "ConditionalCheckFailedException":
                raise
            aws_clients.raise_domain_error(exc, action=action, resource=f"DynamoDB table {self.table_name}",
                                           setting="SRE_COPILOT_TABLE_NAME")

    def _get(self, key: Mapping[str, str], action: str) -> Item | None:
        with self._errors(action):
            response = self.client.get_item(TableName=self.table_name, Key=marshal(key), ConsistentRead=True)
        item = response.get("Item")
        return unmarshal(item) if item else None

    def _put(self, key: Mapping[str, str], attributes: Mapping[str, object], action: str) -> None:
        with self._errors(action):
            self.client.put_item(TableName=self.table_name, Item=marshal({**attributes, **key}))

    def _query(self, action: str, *, pk: tuple[str, str], index: str | None = None,
               begins_with: tuple[str, str] | None = None, between: tuple[str, str, str] | None = None,
               less_than: tuple[str, str] | None = None, consistent: bool = False,
               table: str | None = None, present: str | None = None) -> Iterator[Item]:
        """All pages of one key-condition query, ascending by sort key (only items that have the
        attribute `present`, when given)."""
        expression = _Expression()
        condition = f"{expression.name(pk[0])} = {expression.value(pk[1])}"
        if begins_with:
            condition += f" AND begins_with({expression.name(begins_with[0])}, {expression.value(begins_with[1])})"
        if between:
            condition += (f" AND {expression.name(between[0])} BETWEEN {expression.value(between[1])} "
                          f"AND {expression.value(between[2])}")
        if less_than:
            condition += f" AND {expression.name(less_than[0])} < {expression.value(less_than[1])}"
        arguments: QueryInputTypeDef = {"TableName": table or self.table_name, "KeyConditionExpression": condition}
        if present:
            arguments["FilterExpression"] = f"attribute_exists({expression.name(present)})"
        arguments.update(expression.arguments())
        if index:
            arguments["IndexName"] = index
        else:
            arguments["ConsistentRead"] = consistent
        while True:
            with self._errors(action):
                page = self.client.query(**arguments)
            for item in page.get("Items", []):
                yield unmarshal(item)
            if "LastEvaluatedKey" not in page:
                return
            arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def notification_key(tenant_id: str, notification: Notification) -> dict[str, str]:
    return {"pk": incident_pk(tenant_id, notification.incident_id),
            "sk": f"NOTIFICATION#{format_time(notification.at)}#{notification.id}"}


def _versioned[R: (Notification, ActionPlan)](model: type[R], item: Mapping[str, object]) -> R:
    """A record kept as a document plus a `version` attribute beside it (legacy items: version 0)."""
    record = model.model_validate(_document(item))
    record.version = as_int(item.get("version", 0))
    return record


def _old_item(exc: ClientError) -> Item | None:
    """The item a failed conditional write found (ReturnValuesOnConditionCheckFailure=ALL_OLD)."""
    response: Mapping[str, object] = exc.response  # botocore's error shape does not declare `Item`
    item = response.get("Item")
    return unmarshal(item) if isinstance(item, dict) and item else None


def _wait_token(item: Mapping[str, object]) -> WaitToken:
    return WaitToken(
        tenant_id=str(item["tenant_id"]), incident_id=str(item["incident_id"]), token=str(item["token"]),
        deadline=parse_time(item["deadline"]) if item.get("deadline") else None,
        plan_id=str(item["plan_id"]) if item.get("plan_id") else None,
        parked_at=parse_time(item["parked_at"]),
    )
