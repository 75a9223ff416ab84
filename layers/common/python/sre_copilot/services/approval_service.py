"""Deciding an approval: authorise the person, then change the plan with one conditional write.

Every approval path (Slack buttons through `decide_approval`, the read API through `decide`) runs
`decide`, so the rules hold everywhere:
- the person must be an approver for the plan's service and risk (`actions.approvers`); anyone
  else gets an ephemeral refusal and an audit record, and the plan does not change;
- a request older than `approval_expiry_s` has lapsed and can no longer be approved;
- risks in `two_person_rule` need two distinct approvers; the first approval is recorded on the plan;
- the write is conditional on the plan's version as read, so one decision wins; a lost write
  re-reads and decides again on the fresh plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from aws_lambda_powertools.metrics import MetricUnit

from sre_copilot.actions.approvers import (
    ApproverIdentity,
    GroupMembers,
    approvals_needed,
    may_approve,
    prior_approvers,
)
from sre_copilot.adapters.approval_writes import read_plan, replace_plan_if_unchanged
from sre_copilot.domain.notification import AuditRecord
from sre_copilot.domain.types import ActionStatus, Approval, format_time
from sre_copilot.errors import ConfigurationError, NotFound
from sre_copilot.ports import clock
from sre_copilot.services import tenancy
from sre_copilot.services.container import Container
from sre_copilot.services.mutations import MUTATE_ATTEMPTS
from sre_copilot.services.observability import metrics

Outcome = Literal["decided", "first_of_two", "refused", "not_pending", "expired", "lost_race", "repeat"]


@dataclass(frozen=True)
class ApprovalOutcome:
    outcome: Outcome
    text: str
    plan: str = ""
    """`<action> <target>` of the plan decided."""

    @property
    def changed_plan(self) -> bool:
        return self.outcome in ("decided", "first_of_two", "expired")


def _ephemeral(text: str) -> dict[str, object]:
    # Slack shows an ephemeral answer to the clicker only and leaves the card as it is.
    return {"response_type": "ephemeral", "replace_original": False, "text": text}


def decide_approval(c: Container, incident_id: str, plan_id: str, *, approved: bool, who: ApproverIdentity,
                    group_members: GroupMembers | None = None) -> dict[str, object]:
    """`decide` answered the way Slack shows it: a decision to the channel, anything else ephemeral."""
    result = decide(c, incident_id, plan_id, approved=approved, who=who, group_members=group_members)
    if result.outcome in ("decided", "first_of_two"):
        return {"text": result.text}
    return _ephemeral(result.text)


def decide(c: Container, incident_id: str, plan_id: str, *, approved: bool, who: ApproverIdentity,
           group_members: GroupMembers | None = None, tenant: str | None = None) -> ApprovalOutcome:
    """Authorise `who`, then approve or reject the plan with one conditional write. `tenant`
    defaults to the current one (services/tenancy.py; the read API passes its caller's)."""
    # A lost conditional write re-reads and decides again on the fresh plan: a write that only
    # touched something else (a recovery deadline, a gate result) does not cost the person their
    # click, and a decision that landed first is reported as such ("already approved").
    for _attempt in range(MUTATE_ATTEMPTS):
        answer = _decide_once(c, incident_id, plan_id, approved=approved, who=who, group_members=group_members,
                              tenant=tenant or tenancy.current(c.settings.tenant_id))
        if answer is not None:
            return answer
    return ApprovalOutcome("lost_race", f"{plan_id} kept changing while you clicked; look at the card again.")


def _decide_once(c: Container, incident_id: str, plan_id: str, *, approved: bool, who: ApproverIdentity,
                 group_members: GroupMembers | None, tenant: str) -> ApprovalOutcome | None:
    """One read-decide-write; None when the conditional write lost to another writer."""
    now = clock.now()
    read = read_plan(c.store, tenant, incident_id, plan_id)
    if read is None:
        raise NotFound(f"plan {plan_id} of incident {incident_id} does not exist")
    plan, version = read

    def audit(action: str, **details: object) -> None:
        c.store.append(AuditRecord(at=now, tenant_id=tenant, actor=who.actor, action=action, subject=incident_id,
                                   details={"plan": plan.id, "action": plan.action, "target": plan.target, **details}))

    if plan.approval is not Approval.PENDING:
        return ApprovalOutcome("not_pending", f"{plan.id} is already {plan.approval.value}")
    try:
        approvers = c.controls().approvers
    except ConfigurationError as exc:
        audit("approval.refused", reason=exc.message, team=who.team)
        return ApprovalOutcome("refused", f"Not recorded: the approver list cannot be read ({exc.message})")
    verdict = may_approve(approvers, plan, who, group_members=group_members)
    if not verdict.allowed:
        audit("approval.refused", reason=verdict.reason, team=who.team, approved=approved)
        metrics.add_metric(name="UnauthorisedApprovals", unit=MetricUnit.Count, value=1)
        return ApprovalOutcome("refused", f"You may not decide {plan.action} {plan.target}: {verdict.reason}.")
    requested_at = plan.created_at
    if now - requested_at > timedelta(seconds=c.settings.approval_expiry_s):
        lapsed = plan.model_copy(update={"approval": Approval.TIMED_OUT, "status": ActionStatus.SKIPPED,
                                         "updated_at": now, "detail": "the approval request expired"})
        if replace_plan_if_unchanged(c.store, tenant, lapsed, version):
            audit("approval.expired", requested_at=format_time(requested_at))
        return ApprovalOutcome("expired", f"The request to {plan.action} {plan.target} expired "
                                          f"({c.settings.approval_expiry_s} s after it was made); nothing will run.")
    if approved:
        prior = prior_approvers(plan)
        if who.actor in prior:
            return ApprovalOutcome("repeat", "You already approved this plan; a second, different approver is needed.")
        approvals = [*prior, who.actor]
        needed = approvals_needed(approvers, plan)
        if len(approvals) < needed:
            updated = plan.model_copy(update={"params": {**plan.params, "approvals": approvals}, "updated_at": now})
            if not replace_plan_if_unchanged(c.store, tenant, updated, version):
                return None
            audit("approval.first_of_two", approvals=approvals)
            return ApprovalOutcome("first_of_two", f"{plan.action} {plan.target}: approved by {who.user}; "
                                                   f"{needed - len(approvals)} more distinct approver(s) needed")
        decided = plan.model_copy(update={
            "approval": Approval.APPROVED, "approver": ", ".join(approvals), "updated_at": now,
            "params": {**plan.params, "approvals": approvals, "approved_at": format_time(now)}})
    else:
        decided = plan.model_copy(update={"approval": Approval.REJECTED, "approver": who.actor, "updated_at": now})
    if not replace_plan_if_unchanged(c.store, tenant, decided, version):
        return None
    audit(f"approval.{decided.approval.value}", reason=verdict.reason)
    from sre_copilot.services.correlate_service import CorrelateService

    correlate = CorrelateService(c)
    correlate.tenant = tenant  # the parked execution's token is stored under the plan's tenant
    correlate.wake(incident_id, "approved" if approved else "rejected")
    return ApprovalOutcome("decided", f"{plan.action} {plan.target}: {decided.approval.value} by {who.user}",
                           plan=f"{plan.action} {plan.target}")
