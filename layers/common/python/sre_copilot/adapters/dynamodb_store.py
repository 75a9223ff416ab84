"""Every store port on one DynamoDB table (single-table design; docs/data-model.md is the reference).

Table: `pk` (S) / `sk` (S), one overloaded sparse index `gsi1` on `gsi1pk` / `gsi1sk`, TTL attribute
`ttl` (epoch seconds). Every partition key starts with `TENANT#<tenant>`, so no query can cross
tenants. Times inside keys are `format_time` strings (fixed-width RFC 3339, milliseconds, `Z`), which
sort lexicographically in time order.

Models are stored as top-level attributes (`model_dump(mode="json")`, floats as Decimal) next to the
key and bookkeeping attributes in `META`, which are stripped before validation on the way back.
Reads of single items are strongly consistent, because they feed read-modify-write cycles (a signal
read right after ingest, an incident updated by the workflow); index queries are eventually
consistent, so their callers re-check what they read (e.g. `is_open`).
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import logging
import math
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypedDict

from botocore.exceptions import ClientError

from sre_copilot.adapters import aws_clients
from sre_copilot.adapters.s3_blobs import S3Blobs, json_default
from sre_copilot.domain.action import ActionPlan
from sre_copilot.domain.change import ChangeEvent
from sre_copilot.domain.incident import Incident
from sre_copilot.domain.notification import AuditRecord, Notification
from sre_copilot.domain.signal import Signal
from sre_copilot.domain.types import format_time, parse_time
from sre_copilot.errors import ConcurrentUpdate, InvalidPayload, NotFound, PayloadTooLarge, SreCopilotError
from sre_copilot.ingest.silences import Silence
from sre_copilot.ports import clock
from sre_copilot.settings import Settings, get_settings

if TYPE_CHECKING:
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
    from mypy_boto3_dynamodb import DynamoDBClient

logger = logging.getLogger(__name__)

GSI1 = "gsi1"
AGENDA = "gsi2"
AGENDA_ATTRIBUTES = ("item_type", "tenant_id", "incident_id", "token", "plan_id", "deadline", "parked_at")
"""What the sweeper's agenda index (gsi2) carries besides keys: enough to act on a wait token or a
flag. It projects nothing else, so the correlation state's document never lands in an index."""


def table_definition(name: str) -> dict[str, Any]:
    """`CreateTable` arguments of the single table, as infra_cdk/constructs/storage.py declares it."""
    indexes = (("gsi1", "gsi1pk", "gsi1sk", {"ProjectionType": "ALL"}),
               (AGENDA, "gsi2pk", "gsi2sk", {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(AGENDA_ATTRIBUTES)}))
    return {
        "TableName": name, "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": n, "AttributeType": "S"}
                                 for n in ("pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk")],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "GlobalSecondaryIndexes": [{"IndexName": index, "Projection": projection,
                                    "KeySchema": [{"AttributeName": hash_key, "KeyType": "HASH"},
                                                  {"AttributeName": range_key, "KeyType": "RANGE"}]}
                                   for index, hash_key, range_key, projection in indexes],
    }


