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
from botocore.exceptions import ClientError, ParamValidationError
from moto import mock_aws
from moto_test_support import lambda_function, wait_until

from sre_copilot.local.moto_patches import (
    MOTO_CONFIG,
    InProcessLambdas,
    bucketed_metric_data,
    cheaper_update_expressions,
    child_executions,
    faster_moto_requests,
    faster_step_functions,
    in_process_lambda,
    partitioned_dynamodb_queries,
)


@contextmanager
def _moto(patched: bool) -> Iterator[Any]:
    with ExitStack() as stack:
        stack.enter_context(mock_aws())
        if patched:
            stack.enter_context(partitioned_dynamodb_queries())
            stack.enter_context(cheaper_update_expressions())
            stack.enter_context(faster_moto_requests())
            stack.enter_context(faster_step_functions())
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
    {"KeyConditionExpression": "pk = :p AND sk > :a", "Limit": 4,
     "ExpressionAttributeValues": {":p": {"S": "p4"}, ":a": {"S": "s050"}}},
    {"IndexName": "gsi", "KeyConditionExpression": "gpk = :g AND gsk BETWEEN :a AND :b", "Limit": 3,
     "ExpressionAttributeValues": {":g": {"S": "g1"}, ":a": {"S": "0200"}, ":b": {"S": "0700"}}},
    {"IndexName": "gsi", "KeyConditionExpression": "gpk = :g AND begins_with(gsk, :b)", "ScanIndexForward": False,
     "ExpressionAttributeValues": {":g": {"S": "g3"}, ":b": {"S": "04"}}},
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
        for overlapping, names in (("SET a = :a, b = :a, a.x = :a", {}), ("SET #a = :a, c = :a, #b = :a",
                                                                          {"#a": "m", "#b": "m"}),
                                   ("SET a.b = :a, c = :a REMOVE a", {}), ("SET x = :a, y.z = :a, y = :a", {})):
            with pytest.raises(ClientError) as caught:
                ddb.update_item(TableName="t", Key=key, UpdateExpression=overlapping,
                                ExpressionAttributeValues={":a": {"N": "1"}}, **({"ExpressionAttributeNames": names}
                                                                                  if names else {}))
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
    with mock_aws(config=MOTO_CONFIG), in_process_lambda(registry), faster_moto_requests(), \
            faster_step_functions():  # type: ignore[arg-type]
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


def test_a_definition_parsed_in_one_deployment_runs_in_the_next_and_a_bad_one_still_fails() -> None:
    registry = InProcessLambdas()
    registry.register("double", lambda event, ctx: {"out": event["n"] * 2})
    bad = json.dumps({"StartAt": "Nowhere", "States": {"Double": {"Type": "Pass", "End": True, "Foo": 1}}})

    def deployment(n: int) -> tuple[Any, list[str]]:
        refusals = []
        with mock_aws(config=MOTO_CONFIG), in_process_lambda(registry), faster_moto_requests(), \
                faster_step_functions():  # type: ignore[arg-type]
            role = boto3.client("iam").create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
            definition = {"StartAt": "Double", "States": {"Double": {
                "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True,
                "Parameters": {"FunctionName": lambda_function("double", role), "Payload.$": "$"},
                "OutputPath": "$.Payload"}}}
            sfn = boto3.client("stepfunctions")
            for attempt in range(2):
                with pytest.raises(ClientError) as caught:
                    sfn.create_state_machine(name=f"bad{attempt}", definition=bad, roleArn=role)
                refusals.append(caught.value.response["Error"]["Message"].split(" ")[0])  # moto sends no code
            machine = sfn.create_state_machine(name="m", definition=json.dumps(definition),
                                               roleArn=role)["stateMachineArn"]
            arn = sfn.start_execution(stateMachineArn=machine, name="e", input=json.dumps({"n": n}))["executionArn"]
            wait_until(lambda: sfn.describe_execution(executionArn=arn)["status"] != "RUNNING", 20)
            done = sfn.describe_execution(executionArn=arn)
            return (done["status"], json.loads(done.get("output", "null"))), refusals

    # Given a definition run in one local deployment (its parse kept for the process)
    first = deployment(1)
    # When a second deployment creates and runs the same definition
    second = deployment(5)
    # Then it runs on its own input there, and a definition that does not parse is refused every time
    assert first == (("SUCCEEDED", {"out": 2}), ["ASLParserException"] * 2)
    assert second == (("SUCCEEDED", {"out": 10}), ["ASLParserException"] * 2)


