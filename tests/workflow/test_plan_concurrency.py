"""Optimistic concurrency on action plans (services/mutations.mutate_plan over DynamoStore.put_action),
with the real writers on the embedded backend's DynamoDB table:

- a person's decision through Slack (`approval_service.decide_approval`, two-person rule included)
  and through the read API (`ReadApi.decide`);
- the sweeper timing a pending request out (`SweeperService._time_out`);
- AwaitDecision ending a rejected plan (`_end_rejected`, via `mutate_plan`);
- the workflow's records on the plan: Act's outcome (`save_plan` with the executor's result),
  Verify's recovery deadline and outcome (`save_plan` merging params), a gate refresh.

Interleavings are forced: the store's `get_action` is wrapped so that, right after a writer reads
the plan, other writers run to completion before it writes. Decisions must be exclusive (exactly one
of approve, reject and time-out wins, and the losers say so); field and params writes must all
survive (none is lost to a write made from an older copy).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sre_copilot.actions.approvers import ApproverIdentity
from sre_copilot.api.access import Principal, Role
from sre_copilot.api.service import ReadApi
from sre_copilot.domain.action import ActionPlan
from sre_copilot.domain.incident import Incident
from sre_copilot.domain.types import ActionStatus, Approval, Priority, Risk
from sre_copilot.errors import ConcurrentUpdate
from sre_copilot.local.runtime import LocalDeployment, Responders
from sre_copilot.runtime_settings import ApproverRule, Approvers, RuntimeControls
from sre_copilot.services.approval_service import decide_approval
from sre_copilot.services.callbacks_service import SweeperService
from sre_copilot.services.mutations import mutate_plan, save_plan
from sre_copilot.services.workflow_steps import _end_rejected

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
TEAM = "T0OURS"
CONTROLS = RuntimeControls(approvers=Approvers(slack_team_id=TEAM, rules=[
    ApproverRule(services=["checkout"], max_risk=Risk.CRITICAL, slack_users=["U-ALICE", "U-BOB"],
                 api_users=["lead"])]))
TENANT = "default"
Writer = Callable[[], Any]


class Interleaver:
    """Wraps the store's `get_action`: after a read, runs the writers queued for that moment."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.read = store.get_action
        self.pending: list[Writer] = []
        self.choices: Iterator[int] = iter(())
        store.get_action = self.get_action

    def get_action(self, tenant_id: str, incident_id: str, plan_id: str) -> ActionPlan | None:
        plan = self.read(tenant_id, incident_id, plan_id)
        slips = next(self.choices, 0)
        while slips and self.pending:
            slips -= 1
            self.pending.pop(0)()
        return plan

    def close(self) -> None:
        self.store.get_action = self.read


@pytest.fixture(scope="module")
def deployment() -> Iterator[LocalDeployment]:
    with LocalDeployment(start=T0 + timedelta(minutes=1), responders=Responders(ack_pages_after_s=None),
                         controls=CONTROLS) as local:
        local.put_catalog({"services": [{"name": "checkout", "depends_on": [], "team": "t", "tier": 1}]})
        yield local


_ids = iter(range(10**6))


def _plan(deployment: LocalDeployment, risk: Risk = Risk.HIGH) -> ActionPlan:
    n = next(_ids)
    incident = Incident.open(incident_id=f"inc-plan-{n}", tenant_id=TENANT, priority=Priority.P1,
                             title="checkout errors", service="checkout", at=T0, actor="test", reason="test")
    deployment.container.store.put_incident(incident)
    plan = ActionPlan(id=f"plan-{n}", incident_id=incident.id, action="rollback", target="deployment/checkout",
                      risk=risk, params={"service": "checkout", "environment": "prod"}, created_at=T0,
                      updated_at=T0)
    deployment.container.store.put_action(TENANT, plan)
    return plan


def _stored(deployment: LocalDeployment, plan: ActionPlan) -> ActionPlan:
    store = deployment.container.store
    stored = type(store).get_action(store, TENANT, plan.incident_id, plan.id)  # not through the hook
    assert stored is not None
    return stored


def _decisions(deployment: LocalDeployment, plan: ActionPlan, answers: dict[str, Any]) -> dict[str, Writer]:
    c = deployment.container
    api = ReadApi(c)

    def slack(name: str, user: str, approved: bool) -> Writer:
        def click() -> None:
            answers[name] = decide_approval(c, plan.incident_id, plan.id, approved=approved,
                                            who=ApproverIdentity("slack", user, TEAM))["text"]
        return click

    def through_api(name: str, approve: bool) -> Writer:
        def call() -> None:
            answers[name] = api.decide(Principal("lead", TENANT, Role.APPROVER), plan.incident_id, plan.id,
                                       approve).result
        return call

    def timeout() -> None:
        answers["timeout"] = SweeperService(c)._time_out(plan.incident_id, plan.id, deployment.clock.now())

    return {"approve": slack("approve", "U-ALICE", True), "reject": slack("reject", "U-BOB", False),
            "api-approve": through_api("api-approve", True), "api-reject": through_api("api-reject", False),
            "timeout": timeout}


