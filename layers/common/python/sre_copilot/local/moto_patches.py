"""The one place that reaches into moto internals (moto is pinned in pyproject.toml).

moto can execute Step Functions definitions (`execute_state_machine`), but it runs Lambda tasks in
Docker. We have no Docker and want our real handlers anyway, so Lambda invocations are dispatched
in-process to the handler registered for the function name. Everything else (the ASL interpreter,
retries, catches, task tokens, execution history) is moto's own.

The rest removes costs moto has and AWS does not (work repeated per request, or growing with the
table or the window), without changing any answer: `partitioned_dynamodb_queries`,
`cheaper_update_expressions`, `faster_moto_requests`, `faster_step_functions` and
`bucketed_metric_data`. Each is checked against plain moto in
`tests/local/test_moto_speedups.py`, and each is undone on exit. They reach into private code of
one moto release, so `moto_speedups` applies them only on that release (`SPEEDUPS_MOTO_VERSION`);
on any other, the embedded backend runs on plain moto (correct, slower) after one warning.
"""

from __future__ import annotations

import copy
import enum
import functools
import importlib.metadata
import json
import logging
import os
import string
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

LambdaHandler = Callable[[dict[str, Any], Any], Any]

SPEEDUPS_MOTO_VERSION = "5.2.5"
"""The moto release the speed patches were written for and checked against."""
logger = logging.getLogger(__name__)
_warned_versions: set[str] = set()


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


_MISSING = object()


@contextmanager
def _replaced(*replacements: tuple[Any, str, Any]) -> Iterator[None]:
    """Set each (owner, attribute, value) while the block runs, then put back exactly what the
    owner itself held: a descriptor as it was, and an attribute a class only inherited is deleted
    again rather than left shadowing its base."""
    saved: list[tuple[Any, str, Any]] = []
    for owner, name, value in replacements:
        saved.append((owner, name, vars(owner).get(name, _MISSING)))
        setattr(owner, name, value)
    try:
        yield
    finally:
        for owner, name, before in reversed(saved):
            if before is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, before)


@contextmanager
def in_process_lambda(registry: InProcessLambdas) -> Iterator[InProcessLambdas]:
    """Route moto's Lambda invocations to `registry` while the context is active."""
    from moto.awslambda.models import LambdaFunction

    def _invoke_lambda(self: Any, event: Any = None) -> tuple[str, bool, str]:
        return registry.invoke(self.function_name, event)

    def task_invoke(parameters: dict[str, Any], region: str, state_credentials: Any) -> dict[str, Any]:
        """A Step Functions Lambda task, answered as moto's Lambda answers it (the same
        InvocationResponse: status, payload, `Handled` function error), without the round trip
        through botocore and moto's Lambda API that each of the ~10 tasks per analysis paid."""
        name = str(parameters["FunctionName"]).rsplit(":function:", 1)[-1].split(":", 1)[0]
        if name not in registry.handlers:  # not ours: moto's own path and its errors
            return original_task_invoke(parameters=parameters, region=region, state_credentials=state_credentials)
        payload = parameters.get("Payload")
        raw, errored, _ = registry.invoke(name, json.loads(payload) if payload else {})
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw
        response: dict[str, Any] = {"StatusCode": 200, "LogResult": "", "ExecutedVersion": "$LATEST", "Payload": body}
        if errored:
            response["FunctionError"] = "Handled"
        return response

    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    original_task_invoke = lambda_eval_utils._invoke_lambda_function
    with _replaced((LambdaFunction, "_invoke_lambda", _invoke_lambda),
                   (lambda_eval_utils, "_invoke_lambda_function", task_invoke)):
        yield registry


