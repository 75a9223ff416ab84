"""Persistence ports: one Protocol per aggregate, and `Store`, everything the services call.

Each is implemented by one repository of `adapters/dynamo/` on the single table; `DynamoStore`
(`adapters/dynamodb_store.py`) composes them all, on
AWS, on moto and on the memory backend (`adapters/memory`). `tests/ports/test_store_ports.py`
checks that the Protocols and `DynamoStore`'s public methods are the same list with the same
signatures, so a service typed against these Protocols can call nothing the store lacks.

JSON documents are typed `object` (read) or `JsonObject`: validate them with a model before use.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    # Small value types the store returns live beside the adapter today. The domain models are
    # annotations only here, so a function that never touches one does not load it at import.
    from mypy_boto3_dynamodb import DynamoDBClient

    from sre_copilot.adapters.dynamodb_store import DedupWindow, DueWork, WaitToken
    from sre_copilot.domain.action import ActionPlan
    from sre_copilot.domain.change import ChangeEvent
    from sre_copilot.domain.incident import Incident
    from sre_copilot.domain.notification import AuditRecord, Notification
    from sre_copilot.domain.signal import Signal
    from sre_copilot.ingest.silences import Silence

JsonObject = dict[str, object]


class SignalStore(Protocol):
    def put_signal(self, signal: Signal) -> None: ...
    def get_signal(self, tenant_id: str, signal_id: str) -> Signal | None: ...
    def signals_by_id(self, tenant_id: str, signal_ids: Iterable[str]) -> dict[str, Signal]: ...
    def signals_for_incident(self, tenant_id: str, incident_id: str) -> list[Signal]: ...


class DedupStore(Protocol):
    def claim_fingerprint(self, tenant_id: str, fingerprint: str, signal_id: str, until: datetime) -> str | None:
        """Claim a dedup window, or count a repeat in the open one. Returns None when the caller
        holds it, else the id of the signal holding it."""
        ...
    def dedup_window(self, tenant_id: str, fingerprint: str) -> DedupWindow | None: ...
    def count_duplicate(self, tenant_id: str, signal_id: str, repeats: int = 1) -> int: ...


class IncidentStore(Protocol):
    def put_incident(self, incident: Incident) -> None:
        """Conditional on `incident.version` being the stored version (0: no incident with that id
        yet), else `ConcurrentUpdate`; on success sets `incident.version` to the stored one (+1).
        Callers change incidents through `services.mutations.mutate_incident`."""
        ...

    def get_incident(self, tenant_id: str, incident_id: str) -> Incident | None: ...
    def open_incidents(self, tenant_id: str) -> list[Incident]: ...
    def open_incidents_clearing(self, tenant_id: str) -> list[Incident]: ...
    def open_incident_services(self, tenant_id: str) -> dict[str, str | None]: ...
    def incident_by_execution(self, tenant_id: str, execution: str) -> Incident | None: ...


class ChangeStore(Protocol):
    def put_change(self, change: ChangeEvent) -> None: ...
    def changes_between(self, tenant_id: str, start: datetime, end: datetime) -> list[ChangeEvent]: ...
    def changes_for_service(self, tenant_id: str, service: str, start: datetime, end: datetime) -> list[ChangeEvent]: ...


class AuditLog(Protocol):
    def append(self, record: AuditRecord) -> None: ...
    def put_audit_item(self, key: Mapping[str, str], attributes: Mapping[str, object]) -> None: ...
    def for_subject(self, tenant_id: str, subject: str) -> list[AuditRecord]: ...


class NotificationLog(Protocol):
    def record_notification(self, notification: Notification, tenant_id: str | None = None) -> None:
        """Insert (version 0) or update over the version read, else `ConcurrentUpdate`."""
    def get_notification(self, tenant_id: str, incident_id: str, notification: Notification) -> Notification | None: ...
    def notifications_for(self, tenant_id: str, incident_id: str) -> list[Notification]: ...


class ActionStore(Protocol):
    def put_action(self, tenant_id: str, plan: ActionPlan) -> None:
        """Insert (version 0) or update over the version read, else `ConcurrentUpdate`."""
    def get_action(self, tenant_id: str, incident_id: str, plan_id: str) -> ActionPlan | None: ...
    def actions_for(self, tenant_id: str, incident_id: str) -> list[ActionPlan]: ...


class ApprovalStore(Protocol):
    """Parked executions (wait tokens) and the sweeper's agenda."""

    def put_wait_token(self, tenant_id: str, incident_id: str, token: str, deadline: datetime | None,
                       plan_id: str | None) -> None: ...
    def take_wait_token(self, tenant_id: str, incident_id: str, token: str | None = None) -> WaitToken | None: ...
    def is_parked(self, tenant_id: str, incident_id: str) -> bool: ...
    def due_wait_tokens(self, tenant_id: str, now: datetime) -> list[WaitToken]: ...
    def due_work(self, tenant_id: str, now: datetime) -> DueWork: ...