DECIDED = {"approve": Approval.APPROVED, "api-approve": Approval.APPROVED, "reject": Approval.REJECTED,
           "api-reject": Approval.REJECTED, "timeout": Approval.TIMED_OUT}


@pytest.mark.parametrize(("outer", "inner"), [
    ("timeout", "approve"),       # the sweeper times the request out while a person clicks Approve
    ("approve", "timeout"),
    ("reject", "api-approve"),    # a Slack rejection and an API approval at the same moment
    ("api-approve", "reject"),
    ("api-reject", "timeout"),
])
def test_two_decisions_on_one_plan_exactly_one_wins_and_the_other_is_told(
        deployment: LocalDeployment, outer: str, inner: str) -> None:
    plan = _plan(deployment)
    answers: dict[str, Any] = {}
    writers = _decisions(deployment, plan, answers)
    interleaver = Interleaver(deployment.container.store)
    try:
        # Given the inner decision queued to land right after the outer one reads the plan
        interleaver.pending = [writers[inner]]
        interleaver.choices = iter([1])
        # When the outer decision is made
        writers[outer]()
    finally:
        interleaver.close()
    # Then the inner decision, which wrote first, stands; the outer one re-read and saw it
    assert interleaver.pending == []
    stored = _stored(deployment, plan)
    assert stored.approval is DECIDED[inner]
    assert stored.version == 2  # created, then one decision written
    # And the outer writer was told the plan was already decided (the sweeper: it timed out nothing)
    if outer == "timeout":
        assert answers["timeout"] is False
    else:
        assert f"already {DECIDED[inner].value}" in answers[outer]


def test_a_first_approval_inside_a_second_approvers_read_still_counts_both(deployment: LocalDeployment) -> None:
    # Given a critical plan (two distinct approvers) and Bob's click landing inside Alice's read
    plan = _plan(deployment, Risk.CRITICAL)
    answers: dict[str, Any] = {}
    c = deployment.container
    interleaver = Interleaver(c.store)
    try:
        interleaver.pending = [lambda: decide_approval(c, plan.incident_id, plan.id, approved=True,
                                                       who=ApproverIdentity("slack", "U-BOB", TEAM))]
        interleaver.choices = iter([1])
        # When Alice approves
        answers["alice"] = decide_approval(c, plan.incident_id, plan.id, approved=True,
                                           who=ApproverIdentity("slack", "U-ALICE", TEAM))
    finally:
        interleaver.close()
    # Then Alice's approval was re-applied on top of Bob's: two approvers, approved, nobody lost
    stored = _stored(deployment, plan)
    assert stored.approval is Approval.APPROVED
    assert stored.params["approvals"] == ["slack:U-BOB", "slack:U-ALICE"]
    assert "approved by U-ALICE" in answers["alice"]["text"]


def test_a_rejection_is_not_ended_twice_and_an_approval_after_it_changes_nothing(deployment: LocalDeployment) -> None:
    # Given a rejected plan, and an API approval landing inside AwaitDecision's end of it
    plan = _plan(deployment)
    c = deployment.container
    decide_approval(c, plan.incident_id, plan.id, approved=False, who=ApproverIdentity("slack", "U-BOB", TEAM))
    answers: dict[str, Any] = {}
    writers = _decisions(deployment, plan, answers)
    interleaver = Interleaver(c.store)
    try:
        interleaver.pending = [writers["api-approve"], lambda: mutate_plan(c.store, TENANT, plan.incident_id,
                                                                           plan.id, _end_rejected)]
        interleaver.choices = iter([2])
        # When AwaitDecision ends the rejected plan
        mutate_plan(c.store, TENANT, plan.incident_id, plan.id, _end_rejected)
    finally:
        interleaver.close()
    # Then the plan is rejected and skipped once; the approval was refused as already decided
    stored = _stored(deployment, plan)
    assert (stored.approval, stored.status) == (Approval.REJECTED, ActionStatus.SKIPPED)
    assert stored.version == 3  # created, rejected, ended
    assert "already rejected" in answers["api-approve"]


def _records(deployment: LocalDeployment, plan: ActionPlan) -> dict[str, Writer]:
    """The workflow's writes on an approved plan: each sets its own fields or params keys."""
    store = deployment.container.store

    def fresh() -> ActionPlan:
        return _stored(deployment, plan)  # what a step holds when it starts

    return {
        "executed": lambda: save_plan(store, TENANT, fresh(), params={"calls": ["patch deployment/checkout"]},
                                      status=ActionStatus.EXECUTED, detail="rolled out"),
        "recovery-deadline": lambda: save_plan(store, TENANT, fresh(), params={"recovery_due": "2026-05-01T08:20:00Z"}),
        "recovery-outcome": lambda: save_plan(store, TENANT, fresh(), params={"recovery_outcome": {"ok": True}}),
        "gates": lambda: save_plan(store, TENANT, fresh(), gate_results={"kill_switch": "pass"}),
        "second-approval": lambda: save_plan(store, TENANT, fresh(), params={"approvals": ["slack:U-ALICE"]}),
    }


