"""The deployed workflow on the embedded backend: a lone P1 alert reaches people, a rejected plan is
never asked for again, and the execution never ends in FAILED over a plan."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3

from sre_copilot.domain.types import format_time
from sre_copilot.local.runtime import LocalDeployment, Responders

START = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
CATALOG = {"services": [
    {"name": "checkout", "depends_on": ["payments"], "team": "t", "tier": 1,
     "instances": [{"name": "checkout-0", "host": "ip-10-0-0-1"}]},
    {"name": "payments", "depends_on": [], "team": "t", "tier": 1,
     "instances": [{"name": "payments-0", "host": "ip-10-0-0-2"}]}],
    "hosts": [{"name": "ip-10-0-0-1"}, {"name": "ip-10-0-0-2"}]}
DEMO = (Path(__file__).resolve().parents[2] / "layers/common/python/sre_copilot/data/demo-checkout-bad-deploy.json")


def _alert(deployment: LocalDeployment, alertname: str, service: str, severity: str) -> None:
    at = deployment.clock.now()
    labels = {"alertname": alertname, "severity": severity, "service": service}
    body = {"receiver": "r", "status": "firing", "version": "4", "groupKey": "{}", "truncatedAlerts": 0,
            "groupLabels": {}, "commonLabels": labels, "commonAnnotations": {}, "externalURL": "http://am",
            "alerts": [{"status": "firing", "labels": labels, "annotations": {"summary": alertname},
                        "startsAt": format_time(at), "endsAt": "0001-01-01T00:00:00Z",
                        "generatorURL": "http://prom", "fingerprint": f"{alertname}-{service}"}]}
    status, _ = deployment.http("POST", "/webhooks/alertmanager", json.dumps(body).encode(),
                                {"Content-Type": "application/json"})
    assert status == 202
    deployment.settle()


def _statuses(deployment: LocalDeployment) -> dict[str, str]:
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    return {e["name"]: e["status"] for e in sfn.list_executions(stateMachineArn=deployment.state_machine_arn)["executions"]}


def test_one_p1_alert_opens_one_incident_pages_and_ranks_hypotheses() -> None:
    with LocalDeployment(start=START, responders=Responders(ack_pages_after_s=None)) as deployment:
        deployment.put_catalog(CATALOG)
        store, tenant = deployment.container.store, deployment.tenant_id
        # Given one firing alert of severity error (P1) that nothing else joins
        _alert(deployment, "CheckoutLatencyHigh", "checkout", "error")
        assert store.open_incidents(tenant) == []  # held for its group wait
        # When its group wait passes with the alert still firing
        deployment.advance_to(START + timedelta(minutes=8))
        # Then it opened one incident of its own, paged by phone and Slack, and ranked hypotheses
        [incident] = store.open_incidents(tenant)
        assert incident.priority.value == "P1" and len(incident.signal_ids) == 1
        pages = {(n.channel.value, n.status) for n in store.notifications_for(tenant, incident.id)
                 if n.kind.value == "page"}
        assert {("phone", "sent"), ("slack", "sent")} <= pages
        assert incident.hypotheses and [h["rank"] for h in incident.hypotheses] == list(
            range(1, len(incident.hypotheses) + 1))
        assert _statuses(deployment) == {incident.id: "RUNNING"}


def test_a_rejected_plan_ends_and_is_never_asked_for_again() -> None:
    from sre_copilot.local.replay import Scenario, replay

    # Given the bundled bad-deploy incident, whose rollback needs approval, replayed with every
    # approval request answered with Reject (new alerts keep arriving after the rejection)
    run: Any = replay(Scenario.load(DEMO), approve="reject")
    [incident] = run.result["incidents"]
    # Then the rejected plan ended without running, and its approval was asked for exactly once
    [plan] = incident["actions"]
    assert (plan["approval"], plan["status"]) == ("rejected", "skipped")
    asks = [n for n in incident["notifications"] if n["kind"] == "approval_request"]
    assert len(asks) == 1
    # And the execution did not fail: it waited on, and closed when the incident resolved
    assert incident["execution_status"] in ("RUNNING", "SUCCEEDED")