class ExecutionActivity:
    """A baton that lets one thing move at a time, in the order it became able to move.

    The things are the embedded runtime's own work at a simulated instant (polling a queue and
    invoking correlate, a timer, an EventBridge delivery: `turn()`) and the segments of Step
    Functions executions: from StartExecution, or from the wake of a parked task token, to the next
    park or the end. Each gets a ticket where it becomes able to move, in the thread that causes it
    (StartExecution and SendTaskSuccess/Failure take the ticket before they return), and tickets are
    served first come, first served. So a correlate batch that starts two executions finishes
    before either runs, the incident's execution reaches AwaitDecision before the paging
    execution it started places its call, and every read sees the same writes on every run, under
    any load: replays are deterministic, not merely usually so.

    `busy` counts tickets issued and not yet released; simulated time moves only when it is 0."""

    def __init__(self, condition: threading.Condition) -> None:
        self.condition = condition
        self.busy = 0
        self._issued = 0
        self._serving = 0
        self._holder = threading.local()

    @property
    def issued(self) -> int:
        """Tickets issued so far: unchanged means nothing has moved or started since."""
        return self._issued

    def issue(self) -> int:
        with self.condition:
            ticket = self._issued
            self._issued += 1
            self.busy += 1
            return ticket

    def wait_turn(self, ticket: int) -> None:
        with self.condition:
            while self._serving != ticket:
                self.condition.wait()

    def release(self) -> None:
        with self.condition:
            self._serving += 1
            self.busy -= 1
            self.condition.notify_all()

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Run the block as one ticket (re-entrant in the thread that holds it)."""
        if getattr(self._holder, "held", False):
            yield
            return
        self.wait_turn(self.issue())
        self._holder.held = True
        try:
            yield
        finally:
            self._holder.held = False
            self.release()


@contextmanager
def executions_in_turn(activity: ExecutionActivity) -> Iterator[ExecutionActivity]:
    """Run Step Functions executions under `activity`'s baton (see ExecutionActivity), and take
    task-token waits off the wall clock: a parked task wakes only by its token or a stop. Its
    timeout in the embedded runtime is the sweeper's, on simulated time; moto's own wall-clock
    timeout would fire after a number of real seconds, which depends on the machine's load.

    moto runs each execution's program, and each Task state of it, in a thread its starter only
    waits for, with a wall-clock timeout; taken off the wall clock, that wait is a plain join, so
    the body runs in the starter itself: same steps, same order, no thread start or handoffs
    (a Task state's `terminated_event` is then set before it is waited for)."""
    from moto.stepfunctions.parser.api import ExecutionStatus
    from moto.stepfunctions.parser.asl.component.program import program
    from moto.stepfunctions.parser.asl.component.state.exec import execute_state
    from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend
    from moto.stepfunctions.parser.utils import TMP_THREADS

    original_notify, original_interrupt = CallbackEndpoint.notify, CallbackEndpoint.interrupt_all
    original_executions = StepFunctionsParserBackend._get_executions

    def executions(self: Any, execution_status: Any = None) -> list[Any]:
        # SendTask* look for the token among RUNNING executions' environments; one started but
        # still waiting its turn has none yet (moto would fail on it), and no task of it waits.
        found: list[Any] = original_executions(self, execution_status)
        if execution_status != ExecutionStatus.RUNNING:
            return found
        return [e for e in found if getattr(getattr(e, "exec_worker", None), "env", None) is not None]

    def start(self: Any) -> None:
        if getattr(_CHILD_START, "pending", False):
            # A child started by a running execution's `states:startExecution` task: its
            # parent holds the baton and only waits for the child (its end, or its answer to the
            # parent's task token), so the child runs here, at once (its own steps starting other
            # executions queue them as usual).
            _CHILD_START.pending = False
            self._execution_logic()
            return
        ticket = activity.issue()

        def run() -> None:
            activity.wait_turn(ticket)
            try:
                self._execution_logic()
            finally:
                activity.release()  # an execution ends only while it holds the baton

        thread = threading.Thread(target=run, daemon=True)
        TMP_THREADS.append(thread)
        thread.start()

    def wait(self: Any, timeout: float | None = None) -> Any:
        with activity.condition:
            if self._notify_event.is_set():
                return self._outcome  # woken before it parked: it keeps the baton
            self._sre_parked = True
            self._sre_ticket = None
            activity.release()
        self._notify_event.wait()
        with activity.condition:
            ticket = self._sre_ticket
            if ticket is None:  # woken without a waker's ticket (cannot happen; kept balanced)
                self._sre_parked = False
                ticket = activity.issue()
        activity.wait_turn(ticket)
        return self._outcome

    def woken(original: Callable[..., None]) -> Callable[..., None]:
        def wake(self: Any, *args: Any, **kwargs: Any) -> None:
            with activity.condition:
                original(self, *args, **kwargs)
                if getattr(self, "_sre_parked", False):
                    self._sre_parked = False
                    self._sre_ticket = activity.issue()
        return wake

    class _JoinedThreading:
        Thread = _JoinedThread

    with _replaced((ExecutionWorker, "start", start), (CallbackEndpoint, "wait", wait),
                   (StepFunctionsParserBackend, "_get_executions", executions),
                   (CallbackEndpoint, "notify", woken(original_notify)),
                   (CallbackEndpoint, "interrupt_all", woken(original_interrupt)),
                   (execute_state, "Thread", _JoinedThread), (program, "threading", _JoinedThreading)), \
            child_executions():
        yield activity


_CHILD_START = threading.local()
"""`pending` while a Task state of a running execution starts a child execution."""


@contextmanager
def child_executions() -> Iterator[None]:
    """Make moto's `states:startExecution.*` (the incident workflow's Express analysis pass) and
    `aws-sdk:sfn:*` (its ReportFailure) tasks call the API as Step Functions does: moto's copy of
    the interpreter leaves out the step that maps the ASL's parameter names (`StateMachineArn`,
    `TaskToken`) to the SDK's camelCase ones and the SDK's answer back (`executionArn` to
    `ExecutionArn`), so the task failed on a `KeyError`. Other services' SDK names are PascalCase."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_aws_sdk,
        state_task_service_sfn,
    )

    service = state_task_service_sfn.StateTaskServiceSfn
    sdk = state_task_service_aws_sdk.StateTaskServiceAwsSdk
    original_parameters, original_sdk_parameters = service._normalise_parameters, sdk._normalise_parameters
    original_service_task = service._eval_service_task

    def service_task(self: Any, *args: Any, **kwargs: Any) -> Any:
        _CHILD_START.pending = self.resource.api_action.lower() == "startexecution"
        try:
            return original_service_task(self, *args, **kwargs)
        finally:
            _CHILD_START.pending = False

    def camel_case(original: Callable[..., None]) -> Callable[..., None]:
        def normalise(self: Any, parameters: dict[str, Any], boto_service_name: str | None = None,
                      service_action_name: str | None = None) -> None:
            original(self, parameters, boto_service_name, service_action_name)
            if self._get_boto_service_name() == "stepfunctions":
                for key in [k for k in parameters if k[:1].isupper()]:
                    parameters[key[0].lower() + key[1:]] = parameters.pop(key)
        return normalise

    def response(self: Any, response: Any, boto_service_name: str | None = None,
                 service_action_name: str | None = None) -> None:
        if isinstance(response, dict):
            for key in [k for k in response if k[:1].islower()]:
                response[key[0].upper() + key[1:]] = response.pop(key)

    with _replaced((service, "_eval_service_task", service_task),
                   (service, "_normalise_parameters", camel_case(original_parameters)),
                   (service, "_normalise_response", response),
                   (sdk, "_normalise_parameters", camel_case(original_sdk_parameters))):
        yield


class _JoinedThread:
    """A thread whose starter only waits for it, untimed: its target runs in the starter."""

    def __init__(self, target: Callable[..., Any], args: tuple[Any, ...] = (), **_: Any) -> None:
        self._target, self._args = target, args

    def start(self) -> None:  # both targets catch what their states raise, as a thread must
        self._target(*self._args)

    def join(self, timeout: float | None = None) -> None:
        return None

    def is_alive(self) -> bool:
        return False


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

    with _replaced((Rule, "send_to_targets", send_to_targets)):
        yield


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


def _range_filter(table: Any, index_name: str | None, args: tuple[Any, ...],
                  kwargs: dict[str, Any]) -> Callable[[Any], bool] | None:
    """The query's sort-key condition as a predicate on items, applied exactly as moto's Table.query
    applies it (same attribute, same comparison), or None where moto would not filter on it or
    would reject the query itself."""
    from moto.dynamodb.comparisons import get_comparison_func

    range_comparison = args[0] if args else kwargs.get("range_comparison")
    range_objs = args[1] if len(args) > 1 else kwargs.get("range_objs")
    if not range_comparison:
        return None
    range_conditions = kwargs.get("range_key_conditions") or []
    if range_conditions:
        attr = range_conditions[-1][0]
    elif index_name is None:
        attr = table.range_key_attr
    else:
        index = next((i for i in table.all_indexes() if i.name == index_name), None)
        keys = [k["AttributeName"] for k in (index.schema if index else []) if k["KeyType"] == "RANGE"]
        if len(keys) != 1:
            return None
        attr = keys[0]
    compare = get_comparison_func(range_comparison)
    bounds = [obj.cast_value for obj in range_objs or []]

    def in_range(item: Any) -> bool:
        value = item.attrs.get(attr) if attr else None
        if value is None:
            # moto compares a base-table item on its range key even when the named attribute is absent
            value = item.range_key if index_name is None else None
        return value is not None and bool(compare(value.cast_value, *bounds))

    return in_range


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
        _query_scope.current = (self, hash_key, index_name, conditions, _range_filter(self, index_name, args, kwargs))
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            _query_scope.current = None

    def all_items(self: Any) -> list[Any]:
        scope = getattr(_query_scope, "current", None)
        if scope is None or scope[0] is not self:
            return list(original_all_items(self))
        _, hash_key, index_name, conditions, in_range = scope
        if index_name is None:
            partition = self.items.get(hash_key)
            if partition is None:
                return []
            candidates = list(partition.values()) if self.range_key_attr else [partition]
        elif not conditions:
            return list(_stored(self))
        else:
            (first_attr, first_value), rest = conditions[0], conditions[1:]
            candidates = [item for item in _IndexLookup.of(self).candidates(self, first_attr, first_value)
                          if all((got := item.attrs.get(name)) is not None and got.type == value.type
                                 and got.value == value.value for name, value in rest)]
        return candidates if in_range is None else [item for item in candidates if in_range(item)]

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

    with _replaced((Table, "query", query), (Table, "all_items", all_items), (Table, "put_item", put_item),
                   (Table, "delete_item", delete_item), (DynamoDBBackend, "update_item", update_item)):
        yield


_KEPT_KEYS = "_sre_copilot_possible_keys"
"""Attribute of a member shape: (picker kind, member) -> (parent shape, the picker's candidate keys)."""


def _keys_slot(picker: Any, key: str) -> tuple[Any, ...]:
    return type(picker), tuple(picker.alias_providers), key


def _kept_keys(shape: Any, picker: Any, key: str) -> tuple[str, ...] | None:
    """The candidate keys kept for `key` of `shape` and this kind of picker, if kept while the
    shape had its current parent (the parent decides some aliases)."""
    entry = shape.__dict__.get(_KEPT_KEYS, {}).get(_keys_slot(picker, key))
    return entry[1] if entry is not None and entry[0] is getattr(shape, "parent", None) else None


def _attribute_value_in_wire_form(value: Any) -> dict[str, Any] | None:
    """A copy of a DynamoDB attribute value whose every part serialises to itself, else None."""
    if type(value) is not dict or len(value) != 1:
        return None
    ((kind, inner),) = value.items()
    if kind in ("S", "N"):
        return {kind: inner} if type(inner) is str else None
    if kind in ("BOOL", "NULL"):
        return {kind: inner} if type(inner) is bool else None
    if kind in ("SS", "NS"):
        return {kind: list(inner)} if type(inner) is list and all(type(v) is str for v in inner) else None
    if kind == "M" and type(inner) is dict:
        members = {name: _attribute_value_in_wire_form(member) for name, member in inner.items()}
        return None if any(m is None for m in members.values()) else {"M": members}
    if kind == "L" and type(inner) is list:
        elements = [_attribute_value_in_wire_form(element) for element in inner]
        return None if any(e is None for e in elements) else {"L": elements}
    return None


def speedups_apply(installed: str | None = None) -> bool:
    """Whether the speed patches fit the installed moto; warns once per version when they don't."""
    installed = installed or importlib.metadata.version("moto")
    if installed == SPEEDUPS_MOTO_VERSION:
        return True
    if installed not in _warned_versions:
        _warned_versions.add(installed)
        logger.warning("moto %s is installed, and the embedded backend's speed patches are written for moto %s: "
                       "running on plain moto (same answers, slower). Install moto==%s for the fast path.",
                       installed, SPEEDUPS_MOTO_VERSION, SPEEDUPS_MOTO_VERSION)
    return False


@contextmanager
def moto_speedups(installed: str | None = None) -> Iterator[bool]:
    """Every speed patch, on the moto release they were written for; plain moto on any other.
    Yields whether they are applied. Correctness patches (in-process Lambda dispatch, EventBridge
    targets) are separate and always apply."""
    if not speedups_apply(installed):
        yield False
        return
    with partitioned_dynamodb_queries(), cheaper_update_expressions(), faster_moto_requests(), \
            faster_step_functions(), bucketed_metric_data():
        yield True


@contextmanager
def cheaper_update_expressions() -> Iterator[None]:
    """Work moto 5.2.5 repeats while it checks an UpdateExpression, which was a quarter of a storm
    replay on moto (the dedup claim's seven `if_not_exists` actions took some 10 ms a write).

    - The expression is parsed twice a request (the response layer's and the backend's); parsed
      trees are only read (the validator deep-copies before it resolves), so one parse per text.
    - Each of the validator's ten passes rebuilt its processing map, and its tuple of node types,
      at every node of the tree: they depend on the pass only, so each pass builds them once.
    - The clause-count check ran at every node of the tree, each time walking that node's
      subtree (quadratic in the actions). The root's subtree holds every other node's, so the
      root's check alone rejects exactly the same expressions (with several kinds of clause
      repeated, it may name another of them)."""

    # (moto's parsing modules are untyped and declare some names only by assignment)
    ast_nodes: Any = importlib.import_module("moto.dynamodb.parsing.ast_nodes")
    expressions: Any = importlib.import_module("moto.dynamodb.parsing.expressions")
    validators: Any = importlib.import_module("moto.dynamodb.parsing.validators")
    traverser = ast_nodes.DepthFirstTraverser
    parse_once: Any = functools.lru_cache(maxsize=1024)(expressions.UpdateExpressionParser.make.__func__)

    def processing_map(self: Any) -> dict[type, Callable[[Any], Any]]:
        if "_sre_map" not in self.__dict__:
            self._sre_map = self._processing_map()
            self._sre_types = tuple(self._sre_map)
        return self._sre_map  # type: ignore[no-any-return]

    def nodes_to_be_processed(self: Any) -> tuple[type, ...]:
        processing_map(self)
        return self._sre_types  # type: ignore[no-any-return]

    def process(self: Any, node: Any) -> Any:
        for class_key, processor in processing_map(self).items():
            if isinstance(node, class_key):
                return processor(node)
        return None

    def count_clauses_at_root(self: Any, node: Any) -> Any:
        return self.verify_action_counts(node) if isinstance(node, ast_nodes.UpdateExpression) else node

    with _replaced((expressions.UpdateExpressionParser, "make", classmethod(parse_once)),
                   (traverser, "nodes_to_be_processed", nodes_to_be_processed),
                   (traverser, "process", process),
                   (validators.ActionCountValidator, "traverse", count_clauses_at_root)):
        yield


@contextmanager
def faster_moto_requests() -> Iterator[None]:
    """Per-request work in moto's routing and serialization that does not depend on the request.

    - `BaseResponse.call_action` lists the handler class's methods with `inspect.getmembers` on
      every request; the list only depends on the class, so it is computed once per class.
    - The request router rebuilds a backend's URL table for every request, and the S3 backend
      re-imports (`importlib.reload`) its URL module twice to do so, about a sixth of a PutObject.
      The table only depends on the backend class and the two settings moto reads for it
      (MOTO_S3_CUSTOM_ENDPOINTS, MOTO_ENABLE_ISO_REGIONS), so it is built once per such key.
    - Every response gets a 52-character request id drawn one `random.choice` at a time (about a
      twentieth of a small call); it is drawn with one `choices` call from the same seeded
      generator and alphabet instead (still random, still reproducible under moto's seed).
    - For every member of every structure in a JSON response, the attribute picker instantiates
      six alias providers to list the keys the value might sit under. For a plain dict those keys
      depend only on the member's name, its shape and the shape's parent, so they are kept on the
      shape per (picker, member) and recomputed if the shape is reached from another parent.
      A member none of whose kept keys is in the dict is skipped, as the picker would find
      nothing there (only without response transformers, which could make something of nothing).
    - The JSON response serializer walks every DynamoDB attribute value member by member, trying
      several key aliases for each of the ten members of the AttributeValue shape (about 15 ms to
      return a few items of a few kilobytes). An attribute value already in wire form (strings,
      numbers, string and number sets, booleans, nulls, maps and lists of these) is what that walk
      produces, so it is copied as it is; anything else (binary) still takes the walk.
    - `camelcase_to_underscores`, a pure function of a short string, runs character by character
      for every action name and, in SQS, for every queue attribute each time a queue's attributes
      are read (about 60 calls and a quarter of a send-receive-delete cycle). Its answers are kept
      per string in the modules that call it on each request (core responses and SQS models).
    """

    from moto.core import responses
    from moto.core import utils as moto_utils
    from moto.core.base_backend import BaseBackend
    from moto.core.serialize import (
        AttributePicker,
        BaseJSONSerializer,
        ResponseSerializer,
        XFormedAttributePicker,
    )
    from moto.moto_api._internal.moto_random import MotoRandom
    from moto.sqs import models as sqs_models

    original_urls = vars(BaseBackend)["urls"]
    underscored = functools.lru_cache(maxsize=4096)(moto_utils.camelcase_to_underscores)
    original_structure = BaseJSONSerializer._serialize_type_structure
    original_member = ResponseSerializer._serialize_structure_member
    url_tables: dict[tuple[type, str | None, str | None], Any] = {}

    def backend_urls(self: Any) -> Any:
        key = (type(self), os.environ.get("MOTO_S3_CUSTOM_ENDPOINTS"), os.environ.get("MOTO_ENABLE_ISO_REGIONS"))
        table = url_tables.get(key)
        if table is None:
            table = url_tables[key] = original_urls.fget(self)
        return table

    def random_string(self: Any, length: int = 20, include_digits: bool = True, lower_case: bool = False) -> str:
        pool = string.ascii_letters + (string.digits if include_digits else "")
        drawn = "".join(self.choices(pool, k=length))
        return drawn.lower() if lower_case else drawn

    def possible_keys(original: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        def get_possible_keys(self: Any, context: Any) -> Any:
            shape = context.shape
            if type(context.obj) is not dict or shape is None:
                return original(self, context)
            keys = _kept_keys(shape, self, context.key)
            if keys is None:
                keys = tuple(original(self, context))
                shape.__dict__.setdefault(_KEPT_KEYS, {})[_keys_slot(self, context.key)] = (
                    getattr(shape, "parent", None), keys)
            return keys
        return get_possible_keys

    def serialize_member(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        picker = self._value_picker
        if type(value) is dict and key not in value and isinstance(picker, AttributePicker) \
                and not picker.response_transformers:
            keys = _kept_keys(shape, picker, key)
            if keys is not None and not any(k in value or "." in k for k in keys):
                return
        original_member(self, serialized, value, shape, key)

    def serialize_structure(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if key and shape.name == "AttributeValue" and self.operation_model.service_model.service_name == "dynamodb":
            wire = _attribute_value_in_wire_form(value)
            if wire is not None:
                self._default_serialize(serialized, wire, shape, key)
                return
        original_structure(self, serialized, value, shape, key)

    with _replaced(
        (responses, "method_names_from_class", functools.cache(responses.method_names_from_class)),
        (BaseBackend, "urls", property(backend_urls)),
        (MotoRandom, "get_random_string", random_string),
        (AttributePicker, "get_possible_keys", possible_keys(AttributePicker.get_possible_keys)),
        (XFormedAttributePicker, "get_possible_keys", possible_keys(XFormedAttributePicker.get_possible_keys)),
        (BaseJSONSerializer, "_serialize_type_structure", serialize_structure),
        (ResponseSerializer, "_serialize_structure_member", serialize_member),
        (responses, "camelcase_to_underscores", underscored),
        (sqs_models, "camelcase_to_underscores", underscored),
    ):
        yield


class _SimulatedWait:
    """`time` as a Retrier sees it: its wait takes no wall time (see `faster_step_functions`)."""

    @staticmethod
    def sleep(seconds: float) -> None:
        return None


_JSON_SCALARS = frozenset({str, int, float, bool, type(None)})


def _json_copy(value: Any, memo: Any = None) -> Any:
    """`copy.deepcopy` for the JSON documents Step Functions passes between states: dicts and lists
    rebuilt directly, strings and numbers kept (immutable), anything else through `deepcopy`."""
    kind = type(value)
    if kind is dict:
        return {key: _json_copy(item) for key, item in value.items()}
    if kind is list:
        return [_json_copy(item) for item in value]
    if kind in _JSON_SCALARS:
        return value
    return copy.deepcopy(value, memo)


class _JsonCopy:
    """`copy` as the Step Functions interpreter's modules see it (see `faster_step_functions`)."""

    deepcopy = staticmethod(_json_copy)


_ASL_PARSES: dict[str, Any] = {}
"""moto's ANTLR parse of each definition text, kept for the life of the process (see
`faster_step_functions`); a definition that does not parse raises and is not kept."""
_ASL_PARSES_KEPT = 32
_ASL_PARSES_LOCK = threading.Lock()


@contextmanager
def faster_step_functions() -> Iterator[None]:
    """Step Functions work repeated per execution or per task.

    - Step Functions parses a definition with ANTLR when the machine is created (to validate it)
      and again for every execution. The parse is kept per definition text for the life of the
      process (`_ASL_PARSES`), so each local deployment, a test's or a replay's, reuses the last
      one's: about 0.1 s per parse. The parsed program is shared: its components hold no state of
      an evaluation (that is the Environment's; a component's only lazily set field, its heap key,
      names the component's slot in each Environment's own heap), and executions move one at a
      time (ExecutionActivity). Deep-copying it for each execution was 5 % of a storm replay.
    - Every JSONPath a state evaluates (parameters, selectors, result paths) is parsed again with
      jsonpath-ng's PLY parser, about 0.25 ms each and some 30 per analysis. Parsed paths are
      kept per path text; `find` and `update_or_create` only read them.
    - A Retrier waits its IntervalSeconds (with backoff) in wall time, `time.sleep`: a step that
      hit a version conflict held its execution, and the settle of that simulated instant, for
      2 + 4 + 8 s. The embedded backend's time is simulated and moves only between settled
      instants, so the retry runs at the same simulated time either way; it runs at once.
    - A `states:startExecution` task (each analysis pass) built two new boto3 clients, one to
      start the child and one to describe it, at some 10 ms each; they are built once per region.
    - The interpreter deep-copies each state's input, result and stack, and the history, with
      `copy.deepcopy`, whose memo and dispatch cost several times a direct copy of JSON dicts and
      lists (`_json_copy`): 2.0 s of a 33.5 s storm replay on the memory backend.
    """
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.common.string import string_expression
    from moto.stepfunctions.parser.asl.component.state.exec import execute_state
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service,
        state_task_service_sfn,
    )
    from moto.stepfunctions.parser.asl.eval import states
    from moto.stepfunctions.parser.asl.eval.event import event_manager
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.asl.utils import json_path

    original_parse = AmazonStateLanguageParser.parse

    def parse(definition: str) -> Any:
        with _ASL_PARSES_LOCK:
            parsed = _ASL_PARSES.get(definition)
            if parsed is None:
                if len(_ASL_PARSES) >= _ASL_PARSES_KEPT:
                    _ASL_PARSES.clear()
                parsed = _ASL_PARSES[definition] = original_parse(definition)
            return parsed

    original_client_for = state_task_service_sfn.boto_client_for
    clients: dict[tuple[str, str], Any] = {}
    clients_lock = threading.Lock()

    def client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        # moto's builder takes the state's credentials but builds the same client without them.
        key = (region, service)
        with clients_lock:
            if key not in clients:
                clients[key] = original_client_for(region=region, service=service)
            return clients[key]

    with _replaced((AmazonStateLanguageParser, "parse", staticmethod(parse)),
                   (state_task_service_sfn, "boto_client_for", client_for),
                   (json_path, "parse", functools.lru_cache(maxsize=1024)(json_path.parse)),
                   (result_path, "parse", functools.lru_cache(maxsize=1024)(result_path.parse)),
                   (retrier_decl, "time", _SimulatedWait),
                   *((module, "copy", _JsonCopy) for module in (states, string_expression, event_manager,
                                                                execute_state, state_task_service))):
        yield


def backend_execution_history(execution_arn: str, account: str, region: str) -> list[dict[str, Any]] | None:
    """An execution's history events read from moto's Step Functions backend, in the shape
    GetExecutionHistory gives after botocore parses it (event types as strings, timestamps as UTC
    datetimes); None if the backend has no such execution (the API then answers, with its error).

    moto 5.2.5 serialises every event of a history through its response serializer and botocore
    parses it back: a storm replay's histories (tens of thousands of events) were 12 % of its time,
    for data the backend holds in that shape. Used only where the speed patches apply."""
    from moto.stepfunctions.exceptions import ExecutionDoesNotExist, InvalidArn
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    try:
        output = stepfunctions_parser_backends[account][region].get_execution_history(execution_arn)
    except (ExecutionDoesNotExist, InvalidArn):
        return None
    return [_as_parsed(dict(event)) for event in output["events"]]


def _as_parsed(value: Any, key: str = "") -> Any:
    """A backend value as botocore parses its wire form: enums as their values, the event's
    `timestamp` as an aware datetime."""
    if isinstance(value, dict):
        return {k: _as_parsed(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_parsed(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    if key == "timestamp" and isinstance(value, str):
        return datetime.fromisoformat(value).astimezone(UTC)
    return value


@contextmanager
def bucketed_metric_data() -> Iterator[None]:
    """Make moto's GetMetricData cost what it returns, not the length of the window.

    moto 5.2.5 walks every period of the window for every query and re-filters all stored data
    points in each one: a 7-day baseline at one-minute periods is 10,080 passes per series, even
    with no data (about 40 ms per call). Here each query's matching points are put in their period
    bucket in one pass; a bucket is computed with moto's own `Statistics`, with the same matching
    rules (moto ignores the namespace when dimensions are given, and so does this) and the same
    order. Requests with metric-math or Metrics Insights expressions keep moto's own code.
    """
    from moto.cloudwatch.exceptions import ValidationError
    from moto.cloudwatch.models import CloudWatchBackend, Dimension, Statistics

    original = CloudWatchBackend.get_metric_data

    def get_metric_data(self: Any, queries: list[dict[str, Any]], start_time: Any, end_time: Any,
                        scan_by: str = "TimestampAscending") -> list[dict[str, Any]]:
        if any("MetricStat" not in query for query in queries):
            return original(self, queries, start_time, end_time, scan_by)  # type: ignore[no-any-return]
        start_time = start_time.replace(microsecond=0)
        end_time = end_time.replace(microsecond=0)
        if start_time > end_time:
            raise ValidationError("The parameter EndTime must be greater than StartTime.")
        if start_time == end_time:
            raise ValidationError("The parameter StartTime must not equal parameter EndTime.")
        period_data = [md for md in self.get_all_metrics() if start_time <= md.timestamp < end_time]
        results: list[dict[str, Any]] = []
        for query in queries:
            metric_stat = query["MetricStat"]
            name, namespace = metric_stat["Metric"]["MetricName"], metric_stat["Metric"]["Namespace"]
            delta = timedelta(seconds=int(metric_stat["Period"]))
            dimensions = sorted(Dimension(name=d["Name"], value=d["Value"])
                                for d in metric_stat["Metric"].get("Dimensions", []))
            unit, stat = metric_stat.get("Unit"), metric_stat["Stat"]
            buckets: dict[int, list[Any]] = {}
            for md in period_data:
                if md.name != name or (sorted(md.dimensions) != dimensions if dimensions else md.namespace != namespace):
                    continue
                if unit and md.unit != unit:
                    continue
                buckets.setdefault((md.timestamp - start_time) // delta, []).append(md)
            values: list[Any] = []
            timestamps: list[Any] = []
            for index in sorted(buckets):
                stats = Statistics([stat], start_time + index * delta)
                stats.metric_data = buckets[index]
                values.append(stats.get_statistics_for_type(stat))
                timestamps.append(stats.timestamp)
            if scan_by == "TimestampDescending":
                values.reverse()
                timestamps.reverse()
            if query.get("ReturnData", True):
                results.append({"id": query["Id"], "label": query.get("Label") or f"{name} {stat}",
                                "values": values, "timestamps": timestamps, "status_code": "Complete"})
        return results

    with _replaced((CloudWatchBackend, "get_metric_data", get_metric_data)):
        yield

