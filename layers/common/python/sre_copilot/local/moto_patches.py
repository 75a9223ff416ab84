"""The one place that reaches into moto internals (moto is pinned in pyproject.toml).

moto can execute Step Functions definitions (`execute_state_machine`), but it runs Lambda tasks in
Docker. We have no Docker and want our real handlers anyway, so Lambda invocations are dispatched
in-process to the handler registered for the function name. Everything else (the ASL interpreter,
retries, catches, task tokens, execution history) is moto's own.
"""

from __future__ import annotations

import json
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

LambdaHandler = Callable[[dict[str, Any], Any], Any]


@dataclass
class LambdaContext:
    """The subset of the Lambda context object that Powertools and our handlers read."""

    function_name: str
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = ""
    aws_request_id: str = ""
    log_group_name: str = ""
    log_stream_name: str = ""

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


@dataclass
class InProcessLambdas:
    """Registry of function name -> handler, plus counters the runtime uses to detect quiescence."""

    handlers: dict[str, LambdaHandler] = field(default_factory=dict)
    in_flight: int = 0
    invocations: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    on_return: Callable[[str, Any], None] | None = None
    """Called after each handler returns (or raises) and is no longer counted in flight, with the
    function name and its event."""

    def register(self, function_name: str, handler: LambdaHandler) -> None:
        self.handlers[function_name] = handler

    def invoke(self, function_name: str, event: Any) -> tuple[str, bool, str]:
        handler = self.handlers.get(function_name)
        if handler is None:
            body = {"errorMessage": f"no in-process handler registered for {function_name}",
                    "errorType": "HandlerNotFound"}
            return json.dumps(body), True, ""
        with self.lock:
            self.in_flight += 1
            self.invocations += 1
        try:
            context = LambdaContext(function_name=function_name, aws_request_id=f"local-{self.invocations}")
            result = handler(event if isinstance(event, dict) else json.loads(event or "{}"), context)
            return json.dumps(result, default=str), False, ""
        except Exception as exc:
            # Same shape as a real Lambda function error, so the ASL's Retry/Catch see Lambda's error type.
            self.errors.append((function_name, traceback.format_exc()))
            body = {"errorMessage": str(exc), "errorType": type(exc).__name__}
            return json.dumps(body), True, traceback.format_exc()
        finally:
            with self.lock:
                self.in_flight -= 1
            if self.on_return is not None:
                self.on_return(function_name, event)


@contextmanager
def in_process_lambda(registry: InProcessLambdas) -> Iterator[InProcessLambdas]:
    """Route moto's Lambda invocations to `registry` while the context is active."""
    from moto.awslambda.models import LambdaFunction

    original = LambdaFunction._invoke_lambda

    def _invoke_lambda(self: Any, event: Any = None) -> tuple[str, bool, str]:
        return registry.invoke(self.function_name, event)

    LambdaFunction._invoke_lambda = _invoke_lambda  # type: ignore[method-assign]
    try:
        yield registry
    finally:
        LambdaFunction._invoke_lambda = original  # type: ignore[method-assign]


MOTO_CONFIG: dict[str, Any] = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": True},
}


@contextmanager
def eventbridge_lambda_targets(deliver: Callable[[str, dict[str, Any]], None]) -> Iterator[None]:
    """moto's EventBridge delivers to SQS, logs and buses but not to Lambda; hand Lambda targets
    to `deliver(function_name, event)`, which the runtime runs asynchronously as EventBridge does."""
    from moto.events.models import Rule

    original = Rule.send_to_targets

    def send_to_targets(self: Any, original_event: Any, transform_input: bool = True) -> None:
        targets = list(self.targets)
        lambdas = [t for t in targets if str(t["Arn"]).startswith("arn:aws:lambda:")]
        self.targets = [t for t in targets if t not in lambdas]
        try:
            original(self, original_event, transform_input)  # moto raises on Lambda targets itself
        finally:
            self.targets = targets
        if not self.event_pattern.matches_event(original_event):
            return
        for target in lambdas:
            deliver(str(target["Arn"]).split(":function:")[-1].split(":")[0], dict(original_event))

    Rule.send_to_targets = send_to_targets  # type: ignore[method-assign]
    try:
        yield
    finally:
        Rule.send_to_targets = original  # type: ignore[method-assign]


_query_scope = threading.local()


def _primary(hash_key: Any, range_key: Any) -> tuple[Any, ...]:
    return (hash_key.type, hash_key.value, None if range_key is None else (range_key.type, range_key.value))


