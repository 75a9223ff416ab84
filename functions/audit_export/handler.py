"""Scheduled daily: audit records and execution histories of the day that ended, to the Object Lock bucket."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sre_copilot.adapters import aws_clients
from sre_copilot.ports import clock
from sre_copilot.services.audit_export import AuditExport
from sre_copilot.services.container import get_container
from sre_copilot.services.observability import logger, metrics, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = get_container().settings
    export = AuditExport(
        dynamodb=aws_clients.client("dynamodb", settings.region), s3=aws_clients.client("s3", settings.region),
        stepfunctions=aws_clients.client("stepfunctions", settings.region),
        table=settings.audit_table_name or settings.table_name, bucket=settings.audit_bucket_name,
        state_machine_arn=settings.state_machine_arn, tenant_id=settings.tenant_id,
        retention_days=settings.audit_retention_days)
    day = event.get("day")
    if day:  # a re-run for a given day (yyyy-mm-dd), e.g. after an outage
        from datetime import date

        return export.export_day(date.fromisoformat(str(day)))
    return export.run(clock.now())
