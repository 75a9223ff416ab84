"""The moto speed-ups in moto_patches: the same requests give the same answers with and without
them (queries, updates, validation errors), Step Functions executions of one cached definition
stay independent, and the patches are undone on exit."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto_test_support import lambda_function, wait_until

from sre_copilot.local.moto_patches import (
    MOTO_CONFIG,
    InProcessLambdas,
    faster_moto_dispatch,
    in_process_lambda,
    partitioned_dynamodb_queries,
)


@contextmanager
def _moto(patched: bool) -> Iterator[Any]:
    with ExitStack() as stack:
        stack.enter_context(mock_aws())
        if patched:
            stack.enter_context(partitioned_dynamodb_queries())
            stack.enter_context(faster_moto_dispatch())
        ddb = boto3.client("dynamodb")
        ddb.create_table(
            TableName="t", BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "gpk", "gsk")],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            GlobalSecondaryIndexes=[{"IndexName": "gsi", "Projection": {"ProjectionType": "ALL"},
                                     "KeySchema": [{"AttributeName": "gpk", "KeyType": "HASH"},
                                                   {"AttributeName": "gsk", "KeyType": "RANGE"}]}])
        yield ddb


def _both(workload: Callable[[Any], Any]) -> tuple[Any, Any]:
    with _moto(patched=False) as ddb:
        plain = workload(ddb)
    with _moto(patched=True) as ddb:
        fast = workload(ddb)
    return plain, fast


def _load(ddb: Any) -> None:
    rng = random.Random(3)
    for i in range(400):
        item = {"pk": {"S": f"p{rng.randint(0, 9)}"}, "sk": {"S": f"s{rng.randint(0, 99):03d}#{i}"},
                "n": {"N": str(rng.randint(0, 50))}}
        if rng.random() < 0.7:  # sparse index: some items carry no index keys
            item["gpk"] = {"S": f"g{rng.randint(0, 4)}"}
            item["gsk"] = {"S": f"{rng.randint(0, 999):04d}"}
        ddb.put_item(TableName="t", Item=item)


def _all_pages(ddb: Any, **kwargs: Any) -> list[Any]:
    pages, items = [], []
    while True:
        page = ddb.query(TableName="t", **kwargs)
        pages.append((page["Count"], page["ScannedCount"], page.get("LastEvaluatedKey")))
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return [pages, items]
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


QUERIES: list[dict[str, Any]] = [
    {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "p3"}}},
    {"KeyConditionExpression": "pk = :p AND begins_with(sk, :b)",
     "ExpressionAttributeValues": {":p": {"S": "p1"}, ":b": {"S": "s0"}}, "ScanIndexForward": False},
    {"KeyConditionExpression": "pk = :p AND sk BETWEEN :a AND :b", "Limit": 3,
     "ExpressionAttributeValues": {":p": {"S": "p7"}, ":a": {"S": "s010"}, ":b": {"S": "s060"}}},
    {"KeyConditionExpression": "pk = :p", "FilterExpression": "n > :n", "Limit": 5,
     "ExpressionAttributeValues": {":p": {"S": "p2"}, ":n": {"N": "25"}}},
    {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "nobody"}}},
    {"IndexName": "gsi", "KeyConditionExpression": "gpk = :g", "ExpressionAttributeValues": {":g": {"S": "g2"}}},
    {"IndexName": "gsi", "KeyConditionExpression": "gpk = :g AND gsk < :k", "Limit": 4, "ScanIndexForward": False,
     "ExpressionAttributeValues": {":g": {"S": "g0"}, ":k": {"S": "0500"}}},
    {"IndexName": "gsi", "KeyConditionExpression": "gpk = :g", "ExpressionAttributeValues": {":g": {"S": "g9"}}},
]


@pytest.mark.parametrize("query", QUERIES, ids=[f"q{i}" for i in range(len(QUERIES))])
def test_queries_answer_the_same_with_the_partitioned_lookup(query: dict[str, Any]) -> None:
    # Given the same 400 items, some without index keys, in a plain and a patched moto
    def workload(ddb: Any) -> Any:
        _load(ddb)
        return _all_pages(ddb, **json.loads(json.dumps(query)))

    # When the query is paged through in both
    plain, fast = _both(workload)

    # Then items, order, counts and page keys are identical
    assert fast == plain
    empty = {":p": {"S": "nobody"}}.items() <= query["ExpressionAttributeValues"].items() or \
        query["ExpressionAttributeValues"].get(":g") == {"S": "g9"}
    assert bool(plain[1]) is not empty  # the comparison is not vacuous


def test_scan_still_sees_the_whole_table() -> None:
    def workload(ddb: Any) -> Any:
        _load(ddb)
        ddb.query(TableName="t", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p1"}})
        return ddb.scan(TableName="t")["Items"]

    plain, fast = _both(workload)
    assert len(fast) == 400 and fast == plain


UPDATES: list[dict[str, Any]] = [
    {"UpdateExpression": "SET a = :a, b = if_not_exists(b, :b), c = :c REMOVE d ADD n :one",
     "ExpressionAttributeValues": {":a": {"S": "x"}, ":b": {"N": "5"}, ":c": {"L": [{"S": "y"}]}, ":one": {"N": "1"}}},
    {"UpdateExpression": "SET #s = :s, b = b + :one",
     "ExpressionAttributeNames": {"#s": "status"}, "ExpressionAttributeValues": {":s": {"S": "ok"}, ":one": {"N": "1"}}},
]


def test_updates_give_the_same_items_and_the_same_errors() -> None:
    # Given an item, updated twice with each expression (the second time from the cached parse)
    def workload(ddb: Any) -> Any:
        key = {"pk": {"S": "p"}, "sk": {"S": "s"}}
        ddb.put_item(TableName="t", Item={**key, "d": {"S": "gone"}, "b": {"N": "1"}})
        answers = []
        for update in UPDATES + UPDATES:
            answers.append(ddb.update_item(TableName="t", Key=key, ReturnValues="ALL_NEW", **update)["Attributes"])
        errors = []
        for bad in ("SET a = :a SET b = :a", "REMOVE a REMOVE b", "ADD n :a ADD m :a"):
            with pytest.raises(ClientError) as caught:
                ddb.update_item(TableName="t", Key=key, UpdateExpression=bad,
                                ExpressionAttributeValues={":a": {"N": "1"}} if "ADD" in bad or "SET" in bad else {})
            errors.append(caught.value.response["Error"])
        return answers, errors

    # When run plain and patched
    plain, fast = _both(workload)

    # Then the items after each update and the rejections of repeated clauses are the same
    assert fast == plain
    assert all(e["Code"] == "ValidationException" for e in fast[1])


def test_executions_of_one_cached_definition_are_independent() -> None:
    registry = InProcessLambdas()
    registry.register("double", lambda event, ctx: {"out": event["n"] * 2})
    with mock_aws(config=MOTO_CONFIG), in_process_lambda(registry), faster_moto_dispatch():  # type: ignore[arg-type]
        role = boto3.client("iam").create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        fn = lambda_function("double", role)
        definition = {"StartAt": "Double", "States": {"Double": {
            "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True,
            "Parameters": {"FunctionName": fn, "Payload.$": "$"}, "OutputPath": "$.Payload"}}}
        sfn = boto3.client("stepfunctions")
        machine = sfn.create_state_machine(name="m", definition=json.dumps(definition), roleArn=role)["stateMachineArn"]
        # Given three executions of the same definition
        arns = [sfn.start_execution(stateMachineArn=machine, name=f"e{n}", input=json.dumps({"n": n}))["executionArn"]
                for n in (1, 2, 3)]
        # When they finish
        wait_until(lambda: all(sfn.describe_execution(executionArn=a)["status"] != "RUNNING" for a in arns), 20)
        results = {a: (d["status"], json.loads(d.get("output", "null")))
                   for a in arns for d in [sfn.describe_execution(executionArn=a)]}
    # Then each ran on its own input
    assert [results[a] for a in arns] == [("SUCCEEDED", {"out": 2}), ("SUCCEEDED", {"out": 4}),
                                          ("SUCCEEDED", {"out": 6})]


def test_patches_are_undone_on_exit() -> None:
    from moto.core import responses
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser  # type: ignore[attr-defined]
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    before = (Table.query, Table.all_items, responses.method_names_from_class, DepthFirstTraverser.process,
              lambda_eval_utils.boto_client_for)
    with partitioned_dynamodb_queries(), faster_moto_dispatch():
        assert Table.query is not before[0] and DepthFirstTraverser.process is not before[3]
    assert (Table.query, Table.all_items, responses.method_names_from_class, DepthFirstTraverser.process,
            lambda_eval_utils.boto_client_for) == before


def test_index_queries_follow_every_kind_of_write() -> None:
    # Given a random mix of puts, updates that move or drop index keys, and deletes, with index
    # queries in between (so the index lookup exists while the writes happen)
    def workload(ddb: Any) -> Any:
        rng = random.Random(11)
        answers = []
        for step in range(300):
            key = {"pk": {"S": f"p{rng.randint(0, 3)}"}, "sk": {"S": f"s{rng.randint(0, 20)}"}}
            roll = rng.random()
            if roll < 0.35:
                ddb.put_item(TableName="t", Item={**key, "gpk": {"S": f"g{rng.randint(0, 2)}"},
                                                  "gsk": {"S": f"{step:04d}"}})
            elif roll < 0.6:
                ddb.update_item(TableName="t", Key=key, UpdateExpression="SET gpk = :g, gsk = :k",
                                ExpressionAttributeValues={":g": {"S": f"g{rng.randint(0, 2)}"},
                                                           ":k": {"S": f"{step:04d}"}})
            elif roll < 0.75:
                ddb.update_item(TableName="t", Key=key, UpdateExpression="REMOVE gpk")
            else:
                ddb.delete_item(TableName="t", Key=key)
            if step % 7 == 0:
                answers.append([_all_pages(ddb, IndexName="gsi", KeyConditionExpression="gpk = :g",
                                           ExpressionAttributeValues={":g": {"S": f"g{g}"}}) for g in range(3)])
        return answers

    # When it runs on plain and patched moto
    plain, fast = _both(workload)

    # Then every index query saw the same items
    assert fast == plain and any(pages[1] for answer in plain for pages in answer)