def test_state_documents_are_copied_as_deepcopy_copies_them() -> None:
    import copy
    from datetime import UTC, datetime

    from moto.stepfunctions.parser.asl.eval import states

    # Given a state's document: nested dicts and lists, JSON scalars and a value that is not JSON
    document = {"a": [1, 2.5, {"b": None, "c": True}], "d": "text", "e": datetime(2026, 5, 1, tzinfo=UTC),
                "f": {"g": [[], {}]}, "h": (1, [2])}
    with faster_step_functions():
        # When the interpreter copies it
        copied = states.copy.deepcopy(document)
    # Then the copy is equal and shares no dict or list with the original, as deepcopy's
    assert copied == copy.deepcopy(document) == document
    copied["a"][2]["b"] = copied["f"]["g"][0].append(1) or "changed"
    copied["h"][1].append(3)
    assert document["a"][2]["b"] is None and document["f"]["g"] == [[], {}] and document["h"] == (1, [2])
    assert states.copy is copy


def test_patches_are_undone_on_exit() -> None:
    from moto.cloudwatch.models import CloudWatchBackend
    from moto.core import responses
    from moto.core.base_backend import BaseBackend
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.parsing import ast_nodes, expressions, validators
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_sfn
    from moto.stepfunctions.parser.asl.eval import states
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    def current() -> tuple[Any, ...]:
        return (Table.query, Table.all_items, responses.method_names_from_class, retrier_decl.time,
                vars(AmazonStateLanguageParser)["parse"], CloudWatchBackend.get_metric_data,
                BaseBackend.__dict__["urls"], state_task_service_sfn.boto_client_for,
                vars(expressions.UpdateExpressionParser)["make"], ast_nodes.DepthFirstTraverser.process,
                validators.ActionCountValidator.traverse, states.copy)

    def own_attributes() -> tuple[Any, ...]:
        return vars(responses)["camelcase_to_underscores"], vars(BaseBackend)["urls"]

    before, owned = current(), own_attributes()
    with partitioned_dynamodb_queries(), cheaper_update_expressions(), faster_moto_requests(), \
            faster_step_functions(), bucketed_metric_data():
        assert all(now is not then for now, then in zip(current(), before, strict=True))
    # Then every attribute is back, module functions and descriptors as they were
    assert current() == before
    assert own_attributes() == owned


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


def _metric_answers(patched: bool) -> list[Any]:
    from datetime import UTC, datetime, timedelta

    with ExitStack() as stack:
        stack.enter_context(mock_aws())
        if patched:
            stack.enter_context(bucketed_metric_data())
        cw = boto3.client("cloudwatch")
        start = datetime(2026, 5, 1, tzinfo=UTC)
        rng = random.Random(5)
        for service, namespace in (("a", "SRE/Services"), ("b", "SRE/Services"), ("a", "Other")):
            data = [{"MetricName": "Errors", "Dimensions": [{"Name": "Service", "Value": service}],
                     "Timestamp": start + timedelta(seconds=rng.randint(0, 6 * 3600)),
                     "Value": float(rng.randint(0, 100)), "Unit": rng.choice(["Count", "Percent"])}
                    for _ in range(300)]
            for i in range(0, len(data), 150):
                cw.put_metric_data(Namespace=namespace, MetricData=data[i:i + 150])

        def stat(query_id: str, service: str | None, period: int, stat: str, **extra: Any) -> dict[str, Any]:
            metric: dict[str, Any] = {"Namespace": "SRE/Services", "MetricName": "Errors"}
            if service:
                metric["Dimensions"] = [{"Name": "Service", "Value": service}]
            return {"Id": query_id, "MetricStat": {"Metric": metric, "Period": period, "Stat": stat, **extra},
                    **({"ReturnData": False} if query_id == "hidden" else {})}

        answers: list[Any] = []
        for scan_by in ("TimestampAscending", "TimestampDescending"):
            page = cw.get_metric_data(
                MetricDataQueries=[stat("m1", "a", 60, "Average"), stat("m2", "b", 300, "Sum"),
                                   stat("m3", None, 900, "Maximum"), stat("m4", "a", 120, "SampleCount", Unit="Count"),
                                   stat("hidden", "b", 60, "Minimum"), stat("m5", "zzz", 60, "Average")],
                StartTime=start + timedelta(minutes=7, seconds=13), EndTime=start + timedelta(hours=5), ScanBy=scan_by)
            answers.append(page["MetricDataResults"])
        # a start a hair before a whole second, and a naive end (botocore sends it as UTC)
        page = cw.get_metric_data(MetricDataQueries=[stat("m1", "a", 60, "Average"), stat("m2", "b", 300, "Sum")],
                                  StartTime=start + timedelta(minutes=7, seconds=13, microseconds=999_999),
                                  EndTime=(start + timedelta(hours=5)).replace(tzinfo=None))
        answers.append(page["MetricDataResults"])
        with pytest.raises(ParamValidationError) as invalid:  # no Period: refused before it is sent
            cw.get_metric_data(MetricDataQueries=[{"Id": "m1", "MetricStat": {"Metric": {"MetricName": "Errors"},
                                                                             "Stat": "Average"}}],
                               StartTime=start, EndTime=start + timedelta(hours=1))
        answers.append(str(invalid.value))
        with pytest.raises(ClientError) as reversed_window:
            cw.get_metric_data(MetricDataQueries=[stat("m1", "a", 60, "Average")],
                               StartTime=start + timedelta(hours=1), EndTime=start)
        answers.append(reversed_window.value.response["Error"])
        return answers


