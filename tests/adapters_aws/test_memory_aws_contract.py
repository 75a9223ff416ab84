"""The memory backend's DynamoDB, S3, SQS and Firehose answer the API calls the adapters make as
moto does: the same items, pages, error codes and redrive, on the same requests (one test, two
clients)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_test_support import REGION
from botocore.exceptions import ClientError

from sre_copilot.adapters.dynamodb_store import table_definition
from sre_copilot.adapters.memory import MemoryAws

TABLE = "contract"


@pytest.fixture(params=["moto", "memory"])
def aws_api(request: pytest.FixtureRequest, aws: None) -> Iterator[tuple[Any, Any, Any]]:
    """(dynamodb, s3, sqs) clients with the single table created, on moto or in memory."""
    if request.param == "moto":
        clients = tuple(boto3.client(s, region_name=REGION) for s in ("dynamodb", "s3", "sqs"))
    else:
        memory = MemoryAws()
        clients = (memory.dynamodb, memory.s3, memory.sqs)
    clients[0].create_table(**table_definition(TABLE))
    clients[0].update_time_to_live(TableName=TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"})
    yield clients


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_a_failed_condition_returns_the_item_it_failed_on(aws_api: tuple[Any, Any, Any]) -> None:
    ddb = aws_api[0]
    # Given a stored item at version 2
    ddb.put_item(TableName=TABLE, Item={"pk": {"S": "a"}, "sk": {"S": "b"}, "version": {"N": "2"}})
    # When a write expecting version 1 is made
    with pytest.raises(ClientError) as failed:
        ddb.put_item(TableName=TABLE, Item={"pk": {"S": "a"}, "sk": {"S": "b"}, "version": {"N": "2"}},
                     ConditionExpression="#v = :v", ExpressionAttributeNames={"#v": "version"},
                     ExpressionAttributeValues={":v": {"N": "1"}}, ReturnValuesOnConditionCheckFailure="ALL_OLD")
    # Then it is refused with the stored item
    assert _code(failed) == "ConditionalCheckFailedException"
    assert failed.value.response["Item"]["version"] == {"N": "2"}  # type: ignore[typeddict-item]


def test_updates_read_the_item_as_it_was_and_refuse_key_changes(aws_api: tuple[Any, Any, Any]) -> None:
    ddb = aws_api[0]
    key = {"pk": {"S": "a"}, "sk": {"S": "b"}}
    # Given a counter and a set
    ddb.put_item(TableName=TABLE, Item={**key, "n": {"N": "1"}, "tags": {"SS": ["x"]}})
    # When SET, ADD and REMOVE run in one update
    answer = ddb.update_item(TableName=TABLE, Key=key, ReturnValues="ALL_NEW",
                             UpdateExpression="SET m = n + :one, gone = if_not_exists(gone, :one) ADD tags :t REMOVE n",
                             ExpressionAttributeValues={":one": {"N": "1"}, ":t": {"SS": ["y"]}})
    # Then each read the old item
    item = answer["Attributes"]
    assert item["m"] == {"N": "2"} and item["gone"] == {"N": "1"} and "n" not in item
    assert sorted(item["tags"]["SS"]) == ["x", "y"]
    # And a key attribute cannot be updated
    with pytest.raises(ClientError) as failed:
        ddb.update_item(TableName=TABLE, Key=key, UpdateExpression="SET sk = :v",
                        ExpressionAttributeValues={":v": {"S": "c"}})
    assert _code(failed) == "ValidationException"


def test_a_placeholder_defined_but_unused_is_refused(aws_api: tuple[Any, Any, Any]) -> None:
    # (An undefined one is refused too; moto 5.2.5 answers that with a KeyError, so it is not compared.)
    ddb = aws_api[0]
    with pytest.raises(ClientError) as unused:
        ddb.update_item(TableName=TABLE, Key={"pk": {"S": "a"}, "sk": {"S": "b"}}, UpdateExpression="SET x = :v",
                        ExpressionAttributeValues={":v": {"S": "c"}, ":w": {"S": "d"}})
    assert _code(unused) == "ValidationException"


def test_queries_page_in_sort_order_and_indexes_are_sparse(aws_api: tuple[Any, Any, Any]) -> None:
    ddb = aws_api[0]
    # Given five items in one partition, three of them in the sparse index
    for i in (3, 1, 4, 0, 2):
        extra = {"gsi1pk": {"S": "open"}, "gsi1sk": {"S": f"t{i}"}} if i % 2 == 0 else {}
        ddb.put_item(TableName=TABLE, Item={"pk": {"S": "p"}, "sk": {"S": f"s{i}"}, **extra})
    # When the partition is read two at a time
    pages, start = [], None
    while True:
        kwargs: dict[str, Any] = {"ExclusiveStartKey": start} if start else {}
        page = ddb.query(TableName=TABLE, KeyConditionExpression="pk = :p AND begins_with(sk, :s)", Limit=2,
                         ExpressionAttributeValues={":p": {"S": "p"}, ":s": {"S": "s"}}, **kwargs)
        pages.append([i["sk"]["S"] for i in page["Items"]])
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    # Then the pages come in sort-key order
    assert [sk for page in pages for sk in page] == ["s0", "s1", "s2", "s3", "s4"]
    # And the index holds only the items with its keys, newest last, and refuses consistent reads
    index = ddb.query(TableName=TABLE, IndexName="gsi1", KeyConditionExpression="gsi1pk = :o",
                      ExpressionAttributeValues={":o": {"S": "open"}}, ScanIndexForward=False)
    assert [i["sk"]["S"] for i in index["Items"]] == ["s4", "s2", "s0"]
    with pytest.raises(ClientError) as failed:
        ddb.query(TableName=TABLE, IndexName="gsi1", KeyConditionExpression="gsi1pk = :o", ConsistentRead=True,
                  ExpressionAttributeValues={":o": {"S": "open"}})
    assert _code(failed) == "ValidationException"


def test_the_agenda_index_projects_only_what_it_includes(aws_api: tuple[Any, Any, Any]) -> None:
    ddb = aws_api[0]
    ddb.put_item(TableName=TABLE, Item={"pk": {"S": "p"}, "sk": {"S": "STATE"}, "gsi2pk": {"S": "due"},
                                        "gsi2sk": {"S": "t"}, "item_type": {"S": "state"},
                                        "document": {"S": "big"}})
    [item] = ddb.query(TableName=TABLE, IndexName="gsi2", KeyConditionExpression="gsi2pk = :d",
                       ExpressionAttributeValues={":d": {"S": "due"}})["Items"]
    assert set(item) == {"pk", "sk", "gsi2pk", "gsi2sk", "item_type"}


def test_items_over_400_kb_and_empty_keys_are_refused(aws_api: tuple[Any, Any, Any]) -> None:
    ddb = aws_api[0]
    with pytest.raises(ClientError) as big:
        ddb.put_item(TableName=TABLE, Item={"pk": {"S": "a"}, "sk": {"S": "b"}, "doc": {"S": "x" * 410_000}})
    with pytest.raises(ClientError) as empty:
        ddb.put_item(TableName=TABLE, Item={"pk": {"S": ""}, "sk": {"S": "b"}})
    assert _code(big) == _code(empty) == "ValidationException"
    assert "size" in big.value.response["Error"]["Message"].lower()


def test_a_missing_object_is_no_such_key(aws_api: tuple[Any, Any, Any]) -> None:
    s3 = aws_api[1]
    s3.create_bucket(Bucket="contract-bucket", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket="contract-bucket", Key="k", Body=b"v", ContentType="application/json")
    assert s3.get_object(Bucket="contract-bucket", Key="k")["Body"].read() == b"v"
    s3.delete_object(Bucket="contract-bucket", Key="k")
    with pytest.raises(ClientError) as failed:
        s3.get_object(Bucket="contract-bucket", Key="k")
    assert _code(failed) == "NoSuchKey"


def test_a_message_received_too_often_goes_to_the_dead_letter_queue(aws_api: tuple[Any, Any, Any]) -> None:
    sqs = aws_api[2]
    # Given a queue that redrives after two receives
    dlq = sqs.create_queue(QueueName="q-dlq")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName="q", Attributes={"RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": arn, "maxReceiveCount": "2"})})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="m")
    # When a consumer receives it and gives it back twice
    counts = []
    for _ in range(2):
        [message] = sqs.receive_message(QueueUrl=url, VisibilityTimeout=30, AttributeNames=["All"])["Messages"]
        counts.append(message["Attributes"]["ApproximateReceiveCount"])
        assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []  # hidden while in flight
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
    # Then the next receive moves it to the DLQ, with its body
    assert counts == ["1", "2"]
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=dlq)["Messages"]] == ["m"]


def test_ttl_is_an_attribute_until_the_background_pass_deletes_expired_items(aws: None) -> None:
    # Given the memory table with an expired and a live item
    ddb = MemoryAws().dynamodb
    ddb.create_table(**table_definition(TABLE))
    ddb.update_time_to_live(TableName=TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"})
    for sk, ttl in (("old", "100"), ("new", "300")):
        ddb.put_item(TableName=TABLE, Item={"pk": {"S": "p"}, "sk": {"S": sk}, "ttl": {"N": ttl}})
    # Then both are read back, as DynamoDB serves expired items until it deletes them
    assert ddb.get_item(TableName=TABLE, Key={"pk": {"S": "p"}, "sk": {"S": "old"}})["Item"]["ttl"] == {"N": "100"}
    # When the TTL pass runs at 200
    assert ddb.delete_expired_items(TABLE, 200) == 1
    # Then only the expired item is gone
    assert ddb.get_item(TableName=TABLE, Key={"pk": {"S": "p"}, "sk": {"S": "old"}}) == {}
    assert "Item" in ddb.get_item(TableName=TABLE, Key={"pk": {"S": "p"}, "sk": {"S": "new"}})


@pytest.mark.parametrize("backend", ["moto", "memory"])
def test_the_raw_archive_stream_writes_every_record_under_its_prefix(backend: str, aws: None) -> None:
    if backend == "moto":
        s3, firehose = (boto3.client(s, region_name="us-east-1") for s in ("s3", "firehose"))
    else:
        memory = MemoryAws()
        s3, firehose = memory.s3, memory.firehose
    # Given a DirectPut stream into a bucket's raw/ prefix
    s3.create_bucket(Bucket="archive")
    firehose.create_delivery_stream(
        DeliveryStreamName="raw", DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={"RoleARN": "arn:aws:iam::123456789012:role/r",
                                            "BucketARN": "arn:aws:s3:::archive", "Prefix": "raw/"})
    # When two records are put
    ids = [firehose.put_record(DeliveryStreamName="raw", Record={"Data": f'{{"n":{n}}}\n'.encode()})["RecordId"]
           for n in (1, 2)]
    # Then each has its own id and every record's line is in an object under raw/
    assert len(set(ids)) == 2
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket="archive", Prefix="raw/")["Contents"]]
    lines = [line for key in keys for line in s3.get_object(Bucket="archive", Key=key)["Body"].read().splitlines()]
    assert all(key.startswith("raw/") for key in keys) and sorted(lines) == [b'{"n":1}', b'{"n":2}']
    # And a record for a stream that does not exist is refused as Firehose refuses it
    with pytest.raises(ClientError) as refused:
        firehose.put_record(DeliveryStreamName="missing", Record={"Data": b"x"})
    assert _code(refused) == "ResourceNotFoundException"
