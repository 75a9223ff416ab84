"""Finding 5 end to end: the kill switch pulled after a plan was proposed and before it is approved.

The approval then arrives (a real, signed click from an approver), the state machine runs Act, and
Act, re-checking every gate at execution time, refuses: nothing reaches Kubernetes, the plan is
`skipped`, and the audit trail records `emergency_stop` as the reason.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from sre_copilot.domain.types import Approval
from sre_copilot.local.replay import Scenario, _change_body, _deliver
from sre_copilot.local.runtime import LocalDeployment, Responders, local_controls
from sre_copilot.runtime_settings import write_controls

DEMO = Path(__file__).resolve().parents[2] / "layers/common/python/sre_copilot/data/demo-checkout-bad-deploy.json"

pytestmark = pytest.mark.slow


def test_kill_switch_pulled_between_request_and_approval_stops_act() -> None:
    scenario = Scenario.load(DEMO)
    first = min([d.at for d in scenario.deliveries])
    pulled = False
    with LocalDeployment(start=first - timedelta(minutes=10),
                         responders=Responders(approve="all", approve_after_s=120)) as d:
        d.put_catalog(scenario.catalog)
        workloads_before = _templates(d)
        store, tenant = d.container.store, "default"
        for change in scenario.changes:
            d.http("POST", "/changes", json.dumps(_change_body(change)).encode(), {})
        for delivery in sorted(scenario.deliveries, key=lambda x: x.at):
            d.advance_to(delivery.at)
            _deliver(d, delivery)
            d.settle()
            pending = [p for i in store.open_incidents(tenant) for p in store.actions_for(tenant, i.id)
                       if p.approval is Approval.PENDING]
            if pending and not pulled:
                # Given a plan waiting for approval, When the operator pulls the kill switch
                from sre_copilot.settings import get_settings

                write_controls(get_settings(), local_controls().model_copy(update={"emergency_stop": True}),
                               d.session.client("ssm"))
                pulled = True
        d.advance_to(d.clock.now() + timedelta(minutes=30))
        assert pulled, "the demo proposes a plan that needs approval"
        incident_ids = {i.id for i in _all_incidents(d)}
        plans = [p for inc_id in incident_ids for p in store.actions_for(tenant, inc_id)]
        audit = [r for inc_id in incident_ids for r in store.for_subject(tenant, inc_id)]
        # Then the approval was given, and Act refused it for the kill switch
        approved = [r for r in audit if r.action == "approval.approved"]
        refused = [r for r in audit if r.action == "action.refused"]
        executed = [r for r in audit if r.action == "action.executed"]
        assert approved and refused and not executed
        assert "emergency_stop" in refused[0].details["reasons"]
        assert all(p.status.value == "skipped" for p in plans if p.approval is Approval.APPROVED)
        assert _templates(d) == workloads_before


def _all_incidents(d: LocalDeployment) -> list[Any]:
    """Every incident of the run, open or closed (the demo resolves its incident)."""
    from sre_copilot.adapters.dynamo.table import _document
    from sre_copilot.adapters.dynamodb_store import unmarshal
    from sre_copilot.domain.incident import Incident

    items = d.session.client("dynamodb").scan(TableName="sre-copilot")["Items"]
    return [Incident.model_validate(_document(unmarshal(i))) for i in items
            if unmarshal(i).get("item_type") == "incident"]


def _templates(d: LocalDeployment) -> dict[str, Any]:
    """What a remediation would change: each workload's pod template and replica count."""
    return {f"{ns}/{name}": json.dumps([dep["spec"].get("template"), dep["spec"].get("replicas")], sort_keys=True)
            for (ns, name), dep in d.k8s.deployments.items()}
