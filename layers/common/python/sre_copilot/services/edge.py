"""The edge: one place that maps results and domain errors to HTTP responses, and routes the
non-HTTP events (EventBridge, SNS) that reach the ingest function."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from aws_lambda_powertools.utilities.typing import LambdaContext

from sre_copilot.domain.json_types import as_list, as_object
from sre_copilot.errors import SreCopilotError
from sre_copilot.services.container import get_container
from sre_copilot.services.observability import logger


def raw_body(event: APIGatewayProxyEventV2) -> bytes:
    """The request body as the sender's bytes. Powertools' `decoded_body` decodes base64 to *text*,
    which raises on a body that is not UTF-8; that must be a 400 from validation, never a 500."""
    body = event.body or ""
    if event.is_base64_encoded:
        try:
            return base64.b64decode(body)
        except (binascii.Error, ValueError):
            return b""
    return body.encode("utf-8", "surrogatepass")


def to_response(status: int, body: Mapping[str, object]) -> Response[str]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON,
                    body=json.dumps(body, default=str))


def error_response(exc: Exception) -> Response[str]:
    if isinstance(exc, SreCopilotError) and exc.status < 500:
        return to_response(exc.status, {"error": exc.message, "code": exc.code})
    # Never a stack trace to the caller; the log has it with the request id.
    logger.exception("unhandled error")
    return to_response(500, {"error": "internal error; the delivery was not accepted, please retry",
                             "code": "internal_error"})


def route_non_http(event: Mapping[str, object], lambda_context: LambdaContext | None = None) -> dict[str, object]:
    """EventBridge rule targets and SNS subscriptions invoke the ingest function directly."""
    service = get_container().ingest
    records = as_list(event.get("Records"))
    if records and as_object(records[0]).get("EventSource") == "aws:sns":
        results = [service.handle_webhook("cloudwatch-sns", {}, json.dumps({"Records": [record]}).encode(),
                                          iam_trusted=True, lambda_context=lambda_context)
                   for record in records]
        return {"results": [r.body | {"status": r.status} for r in results]}
    detail_type = str(event.get("detail-type", ""))
    source = "changes" if event.get("source") in ("aws.codedeploy", "aws.ecs") else "cloudwatch"
    if detail_type.startswith("CloudWatch Alarm") or source == "changes":
        result = service.handle_webhook(source, {}, json.dumps(event).encode(), iam_trusted=True,
                                        lambda_context=lambda_context)
        return result.body | {"status": result.status}
    return {"status": 400, "error": f"ingest does not handle events of type '{detail_type or 'unknown'}'"}
