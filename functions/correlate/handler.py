"""Correlate: SQS batches from the four priority queues, with partial batch failure reporting."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sre_copilot.services.container import get_container
from sre_copilot.services.correlate_service import CorrelateService
from sre_copilot.services.observability import logger, metrics, tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord


def record_handler(record: SQSRecord) -> None:
    CorrelateService(get_container()).process([json.loads(record.body)])


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = event.get("Records", [])
    try:
        # The whole batch in one engine pass (one state load/save) is the fast path...
        CorrelateService(get_container()).process([json.loads(r["body"]) for r in records])
        return {"batchItemFailures": []}
    except Exception:
        logger.exception("batch failed as a whole; retrying record by record to isolate failures")
    # ...and record-by-record with Powertools' partial failure report isolates a poison message.
    # Imported here, on this rare path only: the batch utility loads asyncio and every event class.
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    processor = BatchProcessor(event_type=EventType.SQS)
    return dict(process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                         context=context))
