"""Wait tokens of parked executions and the sweeper agenda."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from sre_copilot.adapters import aws_clients
from sre_copilot.adapters.dynamo.table import (
    AGENDA,
    ONE_MS,
    ConditionArguments,
    DueWork,
    SingleTable,
    WaitToken,
    _epoch,
    _wait_token,
    due_gsi2pk,
    incident_pk,
    marshal,
    unmarshal,
)
from sre_copilot.domain.types import format_time
from sre_copilot.ports import clock
from sre_copilot.ports.stores import ApprovalStore


class DynamoApprovals(SingleTable):
    """ApprovalStore: Wait tokens (one per parked execution) and due work."""

    def put_wait_token(self, tenant_id: str, incident_id: str, token: str, deadline: datetime | None,
                       plan_id: str | None) -> None:
        """Park the incident's execution: one token per incident (a newer park replaces an older one,
        whose execution has moved on). With a deadline, the token is in the due-deadline index."""
        parked_at = clock.now()
        attributes: dict[str, object] = {
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
        arguments: ConditionArguments = {"ConditionExpression": "attribute_exists(pk)"}
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


if TYPE_CHECKING:
    def _implements_approvalstore(repository: DynamoApprovals) -> ApprovalStore:  # mypy checks the port is met
        return repository