def test_metric_data_answers_the_same_bucketed() -> None:
    # Given random data points on two services, two namespaces and two units
    # When the same GetMetricData requests (periods, stats, units, no dimensions, both orders, a
    # hidden query, a series with no data, sub-second and naive times, a request botocore refuses,
    # a reversed window) run on plain moto and with the bucketed reads
    plain, fast = _metric_answers(False), _metric_answers(True)
    # Then every answer is the same, timestamps' zones included, and the requests did return data
    assert plain == fast
    assert repr(plain) == repr(fast)
    assert all(result["Values"] for result in plain[0][:4])


def _random_value(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    kinds = ["S", "N", "BOOL", "NULL", "SS", "NS", "B", "BS"] + (["M", "L"] if depth < 3 else [])
    kind = rng.choice(kinds)
    if kind == "S":
        return {"S": rng.choice(["", "x", "ünïcode ✓", "a" * 300, '{"json": [1, 2]}'])}
    if kind == "N":
        return {"N": rng.choice(["0", "-1.5", "12345678901234567890", "3.14e10"])}
    if kind in ("BOOL", "NULL"):
        return {kind: True} if kind == "NULL" else {"BOOL": rng.random() < 0.5}
    if kind == "SS":
        return {"SS": sorted({f"s{rng.randint(0, 9)}" for _ in range(3)})}
    if kind == "NS":
        return {"NS": sorted({str(rng.randint(0, 9)) for _ in range(3)})}
    if kind == "B":
        return {"B": bytes([rng.randint(0, 255) for _ in range(8)])}
    if kind == "BS":
        return {"BS": [b"\x00\x01", b"\xff"]}
    if kind == "M":
        return {"M": {f"k{i}": _random_value(rng, depth + 1) for i in range(rng.randint(0, 4))}}
    return {"L": [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]}


def test_item_reads_serialise_the_same() -> None:
    # Given items holding every attribute type, nested maps and lists, and binary in some of them
    def workload(ddb: Any) -> Any:
        rng = random.Random(11)
        keys = []
        for i in range(60):
            key = {"pk": {"S": f"p{i % 6}"}, "sk": {"S": f"{i:03d}"}}
            keys.append(key)
            ddb.put_item(TableName="t", Item={**key, **{f"a{j}": _random_value(rng) for j in range(5)}})
        # When they are read back through every item-returning call
        out = [ddb.get_item(TableName="t", Key=k).get("Item") for k in keys[:20]]
        out += [ddb.query(TableName="t", KeyConditionExpression="pk = :p",
                          ExpressionAttributeValues={":p": {"S": f"p{p}"}})["Items"] for p in range(6)]
        out.append(sorted(ddb.batch_get_item(RequestItems={"t": {"Keys": keys[20:40]}})["Responses"]["t"],
                          key=lambda item: item["sk"]["S"]))
        out.append(ddb.update_item(TableName="t", Key=keys[0], UpdateExpression="SET z = :z",
                                   ExpressionAttributeValues={":z": _random_value(rng)},
                                   ReturnValues="ALL_NEW")["Attributes"])
        out.append(ddb.scan(TableName="t")["Items"])
        return out

    plain, fast = _both(workload)
    # Then every answer is the same, binary included
    assert fast == plain
    assert any("B" in value for item in plain[:20] for value in item.values())


def test_conditional_writes_decide_the_same_when_conditions_repeat() -> None:
    # Given the same conditions (and values) used again and again on items in changing states,
    # plus requests with an unused name and an unparseable condition
    def workload(ddb: Any) -> list[Any]:
        outcomes: list[Any] = []

        def attempt(**kwargs: Any) -> None:
            try:
                ddb.put_item(TableName="t", **kwargs)
                outcomes.append("ok")
            except ClientError as exc:
                outcomes.append((exc.response["Error"]["Code"], exc.response["Error"]["Message"]))
            except ValueError as exc:  # moto lets a parse error of a condition escape as it is
                outcomes.append(("ValueError", str(exc)))

        for round_ in range(3):
            for i in range(4):
                item = {"pk": {"S": f"c{i}"}, "sk": {"S": "x"}, "n": {"N": str(round_)}}
                attempt(Item=item, ConditionExpression="attribute_not_exists(pk)")
                attempt(Item=item, ConditionExpression="attribute_not_exists(pk) OR n = :n",
                        ExpressionAttributeValues={":n": {"N": str(round_ - 1 + i % 2)}})
                attempt(Item=item, ConditionExpression="#n < :n", ExpressionAttributeNames={"#n": "n"},
                        ExpressionAttributeValues={":n": {"N": "2"}})
            attempt(Item={"pk": {"S": "u"}, "sk": {"S": "x"}}, ConditionExpression="attribute_not_exists(pk)",
                    ExpressionAttributeNames={"#unused": "n"})
            attempt(Item={"pk": {"S": "u"}, "sk": {"S": "x"}}, ConditionExpression="attribute_not_exists(pk) AND")
        return outcomes

    # When they run on plain and patched moto
    plain, fast = _both(workload)
    # Then every write is accepted or refused alike, with the same error
    assert fast == plain
    assert "ok" in plain and any(o != "ok" and o[0] == "ConditionalCheckFailedException" for o in plain)
    assert any(o != "ok" and o[0] == "ValidationException" for o in plain)


_VOLATILE = ("ResponseMetadata", "timestamp", "startDate", "stopDate", "creationDate", "LastModified", "CreatedDate",
             "LastChangedDate", "RevisionId", "CodeSha256", "redriveDate", "LastAccessedDate", "VersionIdsToStages",
             "VersionId", "ARN", "MD5OfMessageBody", "MessageId", "ReceiptHandle", "Attributes")


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def _json_protocol_answers(patched: bool) -> list[Any]:
    registry = InProcessLambdas()
    registry.register("fn", lambda event, ctx: {"echo": event, "list": [1, {"a": None}], "empty": {}})
    with ExitStack() as stack:
        stack.enter_context(mock_aws(config=MOTO_CONFIG))  # type: ignore[arg-type]
        stack.enter_context(in_process_lambda(registry))
        if patched:
            stack.enter_context(faster_moto_requests())
            stack.enter_context(faster_step_functions())
        role = boto3.client("iam").create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        fn = lambda_function("fn", role)
        definition = {"StartAt": "Call", "States": {
            "Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "Choose",
                     "Parameters": {"FunctionName": fn, "Payload.$": "$"}, "ResultPath": "$.called"},
            "Choose": {"Type": "Choice", "Default": "Fail",
                       "Choices": [{"Variable": "$.go", "BooleanEquals": True, "Next": "Done"}]},
            "Done": {"Type": "Pass", "End": True}, "Fail": {"Type": "Fail", "Error": "No", "Cause": "go=false"}}}
        sfn = boto3.client("stepfunctions")
        machine = sfn.create_state_machine(name="m", definition=json.dumps(definition), roleArn=role)["stateMachineArn"]
        answers: list[Any] = [sfn.describe_state_machine(stateMachineArn=machine)]
        for go in (True, False):
            arn = sfn.start_execution(stateMachineArn=machine, name=f"go-{go}", input=json.dumps({"go": go}))[
                "executionArn"]
            wait_until(lambda arn=arn: sfn.describe_execution(executionArn=arn)["status"] != "RUNNING", 20)
            answers += [sfn.describe_execution(executionArn=arn), sfn.get_execution_history(executionArn=arn)]
        answers.append(sfn.list_executions(stateMachineArn=machine))
        sqs = boto3.client("sqs")
        url = sqs.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "7"})["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="b", MessageAttributes={
            "k": {"DataType": "String", "StringValue": "v"}})
        answers += [sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"]),
                    sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"]), sqs.list_queues()]
        answers.append(boto3.client("lambda").get_function(FunctionName="fn")["Configuration"])
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="bucket-a")
        for key in ("raw/a.json", "raw/b.json", "review/c.bin"):
            s3.put_object(Bucket="bucket-a", Key=key, Body=key.encode(), ContentType="application/json")
        answers += [s3.get_object(Bucket="bucket-a", Key="raw/a.json")["Body"].read(),
                    s3.list_objects_v2(Bucket="bucket-a", Prefix="raw/")["Contents"],
                    s3.head_object(Bucket="bucket-a", Key="review/c.bin")["ContentLength"],
                    s3.delete_object(Bucket="bucket-a", Key="raw/b.json"),
                    [o["Key"] for o in s3.list_objects_v2(Bucket="bucket-a")["Contents"]]]
        events = boto3.client("events")
        events.put_rule(Name="r", EventPattern=json.dumps({"source": ["x"]}))
        answers += [events.describe_rule(Name="r"), events.list_rules()]
        return [_scrub(answer) for answer in answers]


