"""Which table, bucket and queues the adapters get (`Settings.store_backend`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from sre_copilot.adapters import aws_clients
from sre_copilot.adapters.memory import MemoryDynamoDB, MemoryS3, MemorySQS
from sre_copilot.settings import Settings, reset_settings


@pytest.fixture
def memory_backend(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SRE_COPILOT_STORE_BACKEND", "memory")
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    reset_settings()
    aws_clients.clear_clients()
    yield
    aws_clients.clear_clients()
    monkeypatch.delenv("SRE_COPILOT_STORE_BACKEND")
    reset_settings()


def test_the_memory_backend_gives_one_in_process_table_bucket_and_queues(memory_backend: None) -> None:
    # When the adapters ask for their clients twice
    first = [aws_clients.client(s, "us-east-1") for s in ("dynamodb", "s3", "sqs")]
    second = [aws_clients.dynamodb(), aws_clients.s3(), aws_clients.sqs()]
    # Then they get this process's in-memory ones, the same each time
    assert [type(c) for c in first] == [MemoryDynamoDB, MemoryS3, MemorySQS]
    assert all(a is b for a, b in zip(first, second, strict=True))
    # And forgetting the clients starts a fresh in-memory AWS
    aws_clients.clear_clients()
    assert aws_clients.dynamodb() is not first[0]


def test_other_services_stay_on_boto3(memory_backend: None) -> None:
    assert hasattr(aws_clients.client("stepfunctions", "us-east-1"), "meta")


def test_a_lambda_function_refuses_the_memory_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a Lambda sandbox configured with the memory backend by mistake
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "sre-copilot-ingest")
    monkeypatch.setenv("SRE_COPILOT_STORE_BACKEND", "memory")
    # Then its settings refuse to load, naming the variable to unset
    with pytest.raises(ValidationError, match="SRE_COPILOT_STORE_BACKEND=memory is for local replay"):
        Settings()
