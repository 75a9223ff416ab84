"""Correlation writes an incident once per batch, not once per joining alert (services/correlate_service.py):
DynamoDB bills the incident's whole item for every write, and a storm's batch brings up to ten alerts
to the same incident. On the embedded backend's real table."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from sre_copilot.correlation.engine import CorrelationEngine, CorrelationOutcome
from sre_copilot.domain.incident import GroupingExplanation, Incident
from sre_copilot.domain.signal import Signal
from sre_copilot.domain.types import Priority
from sre_copilot.local.runtime import LocalDeployment, Responders
from sre_copilot.services.correlate_service import CorrelateService

START = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def deployment() -> Iterator[LocalDeployment]:
    with LocalDeployment(start=START, responders=Responders(ack_pages_after_s=None)) as local:
        local.put_catalog({"services": [{"name": "checkout", "depends_on": [], "team": "t", "tier": 1}]})
        yield local


def _signal(deployment: LocalDeployment, n: int, entity: str) -> Signal:
    at = START + timedelta(seconds=n)
    signal = Signal.model_validate({
        "id": f"sig-{n}", "tenant_id": deployment.tenant_id, "source": "alertmanager", "status": "firing",
        "severity": "warning", "priority": "P1", "event_time": at, "received_at": at, "title": "HighErrorRate",
        "labels": {"alertname": "HighErrorRate"}, "fingerprint": f"fp-{n}", "service": "checkout", "entity": entity})
    deployment.container.store.put_signal(signal)
    return signal


def test_a_batch_of_alerts_joining_one_incident_writes_it_once(deployment: LocalDeployment) -> None:
    # Given an open incident, and a batch of four alerts the engine placed in it (one on a new entity)
    store = deployment.container.store
    incident = Incident.open(incident_id="inc-batch", tenant_id=deployment.tenant_id, priority=Priority.P1,
                             title="checkout errors", service="checkout", at=START, actor="test", reason="test")
    incident.signal_ids, incident.entities = ["sig-0"], ["checkout-0"]
    store.put_incident(incident)
    signals = [_signal(deployment, n, "checkout-0" if n < 4 else "checkout-1") for n in range(1, 5)]
    outcomes = [CorrelationOutcome(s.id, incident_id="inc-batch", joined="inc-batch",
                                   explanation=GroupingExplanation(signal_id=s.id, rule="service", evidence="checkout",
                                                                   path=["checkout"], score=0.75))
                for s in signals]
    writes: list[int] = []
    put = store.put_incident

    def counted(written: Incident) -> None:
        writes.append(written.version)
        put(written)

    store.put_incident = counted  # type: ignore[method-assign,assignment]
    # When correlation applies the batch
    try:
        CorrelateService(deployment.container)._apply(CorrelationEngine(deployment.container.catalog()), outcomes,
                                                      {s.id: s for s in signals})
    finally:
        store.put_incident = put  # type: ignore[method-assign]
    # Then the incident was written once, with the four alerts in order and their explanations,
    # each counted as new evidence, and every signal points at it
    stored = store.get_incident(deployment.tenant_id, "inc-batch")
    assert stored is not None and len(writes) == 1
    assert stored.signal_ids == ["sig-0", "sig-1", "sig-2", "sig-3", "sig-4"]
    assert [g.signal_id for g in stored.grouping] == ["sig-1", "sig-2", "sig-3", "sig-4"]
    assert stored.evidence_version == incident.evidence_version + 4 and stored.entities == ["checkout-0", "checkout-1"]
    assert [getattr(store.get_signal(deployment.tenant_id, s.id), "incident_id", None) for s in signals] == \
        ["inc-batch"] * 4
    # And, with an alert on a new entity among them, the incident is flagged for re-analysis
    assert "inc-batch" in store.due_work(deployment.tenant_id, START + timedelta(days=1)).refresh


def test_a_redelivered_batch_is_no_new_evidence(deployment: LocalDeployment) -> None:
    # Given an open incident that already holds two firing alerts, parked with no flag
    store, tenant = deployment.container.store, deployment.tenant_id
    incident = Incident.open(incident_id="inc-again", tenant_id=tenant, priority=Priority.P1,
                             title="checkout errors", service="checkout", at=START, actor="test", reason="test")
    signals = [_signal(deployment, n, "checkout-0") for n in (21, 22)]
    incident.signal_ids, incident.entities = [s.id for s in signals], ["checkout-0"]
    incident.alert_kinds = ["HighErrorRate"]
    store.put_incident(incident)
    store.clear_refresh(tenant, "inc-again")
    outcomes = [CorrelationOutcome(s.id, incident_id="inc-again", joined="inc-again") for s in signals]
    # When the same batch is applied again (SQS redelivers a batch whose invocation timed out)
    CorrelateService(deployment.container)._apply(CorrelationEngine(deployment.container.catalog()), outcomes,
                                                  {s.id: s for s in signals})
    # Then the incident is unchanged and nothing is flagged for another analysis
    stored = store.get_incident(tenant, "inc-again")
    assert stored is not None and stored.evidence_version == incident.evidence_version
    assert "inc-again" not in store.flagged_for_refresh(tenant)


# Called outside the correlate handler, the service leaves its metrics to the functions that run
# next in this process (the sweeper's minute), and Powertools warns when one of them has none.
@pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
def test_alerts_of_the_same_instant_are_correlated_in_the_order_their_sender_listed_them(
        deployment: LocalDeployment) -> None:
    store, tenant = deployment.container.store, deployment.tenant_id
    # Given one delivery of two P2 alerts on one instance (held: a P2 incident waits 15 minutes), stamped
    # with the same instant, whose signal ids sort the other way round from the sender's order
    at = START + timedelta(hours=1)
    signals = [Signal.model_validate({
        "id": signal_id, "tenant_id": tenant, "source": "alertmanager", "status": "firing",
        "severity": "warning", "priority": "P2", "event_time": at, "received_at": at,
        "origin": {"delivery": "d-1", "item": item}, "title": title, "labels": {"alertname": title},
        "fingerprint": f"fp-same-{item}", "service": "checkout", "entity": "checkout-9"})
        for item, (signal_id, title) in enumerate([("sig-same-b", "HighLatency"), ("sig-same-a", "HighErrorRate")])]
    for signal in signals:
        store.put_signal(signal)
    # When correlation applies them as one batch, in the other order of the queue
    CorrelateService(deployment.container).process(
        [{"type": "signal", "signal_id": s.id, "signal": s.model_dump(mode="json"), "tenant_id": tenant}
         for s in reversed(signals)])
    # Then the engine took them in the sender's order: the held group starts with its first alert
    state, _version = store.load_correlation_state(tenant)
    [group] = [g for g in state["groups"] if any(m[0] == "sig-same-a" for m in g["members"])]
    assert [m[0] for m in group["members"]] == ["sig-same-b", "sig-same-a"]
