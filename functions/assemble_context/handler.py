"""Step Functions task `AssembleContext` of statemachines/incident.asl.json."""

from sre_copilot.services.step_lambda import workflow_step

handler = workflow_step("assemble_context")
