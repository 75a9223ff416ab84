"""Who may press the card's other buttons: acknowledge, resolve and judge hypotheses.

Approving or rejecting remediation is not decided here: it goes through
`approval_service.decide_approval` (approvers from the run-time controls, workspace, two-person
rule, expiry). Responding is checked the same way, failing closed: the click must come from the
workspace the run-time controls name (`approvers.slack_team_id`; none named, nobody responds from
Slack), and when the slack secret lists `responders`, the person must be one of them or an approver.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal

from sre_copilot.actions.approvers import ApproverIdentity
from sre_copilot.domain.json_types import strings
from sre_copilot.errors import ConfigurationError, SreCopilotError
from sre_copilot.runtime_settings import Approvers, RuntimeControls

ResponderAction = Literal["acknowledge", "resolve", "validate"]


class Forbidden(SreCopilotError):
    """The caller is authenticated but may not do this."""

    status = 403
    code = "forbidden"


def authorise_responder(slack_secret: Mapping[str, object], approvers: Approvers, who: ApproverIdentity,
                        action: ResponderAction) -> None:
    """Raise `Forbidden` unless `who` may `action` an incident from Slack."""
    if not approvers.slack_team_id:
        raise Forbidden(f"nobody may {action} from Slack until the run-time controls name the workspace "
                        "(approvers.slack_team_id)")
    if who.team != approvers.slack_team_id:
        raise Forbidden(f"Slack clicks must come from workspace {approvers.slack_team_id}, "
                        f"not {who.team or 'an unnamed workspace'}")
    responders = slack_secret.get("responders")
    if responders is None:
        return  # anyone in our workspace may respond
    allowed = set(strings(responders)) | {u for rule in approvers.rules for u in rule.slack_users}
    if who.user not in allowed:
        raise Forbidden(f"Slack user {who.user} is not an incident responder; "
                        "add them to 'responders' in the slack secret")


def current_approvers(controls: Callable[[], RuntimeControls]) -> Approvers:
    """The approvers from the run-time controls; unreadable controls refuse (fail closed)."""
    try:
        return controls().approvers
    except ConfigurationError as exc:
        raise Forbidden(f"the responder list cannot be read ({exc.message})") from exc
