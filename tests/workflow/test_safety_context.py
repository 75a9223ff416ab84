"""What the Recommend step tells the safety gates about the world (the gates themselves are in
tests/actions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sre_copilot.domain.action import ActionPlan
from sre_copilot.domain.change import ChangeEvent
from sre_copilot.domain.incident import Incident
from sre_copilot.domain.types import Priority, Risk
from sre_copilot.local.runtime import LocalDeployment
from sre_copilot.services.workflow_steps import WorkflowSteps

T0 = datetime(2026, 3, 10, 20, 0, tzinfo=UTC)


def test_deploy_age_is_the_incident_services_last_change_within_the_week() -> None:
    with LocalDeployment(start=T0) as deployment:
        store = deployment.container.store
        # Given checkout deployed 8 days ago and 5 minutes ago, and payments deployed 1 minute ago
        deployment.clock.set(T0 + timedelta(days=9))
        now = deployment.clock.now()
        for change_id, service, age in (("old", "checkout", timedelta(days=8)), ("recent", "checkout", timedelta(minutes=5)),
                                        ("other", "payments", timedelta(minutes=1))):
            store.put_change(ChangeEvent(id=change_id, service=service, kind="deploy", at=now - age))
        incident = Incident.open(incident_id="inc-1", tenant_id="default", priority=Priority.P1, title="errors",
                                 service="checkout", at=now, actor="test", reason="test")
        plan = ActionPlan(id="plan-1", incident_id="inc-1", action="restart", target="deployment/checkout",
                          risk=Risk.LOW, created_at=now, updated_at=now)
        # When the Recommend step builds the gates' context
        context = WorkflowSteps(deployment.container)._safety_context(incident, plan, [])
        # Then the deploy age is checkout's latest change (5 minutes), not payments' nor the 8-day-old one
        assert context.last_deploy_age_s == 300.0


def test_no_change_on_the_service_within_the_week_means_no_deploy_age() -> None:
    with LocalDeployment(start=T0) as deployment:
        store = deployment.container.store
        store.put_change(ChangeEvent(id="other", service="payments", kind="deploy", at=T0))
        incident = Incident.open(incident_id="inc-1", tenant_id="default", priority=Priority.P1, title="errors",
                                 service="checkout", at=T0, actor="test", reason="test")
        plan = ActionPlan(id="plan-1", incident_id="inc-1", action="restart", target="deployment/checkout",
                          risk=Risk.LOW, created_at=T0, updated_at=T0)
        assert WorkflowSteps(deployment.container)._safety_context(incident, plan, []).last_deploy_age_s is None
