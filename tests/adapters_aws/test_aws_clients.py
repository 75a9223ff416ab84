"""The client factory: one client per service/region/endpoint, standard retries."""

from __future__ import annotations

from sre_copilot.adapters import aws_clients
from sre_copilot.settings import Settings


def test_clients_are_cached_per_region_and_endpoint(settings: Settings) -> None:
    # Given the settings' region
    # When clients are asked for repeatedly, for another region and for an endpoint
    first = aws_clients.dynamodb(settings)
    again = aws_clients.dynamodb(settings)
    elsewhere = aws_clients.dynamodb(settings.model_copy(update={"region": "us-west-2"}))
    local = aws_clients.sqs(settings, endpoint_url="http://127.0.0.1:4566")
    # Then the same client is reused, each region and endpoint gets its own, and retries are standard mode
    assert first is again
    assert first.meta.region_name == settings.region and elsewhere.meta.region_name == "us-west-2"
    assert local.meta.endpoint_url == "http://127.0.0.1:4566"
    retries = first.meta.config.retries  # type: ignore[attr-defined]
    assert retries == {"mode": "standard", "total_max_attempts": aws_clients.MAX_ATTEMPTS}
    aws_clients.clear_clients()
    assert aws_clients.dynamodb(settings) is not first
