"""The audit writer path: a function without PutItem on the audit table appends by invoking the
writer, whose code picks a fresh key and writes conditionally (moto Lambda, run in-process)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from aws_test_support import REGION

from sre_copilot.adapters.audit_writer import AuditWriteFailed, append_from_event
from sre_copilot.adapters.dynamodb_store import DynamoStore
from sre_copilot.domain.notification import AuditRecord
from sre_copilot.local.moto_patches import InProcessLambdas, in_process_lambda
from sre_copilot.services.audit_export import audit_table_definition
from sre_copilot.settings import Settings

AT = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)


@pytest.fixture
def writer(aws: None) -> Iterator[tuple[DynamoStore, InProcessLambdas]]:
    ddb = boto3.client("dynamodb", region_name=REGION)
    ddb.create_table(**audit_table_definition("audit"))
    role = boto3.client("iam", region_name=REGION).create_role(
        RoleName="audit-writer", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("handler.py", "# runs in-process\n")
    boto3.client("lambda", region_name=REGION).create_function(
        FunctionName="audit_writer", Runtime="python3.13", Role=role, Handler="handler.handler",
        Code={"ZipFile": package.getvalue()})
    # The writer's side: its own store writes the table (no writer configured there)
    writer_store = DynamoStore(Settings(table_name="main", audit_table_name="audit"), client=ddb)
    registry = InProcessLambdas()
    registry.register("audit_writer", lambda event, _context: append_from_event(writer_store, event))
    with in_process_lambda(registry):
        yield writer_store, registry


def test_a_runtime_function_appends_through_the_writer(writer: tuple[DynamoStore, InProcessLambdas]) -> None:
    writer_store, registry = writer
    # Given a function configured with the audit writer (what CDK sets for every runtime function)
    caller = DynamoStore(Settings(region=REGION, table_name="main", audit_table_name="audit",
                                  audit_writer_function="audit_writer"), client=writer_store.client)
    # When it appends the same record twice
    record = AuditRecord(at=AT, actor="copilot:workflow", action="action.executed", subject="inc-1",
                         details={"plan": "p-1"})
    caller.append(record)
    caller.append(record)
    # Then the writer ran for each, and both are in the trail: a record is never replaced, only added
    assert registry.invocations == 2
    trail = writer_store.for_subject("default", "inc-1")
    assert [(r.action, r.details) for r in trail] == [("action.executed", {"plan": "p-1"})] * 2


def test_a_writer_failure_fails_the_caller_with_the_reason(writer: tuple[DynamoStore, InProcessLambdas]) -> None:
    writer_store, registry = writer

    def broken(event: dict[str, Any], _context: Any) -> dict[str, Any]:
        raise RuntimeError("audit table unavailable")

    registry.register("audit_writer", broken)
    caller = DynamoStore(Settings(region=REGION, table_name="main", audit_table_name="audit",
                                  audit_writer_function="audit_writer"), client=writer_store.client)
    # When the writer fails, the step that audits fails too (and is retried), never silently unaudited
    with pytest.raises(AuditWriteFailed, match="audit table unavailable"):
        caller.append(AuditRecord(at=AT, actor="copilot", action="action.executed", subject="inc-2"))
    assert writer_store.for_subject("default", "inc-2") == []


def test_the_writer_refuses_a_record_that_is_not_one(writer: tuple[DynamoStore, InProcessLambdas]) -> None:
    writer_store, _ = writer
    with pytest.raises(ValueError):
        append_from_event(writer_store, {"record": {"actor": "mallory", "subject": "inc-3"}})
