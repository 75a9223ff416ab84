"""moto-backed AWS for the adapter tests: a table shaped like the deployed one, a bucket, the
priority queues, the bus, and a settable clock (the local runtime's SimClock)."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from aws_test_support import BUCKET, REGION, START, TABLE, raw_item, raw_query, use_memory
from moto import mock_aws

from sre_copilot.adapters.aws_clients import clear_clients
from sre_copilot.adapters.dynamodb_store import DynamoStore, table_definition
from sre_copilot.adapters.memory import MemoryAws
from sre_copilot.adapters.s3_blobs import S3Blobs
from sre_copilot.adapters.secrets import clear_secret_cache
from sre_copilot.local.clock import SimClock
from sre_copilot.ports.clock import SystemClock, use_clock
from sre_copilot.settings import Settings

__all__ = ["BUCKET", "REGION", "START", "TABLE", "raw_item", "raw_query"]


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        clear_clients()
        clear_secret_cache()
        yield
    clear_clients()
    clear_secret_cache()


@pytest.fixture
def clock() -> Iterator[SimClock]:
    sim = SimClock(START)
    use_clock(sim)
    yield sim
    use_clock(SystemClock())


def create_table(name: str = TABLE) -> None:
    """The table as infra_cdk and the local runtime create it (docs/data-model.md)."""
    ddb = boto3.client("dynamodb", region_name=REGION)
    ddb.create_table(**table_definition(name))
    ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"})


@pytest.fixture
def settings(aws: None) -> Settings:
    return Settings(region=REGION, tenant_id="acme", table_name=TABLE, bucket_name=BUCKET,
                    event_bus_name="sre-copilot-test", signal_ttl_days=30, incident_ttl_days=400)


@pytest.fixture
def bucket(settings: Settings) -> str:
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})  # type: ignore[typeddict-item]
    return BUCKET


@pytest.fixture(params=["moto", "memory"])
def store(request: pytest.FixtureRequest, settings: Settings, bucket: str, clock: SimClock) -> Iterator[DynamoStore]:
    """The store on moto's DynamoDB and S3, and on the memory backend's (adapters/memory): every
    store test is a contract test that both must pass, so the two backends cannot drift apart."""
    if request.param == "moto":
        create_table()
        yield DynamoStore(settings)
        return
    memory = MemoryAws()
    memory.dynamodb.create_table(**table_definition(TABLE))
    memory.dynamodb.update_time_to_live(TableName=TABLE,
                                        TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"})
    memory.s3.create_bucket(Bucket=BUCKET)
    use_memory(memory)
    try:
        yield DynamoStore(settings, client=memory.dynamodb, blobs=S3Blobs(settings, client=memory.s3))  # type: ignore[arg-type]
    finally:
        use_memory(None)
