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
    """Called after each handler returns (or raises), with the function name and its event."""

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
            if self.on_return is not None:
                self.on_return(function_name, event)
            with self.lock:
                self.in_flight -= 1


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
