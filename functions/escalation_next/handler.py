"""Step Functions task `NextLevel` of statemachines/escalation.asl.json."""

from sre_copilot.services import escalation
from sre_copilot.services.step_lambda import lambda_handler

handler = lambda_handler(escalation.next_level)