def _assert_every_record_survived(deployment: LocalDeployment, plan: ActionPlan, ran: set[str]) -> None:
    stored = _stored(deployment, plan)
    assert stored.params["service"] == "checkout"  # the plan's own params are never lost either
    assert ("calls" in stored.params) == ("executed" in ran)
    assert (stored.status is ActionStatus.EXECUTED) == ("executed" in ran)
    assert ("recovery_due" in stored.params) == ("recovery-deadline" in ran)
    assert ("recovery_outcome" in stored.params) == ("recovery-outcome" in ran)
    assert (stored.gate_results == {"kill_switch": "pass"}) == ("gates" in ran)
    assert ("approvals" in stored.params) == ("second-approval" in ran)
    assert stored.version == 1 + len(ran)  # each writer wrote exactly once


@pytest.mark.parametrize(("outer", "inner"), [
    ("executed", "recovery-deadline"),  # Act records its result while Verify's deadline is written
    ("recovery-deadline", "executed"),
    ("recovery-outcome", "gates"),
])
def test_a_plan_write_landing_inside_another_keeps_both(deployment: LocalDeployment, outer: str, inner: str) -> None:
    plan = _plan(deployment)
    writers = _records(deployment, plan)
    interleaver = Interleaver(deployment.container.store)
    try:
        interleaver.pending = [writers[inner]]
        interleaver.choices = iter([1])
        writers[outer]()
    finally:
        interleaver.close()
    assert interleaver.pending == []
    _assert_every_record_survived(deployment, plan, {outer, inner})


def test_a_blind_write_from_an_old_copy_is_refused(deployment: LocalDeployment) -> None:
    # Given a plan read by one writer, then changed by another
    plan = _plan(deployment)
    store = deployment.container.store
    old = _stored(deployment, plan)
    save_plan(store, TENANT, old, detail="changed meanwhile")
    # When the first writer puts its copy without re-reading
    # Then the store refuses it instead of letting the last writer win
    with pytest.raises(ConcurrentUpdate):
        store.put_action(TENANT, old.model_copy(update={"detail": "stale"}))
    assert _stored(deployment, plan).detail == "changed meanwhile"


NAMES = ["executed", "recovery-deadline", "recovery-outcome", "gates", "second-approval"]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(order=st.permutations(NAMES).flatmap(lambda p: st.lists(st.sampled_from(p), min_size=2, max_size=5,
                                                               unique=True)),
       slips=st.lists(st.integers(min_value=0, max_value=3), max_size=20))
def test_any_interleaving_of_plan_writers_keeps_every_change(deployment: LocalDeployment, order: list[str],
                                                             slips: list[int]) -> None:
    plan = _plan(deployment)
    writers = _records(deployment, plan)
    interleaver = Interleaver(deployment.container.store)
    try:
        # Given writers started in a random order, each read letting a random number of the
        # not-yet-started writers run to completion (nested: they read through the same hook)
        interleaver.pending = [writers[name] for name in order[1:]]
        interleaver.choices = iter(slips)
        # When the first writer runs and the rest run inside it or after it
        writers[order[0]]()
        while interleaver.pending:
            interleaver.pending.pop(0)()
    finally:
        interleaver.close()
    # Then every writer's change is stored, each written once
    _assert_every_record_survived(deployment, plan, set(order))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(order=st.permutations(list(DECIDED)).flatmap(lambda p: st.lists(st.sampled_from(p), min_size=2,
                                                                       max_size=5, unique=True)),
       slips=st.lists(st.integers(min_value=0, max_value=2), max_size=12))
def test_any_interleaving_of_decisions_decides_a_plan_once(deployment: LocalDeployment, order: list[str],
                                                           slips: list[int]) -> None:
    plan = _plan(deployment)
    answers: dict[str, Any] = {}
    writers = _decisions(deployment, plan, answers)
    interleaver = Interleaver(deployment.container.store)
    try:
        interleaver.pending = [writers[name] for name in order[1:]]
        interleaver.choices = iter(slips)
        writers[order[0]]()
        while interleaver.pending:
            interleaver.pending.pop(0)()
    finally:
        interleaver.close()
    # Then exactly one decision was written, and it is one somebody made
    stored = _stored(deployment, plan)
    assert stored.version == 2
    assert stored.approval in {DECIDED[name] for name in order}
    audited = [r.action for r in deployment.container.store.for_subject(TENANT, plan.incident_id)
               if r.action in ("approval.approved", "approval.rejected")]
    assert len(audited) <= 1
