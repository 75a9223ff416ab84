"""EventBridge target for "Incident Lifecycle Transition": stops paging, edits the Slack card and
mirrors our lifecycle into PagerDuty (services/transition_sync.py). Also "Slack Question Asked":
the LLM answer to `/sre ask`, posted to Slack after the command's quick answer (services/slack_ask.py)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from sre_copilot.deployment_routes import QUESTION_DETAIL_TYPE
from sre_copilot.services import tenancy
from sre_copilot.services.container import get_container
from sre_copilot.services.observability import logger, metrics, tracer
from sre_copilot.services.slack_ask import answer_question
from sre_copilot.services.transition_sync import on_transition


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_source(data_class=EventBridgeEvent)
def handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    container = get_container()
    # The event's tenant (the incident's): its catalog names the Slack channel a card falls back to.
    with tenancy.scope(str(event.detail.get("tenant_id") or container.settings.tenant_id)):
        if event.detail_type == QUESTION_DETAIL_TYPE:
            return answer_question(container, event.detail)
        return on_transition(container, event.detail)
