"""Signals and their deduplication claims."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from sre_copilot.adapters import aws_clients
from sre_copilot.adapters.dynamo.table import (
    BATCH_GET_LIMIT,
    GSI1,
    DedupWindow,
    SingleTable,
    WireItem,
    _document,
    _epoch,
    _Expression,
    _old_item,
    _packed_doc,
    as_float,
    as_int,
    fingerprint_key,
    incident_signals_gsi1pk,
    marshal,
    signal_key,
    unmarshal,
)
from sre_copilot.domain.signal import Signal
from sre_copilot.domain.types import format_time
from sre_copilot.errors import ConcurrentUpdate
from sre_copilot.ports import clock
from sre_copilot.ports.stores import DedupStore, SignalStore


class DynamoSignals(SingleTable):
    """SignalStore: Signals by id and by incident."""

    def put_signal(self, signal: Signal) -> None:
        """Write the signal; `duplicate_count` belongs to `count_duplicate` and is never lowered here."""
        document = signal.model_dump(mode="json")
        duplicates = document.pop("duplicate_count")
        expires = signal.received_at + timedelta(days=self.settings.signal_ttl_days)
        attributes = {"doc_z": _packed_doc(document), "id": signal.id,
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
            keys: list[WireItem] = [marshal(signal_key(tenant_id, signal_id))
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
                unprocessed = response.get("UnprocessedKeys", {}).get(self.table_name)
                keys = list(unprocessed["Keys"]) if unprocessed else []
        return out

    def signals_for_incident(self, tenant_id: str, incident_id: str) -> list[Signal]:
        """In event-time order (then id). The index lags writes briefly; a signal moved to another
        incident (merge) is dropped by re-checking its incident id."""
        items = self._query(f"listing signals of incident {incident_id}", index=GSI1,
                            pk=("gsi1pk", incident_signals_gsi1pk(tenant_id, incident_id)))
        signals = [Signal.model_validate(_document(item)) for item in items]
        return [s for s in signals if s.incident_id == incident_id]


class DynamoDedup(SingleTable):
    """DedupStore: Fingerprint claims: one signal per fingerprint per dedup window."""

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
            repeats = as_int(previous.get("seen", 1)) - 1
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
        return DedupWindow(holder=str(item["holder"]), until=datetime.fromtimestamp(as_float(item["expires_at"]), UTC),
                           repeats=as_int(item.get("seen", 1)) - 1)

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
        return as_int(unmarshal(response.get("Attributes", {})).get("duplicate_count", 0))


if TYPE_CHECKING:
    def _implements_signalstore(repository: DynamoSignals) -> SignalStore:  # mypy checks the port is met
        return repository

    def _implements_dedupstore(repository: DynamoDedup) -> DedupStore:  # mypy checks the port is met
        return repository
