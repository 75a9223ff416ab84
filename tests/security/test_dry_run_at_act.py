"""Act takes dry run from the current setting (issue 13: "It takes `dry_run` from the current
setting"), end to end on the bundled demo: the `dry_run` control is flipped after the plan was made
and before a signed approval arrives, and what Act does follows the setting as it is at Act.
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


def _run_with_flip(initially_dry: bool, then_dry: bool) -> tuple[list[Any], list[Any], bool]:
    """Replay the demo with the `dry_run` control `initially_dry`; once a plan waits for approval,
    set it to `then_dry`. Returns the approved plans, the audit records and whether the workloads changed."""
    scenario = Scenario.load(DEMO)
    first = min(d.at for d in scenario.deliveries)
    controls = local_controls().model_copy(update={"dry_run": initially_dry})
    flipped = False
    with LocalDeployment(start=first - timedelta(minutes=10), controls=controls,
                         responders=Responders(approve="all", approve_after_s=120)) as d:
        d.put_catalog(scenario.catalog)
        before = _templates(d)
        store, tenant = d.container.store, d.tenant_id
        for change in scenario.changes:
            d.http("POST", "/changes", json.dumps(_change_body(change)).encode(), {})
        for delivery in sorted(scenario.deliveries, key=lambda x: x.at):
            d.advance_to(delivery.at)
            _deliver(d, delivery)
            d.settle()
            pending = [p for i in store.open_incidents(tenant) for p in store.actions_for(tenant, i.id)
                       if p.approval is Approval.PENDING]
            if pending and not flipped:
                assert all(p.dry_run is initially_dry for p in pending), "the plan shows the setting it was made under"
                from sre_copilot.settings import get_settings

                write_controls(get_settings(), controls.model_copy(update={"dry_run": then_dry}),
                               d.session.client("ssm"))
                flipped = True
        d.advance_to(d.clock.now() + timedelta(minutes=30))
        assert flipped, "the demo proposes a plan that needs approval"
        incidents = _incident_ids(d)
        plans = [p for i in incidents for p in store.actions_for(tenant, i) if p.approval is Approval.APPROVED]
        audit = [r for i in incidents for r in store.for_subject(tenant, i)]
        return plans, audit, _templates(d) != before


def test_plan_made_live_then_switched_to_dry_run_before_approval_acts_as_a_dry_run() -> None:
    # Given a plan made while live, When dry run is switched on before the approval arrives
    plans, audit, changed = _run_with_flip(initially_dry=False, then_dry=True)
    # Then Act runs it as a dry run: nothing in the cluster changes, and the audit says so
    executed = [r for r in audit if r.action == "action.executed"]
    assert executed and all(r.details["dry_run"] is True for r in executed)
    assert all(r.details["planned_dry_run"] is False for r in executed)
    assert plans and all(p.dry_run for p in plans)
    assert not changed


def test_plan_made_as_dry_run_then_switched_to_live_before_approval_acts_live() -> None:
    # Given a plan made under dry run, When the operator switches to live before the approval arrives
    plans, audit, changed = _run_with_flip(initially_dry=True, then_dry=False)
    # Then Act follows the setting as it is now: the approved rollback really runs, recorded as live
    executed = [r for r in audit if r.action == "action.executed"]
    assert executed and all(r.details["dry_run"] is False for r in executed)
    assert all(r.details["planned_dry_run"] is True for r in executed)
    assert plans and not any(p.dry_run for p in plans)
    assert changed


def _incident_ids(d: LocalDeployment) -> set[str]:
    """Every incident of the run, open or closed (the demo resolves its incident)."""
    from sre_copilot.adapters.dynamo.table import _document
    from sre_copilot.adapters.dynamodb_store import unmarshal

    items = [unmarshal(i) for i in d.session.client("dynamodb").scan(TableName="sre-copilot")["Items"]]
    return {_document(i)["id"] for i in items if i.get("item_type") == "incident"}


def _templates(d: LocalDeployment) -> dict[str, Any]:
    return {f"{ns}/{name}": json.dumps([dep["spec"].get("template"), dep["spec"].get("replicas")], sort_keys=True)
            for (ns, name), dep in d.k8s.deployments.items()}
