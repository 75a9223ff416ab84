"""Callbacks: Slack card buttons and the /sre slash command, Twilio voice keypresses and call status."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from sre_copilot.services.container import get_container
from sre_copilot.services.edge import error_response, raw_body, to_response
from sre_copilot.services.observability import logger, metrics, tracer

# Each route imports its own service (Slack SDK and card code, or Twilio's voice flow) when it
# runs, so the cold start loads only the code of the callback that woke the function.

app = APIGatewayHttpResolver()
app.exception_handler(Exception)(error_response)


@app.post("/callbacks/slack/interactions")
def slack_interactions() -> Response[Any]:
    from sre_copilot.services.slack_actions import SlackActions

    event = app.current_event
    body = SlackActions(get_container()).card_action(dict(event.headers), raw_body(event))
    return to_response(200, body)


@app.post("/callbacks/slack/commands")
def slack_commands() -> Response[Any]:
    from sre_copilot.services.slack_actions import SlackActions

    event = app.current_event
    body = SlackActions(get_container()).slash_command(dict(event.headers), raw_body(event))
    return to_response(200, body)


@app.post("/callbacks/twilio/voice")
def twilio_voice() -> Response[Any]:
    from sre_copilot.services.callbacks_service import CallbacksService

    event = app.current_event
    settings = get_container().settings
    query = event.raw_query_string
    url = f"{settings.public_base_url.rstrip('/')}{event.path}" + (f"?{query}" if query else "")
    twiml = CallbacksService(get_container()).twilio_voice(
        url, dict(event.headers), raw_body(event), event.get_query_string_value("incident") or "")
    return Response(status_code=200, content_type="application/xml", body=twiml)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
