"""EventBridge: our custom bus (lifecycle events, archived), the default-bus rules that feed ingest
(CloudWatch alarms, CodeDeploy/ECS deployments), the sweeper schedule, and the SNS topic that
CloudWatch alarms in other setups publish to."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra_cdk.config import DeploymentConfig
from sre_copilot.deployment_routes import LIFECYCLE_DETAIL_TYPE, QUESTION_DETAIL_TYPE

ALARM_DETAIL_TYPES = ["CloudWatch Alarm State Change", "CloudWatch Alarm Contributor State Change",
                      "CloudWatch Alarm Configuration Change"]
DEPLOYMENT_SOURCES = ["aws.codedeploy", "aws.ecs"]
DEPLOYMENT_DETAIL_TYPES = ["CodeDeploy Deployment State-change Notification", "ECS Deployment State Change"]
TARGET_RETRIES = 4


class Events(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig, key: kms.IKey,
                 ingest: lambda_.IFunction, pagerduty_sync: lambda_.IFunction,
                 approval_sweeper: lambda_.IFunction, async_failures: sqs.IQueue,
                 anomaly_detector: lambda_.IFunction | None = None) -> None:
        super().__init__(scope, construct_id)

        def target(function: lambda_.IFunction) -> targets.LambdaFunction:
            # Events EventBridge cannot deliver (throttled past its retries) land next to failed invocations.
            return targets.LambdaFunction(function, dead_letter_queue=async_failures,
                                          retry_attempts=TARGET_RETRIES, max_event_age=Duration.hours(6))

        self.bus = events.EventBus(self, "Bus", event_bus_name=config.prefix,
                                   description="SRE Copilot incident lifecycle events")
        self.archive = self.bus.archive(
            "Archive",
            archive_name=f"{config.prefix}-lifecycle",
            description="Every event on the SRE Copilot bus, for replay and audit",
            event_pattern=events.EventPattern(detail_type=[LIFECYCLE_DETAIL_TYPE]),
            retention=Duration.days(config.event_archive_retention_days) if config.event_archive_retention_days
            else None,
        )

        self.lifecycle_to_pagerduty = events.Rule(
            self, "LifecycleToPagerDuty",
            event_bus=self.bus,
            description="Mirror incident lifecycle transitions into PagerDuty",
            event_pattern=events.EventPattern(detail_type=[LIFECYCLE_DETAIL_TYPE]),
            targets=[target(pagerduty_sync)],
        )
        self.questions_to_answer = events.Rule(
            self, "SlackQuestions",
            event_bus=self.bus,
            description="/sre ask: the LLM answer, posted to Slack after the command's quick answer",
            event_pattern=events.EventPattern(detail_type=[QUESTION_DETAIL_TYPE]),
            targets=[target(pagerduty_sync)],
        )
        self.alarms_to_ingest = events.Rule(
            self, "AlarmsToIngest",
            description="CloudWatch alarm state, contributor and configuration changes become signals",
            event_pattern=events.EventPattern(source=["aws.cloudwatch"], detail_type=ALARM_DETAIL_TYPES),
            targets=[target(ingest)],
        )
        self.deployments_to_ingest = events.Rule(
            self, "DeploymentsToIngest",
            description="CodeDeploy and ECS deployment state changes become change events",
            event_pattern=events.EventPattern(source=DEPLOYMENT_SOURCES, detail_type=DEPLOYMENT_DETAIL_TYPES),
            targets=[target(ingest)],
        )
        self.sweeper_schedule = events.Rule(
            self, "SweeperSchedule",
            description="Approval timeouts and duration-based correlation opens, every minute",
            schedule=events.Schedule.rate(Duration.minutes(1)),
            targets=[target(approval_sweeper)],
        )
        if anomaly_detector is not None:
            self.anomaly_schedule = events.Rule(
                self, "AnomalySchedule",
                description="Seasonal baselines, anomaly scoring and capacity forecasts, every 5 minutes",
                schedule=events.Schedule.rate(Duration.minutes(5)),
                targets=[target(anomaly_detector)],
            )

        # For alarm actions that notify SNS instead of (or as well as) EventBridge.
        self.alarm_topic = sns.Topic(self, "AlarmSignals", master_key=key, enforce_ssl=True,
                                     display_name="SRE Copilot alarm signals")
        self.alarm_topic.add_to_resource_policy(iam.PolicyStatement(
            sid="CloudWatchAlarmsPublish",
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["sns:Publish"],
            resources=[self.alarm_topic.topic_arn],
            conditions={"StringEquals": {"aws:SourceAccount": self.alarm_topic.stack.account}},
        ))
        self.alarm_topic.add_subscription(subscriptions.LambdaSubscription(ingest, dead_letter_queue=async_failures))
