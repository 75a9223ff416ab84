"""Runtime settings: the only place that reads environment variables.

Lambda gets these from the function configuration CDK writes; the local runtime sets the same
variables for its in-process handlers; the CLI reads them too.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

ENV_PREFIX = "SRE_COPILOT_"


class Settings(BaseModel):
    """Each field reads SRE_COPILOT_<FIELD> (or its alias, e.g. AWS_REGION), case-insensitively,
    unless the caller passes it. That is pydantic-settings' behaviour for flat fields, without
    importing pydantic-settings (and asyncio with it): a fifth of a function's cold start."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    tenant_id: str = "default"
    environment: str = "prod"
    region: str = Field(default="us-east-1", validation_alias="AWS_REGION")

    table_name: str = "sre-copilot"
    idempotency_table_name: str = "sre-copilot-idempotency"
    bucket_name: str = "sre-copilot-artifacts"
    event_bus_name: str = "sre-copilot"
    queue_url_p0: str = ""
    queue_url_p1: str = ""
    queue_url_p2: str = ""
    queue_url_p3: str = ""
    review_queue_url: str = Field(default="", description="rejected deliveries kept for review")
    state_machine_arn: str = ""

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
    public_base_url: str = Field(default="", description="the HTTP API URL, for Twilio/Slack callbacks")

    catalog_uri: str = Field(default="", description="s3:// or file path of the service catalog")
    llm_provider: str = Field(default="none", description="none, anthropic or bedrock")
    llm_model: str = "claude-sonnet-4-5"
    llm_timeout_s: float = 20.0
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

    api_tenant_claim: str = Field(default="custom:tenant_id", description="JWT claim naming the caller's tenant")
    api_roles_claim: str = Field(default="cognito:groups", description="JWT claim listing the caller's roles")

    dry_run: bool = Field(default=True, description="remediation plans only, unless policy and this allow")
    max_body_bytes: int = 262_144
    dedup_window_s: int = 900
    approval_timeout_s: int = 300
    signal_ttl_days: int = 30
    incident_ttl_days: int = 400

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
