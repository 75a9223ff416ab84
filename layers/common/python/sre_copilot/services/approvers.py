"""Who may press which button: one call, `authorise`, at every human entry point.

A minimal, config-driven check (the slack secret): `approvers` lists the Slack user ids that may
approve or reject remediation, optionally per service (`approvers_by_service`); `responders`
lists who may acknowledge, resolve and judge hypotheses (absent: anyone in the workspace, since
Slack signed the request). Approval fails closed: with no approvers configured nobody approves.
"""

from __future__ import annotations

from typing import Any, Literal

from sre_copilot.errors import SreCopilotError

HumanAction = Literal["approve", "reject", "acknowledge", "resolve", "validate", "read"]
APPROVAL_ACTIONS = frozenset({"approve", "reject"})


class Forbidden(SreCopilotError):
    """The caller is authenticated but may not do this."""

    status = 403
    code = "forbidden"


def authorise(slack_secret: dict[str, Any], user_id: str, action: HumanAction, service: str | None) -> None:
    """Raise `Forbidden` unless `user_id` may do `action` on an incident of `service`."""
    if action == "read":
        return
    if action in APPROVAL_ACTIONS:
        by_service: dict[str, list[str]] = slack_secret.get("approvers_by_service") or {}
        allowed = set(slack_secret.get("approvers") or [])
        if service and service in by_service:
            allowed = set(by_service[service])
        if user_id not in allowed:
            raise Forbidden(f"Slack user {user_id} may not {action} remediation"
                            f"{f' on {service}' if service else ''}; ask an approver listed in the slack secret")
        return
    responders = slack_secret.get("responders")
    if responders is not None and user_id not in set(responders) | set(slack_secret.get("approvers") or []):
        raise Forbidden(f"Slack user {user_id} is not an incident responder; "
                        "add them to 'responders' in the slack secret")
