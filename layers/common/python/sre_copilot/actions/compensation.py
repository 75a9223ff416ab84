"""A remediation that failed half-way and was put back: the executor undid what it had done before
raising, so the workflow records a failure with its compensation instead of leaving a half-applied
change behind (a cordoned node nobody drains, a tag that says a change happened when it did not)."""

from __future__ import annotations

from sre_copilot.errors import SreCopilotError

COMPENSATED = "; compensated: "
"""How the failure message names the compensation (the Act step stores the message as the plan's detail)."""


class ActionCompensated(SreCopilotError):
    status = 502
    code = "action_failed_and_compensated"

    def __init__(self, failure: str, compensation: str) -> None:
        super().__init__(f"{failure}{COMPENSATED}{compensation}")
        self.failure = failure
        self.compensation = compensation
