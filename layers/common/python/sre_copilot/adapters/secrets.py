"""Provider credentials from Secrets Manager, through Powertools Parameters (cached per sandbox)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError

from sre_copilot.adapters import aws_clients
from sre_copilot.errors import ConfigurationError
from sre_copilot.settings import Settings, get_settings

# Rotated credentials reach a warm sandbox within this many seconds.
DEFAULT_MAX_AGE_S = 300


@lru_cache(maxsize=8)
def _provider(region: str, endpoint_url: str | None) -> SecretsProvider:
    # One provider per client: its cache is what spares a GetSecretValue call per invocation.
    return SecretsProvider(boto3_client=aws_clients.client("secretsmanager", region, endpoint_url))


def get_secret_json(secret_arn: str, *, settings: Settings | None = None, endpoint_url: str | None = None,
                    max_age_s: int = DEFAULT_MAX_AGE_S, force_fetch: bool = False) -> dict[str, Any]:
    """The secret's JSON object (e.g. {"bot_token": ..., "signing_secret": ...})."""
    if not secret_arn:
        raise ConfigurationError("no secret ARN given; set the SRE_COPILOT_<NAME>_SECRET_ARN setting")
    provider = _provider((settings or get_settings()).region, endpoint_url)
    try:
        value = provider.get(secret_arn, transform="json", max_age=max_age_s, force_fetch=force_fetch)
    except TransformParameterError as exc:
        raise ConfigurationError(f"secret {secret_arn} is not JSON ({exc}); store it as a JSON object") from exc
    except GetParameterError as exc:
        raise ConfigurationError(
            f"cannot read secret {secret_arn} ({exc}); check the ARN and that the function's role may "
            "secretsmanager:GetSecretValue on it"
        ) from exc
    if not isinstance(value, dict):
        raise ConfigurationError(f"secret {secret_arn} holds JSON but not an object; store it as {{\"key\": ...}}")
    return value


def clear_secret_cache() -> None:
    """Forget cached providers and values (tests, and the local runtime between deployments)."""
    _provider.cache_clear()
