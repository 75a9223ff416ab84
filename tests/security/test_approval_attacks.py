"""Findings 4 and 10: who may approve, and exactly one decision wins.

Attacks go through the deployed callbacks route with requests Slack really signs (the local
signing secret), so only the approver rules can stop them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_sdk.signature import SignatureVerifier

from sre_copilot.adapters.approval_writes import read_plan, replace_plan_if_unchanged
from sre_copilot.domain.action import ActionPlan
from sre_copilot.domain.types import ActionStatus, Approval, Risk
from sre_copilot.local.runtime import LOCAL_SECRETS, LocalDeployment
from sre_copilot.runtime_settings import ApproverRule, Approvers, RuntimeControls

T0 = datetime(2026, 3, 10, 20, 0, tzinfo=UTC)
TEAM = "T0OURS"
CONTROLS = RuntimeControls(approvers=Approvers(slack_team_id=TEAM, rules=[
    ApproverRule(services=["checkout"], max_risk=Risk.CRITICAL, slack_users=["U-ALICE", "U-BOB"])]))


def _plan(plan_id: str, risk: Risk = Risk.HIGH, created: datetime = T0) -> ActionPlan:
    return ActionPlan(id=plan_id, incident_id="inc-1", action="rollback", target="deployment/checkout", risk=risk,
                      params={"service": "checkout", "environment": "prod"}, approval=Approval.PENDING,
                      status=ActionStatus.PLANNED, created_at=created, updated_at=created)


def _click(d: LocalDeployment, plan_id: str, user: str, team: str = TEAM, approve: bool = True) -> tuple[int, Any]:
    payload = {"type": "block_actions", "user": {"id": user}, "team": {"id": team},
               "actions": [{"action_id": "approve" if approve else "reject", "value": f"inc-1|{plan_id}"}]}
    body = urlencode({"payload": json.dumps(payload)}).encode()
    timestamp = str(int(d.clock.now().timestamp()))
    signature = SignatureVerifier(LOCAL_SECRETS["slack"]["signing_secret"]).generate_signature(
        timestamp=timestamp, body=body.decode()) or ""
    return d.http("POST", "/callbacks/slack/interactions", body, {
        "X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded"})


@pytest.fixture()
def deployment() -> Iterator[LocalDeployment]:
    with LocalDeployment(start=T0 + timedelta(minutes=1), controls=CONTROLS) as d:
        d.put_catalog({"services": [{"name": "checkout", "tier": 1}]})
        yield d


def _audit(d: LocalDeployment) -> list[str]:
    return [r.action for r in d.container.store.for_subject("default", "inc-1")]


@pytest.mark.parametrize(("user", "team", "why"), [
    ("U-MALLORY", TEAM, "not an approver"),
    ("U-ALICE", "T0OTHER", "must come from Slack workspace"),
])
def test_finding_4_an_unauthorised_click_is_refused_ephemerally_and_audited(deployment: LocalDeployment, user: str,
                                                                             team: str, why: str) -> None:
    deployment.container.store.put_action("default", _plan("plan-1"))
    # When a click Slack signed comes from someone who is not an approver (or from another workspace)
    status, body = _click(deployment, "plan-1", user, team)
    # Then only the clicker sees a refusal, the refusal is audited and the plan still waits
    assert status == 200 and body["response_type"] == "ephemeral" and why in body["text"]
    assert _audit(deployment) == ["approval.refused"]
    assert deployment.container.store.actions_for("default", "inc-1")[0].approval is Approval.PENDING


def test_finding_4_with_no_approvers_configured_nobody_may_approve() -> None:
    with LocalDeployment(start=T0 + timedelta(minutes=1), controls=RuntimeControls()) as d:
        d.container.store.put_action("default", _plan("plan-1"))
        _, body = _click(d, "plan-1", "U-ALICE")
        assert "nobody may approve" in body["text"]
        assert d.container.store.actions_for("default", "inc-1")[0].approval is Approval.PENDING


def test_finding_4_stack_secrets_refuse_slack_callbacks() -> None:
    secrets: dict[str, dict[str, Any]] = {n: {} for n in ("pagerduty", "slack", "twilio", "llm", "webhook")}
    with LocalDeployment(start=T0, secrets=secrets, insecure_sources=(), controls=CONTROLS) as d:
        status, body = _click(d, "plan-1", "U-ALICE")
        assert status == 401 and body["code"] == "source_not_configured"


def test_two_person_rule_needs_two_distinct_approvers_for_critical(deployment: LocalDeployment) -> None:
    deployment.container.store.put_action("default", _plan("plan-c", Risk.CRITICAL))
    _, first = _click(deployment, "plan-c", "U-ALICE")
    assert "1 more distinct approver" in first["text"]
    _, again = _click(deployment, "plan-c", "U-ALICE")
    assert again["response_type"] == "ephemeral" and "different approver" in again["text"]
    assert deployment.container.store.actions_for("default", "inc-1")[0].approval is Approval.PENDING
    _click(deployment, "plan-c", "U-BOB")
    plan = deployment.container.store.actions_for("default", "inc-1")[0]
    assert plan.approval is Approval.APPROVED and plan.params["approvals"] == ["slack:U-ALICE", "slack:U-BOB"]


def test_an_approval_request_older_than_the_expiry_cannot_be_approved(deployment: LocalDeployment) -> None:
    deployment.container.store.put_action("default", _plan("plan-old", created=T0 - timedelta(hours=2)))
    _, body = _click(deployment, "plan-old", "U-ALICE")
    assert "expired" in body["text"]
    assert deployment.container.store.actions_for("default", "inc-1")[0].approval is Approval.TIMED_OUT


def test_finding_10_two_decisions_on_one_read_exactly_one_wins(deployment: LocalDeployment) -> None:
    store = deployment.container.store
    store.put_action("default", _plan("plan-r"))
    read = read_plan(store, "default", "inc-1", "plan-r")
    assert read is not None
    plan, doc = read
    # When a click and the sweeper both decide from the same read
    approved = plan.model_copy(update={"approval": Approval.APPROVED, "approver": "slack:U-ALICE"})
    timed_out = plan.model_copy(update={"approval": Approval.TIMED_OUT, "status": ActionStatus.SKIPPED})
    # Then the first conditional write wins and the second is told so, not silently applied
    assert replace_plan_if_unchanged(store, "default", approved, doc) is True
    assert replace_plan_if_unchanged(store, "default", timed_out, doc) is False
    assert store.actions_for("default", "inc-1")[0].approval is Approval.APPROVED


def test_finding_5_an_explicit_approval_request_waits_at_most_the_expiry(deployment: LocalDeployment) -> None:
    from sre_copilot.domain.incident import Incident
    from sre_copilot.domain.types import Priority
    from sre_copilot.services.workflow_steps import WorkflowSteps

    now = deployment.clock.now()
    deployment.container.store.put_incident(Incident(id="inc-1", priority=Priority.P1, title="checkout errors",
                                                     service="checkout", opened_at=now, updated_at=now))
    # Given a high-risk plan routed to an explicit approval, which has no notify-and-wait timeout
    deployment.container.store.put_action("default", _plan("plan-h", created=now))
    # When the workflow parks on it
    parked = WorkflowSteps(deployment.container).await_decision(
        {"tenant_id": "default", "incident_id": "inc-1", "task_token": "token-1"})
    # Then the sweeper wakes it at the approval expiry (1 h), not in weeks
    assert datetime.fromisoformat(parked["deadline"]) == now + timedelta(seconds=3600)
