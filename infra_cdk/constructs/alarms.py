"""Operational alarms, all to one SNS topic: any message in a DLQ, a priority queue falling behind,
and incident workflows that fail or time out."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra_cdk.config import DeploymentConfig
from infra_cdk.constructs.queues import PriorityQueue

PERIOD = Duration.minutes(1)


class Alarms(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig, key: kms.IKey,
                 priority_queues: Mapping[str, PriorityQueue], dead_letter_queues: Mapping[str, sqs.IQueue],
                 state_machine: sfn.IStateMachine) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(self, "Topic", master_key=key, enforce_ssl=True,
                               display_name=f"SRE Copilot alarms ({config.environment})")
        if config.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        action = actions.SnsAction(self.topic)
        self.alarms: list[cloudwatch.Alarm] = []

        def alarm(construct_id: str, metric: cloudwatch.IMetric, threshold: float, description: str) -> None:
            created = cloudwatch.Alarm(
                self, construct_id,
                metric=metric,
                threshold=threshold,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=description,
            )
            created.add_alarm_action(action)
            created.add_ok_action(action)
            self.alarms.append(created)

        for name, dlq in dead_letter_queues.items():
            alarm(f"{name}Depth", dlq.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum"),
                  1, f"{name} holds messages that failed processing; inspect, fix, then redrive them")
        for priority, pq in priority_queues.items():
            age = config.queue_age_alarm_for(priority)
            alarm(f"{priority}OldestMessageAge",
                  pq.queue.metric_approximate_age_of_oldest_message(period=PERIOD, statistic="Maximum"),
                  age, f"{priority} signals have waited {age} s or more; correlate is failing or throttled")
        alarm("WorkflowFailures", state_machine.metric_failed(period=Duration.minutes(5), statistic="Sum"), 1,
              "Incident workflow executions failed; see the workflow DLQ and RecordFailure's audit record")
        alarm("WorkflowTimeouts", state_machine.metric_timed_out(period=Duration.minutes(5), statistic="Sum"), 1,
              "Incident workflow executions timed out")
