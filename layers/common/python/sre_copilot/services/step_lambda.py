"""One way to expose a service function as a Lambda handler.

Each function keeps its own directory and name (`functions/<name>/handler.py`), because the ASL's
substitutions and CDK name them, but its handler is one line over this factory:

    handler = workflow_step("act")

The factory adds what every handler needs (Powertools' logger context, tracer and metrics flush)
and hands the service this sandbox's dependencies. `workflow_step` names only steps that exist:
the name is a `Literal` and the table below is built from `WorkflowSteps`' own methods.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal, Protocol

from aws_lambda_powertools.utilities.typing import LambdaContext

from sre_copilot.domain.json_types import StepEvent
from sre_copilot.services import tenancy
from sre_copilot.services.container import Container, get_container
from sre_copilot.services.observability import logger, metrics, tracer
from sre_copilot.services.workflow_steps import WorkflowSteps

StepName = Literal["assemble_context", "aggregate_evidence", "generate_hypotheses", "score_confidence",
                   "apply_policy", "recommend", "notify", "await_decision", "act", "verify", "check_recovery",
                   "rollback", "document", "record_failure"]
"""The Task states of statemachines/incident.asl.json, in snake case (their functions' names)."""

STEPS: dict[StepName, Callable[[WorkflowSteps, StepEvent], Mapping[str, object]]] = {
    "assemble_context": WorkflowSteps.assemble_context,
    "aggregate_evidence": WorkflowSteps.aggregate_evidence,
    "generate_hypotheses": WorkflowSteps.generate_hypotheses,
    "score_confidence": WorkflowSteps.score_confidence,
    "apply_policy": WorkflowSteps.apply_policy,
    "recommend": WorkflowSteps.recommend,
    "notify": WorkflowSteps.notify,
    "await_decision": WorkflowSteps.await_decision,
    "act": WorkflowSteps.act,
    "verify": WorkflowSteps.verify,
    "check_recovery": WorkflowSteps.check_recovery,
    "rollback": WorkflowSteps.rollback,
    "document": WorkflowSteps.document,
    "record_failure": WorkflowSteps.record_failure,
}


class LambdaHandler(Protocol):
    def __call__(self, event: dict[str, object], context: LambdaContext) -> Mapping[str, object]: ...


def lambda_handler(run: Callable[[Container, StepEvent], Mapping[str, object]]) -> LambdaHandler:
    """A Lambda handler that runs `run` with this sandbox's dependencies (built at cold start), as
    work of the execution's tenant (its state's `tenant_id`): the catalog, silences, runbooks and
    precedents it reads are that tenant's (services/tenancy.py)."""

    @logger.inject_lambda_context
    @tracer.capture_lambda_handler
    @metrics.log_metrics
    def handler(event: dict[str, object], context: LambdaContext) -> Mapping[str, object]:
        container = get_container()
        with tenancy.scope(str(event.get("tenant_id") or container.settings.tenant_id)):
            return run(container, event)

    return handler


def workflow_step(name: StepName) -> LambdaHandler:
    """The handler of the incident workflow's Task state `name` (`WorkflowSteps.<name>`)."""
    step = STEPS[name]
    return lambda_handler(lambda container, event: step(WorkflowSteps(container), event))
