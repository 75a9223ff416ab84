"""The client factory: one client per service/region/endpoint, standard retries."""

from __future__ import annotations

from typing import Any

import pytest

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


def test_a_configured_user_agent_replaces_botocores_and_gets_its_own_client(
        aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a client with botocore's own User-Agent, then settings that fix one
    from sre_copilot.settings import reset_settings

    sent: list[str] = []

    def record(request: Any, **_: Any) -> None:
        sent.append(request.headers["User-Agent"].decode() if isinstance(request.headers["User-Agent"], bytes)
                    else request.headers["User-Agent"])

    default = aws_clients.client("sqs", "us-east-1")
    monkeypatch.setenv("SRE_COPILOT_AWS_USER_AGENT", "sre-copilot-embedded")
    reset_settings()
    try:
        fixed = aws_clients.client("sqs", "us-east-1")
        # When each sends a request
        for client in (default, fixed):
            client.meta.events.register("before-send.sqs", record)
            client.list_queues()
    finally:
        reset_settings()
    # Then the second sends the fixed User-Agent (plus the extras), the first botocore's, with retries kept
    assert fixed is not default
    assert sent[0].startswith("Boto3/") and "ua/2.1" in sent[0]
    assert sent[1].startswith("sre-copilot-embedded ") and "ua/2.1" not in sent[1]
    assert fixed.meta.config.retries == default.meta.config.retries  # type: ignore[attr-defined]


def test_only_the_listed_services_send_unsigned_requests(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given settings that list dynamodb as unsigned (what the embedded backend sets)
    from sre_copilot.settings import reset_settings

    signed: dict[str, bool] = {}

    def record(request: Any, **_: Any) -> None:
        signed[request.url.split("//", 1)[1].split(".", 1)[0]] = "Authorization" in request.headers

    monkeypatch.setenv("SRE_COPILOT_AWS_UNSIGNED_SERVICES", "dynamodb")
    reset_settings()
    try:
        ddb, sqs = aws_clients.client("dynamodb", "us-east-1"), aws_clients.client("sqs", "us-east-1")
        # When each sends a request
        for client in (ddb, sqs):
            client.meta.events.register("before-send", record)
        ddb.list_tables()
        sqs.list_queues()
    finally:
        reset_settings()
    # Then DynamoDB's carries no signature and SQS's is signed as ever
    assert signed == {"dynamodb": False, "sqs": True}
