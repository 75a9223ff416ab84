"""The deployed workflow on the embedded backend: a lone P1 alert reaches people, a rejected plan is
never asked for again, and the execution never ends in FAILED over a plan."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
from checkout_payments import CATALOG, START

from sre_copilot.domain.types import format_time
from sre_copilot.local.runtime import LocalDeployment, Responders

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
        # And the P1 phone delay (p1_page_delay_s, 5 min) passes with nobody acknowledging
        deployment.advance_to(START + timedelta(minutes=14))
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


def test_an_executor_error_is_recorded_and_escalated_and_the_execution_waits_on() -> None:
    from sre_copilot.local.replay import Scenario, _deliver

    scenario = Scenario.load(DEMO)
    start = min(d.at for d in scenario.deliveries) - timedelta(minutes=30)
    with LocalDeployment(start=start, responders=Responders(approve="all")) as deployment:
        deployment.put_catalog(scenario.catalog)
        # Given a cluster that refuses the copilot's credentials (a revoked token)
        deployment.k8s.token = "revoked-token"
        # When the bundled bad-deploy incident is replayed and its rollback approved
        for change in scenario.changes:
            deployment.advance_to(max(deployment.clock.now(), datetime.fromisoformat(change["at"])))
            status, _ = deployment.http("POST", "/changes", json.dumps(
                {k: v for k, v in change.items() if v is not None}).encode(), {"Content-Type": "application/json"})
            assert status < 300
        for delivery in scenario.deliveries[:7]:  # the alerts of the fault, not the later resolves
            deployment.advance_to(delivery.at)
            _deliver(deployment, delivery)
            deployment.settle()
        deployment.advance_to(deployment.clock.now() + timedelta(minutes=20))
        store, tenant = deployment.container.store, deployment.tenant_id
        [incident] = store.open_incidents(tenant)
        # Then the approved rollback is recorded as failed, with the executor's reason
        [plan] = store.actions_for(tenant, incident.id)
        assert plan.approval.value == "approved" and plan.status.value == "failed"
        assert plan.detail.startswith("failed: execution failed:")
        # And people were told to take over, and the execution did not fail: it waits for them
        escalations = [n for n in store.notifications_for(tenant, incident.id) if n.kind.value == "escalation"]
        assert escalations and "failed" in escalations[0].text
        assert _statuses(deployment)[incident.id] == "RUNNING"
        assert [r.action for r in store.for_subject(tenant, incident.id) if r.action == "action.failed"]
