"""The HTTP API: one route per webhook source (all to ingest), /changes, and the Slack/Twilio callbacks.

Authentication is the function's job: every source signs or authenticates its deliveries
differently (PagerDuty HMAC, bearer/basic auth, Slack signing secret, Twilio signature), and an
HTTP API authorizer cannot see the body that the signatures cover.
"""

from __future__ import annotations

import jsii
from aws_cdk import RemovalPolicy
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra_cdk.config import DeploymentConfig
from infra_cdk.constructs.functions import RETENTION

WEBHOOK_SOURCES = ("pagerduty", "cloudwatch", "cloudwatch-sns", "alertmanager", "grafana", "datadog", "opsgenie",
                   "generic")
CALLBACK_PATHS = ("/callbacks/slack/interactions", "/callbacks/slack/commands", "/callbacks/twilio/voice")
ACCESS_LOG_FORMAT = (
    '{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","requestTime":"$context.requestTime",'
    '"method":"$context.httpMethod","routeKey":"$context.routeKey","status":"$context.status",'
    '"protocol":"$context.protocol","responseLength":"$context.responseLength",'
    '"integrationLatency":"$context.integrationLatency","integrationError":"$context.integrationErrorMessage",'
    '"userAgent":"$context.identity.userAgent"}'
)


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogSettings:
    """`IAccessLogSettings` is an interface without a struct in the Python bindings."""

    def __init__(self, destination: apigwv2.IAccessLogDestination, log_format: apigateway.AccessLogFormat) -> None:
        self._destination = destination
        self._format = log_format

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigateway.AccessLogFormat:
        return self._format


class HttpApi(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig, key: kms.IKey,
                 ingest: lambda_.IFunction, callbacks: lambda_.IFunction) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = logs.LogGroup(
            self, "AccessLogs",
            retention=RETENTION[config.log_retention_days],
            encryption_key=key,
            removal_policy=RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY,
        )
        self.api = apigwv2.HttpApi(
            self, "Api",
            api_name=config.prefix,
            description="SRE Copilot webhooks, change events and provider callbacks",
            create_default_stage=False,
        )
        self.stage = apigwv2.HttpStage(
            self, "DefaultStage",
            http_api=self.api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(rate_limit=config.api_throttle_rate,
                                              burst_limit=config.api_throttle_burst),
            access_log_settings=_AccessLogSettings(apigwv2.LogGroupLogDestination(self.access_logs),
                                                   apigateway.AccessLogFormat.custom(ACCESS_LOG_FORMAT)),
        )
        ingest_integration = integrations.HttpLambdaIntegration("Ingest", ingest)
        callbacks_integration = integrations.HttpLambdaIntegration("Callbacks", callbacks)
        for source in WEBHOOK_SOURCES:
            self.api.add_routes(path=f"/webhooks/{source}", methods=[apigwv2.HttpMethod.POST],
                                integration=ingest_integration)
        self.api.add_routes(path="/changes", methods=[apigwv2.HttpMethod.POST], integration=ingest_integration)
        for path in CALLBACK_PATHS:
            self.api.add_routes(path=path, methods=[apigwv2.HttpMethod.POST], integration=callbacks_integration)

    @property
    def url(self) -> str:
        """Base URL without a trailing slash (the `$default` stage has no path segment)."""
        return self.api.api_endpoint
