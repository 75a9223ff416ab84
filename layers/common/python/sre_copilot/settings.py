"""Runtime settings: the only place that reads environment variables.

Lambda gets these from the function configuration CDK writes; the local runtime sets the same
variables for its in-process handlers; the CLI reads them too.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ENV_PREFIX = "SRE_COPILOT_"


class Settings(BaseModel):
    """Each field reads SRE_COPILOT_<FIELD> (or its alias, e.g. AWS_REGION), case-insensitively,
    unless the caller passes it. That is pydantic-settings' behaviour for flat fields, without
    importing pydantic-settings (and asyncio with it): a fifth of a function's cold start."""

    model_config = ConfigDict(defer_build=True, extra="ignore", populate_by_name=True)

    tenant_id: str = "default"
    served_tenants: str = Field(default="", description=(
        "comma-separated other tenants this deployment serves, each through its webhook key (cdk.json tenants)"))
    slack_channel_tenants: str = Field(default="", description=(
        "comma-separated channel=tenant pairs: the served tenant `/sre` answers for in that Slack channel"))
    aws_source_tenants: str = Field(default="", description=(
        "comma-separated origin=tenant pairs: the served tenant of EventBridge events from an AWS account, "
        "or of messages of an SNS topic (ingest/aws_origin_tenants.py)"))
    environment: str = "prod"
    region: str = Field(default="us-east-1", validation_alias="AWS_REGION")

    table_name: str = "sre-copilot"
    audit_table_name: str = Field(default="", description="append-only audit table; empty: the main table")
    audit_writer_function: str = Field(default="", description=(
        "function that alone may write the audit table; empty: write it directly (the writer itself, local)"))
    audit_bucket_name: str = Field(default="", description="Object Lock bucket of the daily audit export")
    audit_retention_days: int = Field(default=400, gt=0, description="Object Lock retention of exported audit")
    idempotency_table_name: str = "sre-copilot-idempotency"
    bucket_name: str = "sre-copilot-artifacts"
    raw_archive_stream: str = Field(default="", description="Firehose stream archiving raw deliveries in "
                                    "batches; empty: one S3 object per delivery")
    event_bus_name: str = "sre-copilot"
    queue_url_p0: str = ""
    queue_url_p1: str = ""
    queue_url_p2: str = ""
    queue_url_p3: str = ""
    review_queue_url: str = Field(default="", description="rejected deliveries kept for review")
    state_machine_arn: str = ""
    escalation_state_machine_arn: str = Field(default="", description="statemachines/escalation.asl.json")
    analysis_state_machine_arn: str = Field(default="", description=(
        "statemachines/analysis.asl.json, started directly for a re-analysis (empty: the incident "
        "workflow runs every pass itself)"))
    email_from: str = Field(default="", description="SES identity that sends fallback email")
    p1_page_delay_s: int = Field(default=300, description="a P1 is called only if still unacknowledged then")

    # Secrets: ARNs in AWS; the local runtime stores plain values in moto's Secrets Manager.
    pagerduty_secret_arn: str = ""
    slack_secret_arn: str = ""
    twilio_secret_arn: str = ""
    llm_secret_arn: str = ""
    webhook_secret_arn: str = Field(default="", description="shared secrets of the other webhook sources")

    # Provider endpoints. Empty means the provider's public default; tests and the local runtime
    # point the real SDK clients at local HTTP servers.
    slack_api_url: str = ""
    twilio_api_url: str = ""
    pagerduty_api_url: str = "https://api.pagerduty.com"
    kubernetes_api_url: str = Field(default="", description="API server for the Kubernetes executor")
    eks_cluster_name: str = Field(default="", description="EKS cluster: authenticate with STS-presigned tokens")
    public_base_url: str = Field(default="", description="the HTTP API URL, for Twilio/Slack callbacks")

    catalog_uri: str = Field(default="", description="s3:// or file path of the service catalog")
    llm_provider: str = Field(default="none", description="none, anthropic or bedrock")
    llm_model: str = "claude-sonnet-4-5"
    llm_timeout_s: float = 20.0
    anthropic_api_key: str = Field(default="", validation_alias="ANTHROPIC_API_KEY", repr=False, description=(
        "the key `sre-copilot eval --llm anthropic` replays with; deployed functions read the LLM secret"))
    opensearch_endpoint: str = ""
    vector_index_path: str = ""

    aws_user_agent: str = Field(default="", description=(
        "a fixed User-Agent for AWS calls instead of the one botocore rebuilds for every request "
        "(the embedded backend sets it: that rebuild is about a tenth of an in-process call)"))

    aws_unsigned_services: str = Field(default="", description=(
        "comma-separated AWS services whose requests are sent without a SigV4 signature. Only the "
        "embedded backend sets it (DynamoDB, SQS, Step Functions, EventBridge, CloudWatch): moto in the "
        "same process checks no signature there, and signing is a fifth of an in-process DynamoDB "
        "call. S3 would take an unsigned request as anonymous, so it is never listed"))

    store_backend: Literal["aws", "memory"] = Field(default="aws", description=(
        "where the table, the bucket and the queues live: `aws` (boto3: AWS, or moto in the embedded "
        "backend) or `memory` (this process; `replay`/`eval --backend memory` only)"))
    lambda_function_name: str = Field(default="", validation_alias="AWS_LAMBDA_FUNCTION_NAME",
                                      description="set by Lambda itself; only read to refuse the memory backend there")

    @model_validator(mode="after")
    def _no_memory_backend_in_lambda(self) -> Settings:
        # In a Lambda sandbox the memory backend would keep incidents in one sandbox's heap and lose them.
        if self.store_backend == "memory" and self.lambda_function_name:
            raise ValueError("SRE_COPILOT_STORE_BACKEND=memory is for local replay and eval only; "
                             f"unset it in the configuration of function {self.lambda_function_name}")
        return self

    api_tenant_claim: str = Field(default="custom:tenant_id", description="JWT claim naming the caller's tenant")
    api_roles_claim: str = Field(default="cognito:groups", description="JWT claim listing the caller's roles")

    dry_run: bool = Field(default=True, description="remediation plans only, unless policy and this allow")
    max_body_bytes: int = 262_144
    dedup_window_s: int = 900
    approval_timeout_s: int = 300
    verification_window_s: int = Field(default=1200, gt=0, description=(
        "how long after an action its incident's alerts may take to clear before Verify calls it failed"))
    signal_ttl_days: int = 30
    incident_ttl_days: int = Field(default=30, description=(
        "hot retention of incident items in DynamoDB (TTL); postmortems and artefacts stay in S3"))
    reanalysis_settle_s: int = Field(default=300, ge=60, description=(
        "more alerts of the services, entities and kinds an incident already has are re-analysed at "
        "most this long after the first of them joins (new ones: at the next minute)"))
    reanalysis_max_interval_s: int = Field(default=480, ge=60, description=(
        "the longest gap between an incident's analysis passes; the gap doubles from a minute with "
        "each pass up to this (domain/reanalysis.py)"))
    auto_resolve_after_s: int = Field(default=300, ge=0, description=(
        "how long every signal of an incident must stay clear before it resolves"))
    anomaly_metrics: str = Field(default="ErrorRate,Latency,RequestCount", description=(
        "comma-separated CloudWatch metrics (namespace SRE/Services) baselined and scored per catalog service"))
    capacity_thresholds: str = Field(default="DiskUsedPercent=90,MemoryUsedPercent=90,DBConnectionsPercent=85",
                                     description="capacity metrics forecast 3-24 h ahead, with their thresholds")
    confidence_calibration: str = Field(default="", description=(
        "JSON confidence calibration record (reasoning.calibrated; cdk.json confidence_calibration); "
        "empty: the identity mapping and seed 001's weights"))
    resolution_policy: str = Field(default="auto", pattern="^(auto|propose)$", description=(
        "auto: resolve once the signals stayed clear; propose: ask in Slack and wait for a person"))

    # Security (docs/security.md). Every source is closed until its credentials are configured.
    insecure_sources: str = Field(default="", description=(
        "comma-separated sources accepted WITHOUT authentication; development only (cdk.json "
        "insecure_sources, which synth refuses in the prod stage)"))
    changes_auth: str = Field(default="bearer", description="how /changes authenticates: bearer or github")
    sns_topic_arns: str = Field(default="", description="comma-separated SNS topics whose messages are accepted")
    replay_window_s: int = Field(default=3600, gt=0, description=(
        "signed timestamps (SNS Timestamp, PagerDuty occurred_at, Grafana timestamp) older or newer than "
        "this are refused as replays"))
    approval_expiry_s: int = Field(default=3600, gt=0, description="an approval (or request) older than this lapses")
    controls_path: str = Field(default="/sre-copilot/default/controls", description=(
        "SSM Parameter Store path of the run-time controls (kill switch, disabled services, freezes, approvers)"))
    controls_max_age_s: int = Field(default=60, ge=0, le=60, description="cache of the run-time controls")
    secrets_max_age_s: int = Field(default=300, ge=0, description="cache of Secrets Manager values")

    def insecure_source_set(self) -> frozenset[str]:
        return frozenset(s.strip() for s in self.insecure_sources.split(",") if s.strip())

    def served_tenant_list(self) -> list[str]:
        """The deployment's tenant first, then the other tenants it serves, each once."""
        others = (s.strip() for s in self.served_tenants.split(","))
        return list(dict.fromkeys([self.tenant_id, *(t for t in others if t)]))

    def slack_channel_tenant_map(self) -> dict[str, str]:
        """Slack channel id -> tenant, from `slack_channel_tenants`."""
        return _pairs(self.slack_channel_tenants)

    def aws_source_tenant_map(self) -> dict[str, str]:
        """AWS account id or SNS topic ARN -> tenant, from `aws_source_tenants`."""
        return _pairs(self.aws_source_tenants)

    def sns_topic_set(self) -> frozenset[str]:
        return frozenset(s.strip() for s in self.sns_topic_arns.split(",") if s.strip())

    @model_validator(mode="before")
    @classmethod
    def _from_environment(cls, data: Any) -> Any:
        given = dict(data) if isinstance(data, Mapping) else {}
        environment = {name.upper(): value for name, value in os.environ.items()}
        for name, field in cls.model_fields.items():
            alias = field.validation_alias if isinstance(field.validation_alias, str) else None
            if name in given or (alias is not None and alias in given):
                continue
            variable = (alias or ENV_PREFIX + name).upper()
            if variable in environment:
                given[name] = environment[variable]
        return given


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    """Forget cached settings (the local runtime changes the environment between deployments)."""
    get_settings.cache_clear()


def _pairs(text: str) -> dict[str, str]:
    """`key=value,key=value` -> dict; SNS topic ARNs hold ':' but never '=' or ','."""
    pairs = (p.split("=", 1) for p in text.split(",") if "=" in p)
    return {key.strip(): value.strip() for key, value in pairs if key.strip() and value.strip()}