class _IndexLookup:
    """Index hash attribute -> value -> {primary key: item}, kept for the attributes queried so far.

    Every write moto makes goes through `Table.put_item`, `Table.delete_item` or (in place)
    `DynamoDBBackend.update_item`; each is followed by `refresh` of the written key, so the
    lookup always matches `table.items`. A table whose `items` was replaced (restore, rolled-back
    transaction) gets a fresh lookup. Step Functions executions write from their own threads, so
    every use holds `lock`.
    """

    lock = threading.RLock()

    def __init__(self, table: Any) -> None:
        self.items = table.items
        self.by_attr: dict[str, dict[tuple[str, Any], dict[tuple[Any, ...], Any]]] = {}
        self.values_of: dict[tuple[Any, ...], dict[str, tuple[str, Any]]] = {}

    @staticmethod
    def of(table: Any) -> _IndexLookup:
        with _IndexLookup.lock:
            lookup = table.__dict__.get("_sre_copilot_index")
            if lookup is None or lookup.items is not table.items:
                lookup = table.__dict__["_sre_copilot_index"] = _IndexLookup(table)
            return lookup  # type: ignore[no-any-return]

    def candidates(self, table: Any, attr: str, value: Any) -> list[Any]:
        with self.lock:
            return self._candidates(table, attr, value)

    def _candidates(self, table: Any, attr: str, value: Any) -> list[Any]:
        if attr not in self.by_attr:
            self.by_attr[attr] = {}
            for item in _stored(table):
                self._add(attr, item)
        return list(self.by_attr[attr].get((value.type, value.value), {}).values())

    def refresh(self, table: Any, hash_key: Any, range_key: Any) -> None:
        with self.lock:
            self._refresh(table, hash_key, range_key)

    def _refresh(self, table: Any, hash_key: Any, range_key: Any) -> None:
        if not self.by_attr:
            return
        key = _primary(hash_key, range_key)
        for attr, value in self.values_of.pop(key, {}).items():
            self.by_attr[attr].get(value, {}).pop(key, None)
        item = table.get_item(hash_key, range_key) if (range_key is not None or not table.has_range_key) else None
        if item is not None:
            for attr in self.by_attr:
                self._add(attr, item)

    def _add(self, attr: str, item: Any) -> None:
        value = item.attrs.get(attr)
        if value is None:
            return
        key = _primary(item.hash_key, item.range_key)
        self.by_attr[attr].setdefault((value.type, value.value), {})[key] = item
        self.values_of.setdefault(key, {})[attr] = (value.type, value.value)


def _stored(table: Any) -> Iterator[Any]:
    for partition in list(table.items.values()):
        yield from (list(partition.values()) if table.range_key_attr else (partition,))


