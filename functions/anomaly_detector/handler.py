"""Every 5 minutes: seasonal baselines, anomaly scoring and capacity forecasts become signals."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sre_copilot.ports import clock
from sre_copilot.services.anomaly_service import AnomalyService
from sre_copilot.services.container import get_container
from sre_copilot.services.observability import logger, metrics, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return AnomalyService(get_container()).run(clock.now(), lambda_context=context)
