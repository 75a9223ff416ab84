"""Step Functions task `CheckRecovery` of statemachines/incident.asl.json."""

from sre_copilot.services.step_lambda import workflow_step

handler = workflow_step("check_recovery")
