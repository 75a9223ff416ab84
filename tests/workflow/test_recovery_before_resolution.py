"""The stay-clear auto-resolution waits for an executed action's recovery verdict, so that a
verified action moves the incident to MITIGATED before it is resolved (not straight to RESOLVED)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sre_copilot.domain.action import ActionPlan
from sre_copilot.domain.incident import Incident, IncidentState
from sre_copilot.domain.types import ActionStatus, Approval, Priority, Risk
from sre_copilot.local.runtime import LocalDeployment
from sre_copilot.services.remediation_steps import RECOVERY_DUE, RECOVERY_OUTCOME
from sre_copilot.services.resolution import RECOVERY_GRACE, ResolutionService

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


def _setup(deployment: LocalDeployment, due: datetime) -> tuple[Incident, ActionPlan]:
    store = deployment.container.store
    incident = Incident.open(incident_id="inc-r", tenant_id="default", priority=Priority.P1, title="errors",
                             service="checkout", at=T0, actor="test", reason="test")
    incident = incident.model_copy(update={"signals_clear_since": T0})
    store.put_incident(incident)
    plan = ActionPlan(id="plan-r", incident_id="inc-r", action="rollback", target="deployment/checkout",
                      risk=Risk.MEDIUM, approval=Approval.APPROVED, status=ActionStatus.EXECUTED,
                      params={RECOVERY_DUE: due.isoformat()}, created_at=T0, updated_at=T0)
    store.put_action("default", plan)
    return incident, plan


def test_alerts_clear_long_enough_but_the_verdict_is_pending_so_no_resolution_yet() -> None:
    with LocalDeployment(start=T0) as deployment:
        store = deployment.container.store
        # Given alerts clear for longer than the stay-clear window, and a rollback awaiting its verdict
        incident, plan = _setup(deployment, due=T0 + timedelta(minutes=20))
        later = T0 + timedelta(seconds=deployment.container.settings.auto_resolve_after_s + 60)
        deployment.advance_to(later)
        resolution = ResolutionService(deployment.container)
        # When the sweeper looks at it, it is not resolved yet (the verdict is asked for first)
        assert not resolution.sweep_one(incident, later)
        current = store.get_incident("default", "inc-r")
        assert current is not None and current.state is IncidentState.DETECTED
        # And once the verdict is recorded, the next sweep resolves it
        store.put_action("default", plan.model_copy(update={
            "status": ActionStatus.VERIFIED, "params": {**plan.params, RECOVERY_OUTCOME: {"recovered": True}}}))
        assert resolution.sweep_one(incident, later)
        resolved = store.get_incident("default", "inc-r")
        assert resolved is not None and resolved.state in (IncidentState.RESOLVED, IncidentState.LEARNED)


def test_a_verdict_nobody_records_does_not_hold_the_resolution_past_its_deadline() -> None:
    with LocalDeployment(start=T0) as deployment:
        # Given a plan whose recovery deadline passed long ago without a verdict (its execution ended)
        incident, _ = _setup(deployment, due=T0 + timedelta(minutes=5))
        later = T0 + timedelta(minutes=5) + RECOVERY_GRACE + timedelta(minutes=1)
        deployment.advance_to(later)
        # Then the stay-clear rule resolves it
        assert ResolutionService(deployment.container).sweep_one(incident, later)