def test_json_protocol_answers_are_the_same_with_memoised_keys() -> None:
    # Given Step Functions executions (a task, a choice, a failure), SQS, Lambda, S3 and EventBridge calls
    # When they run on plain and patched moto
    plain, fast = _json_protocol_answers(False), _json_protocol_answers(True)
    # Then every answer is the same, histories included
    assert fast == plain
    assert any(event["type"] == "ExecutionFailed" for event in plain[4]["events"])


def test_json_paths_extract_and_place_as_uncached() -> None:
    # Given the JSONPath forms a state machine uses, each evaluated twice (the second from the cache)
    import copy as copy_module

    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import json_path

    from sre_copilot.local.moto_patches import faster_step_functions

    data = {"a": {"b": [1, {"c": 2}, 3], "d": "x"}, "list": [{"v": 1}, {"v": 2}], "empty": []}
    reads = ["$", "$.a.d", "$.a.b[1].c", "$.a.b[0]", "$.list[*].v", "$.empty[*]", "$.missing", "$.a.b[5]"]
    writes = ["$.result", "$.a.new", "$.a", "$"]

    def run() -> list[Any]:
        out: list[Any] = []
        for _ in range(2):
            for path in reads:
                try:
                    out.append(("ok", json_path.extract_json(path, copy_module.deepcopy(data))))
                except json_path.NoSuchJsonPathError as exc:
                    out.append(("missing", str(exc)))
            for path in writes:
                target = copy_module.deepcopy(data)
                out.append(result_path.parse(path).update_or_create(target, {"out": 1}))
        return out

    # When they run plain and with the patch on
    plain = run()
    with faster_step_functions():
        fast = run()
    # Then every value, every miss and every placed result is the same
    assert fast == plain


