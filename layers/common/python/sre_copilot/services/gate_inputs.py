"""What the safety gates read, gathered from real state (seed 001's gates, issue #15):

- SLO burn rate: the context snapshot's `slo_state` for the service the plan touches;
- risk budget: what is left of the service's budget this period (`RiskBudgetLedger`);
- deployment age: the service's last change in its own change partition;
- other open incidents on the service, and whether another remediation is active on it (a plan
  executed on another incident of the same service that is still waiting for its recovery check);
- manual override: from the run-time controls (`actions.runtime_gates`; unreadable controls count
  as an override, failing closed).
"""

from __future__ import annotations

from datetime import timedelta

from sre_copilot.actions.gates import SafetyContext
from sre_copilot.actions.runtime_gates import manual_override_active
from sre_copilot.domain.action import ActionPlan
from sre_copilot.domain.incident import Incident
from sre_copilot.domain.json_types import member
from sre_copilot.domain.types import ActionStatus
from sre_copilot.ports import clock
from sre_copilot.services.container import Container
from sre_copilot.services.remediation_steps import awaiting_recovery


class GateInputs:
    def __init__(self, container: Container) -> None:
        self.c = container

    def safety_context(self, incident: Incident, plan: ActionPlan, plans: list[ActionPlan]) -> SafetyContext:
        now = clock.now()
        target_service = str(plan.params.get("service") or incident.service or "")
        open_on_service = [other for other, service in self.c.store.open_incident_services(incident.tenant_id).items()
                           if other != incident.id and service and service == target_service]
        changes = ([] if not incident.service else
                   self.c.store.changes_for_service(incident.tenant_id, incident.service, now - timedelta(days=7), now))
        last_deploy = max((c.at for c in changes), default=None)
        recent_actions = [p for p in plans if p.status in (ActionStatus.EXECUTED, ActionStatus.VERIFIED)]
        active = [p.id for other in open_on_service for p in self.c.store.actions_for(incident.tenant_id, other)
                  if awaiting_recovery(p)]
        return SafetyContext(
            active_incidents_on_target=len(open_on_service),
            active_remediations_on_target=len(active),
            last_deploy_age_s=None if last_deploy is None else (now - last_deploy).total_seconds(),
            slo_burn_rate=self._burn_rate(incident, target_service),
            risk_budget_remaining=self._risk_budget_remaining(incident, target_service),
            manual_override_active=manual_override_active(self.c, plan),
            actions_in_last_hour=len(recent_actions), environment=self.c.settings.environment,
        )

    def _burn_rate(self, incident: Incident, service: str) -> float | None:
        if not incident.snapshot_ref or not service:
            return None
        burn = member(self.c.blobs.get_json(incident.snapshot_ref), "slo_state", "services", service, "burn_rate")
        return float(burn) if isinstance(burn, int | float) else None

    def _risk_budget_remaining(self, incident: Incident, service: str) -> float | None:
        policy = self.c.action_policy()
        if policy.risk_budget_points is None or not service:
            return None
        spent = self.c.risk_budget().spent(incident.tenant_id, service, clock.now(), policy.risk_budget_period_s)
        return float(policy.risk_budget_points) - spent

    def spend(self, incident: Incident, plan: ActionPlan) -> bool:
        """Charge an executed (not dry-run) plan's risk cost to its service's budget, once."""
        policy = self.c.action_policy()
        service = str(plan.params.get("service") or incident.service or "")
        if plan.dry_run or policy.risk_budget_points is None or not service:
            return False
        return bool(self.c.risk_budget().spend(incident.tenant_id, service, plan.id, policy.risk_costs.get(plan.risk, 0.0),
                                               clock.now(), policy.risk_budget_period_s))
