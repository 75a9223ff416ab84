"""Ingest: every webhook route, /changes, EventBridge alarm/deploy events and SNS Records."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from sre_copilot.services.container import get_container
from sre_copilot.services.edge import error_response, raw_body, to_response
from sre_copilot.services.observability import logger, metrics, tracer

app = APIGatewayHttpResolver()
app.exception_handler(Exception)(error_response)


@app.post("/webhooks/<source>")
def webhook(source: str) -> Response[Any]:
    event = app.current_event
    result = get_container().ingest.handle_webhook(source, dict(event.headers), raw_body(event),
                                                   lambda_context=app.lambda_context)
    return to_response(result.status, result.body)


@app.post("/changes")
def changes() -> Response[Any]:
    event = app.current_event
    result = get_container().ingest.handle_webhook("changes", dict(event.headers), raw_body(event),
                                                   lambda_context=app.lambda_context)
    return to_response(result.status, result.body)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from sre_copilot.services.edge import route_non_http

    if "requestContext" in event:
        return app.resolve(event, context)
    return route_non_http(event, context)
