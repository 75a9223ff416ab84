"""One analysis pass weighs one set of alerts (services/workflow_steps.py): AssembleContext stores
the incident's signals in its snapshot document, and AggregateEvidence and GenerateHypotheses read
that set instead of the incident's index again. An alert that joins while
the pass runs is left to the next pass, so the snapshot, the evidence and the hypotheses agree."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from sre_copilot.domain.incident import Incident
from sre_copilot.domain.reasoning import EvidencePackage
from sre_copilot.domain.signal import Origin, Signal, signals_from_documents, signals_to_documents
from sre_copilot.domain.types import Priority
from sre_copilot.local.runtime import LocalDeployment, Responders
from sre_copilot.services.workflow_steps import PASS_SIGNALS, WorkflowSteps

START = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
CATALOG = {"services": [{"name": "checkout", "depends_on": ["payments"], "team": "t", "tier": 1},
                        {"name": "payments", "depends_on": [], "team": "t", "tier": 1}]}


@pytest.fixture(scope="module")
def deployment() -> Iterator[LocalDeployment]:
    with LocalDeployment(start=START, backend="memory", responders=Responders(ack_pages_after_s=None)) as local:
        local.put_catalog(CATALOG)
        yield local


def _signal(n: int, service: str, incident_id: str) -> Signal:
    at = START + timedelta(seconds=n)
    return Signal.model_validate({
        "id": f"{incident_id}-sig-{n}", "source": "alertmanager", "status": "firing", "severity": "critical",
        "priority": "P1", "event_time": at, "received_at": at, "title": f"{service} HighErrorRate",
        "labels": {"alertname": "HighErrorRate", "service": service, "direction": "up"}, "fingerprint": f"{incident_id}-fp-{n}",
        "service": service, "entity": service, "entity_kind": "service", "incident_id": incident_id})


def _incident(deployment: LocalDeployment, incident_id: str, signals: list[Signal]) -> None:
    store = deployment.container.store
    incident = Incident.open(incident_id=incident_id, tenant_id=deployment.tenant_id, priority=Priority.P1,
                             title="checkout errors", service="checkout", at=START, actor="test", reason="test")
    incident.signal_ids = [s.id for s in signals]
    store.put_incident(incident)
    for signal in signals:
        store.put_signal(signal)


def _subjects(deployment: LocalDeployment, evidence: dict[str, object]) -> set[str | None]:
    stored = deployment.container.blobs.get_json(str(evidence["evidence_ref"]))
    return {item.subject for item in EvidencePackage.model_validate(stored).items}


def _entities(deployment: LocalDeployment, hypotheses: dict[str, object]) -> set[str]:
    stored = deployment.container.blobs.get_json(str(hypotheses["hypotheses_ref"]))
    assert isinstance(stored, list)
    return {h["entity"] for h in stored}


def test_signals_survive_the_snapshot_document_unchanged() -> None:
    # Given signals with zoned times, labels and an origin
    signals = [_signal(1, "checkout", "inc-json"), _signal(2, "payments", "inc-json").model_copy(
        update={"duplicate_count": 4, "origin": Origin(delivery="d-9", item=2), "sigma": 3.5})]
    # When they are stored as the pass's set and read back
    # Then every field reads back as it was
    assert signals_from_documents(json.loads(json.dumps(signals_to_documents(signals)))) == signals


def test_alerts_joining_mid_pass_waits_for_the_next_pass(deployment: LocalDeployment) -> None:
    # Given an incident of two checkout alerts, and AssembleContext has captured them
    incident_id = "inc-mid-pass"
    _incident(deployment, incident_id, [_signal(1, "checkout", incident_id), _signal(2, "checkout", incident_id)])
    steps = WorkflowSteps(deployment.container)
    state: dict[str, object] = {"tenant_id": deployment.tenant_id, "incident_id": incident_id}
    context = steps.assemble_context(state)
    state["context"] = {"result": context}
    # When three alerts on payments join before the pass's later steps run
    for n in (3, 4, 5):
        deployment.container.store.put_signal(_signal(n, "payments", incident_id))
    evidence = steps.aggregate_evidence(state)
    state["evidence"] = {"result": evidence}
    hypotheses = steps.generate_hypotheses(state)
    # Then the evidence and the hypotheses weigh only the two alerts the snapshot captured
    assert context["signals"] == 2
    assert "payments" not in _subjects(deployment, evidence)
    assert "payments" not in _entities(deployment, hypotheses)
    # And the next pass takes the new alerts in
    again = steps.assemble_context({"tenant_id": deployment.tenant_id, "incident_id": incident_id})
    assert again["signals"] == 5


def test_a_pass_started_before_signals_were_stored_reads_the_incidents_signals(
        deployment: LocalDeployment) -> None:
    # Given a snapshot written by an earlier version, without the pass's signals
    incident_id = "inc-upgrade"
    _incident(deployment, incident_id, [_signal(1, "checkout", incident_id), _signal(2, "payments", incident_id)])
    steps = WorkflowSteps(deployment.container)
    context = steps.assemble_context({"tenant_id": deployment.tenant_id, "incident_id": incident_id})
    blobs, ref = deployment.container.blobs, str(context["snapshot_ref"])
    document = blobs.get_json(ref)
    assert isinstance(document, dict) and len(document.pop(PASS_SIGNALS)) == 2
    blobs.put_json(ref.split("/", 3)[3], document)  # s3://bucket/key
    # When its AggregateEvidence runs after the upgrade
    evidence = steps.aggregate_evidence({"tenant_id": deployment.tenant_id, "incident_id": incident_id,
                                         "context": {"result": context}})
    # Then it reads the incident's signals from the table, as before
    assert "payments" in _subjects(deployment, evidence)