def test_random_ids_keep_their_alphabet_length_and_seed() -> None:
    # Given moto's generator, patched, seeded twice the same way
    import string as string_module

    from moto.moto_api._internal import mock_random

    def draw() -> list[str]:
        mock_random.seed(42)
        return [mock_random.get_random_string(length=52), mock_random.get_random_string(8, include_digits=False),
                mock_random.get_random_string(12, lower_case=True)]

    with faster_moto_requests():
        first, second = draw(), draw()
    # Then the ids have moto's lengths and alphabets, and the seed reproduces them
    long_id, letters, lower = first
    assert len(long_id) == 52 and set(long_id) <= set(string_module.ascii_letters + string_module.digits)
    assert len(letters) == 8 and set(letters) <= set(string_module.ascii_letters)
    assert lower == lower.lower() and len(lower) == 12
    assert first == second


def test_underscored_names_are_moto_s_own() -> None:
    # Given the names moto converts on every request: actions and queue attributes
    from moto.core import responses
    from moto.core.utils import camelcase_to_underscores
    from moto.sqs import models as sqs_models

    names = ["ReceiveMessage", "GetItem", "VisibilityTimeout", "ApproximateNumberOfMessagesNotVisible",
             "RedrivePolicy", "FifoQueue", "KmsMasterKeyId", "SqsManagedSseEnabled", "", "a", "ABCDef", "getHTTPResponse"]
    # When they are converted with the patch on, twice (the second time from the cache)
    with faster_moto_requests():
        patched = [[module.camelcase_to_underscores(n) for n in names] for module in (responses, sqs_models)] * 2
    # Then every answer is the original function's
    assert all(row == [camelcase_to_underscores(n) for n in names] for row in patched)