class CorrelationStateStore(Protocol):
    def load_correlation_state(self, tenant_id: str) -> tuple[JsonObject | None, int]: ...
    def correlation_state_version(self, tenant_id: str) -> int:
        """The stored state's version without its document (0 before the first save)."""
        ...
    def save_correlation_state(self, tenant_id: str, state: Mapping[str, object], expected_version: int, *,
                               next_tick: datetime | None = None) -> int:
        """Save if the stored version is still `expected_version`; return the new version, else
        `ConcurrentUpdate`."""
        ...


class RefreshFlags(Protocol):
    def flag_refresh(self, tenant_id: str, incident_id: str, due: datetime | None = None) -> None: ...
    def refresh_flagged(self, tenant_id: str, incident_id: str) -> bool: ...
    def flagged_for_refresh(self, tenant_id: str) -> list[str]: ...
    def clear_refresh(self, tenant_id: str, incident_id: str) -> None: ...


class SilenceStore(Protocol):
    def put_silence(self, tenant_id: str, silence: Silence) -> None: ...
    def list_silences(self, tenant_id: str) -> list[Silence]: ...
    def delete_silence(self, tenant_id: str, silence_id: str) -> None: ...


class ValidationHistory(Protocol):
    def record_validation(self, tenant_id: str, key: str, accepted: bool) -> None: ...
    def validation_history(self, tenant_id: str) -> dict[str, tuple[int, int]]: ...


class CatalogPointer(Protocol):
    def put_catalog_pointer(self, tenant_id: str, uri: str, version: str | None = None) -> None: ...
    def catalog_pointer(self, tenant_id: str) -> str | None: ...


class Store(SignalStore, DedupStore, IncidentStore, ChangeStore, AuditLog, NotificationLog, ActionStore,
            ApprovalStore, CorrelationStateStore, RefreshFlags, SilenceStore, ValidationHistory, CatalogPointer,
            Protocol):
    """Every aggregate's repository: what `Container.store` gives the services."""

    table_name: str
    """The single table, for the modules that keep their own item types in it (risk budget,
    paging claims, delivery rate limits, conditional approval writes)."""

    @property
    def client(self) -> DynamoDBClient:
        """The table's low-level DynamoDB client (boto3, or the in-memory one of adapters/memory)."""
        ...


class BlobStore(Protocol):
    def uri(self, key: str) -> str: ...
    def put_json(self, key: str, document: object) -> str:
        """Store a JSON document; return its URI (s3://bucket/key)."""
        ...
    def put_bytes(self, key: str, body: bytes, content_type: str = "application/octet-stream") -> str: ...
    def get_bytes(self, uri: str) -> bytes: ...
    def get_json(self, uri: str) -> object: ...
    def delete(self, uri: str) -> None: ...


class RawArchive(Protocol):
    """Where ingest keeps each accepted delivery's raw body, durably, before it answers 2xx."""

    def put(self, *, tenant_id: str, source: str, delivery_id: str, received_at: datetime, raw: bytes) -> str:
        """Archive one delivery; returns its reference (`raw_ref`)."""
        ...


class RiskBudget(Protocol):
    """Each service's remediation risk points spent per period (actions/gates' risk budget)."""

    def spent(self, tenant_id: str, service: str, at: datetime, period_s: int) -> float: ...
    def spend(self, tenant_id: str, service: str, plan_id: str, cost: float, at: datetime, period_s: int) -> bool:
        """Charge `cost` for `plan_id` in the period holding `at`; False if it was already charged."""
        ...
