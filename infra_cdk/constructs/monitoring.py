"""Self-monitoring: one CloudWatch dashboard and the alarms the `Alarms` construct does not already
raise, all to the same SNS topic.

Covered: ingestion rate, latency and rejections by reason; queue age and DLQ depth; Step Functions
failed, timed-out and throttled executions; Lambda errors, throttles, duration and concurrency;
notification failures by channel; LLM latency, tokens and cost (the EMF metrics of
`sre_copilot.services.telemetry`).

The copilot's own alarms page through the copilot too: the `AlarmsToIngest` EventBridge rule takes
every CloudWatch alarm state change of the account and region, these included, and every alarm
here is named `<prefix>-...` so a catalog entry for the service `sre-copilot` (see
`docs/examples/catalog-info.yaml`) routes them to its owners. The SNS topic (e-mail) stays as the path
that works when ingestion itself is what is broken.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Aws, CfnOutput, Duration
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra_cdk.config import DeploymentConfig
from infra_cdk.constructs.functions import METRICS_NAMESPACE, SERVICE_NAME
from infra_cdk.constructs.queues import PriorityQueue
from sre_copilot.services import telemetry

FIVE_MINUTES = Duration.minutes(5)
# Duration alarm: p99 above this share of the function's timeout means timeouts are near.
DURATION_SHARE_OF_TIMEOUT = 0.8
# 80% of Lambda's default regional concurrency quota (1,000); raise it with your quota.
ACCOUNT_CONCURRENCY_ALARM = 800
# Deliveries refused as unauthenticated in five minutes: a rotated secret or someone probing.
UNAUTHORIZED_ALARM = 20
LLM_DAILY_COST_ALARM_USD = 25.0
LLM_FAILURES_ALARM = 5


def emf(name: str, statistic: str = "Sum", period: Duration = FIVE_MINUTES, label: str | None = None
        ) -> cloudwatch.Metric:
    """A metric the functions write as EMF through Powertools (namespace and `service` dimension)."""
    return cloudwatch.Metric(namespace=METRICS_NAMESPACE, metric_name=name, statistic=statistic, period=period,
                             dimensions_map={"service": SERVICE_NAME}, label=label)


def by_name_prefix(prefix: str, label: str) -> cloudwatch.MathExpression:
    """Every EMF metric whose name starts with `prefix`, one line each (rejections by reason,
    failures by channel): the reasons need not be listed in advance."""
    return cloudwatch.MathExpression(
        expression=f"SEARCH('{{{METRICS_NAMESPACE},service}} MetricName=\"{prefix}\"', 'Sum', 300)",
        label=label, period=FIVE_MINUTES, using_metrics={})


class Monitoring(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig, topic: sns.ITopic,
                 functions: Mapping[str, lambda_.Function], state_machine: sfn.StateMachine,
                 priority_queues: Mapping[str, PriorityQueue], dead_letter_queues: Mapping[str, sqs.IQueue],
                 api: apigwv2.HttpApi, existing_alarms: Sequence[cloudwatch.Alarm] = ()) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        self._action = actions.SnsAction(topic)
        self.alarms: list[cloudwatch.Alarm] = []

        # -- alarms -------------------------------------------------------------------------------
        for name, function in functions.items():
            cid = "".join(part.capitalize() for part in name.split("_"))
            self._alarm(f"{cid}Errors", function.metric_errors(period=FIVE_MINUTES, statistic="Sum"), 1,
                        f"{name} raised errors; see its log group and the review queue")
            self._alarm(f"{cid}Throttles", function.metric_throttles(period=FIVE_MINUTES, statistic="Sum"), 1,
                        f"{name} was throttled; raise its reserved concurrency or the account quota")
            timeout_ms = config.timeout_for(name) * 1000
            self._alarm(f"{cid}Duration", function.metric_duration(period=FIVE_MINUTES, statistic="p99"),
                        round(timeout_ms * DURATION_SHARE_OF_TIMEOUT),
                        f"{name} p99 duration is above {DURATION_SHARE_OF_TIMEOUT:.0%} of its {timeout_ms // 1000} s "
                        "timeout", periods=3)
        self._alarm("LambdaConcurrency",
                    lambda_.Function.metric_all_concurrent_executions(period=Duration.minutes(1), statistic="Maximum"),
                    ACCOUNT_CONCURRENCY_ALARM,
                    "Concurrent Lambda executions near the regional quota; functions will be throttled")
        self._alarm("WorkflowThrottles", state_machine.metric_throttled(period=FIVE_MINUTES, statistic="Sum"), 1,
                    "Step Functions throttled incident workflow executions")
        self._alarm("ApiServerErrors", api.metric_server_error(period=FIVE_MINUTES, statistic="Sum"), 1,
                    "The webhook API answered 5xx: a delivery may have been lost by its sender")
        self._alarm("UnauthorizedDeliveries", emf(f"{telemetry.REJECTED_PREFIX}unauthorized"), UNAUTHORIZED_ALARM,
                    "Many deliveries refused as unauthenticated: a rotated webhook secret, or probing")
        for channel in telemetry.NOTIFICATION_CHANNELS:
            self._alarm(f"NotificationFailures{channel.capitalize()}",
                        emf(telemetry.NOTIFICATION_FAILED_PREFIX + channel), 1,
                        f"{channel} notifications failed; responders may not have been told")
        self._alarm("LlmDailyCost", emf(telemetry.LLM_COST, period=Duration.days(1)), LLM_DAILY_COST_ALARM_USD,
                    f"LLM spend over the last day is at least ${LLM_DAILY_COST_ALARM_USD:.0f}")
        self._alarm("LlmFailures", emf(telemetry.LLM_FAILURES, period=Duration.minutes(15)), LLM_FAILURES_ALARM,
                    "The LLM assistant keeps failing; hypotheses fall back to the deterministic set")

        # -- dashboard ----------------------------------------------------------------------------
        self.dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=f"{config.prefix}-operations",
            default_interval=Duration.hours(3))
        lambdas = list(functions.items())

        def per_function(title: str, metric: str, statistic: str) -> cloudwatch.GraphWidget:
            return cloudwatch.GraphWidget(
                title=title, width=12, legend_position=cloudwatch.LegendPosition.RIGHT,
                left=[f.metric(metric, period=FIVE_MINUTES, statistic=statistic, label=n) for n, f in lambdas])

        self.dashboard.add_widgets(cloudwatch.TextWidget(
            markdown=f"# SRE Copilot ({config.environment}): ingestion, queues, workflows, functions, "
                     "notifications, LLM", width=24, height=1))
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Ingestion rate (per 5 min)", width=8, left=[
                emf(telemetry.ACCEPTED, label="accepted"),
                api.metric_count(period=FIVE_MINUTES, statistic="Sum", label="HTTP requests")]),
            cloudwatch.GraphWidget(title="Ingestion latency (ms)", width=8, left=[
                emf("IngestLatency", "p50", label="p50"), emf("IngestLatency", "p99", label="p99"),
                api.metric_latency(period=FIVE_MINUTES, statistic="p99", label="API p99")]),
            cloudwatch.GraphWidget(title="Rejected deliveries by reason", width=8, left=[
                by_name_prefix(telemetry.REJECTED_PREFIX, "rejected")]),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Oldest message age by priority (s)", width=12, left=[
                pq.queue.metric_approximate_age_of_oldest_message(period=Duration.minutes(1), statistic="Maximum",
                                                                  label=p) for p, pq in priority_queues.items()]),
            cloudwatch.GraphWidget(title="Dead-letter queue depth", width=12, left=[
                dlq.metric_approximate_number_of_messages_visible(period=Duration.minutes(1), statistic="Maximum",
                                                                  label=n) for n, dlq in dead_letter_queues.items()]),
        )
        self.dashboard.add_widgets(cloudwatch.GraphWidget(title="Incident workflows", width=24, left=[
            state_machine.metric_started(period=FIVE_MINUTES, statistic="Sum", label="started"),
            state_machine.metric_succeeded(period=FIVE_MINUTES, statistic="Sum", label="succeeded"),
            state_machine.metric_failed(period=FIVE_MINUTES, statistic="Sum", label="failed"),
            state_machine.metric_timed_out(period=FIVE_MINUTES, statistic="Sum", label="timed out"),
            state_machine.metric_throttled(period=FIVE_MINUTES, statistic="Sum", label="throttled")]))
        self.dashboard.add_widgets(per_function("Lambda errors", "Errors", "Sum"),
                                   per_function("Lambda throttles", "Throttles", "Sum"))
        self.dashboard.add_widgets(per_function("Lambda duration p99 (ms)", "Duration", "p99"),
                                   per_function("Lambda concurrency (max)", "ConcurrentExecutions", "Maximum"))
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Notification failures by channel", width=8, left=[
                by_name_prefix(telemetry.NOTIFICATION_FAILED_PREFIX, "failed")]),
            cloudwatch.GraphWidget(title="LLM latency (ms) and failures", width=8,
                                   left=[emf(telemetry.LLM_LATENCY, "p50", label="p50"),
                                         emf(telemetry.LLM_LATENCY, "p99", label="p99")],
                                   right=[emf(telemetry.LLM_FAILURES, label="failures")]),
            cloudwatch.GraphWidget(title="LLM tokens and cost (USD)", width=8,
                                   left=[emf(telemetry.LLM_INPUT_TOKENS, label="input tokens"),
                                         emf(telemetry.LLM_OUTPUT_TOKENS, label="output tokens")],
                                   right=[emf(telemetry.LLM_COST, label="cost USD")]),
        )
        self.dashboard.add_widgets(cloudwatch.AlarmStatusWidget(
            title="Alarms", width=24, alarms=[*existing_alarms, *self.alarms]))
        CfnOutput(self, "DashboardUrl", description="The copilot's own operations dashboard",
                  value=f"https://console.aws.amazon.com/cloudwatch/home?region={Aws.REGION}#dashboards:name="
                        f"{config.prefix}-operations")

    def _alarm(self, construct_id: str, metric: cloudwatch.IMetric, threshold: float, description: str,
               periods: int = 1) -> None:
        alarm = cloudwatch.Alarm(
            self, construct_id,
            alarm_name=f"{self.config.prefix}-{construct_id}",
            metric=metric, threshold=threshold, evaluation_periods=periods, datapoints_to_alarm=periods,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description)
        alarm.add_alarm_action(self._action)
        alarm.add_ok_action(self._action)
        self.alarms.append(alarm)
