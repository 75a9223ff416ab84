"""What passes between the states of `statemachines/incident.asl.json`: references and summaries.

The execution's input is the incident's id and tenant. Each Task state adds its Lambda's output
under its `ResultPath` (`$.context`, `$.evidence`, ...) as `{"result": <output>}` (the ASL's
`ResultSelector`); AwaitDecision adds what woke it (`$.wake`) and a Catch adds `$.error`. Large
documents never travel in the state (Step Functions caps it at 256 KB): a step stores them in S3
and passes the reference (`snapshot_ref`, `evidence_ref`, `hypotheses_ref`).

Every step parses its input with `WorkflowState.parse` first, so a renamed `ResultPath` or a
missing reference fails at the top of the step with a message naming the state, not as a
`KeyError` deep inside it. Unknown keys are kept (`extra="allow"`): the ASL may add a state
without a code change here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sre_copilot.errors import SreCopilotError

StepKey = Literal["context", "evidence", "hypotheses", "scores", "decision", "recommendation", "notify", "act",
                  "verify", "recovery", "rollback", "document"]
"""The `ResultPath` (without `$.`) of each Task state whose output a later state reads."""


class WorkflowStateError(SreCopilotError):
    """The execution's state lacks what a step needs: the ASL and the step disagree."""

    status = 400
    code = "invalid_workflow_state"


class StepResult(BaseModel):
    """One step's output as later states read it: references to stored documents and summaries."""

    model_config = ConfigDict(extra="allow")

    snapshot_ref: str | None = None
    evidence_ref: str | None = None
    hypotheses_ref: str | None = None
    plan_id: str | None = None
    approval: str | None = None  # Recommend's: `auto` when policy needs no human for the plan
    # ApplyPolicy's decision summary (Recommend and Notify rebuild the Decision from it).
    outcome: str | None = None
    reasons: list[str] = Field(default_factory=list)
    presented: list[str] = Field(default_factory=list)


class StepOutput(BaseModel):
    model_config = ConfigDict(extra="allow")

    result: StepResult = Field(default_factory=StepResult)


class Wake(BaseModel):
    """What AwaitDecision's task token was completed with (approved, resolved, refresh, verify, ...)."""

    model_config = ConfigDict(extra="allow")

    reason: str | None = None


class StepError(BaseModel):
    """A Catch's `$.error`: the error name and its cause (Step Functions' own field names)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    error: str | None = Field(default=None, alias="Error")
    cause: str | None = Field(default=None, alias="Cause")

    def unwrapped(self) -> StepError:
        """The step's own error when this is a failed child execution's: a `startExecution.sync`
        task fails with `States.TaskFailed` and the child's DescribeExecution as its cause, which
        names the failing step's error and cause inside (the Express analysis pass, as Analyse).
        Any other error is returned as it is."""
        try:
            described = json.loads(self.cause or "")
        except ValueError:
            return self
        if not isinstance(described, dict):
            return self
        fields = {key[:1].lower() + key[1:]: value for key, value in described.items()}
        if fields.get("status") not in ("FAILED", "TIMED_OUT", "ABORTED") or not fields.get("error"):
            return self
        return StepError.model_validate({
            "Error": str(fields["error"]), "Cause": str(fields.get("cause") or ""),
            "execution": fields.get("executionArn"), "wrapped": self.error})


class WorkflowState(BaseModel):
    model_config = ConfigDict(extra="allow")

    incident_id: str | None = None
    tenant_id: str = "default"
    task_token: str | None = None
    document_only: bool | None = None
    context: StepOutput | None = None
    evidence: StepOutput | None = None
    hypotheses: StepOutput | None = None
    scores: StepOutput | None = None
    decision: StepOutput | None = None
    recommendation: StepOutput | None = None
    notify: StepOutput | None = None
    act: StepOutput | None = None
    verify: StepOutput | None = None
    recovery: StepOutput | None = None
    rollback: StepOutput | None = None
    document: StepOutput | None = None
    wake: Wake | None = None
    error: StepError | None = None

    @classmethod
    def parse(cls, event: Mapping[str, object]) -> WorkflowState:
        return _parse(cls, event, "workflow")

    def incident(self) -> str:
        """The incident's id; every step but RecordFailure needs it."""
        if not self.incident_id:
            raise WorkflowStateError("the workflow state names no incident_id")
        return self.incident_id

    def result(self, step: StepKey) -> StepResult:
        """The output of `step`, or an empty one when that state has not run in this execution."""
        output: StepOutput | None = getattr(self, step)
        return output.result if output is not None else StepResult()

    def ref(self, step: StepKey, name: Literal["snapshot_ref", "evidence_ref", "hypotheses_ref"]) -> str:
        """The stored document `step` handed on; an error naming both when it is absent."""
        value: str | None = getattr(self.result(step), name)
        if not value:
            raise WorkflowStateError(f"the workflow state has no {name} from ${step}: "
                                     "did the state that stores it run before this one?")
        return value

    def task(self) -> str:
        return _token(self.task_token, "AwaitDecision")


class PagingState(BaseModel):
    """What passes between the states of `statemachines/escalation.asl.json` (built by
    `services/escalation._state`): the level and round being paged, and what ended the wait."""

    model_config = ConfigDict(extra="allow")

    incident_id: str
    tenant_id: str = "default"
    level: int
    round: int
    timeout_s: int = 0
    task_token: str | None = None
    answer: Wake | None = None
    """What completed PageLevel's task token (acknowledged, closed, escalate); None on a timeout."""

    @classmethod
    def parse(cls, event: Mapping[str, object]) -> PagingState:
        return _parse(cls, event, "paging")

    def task(self) -> str:
        return _token(self.task_token, "PageLevel")


def _parse[M: BaseModel](model: type[M], event: Mapping[str, object], workflow: str) -> M:
    try:
        return model.model_validate(event)
    except ValidationError as exc:
        raise WorkflowStateError(f"the {workflow} state does not have the expected shape: {exc}") from exc


def _token(token: str | None, state: str) -> str:
    if not token:
        raise WorkflowStateError(f"{state} was invoked without a task token ($$.Task.Token)")
    return token
