"""The audit writer: the only function allowed PutItem on the audit table (see adapters/audit_writer.py)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sre_copilot.adapters.audit_writer import append_from_event
from sre_copilot.services.container import get_container
from sre_copilot.services.observability import logger, metrics, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return append_from_event(get_container().store, event)
