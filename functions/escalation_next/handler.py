"""Step Functions task `NextLevel` of statemachines/escalation.asl.json."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sre_copilot.services import escalation
from sre_copilot.services.container import get_container
from sre_copilot.services.observability import logger, metrics, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return escalation.next_level(get_container(), event)