def test_dict_members_found_under_an_alias_are_still_serialised() -> None:
    # Given a Step Functions answer held as a dict whose keys are the snake_case aliases moto's
    # picker also accepts, and one member left out
    from moto.core.responses import ActionContext, ActionResult
    from moto.core.serialize import get_serializer_class
    from moto.core.utils import get_service_model

    service = get_service_model("stepfunctions")
    operation = service.operation_model("DescribeExecution")
    answer = {"execution_arn": "arn:aws:states:us-east-1:123456789012:execution:m:e", "status": "RUNNING",
              "state_machine_arn": "arn:aws:states:us-east-1:123456789012:stateMachine:m",
              "startDate": 1_700_000_000.0, "input": "{}"}

    class Response:
        RESPONSE_KEY_PATH_TO_TRANSFORMER = None

    def serialise() -> Any:
        context = ActionContext(service, operation, get_serializer_class("stepfunctions", "json"), Response())
        return ActionResult(answer).execute_result(context)[2]

    plain = serialise()
    # When it is serialised with the speed-ups, twice (the second time from the kept keys)
    with faster_moto_requests():
        fast = [serialise(), serialise()]
    # Then the aliased members are there both times, as without them
    assert fast == [plain, plain] and "executionArn" in json.loads(plain)


@pytest.mark.parametrize("fast", [False, True], ids=["plain moto", "speed patches"])
def test_a_child_answers_its_parents_task_token_or_fails_the_task_with_its_error(fast: bool) -> None:
    # Given a parent whose task starts a child with startExecution.waitForTaskToken (as the incident
    # workflow's Analyse does), handing it the token; the child's step answers the token itself, or
    # fails, and its Catch fails the parent's task through the SDK (as ReportFailure does)
    registry = InProcessLambdas()

    def step(event: dict[str, Any], _ctx: Any) -> dict[str, Any]:
        if event["n"] < 0:
            raise ValueError("a negative pass")
        boto3.client("stepfunctions").send_task_success(taskToken=event["token"], output=json.dumps({"n": 2 * event["n"]}))
        return {"parked": True}

    registry.register("step", step)
    with ExitStack() as stack:
        stack.enter_context(mock_aws(config=MOTO_CONFIG))
        stack.enter_context(in_process_lambda(registry))  # type: ignore[arg-type]
        stack.enter_context(child_executions())
        if fast:
            stack.enter_context(faster_moto_requests())
            stack.enter_context(faster_step_functions())
        role = boto3.client("iam").create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        fn = lambda_function("step", role)
        sfn = boto3.client("stepfunctions")
        child = sfn.create_state_machine(name="child", roleArn=role, type="EXPRESS", definition=json.dumps(
            {"StartAt": "Step", "States": {
                "Step": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True,
                         "Parameters": {"FunctionName": fn, "Payload": {
                             "n.$": "$.state.n", "token.$": "$$.Execution.Input.task_token"}},
                         "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Report"}]},
                "Report": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sfn:sendTaskFailure",
                           "Parameters": {"TaskToken.$": "$$.Execution.Input.task_token",
                                          "Error.$": "$.error.Error", "Cause.$": "$.error.Cause"},
                           "Next": "Failed"},
                "Failed": {"Type": "Fail", "Error": "PassFailed"}}}))
        parent = sfn.create_state_machine(name="parent", roleArn=role, definition=json.dumps(
            {"StartAt": "Run", "States": {
                "Run": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.waitForTaskToken",
                        "Parameters": {"StateMachineArn": child["stateMachineArn"],
                                       "Name.$": "States.Format('{}-pass', $$.Execution.Name)",
                                       "Input": {"state.$": "$", "task_token.$": "$$.Task.Token"}},
                        "ResultPath": "$.wake", "End": True,
                        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}]},
                "Caught": {"Type": "Pass", "End": True}}}))
        # When one parent's child answers and then another's fails (one at a time, as the runtime runs them)
        outputs = []
        for n in (1, -1):
            arn = sfn.start_execution(stateMachineArn=parent["stateMachineArn"], name=f"p{n}",
                                      input=json.dumps({"n": n}))["executionArn"]
            wait_until(lambda arn=arn: sfn.describe_execution(executionArn=arn)["status"] != "RUNNING", 20)
            outputs.append(json.loads(sfn.describe_execution(executionArn=arn).get("output", "null")))
    # Then the first parent goes on with the child's answer, and the second catches the step's error
    assert outputs[0] == {"n": 1, "wake": {"n": 2}}
    assert outputs[1]["error"]["Error"] == "ValueError"  # the step's own error, not the child's Fail
