"""Incidents, their open-incident index and the execution that runs each."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from sre_copilot.adapters import aws_clients
from sre_copilot.adapters.dynamo.table import (
    GSI1,
    SingleTable,
    _document,
    _epoch,
    _Expression,
    _old_item,
    _packed_doc,
    as_int,
    execution_key,
    execution_name,
    incident_key,
    marshal,
    open_incidents_gsi1pk,
    unmarshal,
)
from sre_copilot.domain.incident import Incident
from sre_copilot.domain.types import format_time
from sre_copilot.errors import ConcurrentUpdate
from sre_copilot.ports.stores import IncidentStore

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import QueryInputTypeDef


class DynamoIncidents(SingleTable):
    """IncidentStore: Incidents, versioned: every write is conditional on the version read."""

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
        attributes = {"doc_z": _packed_doc(document), "id": incident.id,
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

    def _placed(self, incident: Incident, old: Mapping[str, object], expires: datetime) -> None:
        """After a write of `incident` over `old`: its new version, and the execution pointer."""
        incident.version = as_int(old.get("version", 0)) + 1
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
        arguments: QueryInputTypeDef = {
            "TableName": self.table_name, "IndexName": GSI1,
            "KeyConditionExpression": "gsi1pk = :pk", "ProjectionExpression": "id, service",
            "ExpressionAttributeValues": marshal({":pk": open_incidents_gsi1pk(tenant_id)})}
        out: dict[str, str | None] = {}
        while True:
            with self._errors("listing the services of open incidents"):
                page = self.client.query(**arguments)
            for item in page.get("Items", []):
                row = unmarshal(item)
                service = row.get("service")
                out[str(row["id"])] = str(service) if service is not None else None
            if "LastEvaluatedKey" not in page:
                return out
            arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def incident_by_execution(self, tenant_id: str, execution: str) -> Incident | None:
        """The incident a Step Functions execution (ARN or name) works on."""
        name = execution_name(execution)
        pointer = self._get(execution_key(tenant_id, name), f"looking up execution {name}")
        # Executions are started with the incident id as their name, which covers a pointer not yet written.
        return self.get_incident(tenant_id, str(pointer["incident_id"]) if pointer else name)


if TYPE_CHECKING:
    def _implements_incidentstore(repository: DynamoIncidents) -> IncidentStore:  # mypy checks the port is met
        return repository
