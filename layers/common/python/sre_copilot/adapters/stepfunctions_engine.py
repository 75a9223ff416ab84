"""WorkflowEngine on Step Functions: one standard execution per incident, named after it.

Naming the execution makes `start` idempotent: a redelivered SQS batch that opens the same incident
again gets the existing execution back instead of a second one (Step Functions refuses a reused
name with ExecutionAlreadyExists for 90 days, whatever the input).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from sre_copilot.adapters import aws_clients
from sre_copilot.adapters.s3_blobs import json_default
from sre_copilot.errors import ConfigurationError, InvalidPayload, NotFound
from sre_copilot.settings import Settings, get_settings

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

EXECUTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
# The task is no longer waiting (its execution ended, timed out or took another branch).
GONE_TASK_CODES = frozenset({"TaskDoesNotExist", "TaskTimedOut"})


def execution_arn(state_machine_arn: str, name: str) -> str:
    """`arn:aws:states:<region>:<account>:stateMachine:<sm>[:<version>]` -> the execution `name`'s ARN."""
    parts = state_machine_arn.split(":")
    if len(parts) < 7 or parts[5] != "stateMachine":
        raise ConfigurationError(f"'{state_machine_arn}' is not a state machine ARN; fix SRE_COPILOT_STATE_MACHINE_ARN")
    return ":".join([*parts[:5], "execution", parts[6], name])


class StepFunctionsEngine:
    def __init__(self, settings: Settings | None = None, *, client: SFNClient | None = None,
                 state_machine_arn: str | None = None) -> None:
        self.settings = settings or get_settings()
        self._client = client
        self.state_machine_arn = state_machine_arn or self.settings.state_machine_arn

    @property
    def client(self) -> SFNClient:
        # Created at first use: a function that never sends here pays no client at cold start.
        if self._client is None:
            self._client = aws_clients.stepfunctions(self.settings)
        return self._client

    def start(self, name: str, payload: dict[str, Any]) -> str:
        """Start the execution called `name`, or return the ARN of the one already started under it."""
        if not self.state_machine_arn:
            raise ConfigurationError("no state machine configured; set SRE_COPILOT_STATE_MACHINE_ARN")
        if not EXECUTION_NAME.match(name):
            raise InvalidPayload(f"'{name}' cannot name an execution; use 1-80 of A-Z a-z 0-9 - _")
        # Sorted keys: the same payload always serialises the same, which Step Functions needs to
        # treat a repeated start of a running execution as the same request.
        document = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=json_default)
        try:
            return self.client.start_execution(stateMachineArn=self.state_machine_arn, name=name,
                                               input=document)["executionArn"]
        except ClientError as exc:
            if aws_clients.error_code(exc) == "ExecutionAlreadyExists":
                return execution_arn(self.state_machine_arn, name)
            aws_clients.raise_domain_error(exc, action=f"starting execution {name}",
                                           resource=f"state machine {self.state_machine_arn}",
                                           setting="SRE_COPILOT_STATE_MACHINE_ARN")

    def is_running(self, execution_arn: str) -> bool:
        try:
            return self.client.describe_execution(executionArn=execution_arn)["status"] == "RUNNING"
        except ClientError as exc:
            if aws_clients.error_code(exc) == "ExecutionDoesNotExist":
                return False
            aws_clients.raise_domain_error(exc, action=f"describing {execution_arn}", resource="Step Functions",
                                           setting="SRE_COPILOT_STATE_MACHINE_ARN")

    def send_success(self, task_token: str, output: dict[str, Any]) -> None:
        """Resume a parked task. A task that is no longer waiting is already where this would have
        moved it (ended or timed out), so that is not an error."""
        from sre_copilot.services.held_wakes import hold_or_send

        document = json.dumps(output, separators=(",", ":"), default=json_default)
        # Inside a correlate batch, sent once the whole batch is applied (services/held_wakes.py).
        hold_or_send(lambda: self._answer("resuming a task",
                                          lambda: self.client.send_task_success(taskToken=task_token, output=document)))

    def send_failure(self, task_token: str, error: str, cause: str) -> None:
        # Step Functions caps error at 256 and cause at 32768 characters.
        self._answer("failing a task", lambda: self.client.send_task_failure(
            taskToken=task_token, error=error[:256], cause=cause[:32768]))

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        """Every event of the execution, oldest first."""
        events: list[dict[str, Any]] = []
        arguments: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
        while True:
            try:
                page = self.client.get_execution_history(**arguments)
            except ClientError as exc:
                if aws_clients.error_code(exc) == "ExecutionDoesNotExist":
                    raise NotFound(f"no execution {execution_arn}; it may be older than Step Functions keeps "
                                   "(90 days after it closed)") from exc
                aws_clients.raise_domain_error(exc, action=f"reading the history of {execution_arn}",
                                               resource="Step Functions", setting="SRE_COPILOT_STATE_MACHINE_ARN")
            events.extend(dict(event) for event in page.get("events", []))
            if not page.get("nextToken"):
                return events
            arguments["nextToken"] = page["nextToken"]

    def _answer(self, action: str, call: Any) -> None:
        try:
            call()
        except ClientError as exc:
            code = aws_clients.error_code(exc)
            if code in GONE_TASK_CODES:
                return
            if code == "InvalidToken":
                raise InvalidPayload(f"{action}: the task token is malformed ({exc}); pass the token the task "
                                     "received as $$.Task.Token unchanged") from exc
            aws_clients.raise_domain_error(exc, action=action, resource="Step Functions",
                                           setting="SRE_COPILOT_STATE_MACHINE_ARN")
