"""The daily audit export: a day's audit records and the Step Functions execution histories of that
day, written to the audit bucket, whose Object Lock (compliance mode) keeps them unaltered for the
configured retention, whoever asks.

Layout: `audit/<tenant>/<day>/records.jsonl` (one record a line, in trail order) and
`executions/<tenant>/<day>/<execution name>.json` (the full history of each execution that started,
ran or ended that day). A re-run for the same day writes new object versions beside the old ones;
Object Lock keeps both.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from sre_copilot.adapters.dynamodb_store import _tenant, unmarshal

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import QueryInputTypeDef
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import PutObjectRequestTypeDef
    from mypy_boto3_stepfunctions import SFNClient
    from mypy_boto3_stepfunctions.type_defs import HistoryEventTypeDef

AUDIT_DAY_INDEX = "audit_day"


def audit_table_definition(name: str) -> dict[str, object]:
    """The audit table as infra_cdk declares it: records keyed by subject, indexed by day for the export."""
    return {
        "TableName": name, "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk", "audit_day")],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "GlobalSecondaryIndexes": [{
            "IndexName": AUDIT_DAY_INDEX, "Projection": {"ProjectionType": "ALL"},
            "KeySchema": [{"AttributeName": "audit_day", "KeyType": "HASH"},
                          {"AttributeName": "sk", "KeyType": "RANGE"}]}],
    }


class AuditExport:
    def __init__(self, *, dynamodb: DynamoDBClient, s3: S3Client, stepfunctions: SFNClient, table: str, bucket: str,
                 state_machine_arn: str, tenant_id: str, retention_days: int | None = None) -> None:
        self.dynamodb, self.s3, self.sfn = dynamodb, s3, stepfunctions
        self.table, self.bucket, self.state_machine_arn = table, bucket, state_machine_arn
        self.tenant_id, self.retention_days = tenant_id, retention_days

    def run(self, now: datetime) -> dict[str, object]:
        """Export yesterday (the day that just ended)."""
        return self.export_day((now - timedelta(days=1)).date())

    def export_day(self, day: date) -> dict[str, object]:
        records = list(self._records(day))
        prefix = f"audit/{self.tenant_id}/{day.isoformat()}"
        body = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records).encode()
        keys = [self._put(f"{prefix}/records.jsonl", body, "application/x-ndjson")]
        executions = 0
        if self.state_machine_arn:
            for execution in self._executions(day):
                history = self._history(str(execution["executionArn"]))
                keys.append(self._put(f"executions/{self.tenant_id}/{day.isoformat()}/{execution['name']}.json",
                                      json.dumps({"execution": execution, "events": history}, default=str).encode(),
                                      "application/json"))
                executions += 1
        return {"day": day.isoformat(), "records": len(records), "executions": executions, "objects": keys}

    def _records(self, day: date) -> Iterator[dict[str, object]]:
        arguments: QueryInputTypeDef = {
            "TableName": self.table, "IndexName": AUDIT_DAY_INDEX,
            "KeyConditionExpression": "audit_day = :day",
            "ExpressionAttributeValues": {":day": {"S": f"{_tenant(self.tenant_id)}#{day.isoformat()}"}}}
        while True:
            page = self.dynamodb.query(**arguments)
            for item in page.get("Items", []):
                row = unmarshal(item)
                yield {"pk": row["pk"], "sk": row["sk"], "record": json.loads(str(row["doc"]))}
            if "LastEvaluatedKey" not in page:
                return
            arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _executions(self, day: date) -> list[dict[str, object]]:
        start = datetime.combine(day, datetime.min.time(), UTC)
        end = start + timedelta(days=1)
        found = []
        for page in self.sfn.get_paginator("list_executions").paginate(stateMachineArn=self.state_machine_arn):
            for execution in page["executions"]:
                started, stopped = execution["startDate"], execution.get("stopDate")
                # Anything alive during the day: started before its end, not stopped before its start.
                if started < end and (stopped is None or stopped >= start):
                    found.append({k: (v.isoformat() if isinstance(v, datetime) else v)
                                  for k, v in execution.items()})
        return found

    def _history(self, execution_arn: str) -> list[HistoryEventTypeDef]:
        events: list[HistoryEventTypeDef] = []
        for page in self.sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
            events.extend(page["events"])
        return events

    def _put(self, key: str, body: bytes, content_type: str) -> str:
        arguments: PutObjectRequestTypeDef = {"Bucket": self.bucket, "Key": key, "Body": body,
                                              "ContentType": content_type}
        if self.retention_days:
            # The bucket's default retention applies anyway; naming it makes each object's lock explicit.
            arguments["ObjectLockMode"] = "COMPLIANCE"
            arguments["ObjectLockRetainUntilDate"] = datetime.now(UTC) + timedelta(days=self.retention_days)
        self.s3.put_object(**arguments)
        return f"s3://{self.bucket}/{key}"
