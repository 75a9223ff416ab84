"""Who may approve a plan: the one authorisation check every approval path calls.

Slack signs a click, which proves only that *someone in some workspace* clicked. Approval also
needs that person to be an approver for the plan's service and risk (`Approvers` in the run-time
controls), clicking from our workspace. Plans whose risk is in `two_person_risks` need two
distinct approvers. With no approvers configured nobody may approve: fail closed.

`may_approve` is pure; the caller supplies Slack user-group membership (`group_members`), which
needs the Slack API.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Literal
from urllib.parse import parse_qs

from sre_copilot.actions.gates import plan_service
from sre_copilot.actions.policy import RISK_ORDER
from sre_copilot.domain.action import ActionPlan
from sre_copilot.runtime_settings import ApproverRule, Approvers

GroupMembers = Callable[[str], Iterable[str]]


@dataclass(frozen=True)
class ApproverIdentity:
    """A verified person: a Slack user (with the workspace the click came from), a phone number, or
    the subject of a read-API token (its signature checked by the API's JWT authorizer)."""

    channel: Literal["slack", "phone", "api"]
    user: str
    team: str | None = None

    @property
    def actor(self) -> str:
        return f"{self.channel}:{self.user}"


@dataclass(frozen=True)
class Authorisation:
    allowed: bool
    reason: str


def _rules_for(approvers: Approvers, plan: ActionPlan) -> list[ApproverRule]:
    service = plan_service(plan)
    return [r for r in approvers.rules
            if any(fnmatchcase(service, p) for p in r.services) and RISK_ORDER[plan.risk] <= RISK_ORDER[r.max_risk]]


def may_approve(approvers: Approvers, plan: ActionPlan, who: ApproverIdentity, *,
                group_members: GroupMembers | None = None) -> Authorisation:
    """Whether `who` may approve (or reject) `plan`, with the reason in one sentence."""
    service = plan_service(plan)
    if not approvers.rules:
        return Authorisation(False, "no approvers are configured for this deployment, so nobody may approve")
    if who.channel == "slack":
        if not approvers.slack_team_id:
            return Authorisation(False, "no Slack workspace is configured for approvals (approvers.slack_team_id)")
        if who.team != approvers.slack_team_id:
            return Authorisation(False, f"approvals must come from Slack workspace {approvers.slack_team_id}, "
                                        f"not {who.team or 'an unnamed workspace'}")
    rules = _rules_for(approvers, plan)
    if not rules:
        return Authorisation(False, f"no approver rule covers a {plan.risk.value}-risk {plan.action} on {service}")
    for rule in rules:
        if who.channel == "phone" and who.user in rule.phones:
            return Authorisation(True, f"{who.user} approves {service} up to {rule.max_risk.value} risk")
        if who.channel == "api" and who.user in rule.api_users:
            return Authorisation(True, f"{who.user} approves {service} up to {rule.max_risk.value} risk")
        if who.channel == "slack":
            if who.user in rule.slack_users:
                return Authorisation(True, f"{who.user} approves {service} up to {rule.max_risk.value} risk")
            for group in rule.slack_groups:
                if group_members is not None and who.user in set(group_members(group)):
                    return Authorisation(True, f"{who.user} is in approver group {group} for {service}")
    return Authorisation(False, f"{who.user} is not an approver for a {plan.risk.value}-risk {plan.action} on {service}")


def approvals_needed(approvers: Approvers, plan: ActionPlan) -> int:
    return 2 if plan.risk in approvers.two_person_risks else 1


def prior_approvers(plan: ActionPlan) -> list[str]:
    """Actors who already approved a plan still waiting for its second approver."""
    return [str(a) for a in plan.params.get("approvals", []) if a]


def slack_team(raw_body: bytes) -> str | None:
    """The workspace id of a Slack interaction (`team.id`, else `user.team_id`)."""
    try:
        payload = json.loads(parse_qs(raw_body.decode("utf-8"))["payload"][0])
    except (UnicodeDecodeError, KeyError, IndexError, ValueError, RecursionError):
        return None
    if not isinstance(payload, dict):
        return None
    team = payload.get("team")
    if isinstance(team, dict) and team.get("id"):
        return str(team["id"])
    user = payload.get("user")
    if isinstance(user, dict) and user.get("team_id"):
        return str(user["team_id"])
    return None
