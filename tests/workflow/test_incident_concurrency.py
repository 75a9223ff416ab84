"""Optimistic concurrency on incidents (services/mutations.py over DynamoStore.put_incident), with the
real writers on the embedded backend's DynamoDB table:

- correlation adding a signal (`CorrelateService._join`) and merging an incident (`_merge`);
- correlation naming the execution it started (`_open`'s write of `execution`, via `mutate_incident`);
- the workflow's steps saving results (`WorkflowSteps._save`: snapshot, hypotheses, decision,
  recommendation, card digest, postmortem);
- lifecycle moves (`lifecycle.move_if_allowed`: policy, act, verify, PagerDuty/phone acks, resolves).

Interleavings are forced, not hoped for: the store's `get_incident` is wrapped so that, right after
a writer reads the incident, other writers run to completion before it writes. The deterministic
test puts each writer inside the other's read-modify-write; the property test lets hypothesis choose
which writers run inside which reads, nested to any depth.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sre_copilot.correlation.engine import CorrelationOutcome
from sre_copilot.domain.incident import Incident, IncidentState
from sre_copilot.domain.types import DecisionOutcome, Priority
from sre_copilot.local.runtime import LocalDeployment, Responders
from sre_copilot.services import lifecycle
from sre_copilot.services.correlate_service import CorrelateService
from sre_copilot.services.workflow_steps import WorkflowSteps

START = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
ARN = "arn:aws:states:us-east-1:123456789012:execution:sre-copilot-incident:"
Writer = Callable[[], None]


class Interleaver:
    """Wraps the store's `get_incident`: after a read, runs the writers queued for that moment."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.read = store.get_incident
        self.pending: list[Writer] = []
        self.choices: Iterator[int] = iter(())
        store.get_incident = self.get_incident

    def get_incident(self, tenant_id: str, incident_id: str) -> Incident | None:
        incident = self.read(tenant_id, incident_id)
        # How many queued writers slip in between this read and the caller's write.
        slips = next(self.choices, 0)
        while slips and self.pending:  # (a nested writer may have run some of them already)
            slips -= 1
            self.pending.pop(0)()
        return incident

    def close(self) -> None:
        self.store.get_incident = self.read


@pytest.fixture(scope="module")
def deployment() -> Iterator[LocalDeployment]:
    with LocalDeployment(start=START, responders=Responders(ack_pages_after_s=None)) as local:
        local.put_catalog({"services": [{"name": "checkout", "depends_on": [], "team": "t", "tier": 1}]})
        yield local


def _open(deployment: LocalDeployment, incident_id: str) -> None:
    incident = Incident.open(incident_id=incident_id, tenant_id=deployment.tenant_id, priority=Priority.P1,
                             title="checkout errors", service="checkout", at=START, actor="test", reason="test")
    incident.signal_ids = ["sig-0"]
    deployment.container.store.put_incident(incident)


def _writers(deployment: LocalDeployment, incident_id: str) -> dict[str, Writer]:
    c = deployment.container
    correlate, steps = CorrelateService(c), WorkflowSteps(c)

    def current() -> Incident:
        return _fresh(deployment, incident_id)

    def join(n: int) -> Writer:
        return lambda: correlate._join(incident_id, f"sig-{n}", None, CorrelationOutcome(f"sig-{n}"))

    return {
        "join-1": join(1),
        "join-2": join(2),
        "join-3": join(3),
        "execution": lambda: steps._save(current(), execution=ARN + incident_id),
        "hypotheses": lambda: steps._save(current(), hypotheses=[{"rank": 1, "entity": "checkout"}]),
        "decision": lambda: steps._save(current(), decision=DecisionOutcome.PRESENT),
        "ack": lambda: lifecycle.move_if_allowed(c, current(), IncidentState.ACKNOWLEDGED, actor="phone:oncall",
                                                 reason="acknowledged by keypress"),
        "investigate": lambda: lifecycle.move_if_allowed(c, current(), IncidentState.INVESTIGATING,
                                                         actor="copilot:workflow", reason="acting"),
    }


def _fresh(deployment: LocalDeployment, incident_id: str) -> Incident:
    """What a step holds when it starts: the incident as stored at that moment (read unwrapped)."""
    store = deployment.container.store
    incident = type(store).get_incident(store, deployment.tenant_id, incident_id)  # not through the hook
    assert incident is not None
    return incident


