"""The audit goes to its own table, and the daily export writes a day's records and execution
histories to an Object Lock (compliance) bucket, where they cannot be deleted."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import boto3
import pytest
from aws_test_support import REGION
from botocore.exceptions import ClientError

from sre_copilot.adapters.dynamodb_store import DynamoStore, table_definition
from sre_copilot.domain.notification import AuditRecord
from sre_copilot.services.audit_export import AuditExport, audit_table_definition
from sre_copilot.settings import Settings

DAY = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)


def _setup() -> tuple[DynamoStore, str]:
    ddb = boto3.client("dynamodb", region_name=REGION)
    ddb.create_table(**table_definition("main"))
    ddb.create_table(**audit_table_definition("audit"))
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="audit-export", ObjectLockEnabledForBucket=True,
                     CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object_lock_configuration(Bucket="audit-export", ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 400}}})
    sfn = boto3.client("stepfunctions", region_name=REGION)
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    machine = sfn.create_state_machine(name="incident", roleArn=role, definition=json.dumps(
        {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}))["stateMachineArn"]
    sfn.start_execution(stateMachineArn=machine, name="inc-1")
    store = DynamoStore(Settings(table_name="main", audit_table_name="audit"), client=ddb)
    return store, machine


def test_audit_records_go_to_the_audit_table_only(aws: None) -> None:
    store, _ = _setup()
    store.append(AuditRecord(at=DAY, actor="copilot", action="action.executed", subject="inc-1"))
    ddb = boto3.client("dynamodb", region_name=REGION)
    assert ddb.scan(TableName="audit")["Count"] == 1 and ddb.scan(TableName="main")["Count"] == 0
    assert [r.action for r in store.for_subject("default", "inc-1")] == ["action.executed"]


def test_daily_export_writes_the_days_records_and_histories_under_object_lock(aws: None) -> None:
    store, machine = _setup()
    # Given records on the day and on the next
    store.append(AuditRecord(at=DAY, actor="copilot", action="action.executed", subject="inc-1"))
    store.append(AuditRecord(at=DAY + timedelta(hours=1), actor="slack:U1", action="approval.granted", subject="inc-1"))
    store.append(AuditRecord(at=DAY + timedelta(days=1), actor="copilot", action="incident.closed", subject="inc-1"))
    s3 = boto3.client("s3", region_name=REGION)
    export = AuditExport(dynamodb=boto3.client("dynamodb", region_name=REGION), s3=s3,
                         stepfunctions=boto3.client("stepfunctions", region_name=REGION), table="audit",
                         bucket="audit-export", state_machine_arn=machine, tenant_id="default", retention_days=400)
    # When the export runs the morning after (the execution started today, so it lies in today's window)
    today = datetime.now(UTC).date()
    out = export.export_day(date(2026, 3, 4))
    histories = export.export_day(today)
    # Then the day's two records are in one JSON-lines object, in order
    body = s3.get_object(Bucket="audit-export", Key="audit/default/2026-03-04/records.jsonl")["Body"].read()
    assert [json.loads(line)["record"]["action"] for line in body.splitlines()] == ["action.executed",
                                                                                    "approval.granted"]
    assert out["records"] == 2
    # And the execution history of that day is exported beside them
    assert histories["executions"] == 1
    key = f"executions/default/{today.isoformat()}/inc-1.json"
    assert json.loads(s3.get_object(Bucket="audit-export", Key=key)["Body"].read())["events"]
    # And the objects are locked in compliance mode: not even a versioned delete goes through
    head = s3.head_object(Bucket="audit-export", Key="audit/default/2026-03-04/records.jsonl")
    assert head["ObjectLockMode"] == "COMPLIANCE"
    with pytest.raises(ClientError, match="AccessDenied"):
        s3.delete_object(Bucket="audit-export", Key="audit/default/2026-03-04/records.jsonl",
                         VersionId=head["VersionId"])


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_the_daily_export_keeps_each_served_tenants_trail_apart(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util
    from pathlib import Path

    from sre_copilot.local.moto_patches import LambdaContext
    from sre_copilot.services.container import Container, set_container

    # Given a deployment serving acme too, with a record of each tenant on the day
    store, machine = _setup()
    for tenant in ("default", "acme"):
        store.append(AuditRecord(at=DAY, tenant_id=tenant, actor="copilot", action=f"{tenant}.acted", subject="inc-1"))
    for name, value in {"SERVED_TENANTS": "acme", "TABLE_NAME": "main", "AUDIT_TABLE_NAME": "audit",
                        "AUDIT_BUCKET_NAME": "audit-export", "STATE_MACHINE_ARN": machine}.items():
        monkeypatch.setenv(f"SRE_COPILOT_{name}", value)
    monkeypatch.setenv("AWS_REGION", REGION)
    set_container(Container(Settings()))
    try:
        path = Path(__file__).resolve().parents[2] / "functions" / "audit_export" / "handler.py"
        spec = importlib.util.spec_from_file_location("audit_export_handler", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        # When the export function re-runs that day
        out = module.handler({"day": "2026-03-04"}, LambdaContext(function_name="audit_export"))
    finally:
        set_container(None)
    # Then each tenant's records are under its own prefix, and only its own
    s3 = boto3.client("s3", region_name=REGION)
    for tenant in ("default", "acme"):
        body = s3.get_object(Bucket="audit-export", Key=f"audit/{tenant}/2026-03-04/records.jsonl")["Body"].read()
        assert [json.loads(line)["record"]["action"] for line in body.splitlines()] == [f"{tenant}.acted"]
    assert out["tenants"]["acme"]["records"] == 1 and out["records"] == 1
