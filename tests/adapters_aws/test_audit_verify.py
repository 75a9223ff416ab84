"""Tamper detection: the audit table compared with its Object Lock export (`audit --verify`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
from aws_test_support import REGION

from sre_copilot.adapters.audit_verify import AuditVerification, verify_trail
from sre_copilot.adapters.dynamodb_store import DynamoStore, audit_pk
from sre_copilot.domain.notification import AuditRecord
from sre_copilot.services.audit_export import AuditExport, audit_table_definition

DAY = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)


def _exported_trail() -> tuple[DynamoStore, list[str]]:
    ddb = boto3.client("dynamodb", region_name=REGION)
    ddb.create_table(**audit_table_definition("audit"))
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="audit-export", ObjectLockEnabledForBucket=True,
                     CreateBucketConfiguration={"LocationConstraint": REGION})
    from sre_copilot.settings import Settings

    store = DynamoStore(Settings(table_name="audit", audit_table_name="audit"), client=ddb)
    for i, action in enumerate(("approval.approved", "action.executed", "action.verified")):
        store.append(AuditRecord(at=DAY + timedelta(minutes=i), actor="slack:alice" if i == 0 else "copilot",
                                 action=action, subject="inc-1", details={"plan": "p-1"}))
    AuditExport(dynamodb=ddb, s3=s3, stepfunctions=None, table="audit", bucket="audit-export", state_machine_arn="",
                tenant_id="default", retention_days=400).export_day(DAY.date())
    keys = [r["sk"]["S"] for r in ddb.query(TableName="audit", KeyConditionExpression="pk = :pk",
                                            ExpressionAttributeValues={":pk": {"S": audit_pk("default", "inc-1")}})[
        "Items"]]
    return store, keys


def _verify() -> AuditVerification:
    return verify_trail(dynamodb=boto3.client("dynamodb", region_name=REGION),
                        s3=boto3.client("s3", region_name=REGION), table="audit", bucket="audit-export",
                        tenant_id="default", subject="inc-1")


def test_an_untouched_trail_matches_its_export(aws: None) -> None:
    _exported_trail()
    result = _verify()
    assert result.intact and result.checked == 3


def test_a_record_overwritten_after_export_is_detected(aws: None) -> None:
    # Given an exported trail
    _, keys = _exported_trail()
    ddb = boto3.client("dynamodb", region_name=REGION)
    item = ddb.get_item(TableName="audit", Key={"pk": {"S": audit_pk("default", "inc-1")}, "sk": {"S": keys[0]}})["Item"]
    doc = json.loads(item["doc"]["S"])
    # When someone with PutItem rewrites who approved (an unconditional write of the same key)
    doc["actor"] = "slack:mallory"
    ddb.put_item(TableName="audit", Item={**item, "doc": {"S": json.dumps(doc)}})
    # Then the verifier names the changed record, and the trail is not intact
    result = _verify()
    assert not result.intact and result.changed == [keys[0]]
    assert "TAMPERED" in result.summary()
    # And a later export run (a new object version) does not launder it: the first version still counts
    AuditExport(dynamodb=ddb, s3=boto3.client("s3", region_name=REGION), stepfunctions=None, table="audit",
                bucket="audit-export", state_machine_arn="", tenant_id="default").export_day(DAY.date())
    assert _verify().changed == [keys[0]]


def test_deleted_and_backdated_records_are_detected_and_new_ones_are_only_not_exported_yet(aws: None) -> None:
    store, keys = _exported_trail()
    ddb = boto3.client("dynamodb", region_name=REGION)
    # Given one exported record deleted, one record slipped in under the exported day, one from today
    ddb.delete_item(TableName="audit", Key={"pk": {"S": audit_pk("default", "inc-1")}, "sk": {"S": keys[1]}})
    store.append(AuditRecord(at=DAY + timedelta(hours=1), actor="slack:mallory", action="approval.approved",
                             subject="inc-1"))
    store.append(AuditRecord(at=DAY + timedelta(days=1), actor="copilot", action="incident.resolved", subject="inc-1"))
    result = _verify()
    # Then the deleted and the backdated ones make it not intact; today's is only not exported yet
    assert result.missing == [keys[1]] and len(result.backdated) == 1
    assert len(result.not_exported) == 1 and not result.intact
