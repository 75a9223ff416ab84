"""The audit trail (its own append-only table in AWS)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from sre_copilot.adapters import aws_clients
from sre_copilot.adapters.dynamo.table import (
    AUDIT_KEY_ATTEMPTS,
    SingleTable,
    _audit_sequence,
    _doc,
    _document,
    _epoch,
    _tenant,
    audit_pk,
    marshal,
)
from sre_copilot.domain.notification import AuditRecord
from sre_copilot.domain.types import format_time
from sre_copilot.errors import ConcurrentUpdate
from sre_copilot.ports.stores import AuditLog


class DynamoAudit(SingleTable):
    """AuditLog: Audit records, appended only."""

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

    def put_audit_item(self, key: Mapping[str, str], attributes: Mapping[str, object]) -> None:
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


if TYPE_CHECKING:
    def _implements_auditlog(repository: DynamoAudit) -> AuditLog:  # mypy checks the port is met
        return repository