META = frozenset({"pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "ttl", "item_type", "doc"})
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


def to_dynamo(value: Any) -> Any:
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


def from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_dynamo(v) for v in value]
    if isinstance(value, set):
        return sorted(from_dynamo(v) for v in value)
    return value


def marshal(attributes: Mapping[str, Any]) -> dict[str, Any]:
    serializer = _codec()[0]
    return {k: serializer.serialize(to_dynamo(v)) for k, v in attributes.items()}


def unmarshal(item: Mapping[str, Any]) -> dict[str, Any]:
    deserializer = _codec()[1]
    return {k: from_dynamo(deserializer.deserialize(v)) for k, v in item.items()}


def _doc(document: Mapping[str, Any]) -> str:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def _document(item: Mapping[str, Any]) -> dict[str, Any]:
    """The model document of an item. Signals, incidents, changes, notifications, action plans and
    audit records keep theirs as one JSON string (`doc`): one attribute to write and read instead
    of dozens of nested ones (no query filters on their fields), which is what makes them cheap;
    the attributes beside it (counters, index keys) are merged over it. An item written with
    plain attributes reads the same."""
    base: dict[str, Any] = json.loads(item["doc"]) if "doc" in item else {}
    base.update({k: v for k, v in item.items() if k not in META})
    return base


class _Expression:
    """Builds one Update/Condition expression with generated placeholders (many model fields,
    `status`, `state`, `at`, `ttl`..., are DynamoDB reserved words)."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}
        self._counter = itertools.count()

    def name(self, attribute: str) -> str:
        placeholder = f"#n{next(self._counter)}"
        self.names[placeholder] = attribute
        return placeholder

    def value(self, value: Any) -> str:
        placeholder = f":v{next(self._counter)}"
        self.values[placeholder] = value
        return placeholder

    def arguments(self) -> dict[str, Any]:
        arguments: dict[str, Any] = {}
        if self.names:
            arguments["ExpressionAttributeNames"] = self.names
        if self.values:
            arguments["ExpressionAttributeValues"] = marshal(self.values)
        return arguments


class DynamoStore:
    """SignalStore, IncidentStore, ChangeStore, AuditLog, NotificationLog and ActionStore, plus the
    coordination items the services need (dedup claims, wait tokens, correlation state, silences,
    human validation counters, catalog pointer)."""

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

    # == signals ===================================================================================
    def put_signal(self, signal: Signal) -> None:
        """Write the signal; `duplicate_count` belongs to `count_duplicate` and is never lowered here."""
        document = signal.model_dump(mode="json")
        duplicates = document.pop("duplicate_count")
        expires = signal.received_at + timedelta(days=self.settings.signal_ttl_days)
        attributes = {"doc": _doc(document), "id": signal.id,
                      "incident_id": signal.incident_id, "item_type": "signal", "ttl": _epoch(expires)}
        remove: tuple[str, ...] = ()
        if signal.incident_id:
            attributes["gsi1pk"] = incident_signals_gsi1pk(signal.tenant_id, signal.incident_id)
            attributes["gsi1sk"] = f"{format_time(signal.event_time)}#{signal.id}"
        else:
            remove = ("gsi1pk", "gsi1sk")
        # Usually one conditional PutItem: it goes through only while the stored counter still holds
        # what this signal says (nothing, for a new signal), so a duplicate counted since is kept.
        known = _Expression()
        counter = known.name("duplicate_count")
        condition = f"attribute_not_exists({counter}) OR {counter} = {known.value(duplicates)}"
        item = {**attributes, "duplicate_count": duplicates, **signal_key(signal.tenant_id, signal.id)}
        try:
            with self._errors(f"writing signal {signal.id}"):
                self.client.put_item(TableName=self.table_name, Item=marshal(item), ConditionExpression=condition,
                                     **known.arguments())
            return
        except ClientError as exc:
            if aws_clients.error_code(exc) != "ConditionalCheckFailedException":
                raise
        expression = _Expression()
        assignments = [f"{expression.name(k)} = {expression.value(v)}" for k, v in attributes.items()]
        counter = expression.name("duplicate_count")
        assignments.append(f"{counter} = if_not_exists({counter}, {expression.value(duplicates)})")
        update = "SET " + ", ".join(assignments)
        if remove:
            update += " REMOVE " + ", ".join(expression.name(k) for k in remove)
        with self._errors(f"writing signal {signal.id}"):
            self.client.update_item(TableName=self.table_name, Key=marshal(signal_key(signal.tenant_id, signal.id)),
                                    UpdateExpression=update, **expression.arguments())

    def get_signal(self, tenant_id: str, signal_id: str) -> Signal | None:
        item = self._get(signal_key(tenant_id, signal_id), f"reading signal {signal_id}")
        # A duplicate counted before its original was written leaves a counter-only item.
        if item is None or "id" not in item:
            return None
        return Signal.model_validate(_document(item))

    def signals_by_id(self, tenant_id: str, signal_ids: Iterable[str]) -> dict[str, Signal]:
        """The stored signals among `signal_ids`, by id, read 100 at a time (BatchGetItem's limit);
        keys DynamoDB leaves unprocessed under load are asked for again."""
        wanted = list(dict.fromkeys(signal_ids))
        out: dict[str, Signal] = {}
        for first in range(0, len(wanted), BATCH_GET_LIMIT):
            keys: list[dict[str, Any]] = [marshal(signal_key(tenant_id, signal_id))
                                          for signal_id in wanted[first:first + BATCH_GET_LIMIT]]
            for attempt in itertools.count():
                if not keys:
                    break
                if attempt:
                    if attempt >= aws_clients.MAX_ATTEMPTS:
                        raise aws_clients.AwsServiceUnavailable(
                            f"DynamoDB left {len(keys)} signal reads unprocessed after {attempt} attempts; retry later")
                    time.sleep(min(0.05 * 2 ** attempt, 1.0))  # unprocessed keys mean throttling: back off
                with self._errors(f"reading {len(keys)} signals"):
                    response = self.client.batch_get_item(
                        RequestItems={self.table_name: {"Keys": keys, "ConsistentRead": True}})
                for item in response.get("Responses", {}).get(self.table_name, []):
                    row = unmarshal(item)
                    if "id" in row:  # not a counter-only item (see get_signal)
                        signal = Signal.model_validate(_document(row))
                        out[signal.id] = signal
                unprocessed: dict[str, Any] = dict(response.get("UnprocessedKeys") or {})
                keys = list(unprocessed.get(self.table_name, {}).get("Keys", []))
        return out

    def signals_for_incident(self, tenant_id: str, incident_id: str) -> list[Signal]:
        """In event-time order (then id). The index lags writes briefly; a signal moved to another
        incident (merge) is dropped by re-checking its incident id."""
        items = self._query(f"listing signals of incident {incident_id}", index=GSI1,
                            pk=("gsi1pk", incident_signals_gsi1pk(tenant_id, incident_id)))
        signals = [Signal.model_validate(_document(item)) for item in items]
        return [s for s in signals if s.incident_id == incident_id]

    def claim_fingerprint(self, tenant_id: str, fingerprint: str, signal_id: str, until: datetime) -> str | None:
        """Claim the dedup window for `fingerprint` until `until`, or count a repeat in the open one.
        None: the caller holds the window now (or already did: a retried delivery re-claims its own
        window); else the signal id holding it, and this call counted one more repeat of it.

        One conditional UpdateItem (one write) both counts a repeat on the open window (`seen`, the
        deliveries it absorbed; the common case in a storm) and opens a window for a fingerprint
        that has none: every attribute is set only if absent, so an open window keeps its holder.
        Only a delivery after a window's end fails the condition and replaces that window with a
        conditional PutItem; the closed window's repeats are then added to its original signal's
        `duplicate_count`. The window item lives as long as a signal, so the repeats of an open
        window are never lost to TTL."""
        now = clock.now()
        expression = _Expression()
        seen, expires_at = expression.name("seen"), expression.name("expires_at")
        zero, one = expression.value(0), expression.value(1)
        opened = {"holder": signal_id, "item_type": "dedup_claim", "fingerprint": fingerprint,
                  "claimed_at": format_time(now), "expires_at": Decimal(str(until.timestamp())),
                  "ttl": self._claim_ttl(now, until)}
        if_absent = ", ".join(f"{expression.name(k)} = if_not_exists({expression.name(k)}, {expression.value(v)})"
                              for k, v in opened.items())
        try:
            with self._errors(f"claiming fingerprint {fingerprint}"):
                response = self.client.update_item(
                    TableName=self.table_name, Key=marshal(fingerprint_key(tenant_id, fingerprint)),
                    UpdateExpression=f"SET {seen} = if_not_exists({seen}, {zero}) + {one}, {if_absent}",
                    ConditionExpression=(f"attribute_not_exists(pk) OR "
                                         f"{expires_at} >= {expression.value(Decimal(str(now.timestamp())))}"),
                    ReturnValues="ALL_NEW", **expression.arguments())
        except ClientError as exc:
            if aws_clients.error_code(exc) != "ConditionalCheckFailedException":
                raise
            return self._open_window(tenant_id, fingerprint, signal_id, until)
        current = str(unmarshal(response["Attributes"])["holder"])
        return None if current == signal_id else current

    def _open_window(self, tenant_id: str, fingerprint: str, signal_id: str, until: datetime) -> str | None:
        """No open window: open one, unless someone else just did (then it is theirs)."""
        now = clock.now()
        expression = _Expression()
        expires_at, holder = expression.name("expires_at"), expression.name("holder")
        condition = (f"attribute_not_exists(pk) OR {expires_at} < {expression.value(Decimal(str(now.timestamp())))}"
                     f" OR {holder} = {expression.value(signal_id)}")
        item = {**fingerprint_key(tenant_id, fingerprint), "item_type": "dedup_claim", "holder": signal_id,
                "fingerprint": fingerprint, "claimed_at": format_time(now), "seen": 1,
                "expires_at": Decimal(str(until.timestamp())), "ttl": self._claim_ttl(now, until)}
        for _attempt in range(2):
            try:
                with self._errors(f"claiming fingerprint {fingerprint}"):
                    response = self.client.put_item(
                        TableName=self.table_name, Item=marshal(item), ConditionExpression=condition,
                        ReturnValues="ALL_OLD", ReturnValuesOnConditionCheckFailure="ALL_OLD", **expression.arguments())
            except ClientError as exc:
                if aws_clients.error_code(exc) != "ConditionalCheckFailedException":
                    raise
                current = _old_item(exc) or self._get(fingerprint_key(tenant_id, fingerprint),
                                                      f"reading the claim on {fingerprint}")
                if current is not None:
                    return str(current["holder"])
                continue  # the holder's item vanished between the failed write and the read (TTL): claim again
            previous = unmarshal(response.get("Attributes") or {})
            repeats = int(previous.get("seen", 1)) - 1
            if repeats > 0 and previous.get("holder") and previous["holder"] != signal_id:
                self.count_duplicate(tenant_id, str(previous["holder"]), repeats)
            return None
        raise ConcurrentUpdate(f"the dedup claim on {fingerprint} keeps changing hands; retry the delivery")

    def _claim_ttl(self, now: datetime, until: datetime) -> int:
        return _epoch(max(until, now + timedelta(days=self.settings.signal_ttl_days)))

    def dedup_window(self, tenant_id: str, fingerprint: str) -> DedupWindow | None:
        """The fingerprint's latest dedup window: who holds it, until when, and its repeats so far."""
        item = self._get(fingerprint_key(tenant_id, fingerprint), f"reading the claim on {fingerprint}")
        if item is None:
            return None
        return DedupWindow(holder=str(item["holder"]), until=datetime.fromtimestamp(float(item["expires_at"]), UTC),
                           repeats=int(item.get("seen", 1)) - 1)

    def count_duplicate(self, tenant_id: str, signal_id: str, repeats: int = 1) -> int:
        """Atomically add `repeats` duplicates to the original signal; return the new count."""
        expression = _Expression()
        counter, ttl = expression.name("duplicate_count"), expression.name("ttl")
        stub_expiry = clock.now() + timedelta(days=self.settings.signal_ttl_days)
        update = (f"ADD {counter} {expression.value(repeats)} "
                  f"SET {ttl} = if_not_exists({ttl}, {expression.value(_epoch(stub_expiry))})")
        with self._errors(f"counting a duplicate of {signal_id}"):
            response = self.client.update_item(
                TableName=self.table_name, Key=marshal(signal_key(tenant_id, signal_id)), UpdateExpression=update,
                ReturnValues="UPDATED_NEW", **expression.arguments())
        return int(unmarshal(response.get("Attributes", {})).get("duplicate_count", 0))

    # == incidents =================================================================================
    def put_incident(self, incident: Incident) -> None:
        """Write the incident if nobody saved it since the caller read it, and bump its `version`
        (the caller's object is updated to the stored version); else `ConcurrentUpdate`. A new
        incident (version 0) is written only if none is stored under its id. Every write is
        conditional, so the last writer never silently wins: callers change an incident through
        `services.mutations.mutate_incident`, which re-reads and re-applies on a conflict. Open
        incidents carry the sparse open-incident index keys; closing (or merging) removes them."""
        document = incident.model_dump(mode="json")
        expected = document.pop("version")
        expires = incident.updated_at + timedelta(days=self.settings.incident_ttl_days)
        attributes = {"doc": _doc(document), "id": incident.id,
                      "state": incident.state.value, "execution": incident.execution, "service": incident.service,
                      "item_type": "incident", "ttl": _epoch(expires)}
        if incident.signals_clear_since is not None:
            # Beside the document too, so the sweeper's query filters on it (pattern 8).
            attributes["signals_clear_since"] = document["signals_clear_since"]
        if incident.is_open:
            attributes["gsi1pk"] = open_incidents_gsi1pk(incident.tenant_id)
            attributes["gsi1sk"] = f"{format_time(incident.opened_at)}#{incident.id}"
        key = incident_key(incident.tenant_id, incident.id)
        # One conditional PutItem of the whole item: only this method writes incident items and every
        # write bumps `version`, so "version is still the one loaded" means nothing else is on the item
        # (a closed incident's PutItem drops the index keys by leaving them out).
        placed = _Expression()
        unchanged = ("attribute_not_exists(pk)" if expected == 0
                     else f"{placed.name('version')} = {placed.value(expected)}")
        try:
            with self._errors(f"writing incident {incident.id}"):
                response = self.client.put_item(
                    TableName=self.table_name, Item=marshal({**attributes, "version": expected + 1, **key}),
                    ConditionExpression=unchanged, ReturnValues="ALL_OLD",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD", **placed.arguments())
        except ClientError as exc:
            if aws_clients.error_code(exc) != "ConditionalCheckFailedException":
                raise
            stored = (_old_item(exc) or {}).get("version", "none")
            raise ConcurrentUpdate(
                f"incident {incident.id} was saved by another writer (stored version {stored}, yours {expected}); "
                "reload it with get_incident, re-apply the change and save again"
            ) from exc
        self._placed(incident, unmarshal(response.get("Attributes", {})), expires)

    def _placed(self, incident: Incident, old: Mapping[str, Any], expires: datetime) -> None:
        """After a write of `incident` over `old`: its new version, and the execution pointer."""
        incident.version = int(old.get("version", 0)) + 1
        if incident.execution and old.get("execution") != incident.execution:
            self._put(execution_key(incident.tenant_id, execution_name(incident.execution)),
                      {"item_type": "execution_pointer", "incident_id": incident.id, "execution": incident.execution,
                       "ttl": _epoch(expires)}, f"indexing execution {incident.execution}")

    def get_incident(self, tenant_id: str, incident_id: str) -> Incident | None:
        item = self._get(incident_key(tenant_id, incident_id), f"reading incident {incident_id}")
        return Incident.model_validate(_document(item)) if item else None

    def open_incidents(self, tenant_id: str) -> list[Incident]:
        """Open incidents of the tenant, oldest first, from the sparse index (only open ones are in it)."""
        items = self._query("listing open incidents", index=GSI1, pk=("gsi1pk", open_incidents_gsi1pk(tenant_id)))
        incidents = [Incident.model_validate(_document(item)) for item in items]
        return [i for i in incidents if i.is_open]

    def open_incidents_clearing(self, tenant_id: str) -> list[Incident]:
        """The open incidents whose signals have all cleared (`signals_clear_since` set): what the
        resolution sweep looks at every minute, without reading every open incident's document."""
        items = self._query("listing open incidents with cleared signals", index=GSI1,
                            pk=("gsi1pk", open_incidents_gsi1pk(tenant_id)), present="signals_clear_since")
        incidents = [Incident.model_validate(_document(item)) for item in items]
        return [i for i in incidents if i.is_open and i.signals_clear_since is not None]

    def open_incident_services(self, tenant_id: str) -> dict[str, str | None]:
        """incident id -> primary service of the open incidents, without loading their documents."""
        arguments: dict[str, Any] = {
            "TableName": self.table_name, "IndexName": GSI1,
            "KeyConditionExpression": "gsi1pk = :pk", "ProjectionExpression": "id, service",
            "ExpressionAttributeValues": marshal({":pk": open_incidents_gsi1pk(tenant_id)})}
        out: dict[str, str | None] = {}
        while True:
            with self._errors("listing the services of open incidents"):
                page = self.client.query(**arguments)
            for item in page.get("Items", []):
                row = unmarshal(item)
                out[str(row["id"])] = row.get("service")
            if "LastEvaluatedKey" not in page:
                return out
            arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def incident_by_execution(self, tenant_id: str, execution: str) -> Incident | None:
        """The incident a Step Functions execution (ARN or name) works on."""
        name = execution_name(execution)
        pointer = self._get(execution_key(tenant_id, name), f"looking up execution {name}")
        # Executions are started with the incident id as their name, which covers a pointer not yet written.
        return self.get_incident(tenant_id, str(pointer["incident_id"]) if pointer else name)

    # == changes ===================================================================================
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

    # == audit trail ===============================================================================
    def append(self, record: AuditRecord) -> None:
        """Append-only: each record gets a fresh sort key and the write refuses to replace anything.
        The key is the record's time, the process's sequence (records of one process stay in order
        within the same millisecond) and a digest of the record, so a replay derives the same keys
        and no random id enters the trail. Two processes can reach the same time and sequence; their
        records then differ in the digest, and an exact repeat takes the next sequence number.
        Where an audit writer is configured (AWS), it writes instead: this role holds no PutItem there."""
        if self.settings.audit_writer_function:
            from sre_copilot.adapters.audit_writer import LambdaAuditWriter

            client = aws_clients.client("lambda", self.settings.region)
            LambdaAuditWriter(client, self.settings.audit_writer_function).append(record)
            return
        document = _doc(record.model_dump(mode="json"))
        digest = hashlib.sha256(f"{record.tenant_id}|{record.subject}|{document}".encode()).hexdigest()[:12]
        expires = record.at + timedelta(days=self.settings.incident_ttl_days)
        attributes = {"doc": document, "subject": record.subject, "item_type": "audit", "ttl": _epoch(expires),
                      "audit_day": f"{_tenant(record.tenant_id)}#{record.at:%Y-%m-%d}"}
        for _attempt in range(AUDIT_KEY_ATTEMPTS):
            sk = f"AUDIT#{format_time(record.at)}#{next(_audit_sequence):012d}-{digest}"
            try:
                self.put_audit_item({"pk": audit_pk(record.tenant_id, record.subject), "sk": sk}, attributes)
                return
            except ConcurrentUpdate:
                continue  # the same record at the same instant and sequence from another process
        raise ConcurrentUpdate(f"could not find a free audit key for {record.action} on {record.subject} "
                               f"in {AUDIT_KEY_ATTEMPTS} attempts; the step will be retried")

    def put_audit_item(self, key: Mapping[str, str], attributes: Mapping[str, Any]) -> None:
        """The conditional write behind `append` (exposed so the never-overwrite rule is testable)."""
        try:
            with self._errors(f"appending to the audit trail of {attributes.get('subject')}"):
                self.client.put_item(TableName=self.audit_table_name, Item=marshal({**attributes, **key}),
                                     ConditionExpression="attribute_not_exists(pk)")
        except ClientError as exc:
            if aws_clients.error_code(exc) != "ConditionalCheckFailedException":
                raise
            raise ConcurrentUpdate(
                f"audit record {key['sk']} of {key['pk']} already exists and audit records are never replaced; "
                "append a new record instead"
            ) from exc

    def for_subject(self, tenant_id: str, subject: str) -> list[AuditRecord]:
        items = self._query(f"reading the audit trail of {subject}", pk=("pk", audit_pk(tenant_id, subject)),
                            begins_with=("sk", "AUDIT#"), consistent=True, table=self.audit_table_name)
        return [AuditRecord.model_validate(_document(item)) for item in items]

    # == notifications and actions (item collection of the incident) ==============================
    def record_notification(self, notification: Notification, tenant_id: str | None = None) -> None:
        """Insert (version 0: only if no such notification is stored) or update one read earlier
        (only over the version read, e.g. status -> acknowledged), else `ConcurrentUpdate`; callers
        go through `services.mutations`. `Notification` carries no tenant, so it defaults to this
        deployment's tenant."""
        tenant = tenant_id or self.settings.tenant_id
        expires = notification.at + timedelta(days=self.settings.incident_ttl_days)
        self._versioned_put(notification_key(tenant, notification),
                            {"doc": _doc(notification.model_dump(mode="json")), "item_type": "notification",
                             "ttl": _epoch(expires)}, notification, f"notification {notification.id}")

    def get_notification(self, tenant_id: str, incident_id: str, notification: Notification) -> Notification | None:
        """The stored copy of `notification` (same id and time), with its version."""
        item = self._get(notification_key(tenant_id, notification), f"reading notification {notification.id}")
        return _versioned(Notification, item) if item else None

    def notifications_for(self, tenant_id: str, incident_id: str) -> list[Notification]:
        items = self._query(f"listing notifications of {incident_id}", pk=("pk", incident_pk(tenant_id, incident_id)),
                            begins_with=("sk", "NOTIFICATION#"), consistent=True)
        return [_versioned(Notification, item) for item in items]

    def put_action(self, tenant_id: str, plan: ActionPlan) -> None:
        """Write a new plan (version 0: only if none is stored under its id) or one read earlier (only
        over the version read), bumping `plan.version`; else `ConcurrentUpdate`. Callers change plans
        through `services.mutations.mutate_plan`, which re-reads and re-applies on a conflict."""
        expires = plan.updated_at + timedelta(days=self.settings.incident_ttl_days)
        self._versioned_put({"pk": incident_pk(tenant_id, plan.incident_id), "sk": f"ACTION#{plan.id}"},
                            {"doc": _doc(plan.model_dump(mode="json")), "item_type": "action_plan",
                             "ttl": _epoch(expires)}, plan, f"action plan {plan.id}")

    def get_action(self, tenant_id: str, incident_id: str, plan_id: str) -> ActionPlan | None:
        item = self._get({"pk": incident_pk(tenant_id, incident_id), "sk": f"ACTION#{plan_id}"},
                         f"reading action plan {plan_id}")
        return _versioned(ActionPlan, item) if item else None

    def actions_for(self, tenant_id: str, incident_id: str) -> list[ActionPlan]:
        """Plans of the incident in creation order (callers take the last one as the latest)."""
        items = self._query(f"listing action plans of {incident_id}", pk=("pk", incident_pk(tenant_id, incident_id)),
                            begins_with=("sk", "ACTION#"), consistent=True)
        plans = [_versioned(ActionPlan, item) for item in items]
        return sorted(plans, key=lambda p: (p.created_at, p.id))

    def _versioned_put(self, key: Mapping[str, str], attributes: Mapping[str, Any], record: Any, what: str) -> None:
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

    # == wait tokens ===============================================================================
    def put_wait_token(self, tenant_id: str, incident_id: str, token: str, deadline: datetime | None,
                       plan_id: str | None) -> None:
        """Park the incident's execution: one token per incident (a newer park replaces an older one,
        whose execution has moved on). With a deadline, the token is in the due-deadline index."""
        parked_at = clock.now()
        attributes: dict[str, Any] = {
            "item_type": "wait_token", "tenant_id": tenant_id, "incident_id": incident_id, "token": token,
            "plan_id": plan_id, "parked_at": format_time(parked_at),
            "ttl": _epoch(parked_at + timedelta(days=self.settings.incident_ttl_days)),
        }
        if deadline is not None:
            attributes.update(deadline=format_time(deadline), gsi2pk=due_gsi2pk(tenant_id),
                              gsi2sk=f"{format_time(deadline)}#WAIT#{incident_id}")
        self._put({"pk": incident_pk(tenant_id, incident_id), "sk": "WAIT"}, attributes,
                  f"parking incident {incident_id}")

    def take_wait_token(self, tenant_id: str, incident_id: str, token: str | None = None) -> WaitToken | None:
        """Atomically remove and return the parked token, or None if there is none (someone else took
        it). Pass `token` to take it only if it is still that one (a sweeper acting on a listing
        must not take a token parked after the listing)."""
        arguments: dict[str, Any] = {"ConditionExpression": "attribute_exists(pk)"}
        if token is not None:
            arguments = {"ConditionExpression": "attribute_exists(pk) AND #token = :token",
                         "ExpressionAttributeNames": {"#token": "token"},
                         "ExpressionAttributeValues": marshal({":token": token})}
        try:
            with self._errors(f"taking the wait token of {incident_id}"):
                response = self.client.delete_item(
                    TableName=self.table_name, Key=marshal({"pk": incident_pk(tenant_id, incident_id), "sk": "WAIT"}),
                    ReturnValues="ALL_OLD", **arguments)
        except ClientError as exc:
            if aws_clients.error_code(exc) == "ConditionalCheckFailedException":
                return None
            raise
        old = response.get("Attributes")
        return _wait_token(unmarshal(old)) if old else None

    def is_parked(self, tenant_id: str, incident_id: str) -> bool:
        """Whether the incident's execution is waiting on a parked token (a consistent read)."""
        with self._errors(f"reading the wait token of {incident_id}"):
            item = self.client.get_item(TableName=self.table_name, ConsistentRead=True, ProjectionExpression="pk",
                                        Key=marshal({"pk": incident_pk(tenant_id, incident_id), "sk": "WAIT"}))
        return "Item" in item

    def due_wait_tokens(self, tenant_id: str, now: datetime) -> list[WaitToken]:
        """Parked tokens whose deadline is at or before `now`, earliest first."""
        return self.due_work(tenant_id, now).wait_tokens

    def due_work(self, tenant_id: str, now: datetime) -> DueWork:
        """Everything on the sweeper's agenda at `now`, from one index query: parked tokens past their
        deadline (earliest first), incidents flagged for re-analysis, and whether the correlation
        engine's tick has work. The index lags writes briefly; what it has not caught up with is
        due again a minute later."""
        work = DueWork()
        for item in self._query("reading the sweeper's agenda", index=AGENDA, pk=("gsi2pk", due_gsi2pk(tenant_id)),
                                less_than=("gsi2sk", format_time(now + ONE_MS))):
            if item.get("item_type") == "wait_token":
                work.wait_tokens.append(_wait_token(item))
            elif item.get("item_type") == "refresh_flag":
                work.refresh.append(str(item["incident_id"]))
            elif item.get("item_type") == "correlation_state":
                work.tick = True
        return work

    # == correlation engine state ==================================================================
    def load_correlation_state(self, tenant_id: str) -> tuple[dict[str, Any] | None, int]:
        """(state, version); (None, 0) before the first save. Pass the version back to save."""
        for _attempt in range(SPILL_READ_ATTEMPTS):
            item = self._get(correlation_key(tenant_id), "reading the correlation state")
            if item is None:
                return None, 0
            version = int(item["version"])
            if "document" in item:
                return json.loads(item["document"]), version
            try:
                return self.blobs.get_json(str(item["document_ref"])), version
            except NotFound:
                continue  # a newer save replaced (and deleted) the spilled copy between the two reads
        raise NotFound(f"the correlation state of tenant {tenant_id} points at an S3 object that keeps "
                       "disappearing; check the bucket's lifecycle rules on snapshots/")

    def save_correlation_state(self, tenant_id: str, state: Mapping[str, Any], expected_version: int, *,
                               next_tick: datetime | None = None) -> int:
        """Save if the stored version is still `expected_version`; return the new version, else raise
        `ConcurrentUpdate` (reload and re-run). States over 350 KB go to S3 with a pointer kept here.
        `next_tick`: when the engine's tick next has work (None: never); it puts the state on the
        sweeper's agenda (`due_work`) for that time. The agenda index projects only
        `AGENDA_ATTRIBUTES`, so the document stays out of it."""
        body = json.dumps(state, separators=(",", ":"), ensure_ascii=False, default=json_default)
        new_version = expected_version + 1
        attributes: dict[str, Any] = {"item_type": "correlation_state", "tenant_id": tenant_id,
                                      "version": new_version, "saved_at": format_time(clock.now()),
                                      "size_bytes": len(body.encode("utf-8"))}
        if next_tick is not None:
            attributes.update(gsi2pk=due_gsi2pk(tenant_id), gsi2sk=f"{format_time(next_tick)}#TICK")
        spilled: str | None = None
        if attributes["size_bytes"] > STATE_INLINE_LIMIT_BYTES:
            spilled = self.blobs.put_bytes(
                # Named by version and content (a replay names it the same); a concurrent save of the
                # same version with other content gets another name, and with the same content the
                # loser sees its key is the winner's and leaves it in place.
                f"snapshots/{tenant_id}/correlation-state/v{new_version:010d}-"
                f"{hashlib.sha256(body.encode('utf-8')).hexdigest()[:12]}.json",
                body.encode("utf-8"), "application/json")
            attributes["document_ref"] = spilled
        else:
            attributes["document"] = body
        condition = ("attribute_not_exists(pk)" if expected_version == 0 else "#version = :expected")
        arguments: dict[str, Any] = {"ConditionExpression": condition}
        if expected_version:
            arguments.update(ExpressionAttributeNames={"#version": "version"},
                             ExpressionAttributeValues=marshal({":expected": expected_version}))
        try:
            with self._errors("saving the correlation state"):
                response = self.client.put_item(
                    TableName=self.table_name, Item=marshal({**attributes, **correlation_key(tenant_id)}),
                    ReturnValues="ALL_OLD", ReturnValuesOnConditionCheckFailure="ALL_OLD", **arguments)
        except ClientError as exc:
            if aws_clients.error_code(exc) != "ConditionalCheckFailedException":
                raise
            if spilled and (_old_item(exc) or {}).get("document_ref") != spilled:
                self._discard(spilled)
            raise ConcurrentUpdate(
                f"the correlation state of tenant {tenant_id} moved past version {expected_version}; "
                "load it again and re-run the batch on the fresh state"
            ) from exc
        previous = unmarshal(response.get("Attributes", {})).get("document_ref")
        if previous and previous != spilled:
            self._discard(str(previous))
        return new_version

    def _discard(self, uri: str) -> None:
        """Delete a spilled state nobody points at. Best effort: the save itself already succeeded
        or failed, and failing it over housekeeping would re-run a batch for nothing; the bucket's
        noncurrent-version rule collects whatever is left."""
        try:
            self.blobs.delete(uri)
        except SreCopilotError as exc:
            logger.warning("could not delete superseded correlation state %s: %s", uri, exc.message)

    # == silences ==================================================================================
    def put_silence(self, tenant_id: str, silence: Silence) -> None:
        """Store (or replace) a silence or maintenance window. TTL removes it a day after it ends, which
        leaves late signals from inside the window still matched by it."""
        if silence.tenant_id != tenant_id:
            raise InvalidPayload(f"silence {silence.id} belongs to tenant {silence.tenant_id}, not {tenant_id}; "
                                 "set its tenant_id to the tenant it should silence")
        self._put(tenant_key(tenant_id, f"SILENCE#{silence.id}"), {
            "item_type": "silence", "silence": silence.model_dump(mode="json"),
            "starts_at": format_time(silence.starts_at), "ends_at": format_time(silence.ends_at),
            "ttl": _epoch(silence.ends_at + SILENCE_GRACE),
        }, f"writing silence {silence.id}")

    def list_silences(self, tenant_id: str) -> list[Silence]:
        """The tenant's silences, earliest start first (ended ones until TTL removes them: whether one
        applies is decided at the signal's time by `matching_silence`)."""
        items = self._query("listing silences", pk=("pk", _tenant(tenant_id)), begins_with=("sk", "SILENCE#"),
                            consistent=True)
        silences = [Silence.model_validate(item["silence"]) for item in items]
        return sorted(silences, key=lambda s: (s.starts_at, s.id))

    def delete_silence(self, tenant_id: str, silence_id: str) -> None:
        with self._errors(f"deleting silence {silence_id}"):
            self.client.delete_item(TableName=self.table_name,
                                    Key=marshal(tenant_key(tenant_id, f"SILENCE#{silence_id}")))

    # == re-analysis flags ==========================================================================
    # Small items in the tenant partition (sk REFRESH#<incident>): the sweeper reads them without
    # loading any incident, and setting one never rewrites the incident document.
    def flag_refresh(self, tenant_id: str, incident_id: str) -> None:
        flagged_at = format_time(clock.now())
        self._put(tenant_key(tenant_id, f"REFRESH#{incident_id}"),
                  {"item_type": "refresh_flag", "incident_id": incident_id, "flagged_at": flagged_at,
                   "gsi2pk": due_gsi2pk(tenant_id), "gsi2sk": f"{flagged_at}#REFRESH#{incident_id}",
                   "ttl": _epoch(clock.now() + timedelta(days=1))}, f"flagging {incident_id} for re-analysis")

    def refresh_flagged(self, tenant_id: str, incident_id: str) -> bool:
        return self._get(tenant_key(tenant_id, f"REFRESH#{incident_id}"), f"reading the flag of {incident_id}") is not None

    def flagged_for_refresh(self, tenant_id: str) -> list[str]:
        items = self._query("listing incidents flagged for re-analysis", pk=("pk", _tenant(tenant_id)),
                            begins_with=("sk", "REFRESH#"), consistent=True)
        return [str(item["incident_id"]) for item in items]

    def clear_refresh(self, tenant_id: str, incident_id: str) -> None:
        with self._errors(f"clearing the re-analysis flag of {incident_id}"):
            self.client.delete_item(TableName=self.table_name,
                                    Key=marshal(tenant_key(tenant_id, f"REFRESH#{incident_id}")))

    # == human validation history ==================================================================
    def record_validation(self, tenant_id: str, key: str, accepted: bool) -> None:
        """Count one human verdict on a hypothesis key (atomic, concurrent verdicts both count)."""
        expression = _Expression()
        counter = expression.name("accepted" if accepted else "rejected")
        update = (f"ADD {counter} {expression.value(1)} SET {expression.name('hypothesis_key')} = "
                  f"{expression.value(key)}, {expression.name('item_type')} = {expression.value('validation')}, "
                  f"{expression.name('updated_at')} = {expression.value(format_time(clock.now()))}")
        with self._errors(f"recording a validation of {key}"):
            self.client.update_item(TableName=self.table_name, Key=marshal(tenant_key(tenant_id, f"VALIDATION#{key}")),
                                    UpdateExpression=update, **expression.arguments())

    def validation_history(self, tenant_id: str) -> dict[str, tuple[int, int]]:
        """Hypothesis key -> (accepted, total verdicts), the pair `human_validation_value` takes.
        The item keeps separate accepted and rejected counters so both can be ADDed atomically."""
        items = self._query("reading validation history", pk=("pk", _tenant(tenant_id)),
                            begins_with=("sk", "VALIDATION#"), consistent=True)
        history: dict[str, tuple[int, int]] = {}
        for item in items:
            accepted, rejected = int(item.get("accepted", 0)), int(item.get("rejected", 0))
            history[str(item["hypothesis_key"])] = (accepted, accepted + rejected)
        return history

    # == catalog pointer ===========================================================================
    def put_catalog_pointer(self, tenant_id: str, uri: str, version: str | None = None) -> None:
        self._put(tenant_key(tenant_id, "CATALOG"), {"item_type": "catalog_pointer", "uri": uri, "version": version,
                                                     "updated_at": format_time(clock.now())},
                  "writing the catalog pointer")

    def catalog_pointer(self, tenant_id: str) -> str | None:
        item = self._get(tenant_key(tenant_id, "CATALOG"), "reading the catalog pointer")
        return str(item["uri"]) if item else None

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

    def _get(self, key: Mapping[str, str], action: str) -> dict[str, Any] | None:
        with self._errors(action):
            response = self.client.get_item(TableName=self.table_name, Key=marshal(key), ConsistentRead=True)
        item = response.get("Item")
        return unmarshal(item) if item else None

    def _put(self, key: Mapping[str, str], attributes: Mapping[str, Any], action: str) -> None:
        with self._errors(action):
            self.client.put_item(TableName=self.table_name, Item=marshal({**attributes, **key}))

    def _query(self, action: str, *, pk: tuple[str, str], index: str | None = None,
               begins_with: tuple[str, str] | None = None, between: tuple[str, str, str] | None = None,
               less_than: tuple[str, str] | None = None, consistent: bool = False,
               table: str | None = None, present: str | None = None) -> Iterator[dict[str, Any]]:
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
        filtered = {"FilterExpression": f"attribute_exists({expression.name(present)})"} if present else {}
        arguments: dict[str, Any] = {"TableName": table or self.table_name, "KeyConditionExpression": condition,
                                     **filtered, **expression.arguments()}
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


def _versioned(model: Any, item: Mapping[str, Any]) -> Any:
    """A record kept as a document plus a `version` attribute beside it (legacy items: version 0)."""
    record = model.model_validate(_document(item))
    record.version = int(item.get("version", 0))
    return record


def _old_item(exc: ClientError) -> dict[str, Any] | None:
    """The item a failed conditional write found (ReturnValuesOnConditionCheckFailure=ALL_OLD)."""
    response: dict[str, Any] = dict(exc.response)
    item = response.get("Item")
    return unmarshal(item) if item else None


def _wait_token(item: Mapping[str, Any]) -> WaitToken:
    return WaitToken(
        tenant_id=str(item["tenant_id"]), incident_id=str(item["incident_id"]), token=str(item["token"]),
        deadline=parse_time(item["deadline"]) if item.get("deadline") else None,
        plan_id=str(item["plan_id"]) if item.get("plan_id") else None,
        parked_at=parse_time(item["parked_at"]),
    )
