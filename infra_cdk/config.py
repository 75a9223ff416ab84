"""Deployment configuration: the `cdk.json` context keys, validated before any construct is built.

Every key is a top-level context key so one value can be overridden on the command line
(`npx cdk deploy -c environment=staging -c enable_opensearch=true`). Values given with `-c` arrive
as strings; pydantic's lax mode turns "true"/"60" into bool/int, and dict values are read as JSON.
A bad value fails synthesis with the key's name and what is allowed.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal, cast, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from sre_copilot.deployment_routes import QueueRoute, queue_routes

FunctionName = Literal[
    "ingest", "correlate", "assemble_context", "aggregate_evidence", "generate_hypotheses",
    "score_confidence", "apply_policy", "recommend", "notify", "await_decision", "act", "verify", "check_recovery",
    "audit_export", "audit_writer",
    "rollback", "document", "record_failure", "callbacks", "approval_sweeper", "pagerduty_sync",
    "anomaly_detector", "escalation_page", "escalation_next", "api",
]
FUNCTION_NAMES: tuple[str, ...] = get_args(FunctionName)
Priority = Literal["P0", "P1", "P2", "P3"]

WEBHOOK_SOURCES = ("pagerduty", "cloudwatch", "cloudwatch-sns", "alertmanager", "grafana", "datadog", "opsgenie",
                   "generic", "changes")

# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
                      2557, 2922, 3288, 3653)
# Lambda's SQS event source caps the batching window at five minutes.
MAX_BATCHING_WINDOW_S = 300
# P1 is delayed 60 s and P2/P3 are batched for up to 300 s before anyone looks at them.
DEFAULT_QUEUE_AGE_ALARM_S: dict[Priority, int] = {"P0": 120, "P1": 300, "P2": 900, "P3": 1800}
# API Gateway HTTP APIs stop waiting for an integration after 30 s.
HTTP_INTEGRATION_TIMEOUT_S = 29


class ConfigError(ValueError):
    """Raised for a bad `cdk.json` context value; the message names every offending key."""


class _Inconsistent(ValueError):
    """Values that are fine alone but not together, each attributed to the key to change."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{key}: {why}" for key, why in problems))
        self.problems = problems


