"""Resolution on the deployed workflow (embedded backend): human resolve, stay-clear window, propose."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sre_copilot.domain.incident import IncidentState
from sre_copilot.domain.types import format_time
from sre_copilot.local.runtime import LocalDeployment, Responders
from sre_copilot.services.resolution import ResolutionService

START = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
CATALOG = {"services": [{"name": "checkout", "depends_on": [], "team": "t", "tier": 1}]}


def _alert(deployment: LocalDeployment, status: str = "firing") -> None:
    labels = {"alertname": "HighErrorRate", "severity": "critical", "service": "checkout"}
    alert = {"status": status, "labels": labels, "annotations": {"summary": "errors"},
             "startsAt": format_time(deployment.clock.now()), "generatorURL": "http://prom", "fingerprint": "f1",
             "endsAt": format_time(deployment.clock.now()) if status == "resolved" else "0001-01-01T00:00:00Z"}
    body = {"receiver": "r", "status": status, "version": "4", "groupKey": "{}", "truncatedAlerts": 0,
            "groupLabels": {}, "commonLabels": labels, "commonAnnotations": {}, "externalURL": "http://am",
            "alerts": [alert]}
    status_code, _ = deployment.http("POST", "/webhooks/alertmanager", json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
    assert status_code == 202
    deployment.settle()


def test_a_human_resolve_closes_a_parked_incident_at_once_with_a_postmortem() -> None:
    with LocalDeployment(start=START, responders=Responders(ack_pages_after_s=None)) as deployment:
        deployment.put_catalog(CATALOG)
        store, tenant = deployment.container.store, deployment.tenant_id
        # Given an incident analysed and parked, its alert still firing
        _alert(deployment)
        deployment.advance_to(START + timedelta(minutes=2))
        [incident] = store.open_incidents(tenant)
        # When the on-call resolves it from the CLI
        assert ResolutionService(deployment.container).resolve(incident.id, actor="cli:alice", reason="fixed by hand")
        deployment.settle()
        # Then it is resolved by them at once and documented
        closed = store.get_incident(tenant, incident.id)
        assert closed is not None and closed.state is IncidentState.LEARNED and closed.postmortem_ref
        assert next(t for t in closed.timeline if t.state is IncidentState.RESOLVED).actor == "cli:alice"
        # And a second resolve changes nothing
        assert not ResolutionService(deployment.container).resolve(incident.id, actor="cli:bob", reason="again")


def test_signals_must_stay_clear_and_propose_asks_before_resolving() -> None:
    # The policy is deployed the way a user sets it: in the cdk.json context (here `-c`-style)
    with LocalDeployment(start=START, responders=Responders(ack_pages_after_s=None),
                         context={"resolution_policy": "propose"}) as deployment:
        deployment.put_catalog(CATALOG)
        container = deployment.container
        assert container.settings.resolution_policy == "propose"
        store, tenant = container.store, deployment.tenant_id
        # Given an incident whose only alert clears
        _alert(deployment)
        deployment.advance_to(START + timedelta(minutes=2))
        [incident] = store.open_incidents(tenant)
        _alert(deployment, "resolved")
        # When 3 minutes pass, it stays open: the window is 5 minutes
        deployment.advance_to(START + timedelta(minutes=5))
        assert store.get_incident(tenant, incident.id).is_open  # type: ignore[union-attr]
        # And after the window, under the propose policy, the copilot asks in Slack instead of resolving
        deployment.advance_to(START + timedelta(minutes=9))
        waiting = store.get_incident(tenant, incident.id)
        assert waiting is not None and waiting.is_open and waiting.resolution_proposed
        asks = [n for n in store.notifications_for(tenant, incident.id) if "Resolve the incident?" in n.text]
        assert len(asks) == 1 and asks[0].channel.value == "slack"
        deployment.advance_to(START + timedelta(minutes=12))
        assert len([n for n in store.notifications_for(tenant, incident.id) if "Resolve the incident?" in n.text]) == 1
        # And a person's Resolve closes it
        ResolutionService(container).resolve(incident.id, actor="slack:U7", reason="confirmed in Slack")
        deployment.settle()
        assert store.get_incident(tenant, incident.id).state is IncidentState.LEARNED  # type: ignore[union-attr]