def _assert_every_change_survived(deployment: LocalDeployment, incident_id: str, ran: set[str]) -> None:
    incident = _fresh(deployment, incident_id)
    joined = {f"sig-{n}" for n in (1, 2, 3) if f"join-{n}" in ran}
    assert set(incident.signal_ids) == {"sig-0", *joined}
    assert len(incident.signal_ids) == len(set(incident.signal_ids))
    assert incident.evidence_version == len(joined)
    assert incident.execution == (ARN + incident_id if "execution" in ran else None)
    assert incident.hypotheses == ([{"rank": 1, "entity": "checkout"}] if "hypotheses" in ran else [])
    assert incident.decision == (DecisionOutcome.PRESENT if "decision" in ran else None)
    states = [t.state for t in incident.timeline]
    assert states[0] is IncidentState.DETECTED and len(states) == len(set(states))  # no move applied twice
    if "investigate" in ran:
        assert incident.state is IncidentState.INVESTIGATING
    elif "ack" in ran:
        assert incident.state is IncidentState.ACKNOWLEDGED


@pytest.mark.parametrize(("outer", "inner"), [
    ("join-1", "execution"),      # correlate adds a signal while the execution is being named
    ("execution", "join-1"),
    ("join-1", "investigate"),    # correlate adds a signal while the workflow moves the state
    ("investigate", "join-1"),
    ("hypotheses", "ack"),        # a step saves its result while a person acknowledges
    ("ack", "hypotheses"),
])
def test_a_write_landing_inside_another_writers_read_modify_write_keeps_both(
        deployment: LocalDeployment, outer: str, inner: str) -> None:
    incident_id = f"inc-race-{outer}-{inner}"
    _open(deployment, incident_id)
    writers = _writers(deployment, incident_id)
    interleaver = Interleaver(deployment.container.store)
    try:
        # Given the inner writer queued to run right after the outer writer's first read
        interleaver.pending = [writers[inner]]
        interleaver.choices = iter([1])
        # When the outer writer runs (and the inner one lands between its read and its write)
        writers[outer]()
    finally:
        interleaver.close()
    # Then the inner writer did run inside, and both changes are stored
    assert interleaver.pending == []
    _assert_every_change_survived(deployment, incident_id, {outer, inner})


def test_concurrent_merges_into_one_survivor_keep_every_signal(deployment: LocalDeployment) -> None:
    correlate = CorrelateService(deployment.container)
    for incident_id in ("inc-merge-survivor", "inc-merge-a", "inc-merge-b"):
        _open(deployment, incident_id)
    for incident_id, signal in (("inc-merge-a", "sig-a"), ("inc-merge-b", "sig-b")):
        correlate._join(incident_id, signal, None, CorrelationOutcome(signal))
    interleaver = Interleaver(deployment.container.store)
    try:
        # Given a second merge queued to land inside the first one's reads
        interleaver.pending = [lambda: correlate._merge("inc-merge-b", "inc-merge-survivor")]
        interleaver.choices = iter([0, 0, 1])  # survivor check, absorbed read, then the survivor's read
        # When both absorbed incidents merge into the survivor
        correlate._merge("inc-merge-a", "inc-merge-survivor")
    finally:
        interleaver.close()
    # Then the survivor holds both merges and every signal, once
    survivor = _fresh(deployment, "inc-merge-survivor")
    assert sorted(survivor.merged_from) == ["inc-merge-a", "inc-merge-b"]
    assert sorted(survivor.signal_ids) == ["sig-0", "sig-a", "sig-b"]
    assert _fresh(deployment, "inc-merge-a").merged_into == "inc-merge-survivor"


NAMES = ["join-1", "join-2", "join-3", "execution", "hypotheses", "decision", "ack", "investigate"]
_examples = iter(range(10**6))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(order=st.permutations(NAMES).flatmap(lambda p: st.lists(st.sampled_from(p), min_size=2, max_size=8,
                                                               unique=True)),
       slips=st.lists(st.integers(min_value=0, max_value=3), max_size=30))
def test_any_interleaving_of_writers_keeps_every_change(deployment: LocalDeployment, order: list[str],
                                                        slips: list[int]) -> None:
    incident_id = f"inc-prop-{next(_examples)}"
    _open(deployment, incident_id)
    writers = _writers(deployment, incident_id)
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
    # Then every writer's change is stored, none twice
    _assert_every_change_survived(deployment, incident_id, set(order))
