"""Provider credentials in Secrets Manager, created empty; operators fill them (README, "Configure").

The names match `Settings.<name>_secret_arn`, so the environment variable of each is
SRE_COPILOT_<NAME>_SECRET_ARN.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra_cdk.config import DeploymentConfig

SECRET_DESCRIPTIONS = {
    "slack": 'Slack app: {"bot_token": "xoxb-...", "signing_secret": "..."}',
    "twilio": 'Twilio voice: {"account_sid", "auth_token", "from_number", "default_oncall"}',
    "pagerduty": 'PagerDuty: {"webhook_secrets": ["..."], "api_token": "...", "from_email": "..."}',
    "llm": 'LLM provider: {"api_key": "..."} (Anthropic API; unused with Bedrock)',
    "webhook": 'Other webhook sources: {"grafana_hmac", "alertmanager_bearer", "github", "generic_bearer"}',
}


class Secrets(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self.by_name: dict[str, secretsmanager.Secret] = {
            name: secretsmanager.Secret(
                self, name.capitalize(),
                secret_name=f"{config.prefix}/{name}",
                description=description,
                encryption_key=key,
                # An empty JSON object, so a function reading an unconfigured provider sees "no keys"
                # rather than failing to parse; nothing sensitive is ever in the template.
                secret_object_value={},
                removal_policy=RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY,
            )
            for name, description in SECRET_DESCRIPTIONS.items()
        }