@contextmanager
def partitioned_dynamodb_queries() -> Iterator[None]:
    """Make moto's Query cost what DynamoDB's does: proportional to what it returns, not the table.

    moto 5.2.5 answers every Query by sorting *all* items of the table (`Table.all_items`) and
    then filtering, so a replay slows down quadratically as its table grows. While a Query runs,
    `all_items` here returns only the candidates DynamoDB itself would read: the one partition for
    a base-table Query, or the items whose index hash key matches for an index Query (from a lookup
    kept current on every write). moto's own code still filters, sorts, pages, projects and applies
    filter expressions to them, so results are unchanged; Scan and exports keep the original
    (sorted, whole-table) behaviour.
    """
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    original_query, original_all_items = Table.query, Table.all_items
    original_put, original_delete = Table.put_item, Table.delete_item
    original_update = DynamoDBBackend.update_item

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        conditions = kwargs.get("hash_key_conditions") or []
        _query_scope.current = (self, hash_key, index_name, conditions)
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            _query_scope.current = None

    def all_items(self: Any) -> list[Any]:
        scope = getattr(_query_scope, "current", None)
        if scope is None or scope[0] is not self:
            return list(original_all_items(self))
        _, hash_key, index_name, conditions = scope
        if index_name is None:
            partition = self.items.get(hash_key)
            if partition is None:
                return []
            return list(partition.values()) if self.range_key_attr else [partition]
        if not conditions:
            return list(_stored(self))
        (first_attr, first_value), rest = conditions[0], conditions[1:]
        candidates = _IndexLookup.of(self).candidates(self, first_attr, first_value)
        return [item for item in candidates
                if all((got := item.attrs.get(name)) is not None and got.type == value.type and got.value == value.value
                       for name, value in rest)]

    def put_item(self: Any, *args: Any, **kwargs: Any) -> Any:
        item = original_put(self, *args, **kwargs)
        _IndexLookup.of(self).refresh(self, item.hash_key, item.range_key)
        return item

    def delete_item(self: Any, hash_key: Any, range_key: Any) -> Any:
        try:
            return original_delete(self, hash_key, range_key)
        finally:
            _IndexLookup.of(self).refresh(self, hash_key, range_key)

    def update_item(self: Any, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return original_update(self, table_name, key, *args, **kwargs)
        finally:
            table = self.get_table(table_name)
            if table.hash_key_attr in key:
                range_key = key.get(table.range_key_attr) if table.range_key_attr else None
                _IndexLookup.of(table).refresh(table, DynamoType(key[table.hash_key_attr]),
                                               DynamoType(range_key) if range_key is not None else None)

    Table.query = query  # type: ignore[method-assign]
    Table.all_items = all_items  # type: ignore[method-assign]
    Table.put_item = put_item  # type: ignore[method-assign]
    Table.delete_item = delete_item  # type: ignore[method-assign]
    DynamoDBBackend.update_item = update_item  # type: ignore[method-assign]
    try:
        yield
    finally:
        Table.query = original_query  # type: ignore[method-assign]
        Table.all_items = original_all_items  # type: ignore[method-assign]
        Table.put_item, Table.delete_item = original_put, original_delete  # type: ignore[method-assign]
        DynamoDBBackend.update_item = original_update  # type: ignore[method-assign]


@contextmanager
def faster_moto_dispatch() -> Iterator[None]:
    """Remove per-request work in moto that does not depend on the request.

    - `BaseResponse.call_action` lists the handler class's methods with `inspect.getmembers` on
      every request; the list only depends on the class, so it is computed once per class.
    - `ActionCountValidator` checks "at most one SET/ADD/REMOVE clause" at every nested
      UpdateExpression node, each time walking the whole subtree (quadratic in the number of
      assignments); the check at the root already sees every clause, so only the root is checked.
    - Step Functions re-parses the definition with ANTLR for every execution; the parsed program
      is cached per definition and deep-copied for each execution, so executions share no state.
    - DynamoDB parses each UpdateExpression twice per UpdateItem; the parsed tree is cached per
      expression text. Every consumer only reads it or validates a deep copy of it.
    - Each UpdateExpression traverser rebuilds its node-type -> processor map for every node it
      visits; the map depends only on the traverser, so it is built once per traverser.
    - A Step Functions Lambda task builds a new boto3 Lambda client for every invocation; one
      client per region is kept (boto3 clients are thread-safe, and moto ignores credentials).
    """
    import copy
    import functools

    from moto.core import responses
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser, UpdateExpression  # type: ignore[attr-defined]
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]
    from moto.dynamodb.parsing.validators import ActionCountValidator
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    original_names = responses.method_names_from_class
    original_make = UpdateExpressionParser.__dict__["make"]
    original_traverse = ActionCountValidator.traverse
    original_processing = (DepthFirstTraverser.nodes_to_be_processed, DepthFirstTraverser.process)
    original_entrypoint = ExecutionWorker._get_evaluation_entrypoint
    original_client_for = lambda_eval_utils.boto_client_for

    cached_names = functools.cache(original_names)
    parse = UpdateExpressionParser.make
    cached_parse = functools.lru_cache(maxsize=1024)(lambda text: parse(text))
    lambda_client = functools.cache(lambda region, service: original_client_for(region=region, service=service))
    programs: dict[str, Any] = {}
    programs_lock = threading.Lock()

    def traverse(self: Any, node: Any) -> Any:
        if isinstance(node, UpdateExpression):
            self.verify_action_counts(node)
        return node

    def processing_map(self: Any) -> dict[Any, Any]:
        mapping = self.__dict__.get("_sre_copilot_map")
        if mapping is None:
            mapping = self.__dict__["_sre_copilot_map"] = self._processing_map()
        return mapping  # type: ignore[no-any-return]

    def nodes_to_be_processed(self: Any) -> tuple[Any, ...]:
        return tuple(processing_map(self))

    def process(self: Any, node: Any) -> Any:
        for kind, processor in processing_map(self).items():
            if isinstance(node, kind):
                return processor(node)
        return None

    def entrypoint(self: Any) -> Any:
        definition = self._evaluation_details.state_machine_details.definition
        with programs_lock:
            program = programs.get(definition)
            if program is None:
                program = programs[definition] = original_entrypoint(self)
            return copy.deepcopy(program)

    def client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        return lambda_client(region, service)

    responses.method_names_from_class = cached_names  # type: ignore[assignment]
    UpdateExpressionParser.make = classmethod(lambda cls, text: cached_parse(text))  # type: ignore[method-assign,assignment]
    ActionCountValidator.traverse = traverse  # type: ignore[method-assign]
    DepthFirstTraverser.nodes_to_be_processed = nodes_to_be_processed  # type: ignore[method-assign]
    DepthFirstTraverser.process = process  # type: ignore[method-assign]
    ExecutionWorker._get_evaluation_entrypoint = entrypoint  # type: ignore[method-assign]
    lambda_eval_utils.boto_client_for = client_for
    try:
        yield
    finally:
        responses.method_names_from_class = original_names
        UpdateExpressionParser.make = original_make  # type: ignore[method-assign]
        ActionCountValidator.traverse = original_traverse  # type: ignore[method-assign]
        DepthFirstTraverser.nodes_to_be_processed, DepthFirstTraverser.process = original_processing  # type: ignore[method-assign]
        ExecutionWorker._get_evaluation_entrypoint = original_entrypoint  # type: ignore[method-assign]
        lambda_eval_utils.boto_client_for = original_client_for
