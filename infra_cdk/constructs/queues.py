"""The four priority queues (seed 001's routing), their DLQs, the review queue and the failure queues.

P0 is consumed at once, P1 after a one-minute delivery delay (a flapping warning often clears),
P2 in batches gathered over five minutes and P3 in background batches with low concurrency; the
event source mappings that implement the consumer side live in `functions.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra_cdk.config import DeploymentConfig
from sre_copilot.deployment_routes import QueueRoute

DLQ_RETENTION = Duration.days(14)


@dataclass(frozen=True)
class PriorityQueue:
    priority: str
    queue: sqs.Queue
    dlq: sqs.Queue
    route: QueueRoute


class Queues(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self._key = key
        self.priority: dict[str, PriorityQueue] = {}
        for route in config.queue_routes():
            priority = route.priority
            dlq = self._queue(f"{priority}Dlq", retention=DLQ_RETENTION)
            queue = self._queue(
                priority,
                retention=Duration.days(config.queue_retention_days),
                visibility_timeout=Duration.seconds(config.queue_visibility_timeout_s),
                delivery_delay=Duration.seconds(route.delivery_delay_s),
                dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=route.max_receive_count),
            )
            self.priority[priority] = PriorityQueue(priority, queue, dlq, route)

        # Rejected webhook deliveries and workflow failures, each pointing at the payload kept in S3.
        self.review = self._queue("Review", retention=DLQ_RETENTION)
        # Asynchronous invocations (EventBridge, SNS, schedules) that exhausted Lambda's retries, and
        # events EventBridge/SNS could not deliver at all.
        self.async_failures = self._queue("AsyncFailuresDlq", retention=DLQ_RETENTION)
        # Executions that ended FAILED, TIMED_OUT or ABORTED, including failures RecordFailure never saw.
        self.workflow_dlq = self._queue("WorkflowDlq", retention=DLQ_RETENTION)

    @property
    def dead_letter_queues(self) -> dict[str, sqs.Queue]:
        dlqs = {f"{p.priority}Dlq": p.dlq for p in self.priority.values()}
        return dlqs | {"AsyncFailuresDlq": self.async_failures, "WorkflowDlq": self.workflow_dlq}

    def _queue(self, construct_id: str, *, retention: Duration, visibility_timeout: Duration | None = None,
               delivery_delay: Duration | None = None, dead_letter_queue: sqs.DeadLetterQueue | None = None,
               ) -> sqs.Queue:
        return sqs.Queue(
            self, construct_id,
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self._key,
            data_key_reuse=Duration.minutes(15),
            enforce_ssl=True,
            retention_period=retention,
            visibility_timeout=visibility_timeout,
            delivery_delay=delivery_delay,
            dead_letter_queue=dead_letter_queue,
        )
