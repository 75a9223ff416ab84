"""`sre-copilot audit <incident> --aws --verify`: the audit table against its locked daily export.

The writer path keeps runtime roles from replacing a record; this check covers everyone else (an
administrator who first replaced the table's policy, a restored backup). Every record the daily
export has written sits under Object Lock in compliance mode and cannot be altered; so for each
exported day of the trail, the table's records must equal the exported ones, key for key. Every
object version counts: a later export run (after a change) adds a version but cannot remove the
first one, so a record that differs from any exported copy is reported.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from pydantic import BaseModel, Field

from sre_copilot.adapters.dynamodb_store import audit_pk, unmarshal


class AuditVerification(BaseModel):
    checked: int = Field(description="table records compared with an exported copy")
    changed: list[str] = Field(default_factory=list, description="sort keys whose record differs from the export")
    missing: list[str] = Field(default_factory=list, description="exported sort keys no longer in the table")
    backdated: list[str] = Field(default_factory=list,
                                 description="records dated on an exported day that no export holds: added later")
    not_exported: list[str] = Field(default_factory=list, description="records of days not exported yet")

    @property
    def intact(self) -> bool:
        return not self.changed and not self.missing and not self.backdated

    def summary(self) -> str:
        head = "intact" if self.intact else "TAMPERED"
        parts = [f"{self.checked} record(s) match the locked export"]
        if self.changed:
            parts.append(f"{len(self.changed)} changed since export: {', '.join(self.changed[:3])}")
        if self.missing:
            parts.append(f"{len(self.missing)} exported but gone: {', '.join(self.missing[:3])}")
        if self.backdated:
            parts.append(f"{len(self.backdated)} dated on an exported day but added after its export")
        if self.not_exported:
            parts.append(f"{len(self.not_exported)} not exported yet (today's, or the export has not run)")
        return f"Audit trail {head}: " + "; ".join(parts)


def _table_records(dynamodb: Any, table: str, tenant_id: str, subject: str) -> dict[str, dict[str, Any]]:
    arguments: dict[str, Any] = {"TableName": table, "ConsistentRead": True,
                                 "KeyConditionExpression": "pk = :pk AND begins_with(sk, :audit)",
                                 "ExpressionAttributeValues": {":pk": {"S": audit_pk(tenant_id, subject)},
                                                               ":audit": {"S": "AUDIT#"}}}
    out: dict[str, dict[str, Any]] = {}
    while True:
        page = dynamodb.query(**arguments)
        for item in page.get("Items", []):
            row = unmarshal(item)
            out[str(row["sk"])] = json.loads(str(row["doc"]))
        if "LastEvaluatedKey" not in page:
            return out
        arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _exported(s3: Any, bucket: str, key: str) -> list[list[dict[str, Any]]]:
    """Every version of one day's export, each a list of its lines."""
    versions: list[list[dict[str, Any]]] = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=key):
        for version in page.get("Versions", []):
            if version["Key"] != key:
                continue
            body = s3.get_object(Bucket=bucket, Key=key, VersionId=version["VersionId"])["Body"].read()
            versions.append([json.loads(line) for line in body.decode().splitlines() if line.strip()])
    return versions


def verify_trail(*, dynamodb: Any, s3: Any, table: str, bucket: str, tenant_id: str,
                 subject: str) -> AuditVerification:
    current = _table_records(dynamodb, table, tenant_id, subject)
    pk = audit_pk(tenant_id, subject)
    days = sorted({_day(record) for record in current.values()})
    exported: dict[str, list[dict[str, Any]]] = {}
    exported_days: set[date] = set()
    for day in days:
        versions = _exported(s3, bucket, f"audit/{tenant_id}/{day.isoformat()}/records.jsonl")
        if versions:
            exported_days.add(day)
        for lines in versions:
            for line in lines:
                if line.get("pk") == pk:
                    exported.setdefault(str(line["sk"]), []).append(line["record"])
    changed = sorted(sk for sk, copies in exported.items() if sk in current
                     and any(copy != current[sk] for copy in copies))
    missing = sorted(sk for sk in exported if sk not in current)
    not_exported = sorted(sk for sk, record in current.items() if sk not in exported)
    # A record of an exported day that no export holds was added afterwards, under an old date.
    backdated = [sk for sk in not_exported if _day(current[sk]) in exported_days]
    return AuditVerification(checked=len([sk for sk in exported if sk in current]), changed=changed,
                             missing=missing, backdated=backdated,
                             not_exported=[sk for sk in not_exported if sk not in backdated])


def _day(record: dict[str, Any]) -> date:
    return date.fromisoformat(str(record["at"])[:10])
