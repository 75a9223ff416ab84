"""Provider credentials (Secrets Manager in AWS, moto's locally)."""

from __future__ import annotations

from typing import Protocol


class SecretSource(Protocol):
    def __call__(self, name: str) -> dict[str, object]:
        """The JSON object of the secret called `name` (slack, twilio, pagerduty, llm, webhook,
        kubernetes), at most `secrets_max_age_s` old; {} when the deployment names no such secret."""
        ...
