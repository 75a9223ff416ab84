"""A re-analysis, run beside the incident workflow instead of by it.

The incident workflow parks its task token on the incident (Analyse, or AwaitDecision after Act).
New evidence used to resume it with `refresh`, and it ran the pass itself: two billed transitions
of a standard workflow per pass (RouteWake, Analyse). Instead, whoever would have resumed it takes
the token (which it must do anyway, and which nobody else can then take) and starts the analysis
pass, `statemachines/analysis.asl.json`, as its own Express execution, handing it the token: the
pass ends by parking that token again, or answering it as a pass the workflow runs would (a plan
policy approved, a resolution or more evidence meanwhile). So the order the one execution kept
still holds: while the pass runs, nothing else can resume the incident.
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from sre_copilot.errors import SreCopilotError
from sre_copilot.ports import clock
from sre_copilot.services.container import Container
from sre_copilot.services.held_wakes import hold_or_send
from sre_copilot.services.observability import logger


def pass_name_prefix(incident_id: str) -> str:
    """How the names of an incident's re-analysis executions begin (the history finds them by it)."""
    return f"{incident_id}-r"


def reanalyse(c: Container, tenant_id: str, incident_id: str, task_token: str) -> None:
    """Run a pass for the incident whose parked `task_token` the caller took. Held until a correlate
    batch is applied, as wakes are (services/held_wakes.py). Without the analysis state machine
    configured, or if it will not start, the token goes to the incident workflow, which runs the
    pass itself: the token is never left untaken."""
    if not c.settings.analysis_state_machine_arn:
        c.workflow.send_success(task_token, {"reason": "refresh"})
        return
    payload: dict[str, object] = {
        "state": {"incident_id": incident_id, "tenant_id": tenant_id, "wake": {"reason": "refresh"}},
        "task_token": task_token}
    # Named after the instant, which a replay repeats; one token is taken once, so two passes of one
    # incident never share an instant.
    name = f"{pass_name_prefix(incident_id)}{clock.now():%Y%m%dT%H%M%S%f}"[:80]

    def start() -> None:
        try:
            c.analysis_workflow.start(name, payload)
        except (SreCopilotError, ClientError, BotoCoreError) as exc:
            logger.warning("re-analysis did not start; the incident workflow runs it",
                           extra={"incident": incident_id, "error": str(exc)})
            c.workflow.send_success(task_token, {"reason": "refresh"})

    hold_or_send(start)
