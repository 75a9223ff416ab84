"""Silences, re-analysis flags, human validation counters and the catalog pointer."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from sre_copilot.adapters import aws_clients
from sre_copilot.adapters.dynamo.table import (
    SILENCE_GRACE,
    SingleTable,
    _epoch,
    _Expression,
    _tenant,
    as_int,
    due_gsi2pk,
    marshal,
    tenant_key,
)
from sre_copilot.domain.types import format_time
from sre_copilot.errors import InvalidPayload
from sre_copilot.ingest.silences import Silence
from sre_copilot.ports import clock
from sre_copilot.ports.stores import CatalogPointer, RefreshFlags, SilenceStore, ValidationHistory


class DynamoSilences(SingleTable):
    """SilenceStore: Silences."""

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


class DynamoRefreshFlags(SingleTable):
    """RefreshFlags: Re-analysis flags of parked incidents."""

    # Small items in the tenant partition (sk REFRESH#<incident>): the sweeper reads them without
    # loading any incident, and setting one never rewrites the incident document.
    def flag_refresh(self, tenant_id: str, incident_id: str, due: datetime | None = None) -> None:
        """Flag the incident for re-analysis, due now, or at `due` for evidence that can wait. A
        flag only ever moves sooner: one already due no later than this one is kept (one
        conditional put), so a stream of evidence is analysed once per window rather than never."""
        now = clock.now()
        due_at = format_time(due if due is not None and due > now else now)
        item = marshal({"item_type": "refresh_flag", "incident_id": incident_id, "flagged_at": format_time(now),
                        "due_at": due_at, "gsi2pk": due_gsi2pk(tenant_id),
                        "gsi2sk": f"{due_at}#REFRESH#{incident_id}", "ttl": _epoch(now + timedelta(days=1)),
                        **tenant_key(tenant_id, f"REFRESH#{incident_id}")})
        action = f"flagging {incident_id} for re-analysis"
        if due is None:
            with self._errors(action):
                self.client.put_item(TableName=self.table_name, Item=item)
            return
        expression = _Expression()
        later = f"attribute_not_exists(pk) OR {expression.name('due_at')} > {expression.value(due_at)}"
        try:
            with self._errors(action):
                self.client.put_item(TableName=self.table_name, Item=item, ConditionExpression=later,
                                     **expression.arguments())
        except ClientError as exc:
            if aws_clients.error_code(exc) != "ConditionalCheckFailedException":
                raise
            # Already flagged: that flag is due no later than this one would be.

    def refresh_flagged(self, tenant_id: str, incident_id: str) -> bool:
        """A flag is set and due (a deferred flag waits for its time)."""
        item = self._get(tenant_key(tenant_id, f"REFRESH#{incident_id}"), f"reading the flag of {incident_id}")
        return item is not None and str(item.get("due_at") or item.get("flagged_at") or "") <= format_time(clock.now())

    def flagged_for_refresh(self, tenant_id: str) -> list[str]:
        items = self._query("listing incidents flagged for re-analysis", pk=("pk", _tenant(tenant_id)),
                            begins_with=("sk", "REFRESH#"), consistent=True)
        return [str(item["incident_id"]) for item in items]

    def clear_refresh(self, tenant_id: str, incident_id: str) -> None:
        with self._errors(f"clearing the re-analysis flag of {incident_id}"):
            self.client.delete_item(TableName=self.table_name,
                                    Key=marshal(tenant_key(tenant_id, f"REFRESH#{incident_id}")))


class DynamoValidationHistory(SingleTable):
    """ValidationHistory: Accepted/rejected counts per hypothesis key."""

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
            accepted, rejected = as_int(item.get("accepted", 0)), as_int(item.get("rejected", 0))
            history[str(item["hypothesis_key"])] = (accepted, accepted + rejected)
        return history


class DynamoCatalogPointer(SingleTable):
    """CatalogPointer: Where the tenant catalog lives."""

    def put_catalog_pointer(self, tenant_id: str, uri: str, version: str | None = None) -> None:
        self._put(tenant_key(tenant_id, "CATALOG"), {"item_type": "catalog_pointer", "uri": uri, "version": version,
                                                     "updated_at": format_time(clock.now())},
                  "writing the catalog pointer")

    def catalog_pointer(self, tenant_id: str) -> str | None:
        item = self._get(tenant_key(tenant_id, "CATALOG"), "reading the catalog pointer")
        return str(item["uri"]) if item else None


if TYPE_CHECKING:
    def _implements_silencestore(repository: DynamoSilences) -> SilenceStore:  # mypy checks the port is met
        return repository

    def _implements_refreshflags(repository: DynamoRefreshFlags) -> RefreshFlags:  # mypy checks the port is met
        return repository

    def _implements_validationhistory(repository: DynamoValidationHistory) -> ValidationHistory:  # mypy checks the port is met
        return repository

    def _implements_catalogpointer(repository: DynamoCatalogPointer) -> CatalogPointer:  # mypy checks the port is met
        return repository
