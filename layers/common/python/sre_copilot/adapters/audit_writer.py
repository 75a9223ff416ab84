"""The one path that writes the audit table in AWS: every other function hands its record to the
`audit_writer` function (a synchronous Lambda invoke) instead of holding PutItem itself.

Why: IAM cannot require a ConditionExpression, so any role allowed PutItem on the audit table could
replace an existing record by writing its key. Only the writer's role holds PutItem there, and its
code chooses the key (a fresh one per record) and always writes with `attribute_not_exists`: a caller
can add records, never name, replace or remove one.
"""

from __future__ import annotations

import json
from typing import Any

from sre_copilot.domain.notification import AuditRecord
from sre_copilot.errors import SreCopilotError


class AuditWriteFailed(SreCopilotError):
    """The audit writer refused or failed; the step that produced the record fails (and is retried)."""

    status = 503
    code = "audit_write_failed"


class LambdaAuditWriter:
    def __init__(self, client: Any, function_name: str) -> None:
        self.client = client
        self.function_name = function_name

    def append(self, record: AuditRecord) -> None:
        payload = json.dumps({"record": record.model_dump(mode="json")}, separators=(",", ":")).encode()
        response = self.client.invoke(FunctionName=self.function_name, InvocationType="RequestResponse",
                                      Payload=payload)
        body = response["Payload"].read()
        if response.get("FunctionError"):
            try:
                reason = json.loads(body or b"{}").get("errorMessage") or "no error message"
            except ValueError:
                reason = body[:200].decode(errors="replace")
            raise AuditWriteFailed(f"the audit writer {self.function_name} did not append {record.action} of "
                                   f"{record.subject}: {reason}")


def append_from_event(store: Any, event: dict[str, Any]) -> dict[str, Any]:
    """The writer's side: validate the record and append it under a key of its own choosing."""
    record = AuditRecord.model_validate(event.get("record") or {})
    store.append(record)
    return {"ok": True, "subject": record.subject, "action": record.action}
