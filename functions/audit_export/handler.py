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
    day = event.get("day")  # a re-run for a given day (yyyy-mm-dd), e.g. after an outage
    results: dict[str, dict[str, Any]] = {}
    for tenant in settings.served_tenant_list():  # each served tenant's trail under its own prefix
        export = AuditExport(
            dynamodb=aws_clients.client("dynamodb", settings.region), s3=aws_clients.client("s3", settings.region),
            stepfunctions=aws_clients.client("stepfunctions", settings.region),
            table=settings.audit_table_name or settings.table_name, bucket=settings.audit_bucket_name,
            # One state machine runs every tenant's incidents: its histories are exported once.
            state_machine_arn=settings.state_machine_arn if tenant == settings.tenant_id else "",
            tenant_id=tenant, retention_days=settings.audit_retention_days)
        if day:
            from datetime import date

            results[tenant] = export.export_day(date.fromisoformat(str(day)))
        else:
            results[tenant] = export.run(clock.now())
    own = results[settings.tenant_id]
    return own if len(results) == 1 else {**own, "tenants": results}
