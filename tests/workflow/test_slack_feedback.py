"""Confirm and Reject from Slack (card buttons and `/sre confirm|reject`) go through the one feedback
path: factor 5 by fault, service and kind; a confirmed cause on the incident; counted once; audited."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from checkout_payments import CATALOG, START
from slack_sdk.signature import SignatureVerifier

from sre_copilot.domain.types import format_time
from sre_copilot.local.runtime import LOCAL_SECRETS, LOCAL_SLACK_TEAM, LocalDeployment, Responders
from sre_copilot.services.feedback import validation_keys


@pytest.fixture
def deployment() -> Iterator[LocalDeployment]:
    with LocalDeployment(start=START, responders=Responders(ack_pages_after_s=None)) as d:
        d.put_catalog(CATALOG)
        yield d
        d.settle()  # the re-scoring a verdict wakes finishes before the deployment is torn down


def _alert(deployment: LocalDeployment) -> str:
    labels = {"alertname": "HighErrorRate", "severity": "critical", "service": "checkout"}
    body = {"receiver": "r", "status": "firing", "version": "4", "groupKey": "{}", "truncatedAlerts": 0,
            "groupLabels": {}, "commonLabels": labels, "commonAnnotations": {}, "externalURL": "http://am",
            "alerts": [{"status": "firing", "labels": labels, "annotations": {"summary": "5xx above SLO"},
                        "startsAt": format_time(deployment.clock.now()), "endsAt": "0001-01-01T00:00:00Z",
                        "generatorURL": "http://prom", "fingerprint": "HighErrorRate-checkout"}]}
    status, _ = deployment.http("POST", "/webhooks/alertmanager", json.dumps(body).encode(),
                                {"Content-Type": "application/json"})
    assert status == 202
    deployment.settle()
    [incident] = deployment.container.store.open_incidents(deployment.tenant_id)
    assert incident.hypotheses
    return incident.id


def _signed(deployment: LocalDeployment, path: str, body: bytes) -> tuple[int, Any]:
    timestamp = str(int(deployment.clock.now().timestamp()))
    signature = SignatureVerifier(LOCAL_SECRETS["slack"]["signing_secret"]).generate_signature(
        timestamp=timestamp, body=body.decode()) or ""
    return deployment.http("POST", path, body, {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature,
                                                "Content-Type": "application/x-www-form-urlencoded"})


def _command(deployment: LocalDeployment, text: str) -> tuple[int, Any]:
    return _signed(deployment, "/callbacks/slack/commands", urlencode(
        {"command": "/sre", "text": text, "user_id": "U0LOCAL", "team_id": LOCAL_SLACK_TEAM}).encode())


def _click(deployment: LocalDeployment, action_id: str, value: str) -> tuple[int, Any]:
    payload = {"type": "block_actions", "user": {"id": "U0LOCAL", "username": "oncall"},
               "team": {"id": LOCAL_SLACK_TEAM}, "actions": [{"action_id": action_id, "value": value}]}
    return _signed(deployment, "/callbacks/slack/interactions", urlencode({"payload": json.dumps(payload)}).encode())


def test_the_confirm_button_records_the_root_cause_and_human_validation_once(deployment: LocalDeployment) -> None:
    store = deployment.container.store
    incident_id = _alert(deployment)
    top = store.get_incident(deployment.tenant_id, incident_id).hypotheses[0]  # type: ignore[union-attr]
    # When the on-call clicks Confirm on the top hypothesis, twice
    status, body = _click(deployment, "confirm_hypothesis", f"{incident_id}|{top['id']}")
    again = _click(deployment, "confirm_hypothesis", f"{incident_id}|{top['id']}")[1]
    # Then the incident carries the confirmed cause, and factor 5 counted one acceptance per key
    assert status == 200 and "confirmed by slack:U0LOCAL" in body["text"] and "already" in again["text"]
    incident = store.get_incident(deployment.tenant_id, incident_id)
    assert incident is not None and incident.root_cause is not None
    assert (incident.root_cause["entity"], incident.root_cause["fault"]) == (top["entity"], top["fault"])
    history = store.validation_history(deployment.tenant_id)
    assert all(history[key] == (1, 1) for key in validation_keys(top))
    assert [a.action for a in store.for_subject(deployment.tenant_id, incident_id)].count("feedback.confirmed") == 1


def test_sre_reject_records_a_rejection_and_clears_a_confirmed_cause(deployment: LocalDeployment) -> None:
    store = deployment.container.store
    incident_id = _alert(deployment)
    top = store.get_incident(deployment.tenant_id, incident_id).hypotheses[0]  # type: ignore[union-attr]
    _command(deployment, f"confirm {incident_id}")
    # When someone rejects the same hypothesis with /sre reject
    status, body = _command(deployment, f"reject {incident_id} 1")
    # Then the cause is withdrawn and factor 5 holds one acceptance out of two verdicts
    assert status == 200 and "rejected by slack:U0LOCAL" in body["text"]
    incident = store.get_incident(deployment.tenant_id, incident_id)
    assert incident is not None and incident.root_cause is None
    assert store.validation_history(deployment.tenant_id)[validation_keys(top)[0]] == (1, 2)
    # And a malformed or unknown rank is a clear 4xx, changing nothing
    assert _command(deployment, f"reject {incident_id} top")[0] == 400
    assert _command(deployment, f"reject {incident_id} 9")[0] == 400
    assert store.validation_history(deployment.tenant_id)[validation_keys(top)[0]] == (1, 2)
