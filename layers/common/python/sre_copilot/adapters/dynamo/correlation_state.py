"""The correlation engine state, one versioned document per tenant (spilled to S3 when large).

The document is stored zlib-compressed (`document_z`, binary): every correlate batch rewrites it,
and on-demand DynamoDB bills a write per started KB of the item, so the compressed JSON (about a
sixth of the text on an alert storm) costs a sixth of the write units. Items saved as plain text
(`document`) by earlier versions are still read."""

from __future__ import annotations

import hashlib
import json
import logging
import zlib
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from sre_copilot.adapters import aws_clients
from sre_copilot.adapters.dynamo.table import (
    SPILL_READ_ATTEMPTS,
    STATE_INLINE_LIMIT_BYTES,
    ConditionArguments,
    SingleTable,
    _old_item,
    as_bytes,
    as_int,
    correlation_key,
    due_gsi2pk,
    marshal,
    unmarshal,
)
from sre_copilot.adapters.s3_blobs import json_default
from sre_copilot.domain.types import format_time
from sre_copilot.errors import ConcurrentUpdate, NotFound, SreCopilotError
from sre_copilot.ports import clock
from sre_copilot.ports.stores import CorrelationStateStore

logger = logging.getLogger(__name__)


class DynamoCorrelationState(SingleTable):
    """CorrelationStateStore: The engine state, conditional on its version."""

    def load_correlation_state(self, tenant_id: str) -> tuple[dict[str, object] | None, int]:
        """(state, version); (None, 0) before the first save. Pass the version back to save."""
        for _attempt in range(SPILL_READ_ATTEMPTS):
            item = self._get(correlation_key(tenant_id), "reading the correlation state")
            if item is None:
                return None, 0
            version = as_int(item["version"])
            if "document_z" in item:
                return json.loads(zlib.decompress(as_bytes(item["document_z"]))), version
            if "document" in item:
                return json.loads(str(item["document"])), version
            try:
                return self.blobs.get_json(str(item["document_ref"])), version
            except NotFound:
                continue  # a newer save replaced (and deleted) the spilled copy between the two reads
        raise NotFound(f"the correlation state of tenant {tenant_id} points at an S3 object that keeps "
                       "disappearing; check the bucket's lifecycle rules on snapshots/")

    def correlation_state_version(self, tenant_id: str) -> int:
        """The version alone: a correlator that saved the state itself still holds it in memory."""
        with self._errors("reading the correlation state's version"):
            response = self.client.get_item(
                TableName=self.table_name, Key=marshal(correlation_key(tenant_id)), ConsistentRead=True,
                ProjectionExpression="#version", ExpressionAttributeNames={"#version": "version"})
        item = response.get("Item")
        return as_int(unmarshal(item)["version"]) if item else 0

    def save_correlation_state(self, tenant_id: str, state: Mapping[str, object], expected_version: int, *,
                               next_tick: datetime | None = None) -> int:
        """Save if the stored version is still `expected_version`; return the new version, else raise
        `ConcurrentUpdate` (reload and re-run). States over 350 KB compressed go to S3 (as JSON) with
        a pointer kept here.
        `next_tick`: when the engine's tick next has work (None: never); it puts the state on the
        sweeper's agenda (`due_work`) for that time. The agenda index projects only
        `AGENDA_ATTRIBUTES`, so the document stays out of it."""
        body = json.dumps(state, separators=(",", ":"), ensure_ascii=False, default=json_default)
        new_version = expected_version + 1
        size_bytes = len(body.encode("utf-8"))
        attributes: dict[str, object] = {"item_type": "correlation_state", "tenant_id": tenant_id,
                                         "version": new_version, "saved_at": format_time(clock.now()),
                                         "size_bytes": size_bytes}
        if next_tick is not None:
            attributes.update(gsi2pk=due_gsi2pk(tenant_id), gsi2sk=f"{format_time(next_tick)}#TICK")
        packed = zlib.compress(body.encode("utf-8"), 6)
        spilled: str | None = None
        if len(packed) > STATE_INLINE_LIMIT_BYTES:
            spilled = self.blobs.put_bytes(
                # Named by version and content (a replay names it the same); a concurrent save of the
                # same version with other content gets another name, and with the same content the
                # loser sees its key is the winner's and leaves it in place.
                f"snapshots/{tenant_id}/correlation-state/v{new_version:010d}-"
                f"{hashlib.sha256(body.encode('utf-8')).hexdigest()[:12]}.json",
                body.encode("utf-8"), "application/json")
            attributes["document_ref"] = spilled
        else:
            attributes["document_z"] = packed
        condition = ("attribute_not_exists(pk)" if expected_version == 0 else "#version = :expected")
        arguments: ConditionArguments = {"ConditionExpression": condition}
        if expected_version:
            arguments["ExpressionAttributeNames"] = {"#version": "version"}
            arguments["ExpressionAttributeValues"] = marshal({":expected": expected_version})
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


if TYPE_CHECKING:
    def _implements_correlationstatestore(repository: DynamoCorrelationState) -> CorrelationStateStore:  # mypy checks the port is met
        return repository