class ExecutorResources(BaseModel):
    """The resources the AWS executor may act on; its role is scoped to exactly these ARNs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ecs_services: list[str] = Field(default_factory=list,
                                    description="arn:aws:ecs:<region>:<account>:service/<cluster>/<service>")
    lambda_aliases: list[str] = Field(default_factory=list,
                                      description="arn:aws:lambda:<region>:<account>:function:<name>:<alias>")
    autoscaling_groups: list[str] = Field(default_factory=list, description="Auto Scaling group names")
    ssm_automation_documents: list[str] = Field(default_factory=list, description="Automation runbook names")

    @field_validator("ecs_services", "lambda_aliases")
    @classmethod
    def _arns(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not v.startswith("arn:") or "*" in v]
        if bad:
            raise ValueError(f"name each resource by its full ARN, without wildcards: {bad}")
        return value

    @field_validator("autoscaling_groups", "ssm_automation_documents")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not v or "*" in v or ":" in v]
        if bad:
            raise ValueError(f"plain names without wildcards: {bad}")
        return value


class DeploymentConfig(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    stage: str = Field("", description="a stage file of infra_cdk/stages/ layered over this context (dev, prod)")
    tenant_id: str = Field("default", pattern=r"^[a-z0-9][a-z0-9-]{0,31}$",
                           description="the tenant the functions serve (SRE_COPILOT_TENANT_ID)")
    tenants: list[Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")]] = Field(
        default_factory=list, description=(
            "other tenants served by this deployment, each through its key in the webhook secret's "
            "tenant_keys (SRE_COPILOT_SERVED_TENANTS); IAM grants each its own table partitions"))
    slack_channel_tenants: dict[str, Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")]] = Field(
        default_factory=dict, description=(
            "Slack channel id -> the served tenant whose incidents `/sre` answers for in that channel "
            "(SRE_COPILOT_SLACK_CHANNEL_TENANTS); other channels answer for tenant_id"))
    aws_source_tenants: dict[str, Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")]] = Field(
        default_factory=dict, description=(
            "AWS account id (EventBridge events) or SNS topic ARN -> the served tenant of its alarms, which "
            "carry no tenant key (SRE_COPILOT_AWS_SOURCE_TENANTS); unmapped: tenant_id"))
    environment: str = Field("prod", pattern=r"^[a-z][a-z0-9-]{0,11}$",
                             description="short environment name; part of the stack, bus and collection names")
    log_retention_days: int = Field(90, description="retention of every log group")
    workflow_log_level: Literal["ALL", "ERROR", "FATAL", "OFF"] = Field(
        "ERROR", description="what the incident and paging workflows log to CloudWatch Logs, with state data: "
        "their full history stays in the Step Functions console (90 days) and the daily audit export; "
        "ALL also logs every state's input and output")
    alarm_email: str | None = Field(None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
                                    description="optional e-mail subscribed to the alarm topic")
    enable_opensearch: bool = Field(True, description="deploy the OpenSearch Serverless vector collection (runbooks and precedents); false keeps an in-function index that does not persist")
    llm_provider: Literal["none", "anthropic", "bedrock"] = "none"
    llm_model: str = Field("claude-sonnet-4-5", min_length=1)
    dry_run: bool = Field(True, description="remediation plans only, unless policy and this allow")
    approval_timeout_s: int = Field(300, ge=30, le=86_400)
    auto_resolve_after_s: int = Field(300, ge=0, le=86_400, description="signals clear this long -> resolve")
    reanalysis_settle_s: int = Field(300, ge=60, le=3_600, description=(
        "more alerts of kinds an incident has are re-analysed at most this long after they join"))
    reanalysis_max_interval_s: int = Field(480, ge=60, le=3_600, description=(
        "the longest gap between an incident's analysis passes (it doubles from a minute per pass)"))
    resolution_policy: Literal["auto", "propose"] = Field("auto", description="propose: ask in Slack first")
    confidence_calibration: dict[str, Any] = Field(default_factory=dict, description=(
        "the applied confidence calibration record (`sre-copilot eval --fit --apply`); {}: identity"))
    catalog_uri: str = Field("", description="empty: s3://<bucket>/catalog/<tenant>.json")
    public_base_url: str = Field("", description="empty: the HTTP API's own URL")
    kubernetes_api_url: str = Field("", description="API server the Act/Verify/Rollback executor talks to")
    eks_cluster_name: str = Field("", description="EKS cluster: the executor authenticates with STS-presigned tokens")
    executor_resources: ExecutorResources = Field(default_factory=lambda: ExecutorResources(),
                                                  description="what the AWS executor may change, by ARN")
    vpc_subnet_ids: list[str] = Field(default_factory=list,
                                      description="subnets for the executor functions (private cluster endpoints)")
    vpc_security_group_ids: list[str] = Field(default_factory=list)
    audit_retention_days: int = Field(400, ge=1, le=36_500,
                                      description="Object Lock (compliance) retention of the daily audit export")

    queue_visibility_timeout_s: int = Field(360, ge=30, le=43_200)
    max_receive_count: int = Field(3, ge=1, le=1000)
    queue_retention_days: int = Field(4, ge=1, le=14)
    sqs_batch_size: int = Field(10, ge=1, le=10,
                                description="P0 has no batching window, which caps a batch at 10")
    windowed_batch_size: int = Field(100, ge=1, le=10_000, description=(
        "a queue with a batching window (P1, P2, P3) hands correlate up to this many at once"))
    p1_delivery_delay_s: int = Field(60, ge=0, le=900)
    p1_batching_window_s: int = Field(10, ge=0, le=MAX_BATCHING_WINDOW_S, description=(
        "after its delivery delay, P1 waits up to this long to fill a batch: in a storm, fewer "
        "correlate runs (each saves the correlation state once)"))
    p2_batching_window_s: int = Field(300, ge=0, le=MAX_BATCHING_WINDOW_S)
    p3_batching_window_s: int = Field(300, ge=0, le=MAX_BATCHING_WINDOW_S)
    p3_max_concurrency: int = Field(2, ge=2, le=1000)
    queue_age_alarm_s: dict[Priority, int] = Field(default_factory=lambda: dict(DEFAULT_QUEUE_AGE_ALARM_S),
                                                   description="per-priority oldest-message age alarm")

    lambda_memory_mb: int = Field(512, ge=128, le=10_240)
    lambda_timeout_s: int = Field(60, ge=3, le=900)
    function_memory_mb: dict[FunctionName, int] = Field(default_factory=dict)
    function_timeout_s: dict[FunctionName, int] = Field(default_factory=dict)
    reserved_concurrency: dict[FunctionName, int] = Field(default_factory=dict)

    api_throttle_rate: float = Field(50.0, gt=0, le=10_000)
    api_throttle_burst: int = Field(100, ge=1, le=5_000)
    event_archive_retention_days: int = Field(30, ge=0, le=3650, description="0 keeps events forever")
    raw_payload_ia_days: int = Field(30, ge=30)
    raw_payload_glacier_days: int = Field(365, ge=31)
    raw_payload_expire_days: int = Field(1095, ge=32)
    api_jwt_issuer: str = Field("", pattern=r"^(https://\S+)?$",
                                description="OIDC issuer of the read API's tokens; empty: a Cognito user pool is created")
    api_jwt_audience: str = Field("", description="comma-separated audiences (client ids) the read API accepts; "
                                                  "required with api_jwt_issuer")
    api_tenant_claim: str = Field("custom:tenant_id", min_length=1, description="JWT claim naming the tenant")
    api_roles_claim: str = Field("cognito:groups", min_length=1,
                                 description="JWT claim listing viewer/responder/approver/admin")
    retain_data: bool = Field(True, description="keep the table, bucket and key when the stack is deleted")
    # Security (docs/security.md).
    insecure_sources: list[str] = Field(default_factory=list, description=(
        "development only: sources accepted without credentials; refused in the prod stage"))
    changes_auth: Literal["bearer", "github"] = Field("bearer", description="how /changes authenticates")
    sns_topic_arns: list[str] = Field(default_factory=list, description=(
        "SNS topics besides the stack's own whose messages ingest accepts"))
    replay_window_s: int = Field(3600, ge=60, le=86_400, description="signed-timestamp replay window")
    approval_expiry_s: int = Field(3600, ge=60, le=86_400, description="an approval lapses after this")
    approvers: dict[str, Any] = Field(default_factory=dict, description=(
        "initial approvers control (slack_team_id, rules[services, max_risk, slack_users, slack_groups, phones], "
        "two_person_risks); edited later in SSM"))
    bundle_layer: Literal["auto", "true", "false"] = Field(
        "auto", description="auto: pip-bundle the layer only when the CDK CLI found AWS credentials")

    @field_validator("function_memory_mb", "function_timeout_s", "reserved_concurrency", "queue_age_alarm_s",
                     "approvers", "confidence_calibration", "executor_resources", "vpc_subnet_ids", "vpc_security_group_ids",
                     mode="before")
    @classmethod
    def _json_object(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    @field_validator("insecure_sources", "sns_topic_arns", mode="before")
    @classmethod
    def _list_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            return json.loads(text) if text.startswith("[") else [p.strip() for p in text.split(",") if p.strip()]
        return value

    @field_validator("bundle_layer", mode="before")
    @classmethod
    def _bool_text(cls, value: Any) -> Any:
        return str(value).lower() if isinstance(value, bool) else value

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(f"CloudWatch Logs accepts only {', '.join(map(str, LOG_RETENTION_DAYS))}")
        return value

    @field_validator("queue_age_alarm_s")
    @classmethod
    def _ages(cls, value: dict[Priority, int]) -> dict[Priority, int]:
        if any(v < 60 for v in value.values()):
            raise ValueError(f"ages must be at least 60 s, got {value}")
        return {**DEFAULT_QUEUE_AGE_ALARM_S, **value}

    @field_validator("function_memory_mb")
    @classmethod
    def _memory(cls, value: dict[str, int]) -> dict[str, int]:
        bad = {k: v for k, v in value.items() if not 128 <= v <= 10_240}
        if bad:
            raise ValueError(f"memory must be 128..10240 MB, got {bad}")
        return value

    @field_validator("function_timeout_s")
    @classmethod
    def _timeouts(cls, value: dict[str, int]) -> dict[str, int]:
        bad = {k: v for k, v in value.items() if not 3 <= v <= 900}
        if bad:
            raise ValueError(f"timeouts must be 3..900 s, got {bad}")
        return value

    @field_validator("reserved_concurrency")
    @classmethod
    def _concurrency(cls, value: dict[str, int]) -> dict[str, int]:
        bad = {k: v for k, v in value.items() if v < 1}
        if bad:
            raise ValueError(f"reserved concurrency must be at least 1, got {bad}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> DeploymentConfig:
        problems: list[tuple[str, str]] = []
        if self.queue_visibility_timeout_s < self.timeout_for("correlate"):
            problems.append(("queue_visibility_timeout_s",
                             f"must be at least the correlate timeout ({self.timeout_for('correlate')} s); "
                             "Lambda rejects an SQS event source whose visibility timeout is shorter"))
        if not self.raw_payload_ia_days < self.raw_payload_glacier_days < self.raw_payload_expire_days:
            problems.append(("raw_payload_glacier_days", "needs raw_payload_ia_days < raw_payload_glacier_days "
                                                         "< raw_payload_expire_days"))
        for key, mapping in (("slack_channel_tenants", self.slack_channel_tenants),
                             ("aws_source_tenants", self.aws_source_tenants)):
            unserved = sorted(set(mapping.values()) - {self.tenant_id, *self.tenants})
            if unserved:
                problems.append((key, f"names tenants this deployment does not serve ({', '.join(unserved)}); "
                                      "add them to tenants"))
        if self.insecure_sources and self.environment == "prod":
            problems.append(("insecure_sources", f"the prod stage refuses unauthenticated sources "
                                                 f"({', '.join(self.insecure_sources)}); configure their credentials"))
        unknown = sorted(set(self.insecure_sources) - set(WEBHOOK_SOURCES))
        if unknown:
            problems.append(("insecure_sources", f"unknown source(s) {', '.join(unknown)}; expected "
                                                 f"{', '.join(WEBHOOK_SOURCES)}"))
        for name in ("ingest", "callbacks"):
            if self.timeout_for(name) > HTTP_INTEGRATION_TIMEOUT_S:
                problems.append(("function_timeout_s", f"{name} answers the HTTP API, which gives up after 30 s; "
                                                       f"use at most {HTTP_INTEGRATION_TIMEOUT_S}"))
        if bool(self.vpc_subnet_ids) != bool(self.vpc_security_group_ids):
            problems.append(("vpc_security_group_ids", "set both vpc_subnet_ids and vpc_security_group_ids, or neither"))
        if self.api_jwt_issuer and not self.api_jwt_audience.strip():
            problems.append(("api_jwt_audience", "set the client id(s) your OIDC issuer puts in the 'aud' claim"))
        if self.confidence_calibration:
            from sre_copilot.errors import ConfigurationError
            from sre_copilot.reasoning.calibrated import parse_calibration

            try:
                parse_calibration(self.confidence_calibration)
            except ConfigurationError as exc:
                problems.append(("confidence_calibration", str(exc)))
        if problems:
            raise _Inconsistent(problems)
        return self

    # -- derived values ------------------------------------------------------------------------
    def timeout_for(self, name: str) -> int:
        default = min(self.lambda_timeout_s, HTTP_INTEGRATION_TIMEOUT_S) if name in ("ingest", "callbacks") \
            else self.lambda_timeout_s
        return self.function_timeout_s.get(cast(FunctionName, name), default)

    def queue_age_alarm_for(self, priority: str) -> int:
        return self.queue_age_alarm_s[cast(Priority, priority)]

    def memory_for(self, name: str) -> int:
        return self.function_memory_mb.get(cast(FunctionName, name), self.lambda_memory_mb)

    def should_bundle_layer(self, environ: Mapping[str, str] | None = None) -> bool:
        """`auto` bundles exactly when the CDK CLI resolved AWS credentials (it then sets
        CDK_DEFAULT_ACCOUNT), which every deploy needs; a credential-less synth stays offline."""
        if self.bundle_layer != "auto":
            return self.bundle_layer == "true"
        env = os.environ if environ is None else environ
        return bool(env.get("CDK_DEFAULT_ACCOUNT"))

    @property
    def stack_name(self) -> str:
        return f"SreCopilot-{self.environment}"

    @property
    def prefix(self) -> str:
        """Physical-name prefix for the few resources that need a fixed name."""
        return f"sre-copilot-{self.environment}"

    def queue_routes(self) -> tuple[QueueRoute, ...]:
        """The priority queues and their event source mappings, as CDK builds them and the
        embedded runtime polls them (one description: `sre_copilot.deployment_routes`)."""
        return queue_routes(batch_size=self.sqs_batch_size, p1_delivery_delay_s=self.p1_delivery_delay_s,
                            p1_batching_window_s=self.p1_batching_window_s,
                            windowed_batch_size=self.windowed_batch_size,
                            p2_batching_window_s=self.p2_batching_window_s,
                            p3_batching_window_s=self.p3_batching_window_s,
                            max_receive_count=self.max_receive_count, p3_max_concurrency=self.p3_max_concurrency)


# Our keys are snake_case; CDK's own context keys contain ':', '@', '/' or '-'.
OUR_KEY_SHAPE = re.compile(r"[a-z][a-z0-9_]*")


def load_config(context: Mapping[str, Any]) -> DeploymentConfig:
    """Validate the context. CDK's keys (feature flags, `aws:cdk:*`, lookups) are ignored; a
    snake_case key we do not know is a typo and fails, with the closest known key suggested."""
    lines: list[str] = []
    config: DeploymentConfig | None = None
    for key in sorted(context):
        if OUR_KEY_SHAPE.fullmatch(key) and key not in DeploymentConfig.model_fields:
            close = difflib.get_close_matches(key, list(DeploymentConfig.model_fields), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            lines.append(f"  cdk.json context '{key}': not a configuration key{hint}")
    values = {key: context[key] for key in DeploymentConfig.model_fields if key in context and context[key] is not None}
    try:
        config = DeploymentConfig.model_validate(values)
    except ValidationError as exc:
        for error in exc.errors():
            cause = error.get("ctx", {}).get("error")
            if isinstance(cause, _Inconsistent):
                lines.extend(f"  cdk.json context '{key}': {why}" for key, why in cause.problems)
                continue
            key = ".".join(str(part) for part in error["loc"] if part != "[key]")
            message = error["msg"].removeprefix("Value error, ")
            lines.append(f"  cdk.json context '{key}': {message} (got {error['input']!r})")
    if lines or config is None:
        raise ConfigError("invalid SRE Copilot configuration:\n" + "\n".join(lines))
    return config
