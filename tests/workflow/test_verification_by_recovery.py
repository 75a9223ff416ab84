"""Verification by recovery, end to end on the embedded backend, and its rules in isolation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sre_copilot.actions.recovery import check_recovery, criteria_for
from sre_copilot.domain.signal import Signal
from sre_copilot.domain.types import Severity, SignalStatus

DATA = Path(__file__).parent / "data"
T0 = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)


def _signal(fp: str, status: SignalStatus, minute: int, service: str = "search", source: str = "alertmanager",
            **extra: Any) -> Signal:
    at = T0 + timedelta(minutes=minute)
    return Signal(id=f"sig-{fp}-{minute}", source=source, status=status, severity=Severity.CRITICAL, event_time=at,
                  received_at=at, title=f"{fp} alert", fingerprint=fp, service=service, **extra)


def test_criteria_name_the_alerts_firing_on_the_acted_service_only() -> None:
    # Given alerts on search (one already cleared) and one on another service
    signals = [_signal("a", SignalStatus.FIRING, 0), _signal("b", SignalStatus.FIRING, 1),
               _signal("b", SignalStatus.RESOLVED, 2), _signal("c", SignalStatus.FIRING, 1, service="cart")]
    # When criteria are made for an action on search
    criteria = criteria_for(signals, "search", window_s=600)
    # Then only the search alert still firing must clear, within the window
    assert [a.fingerprint for a in criteria.alerts] == ["a"] and criteria.window_s == 600


def test_recovery_needs_every_alert_cleared_and_cloudwatch_state_wins_when_known() -> None:
    # Given two alerts, one a CloudWatch alarm
    signals = [_signal("a", SignalStatus.FIRING, 0),
               _signal("cw", SignalStatus.FIRING, 0, source="cloudwatch", labels={"alertname": "search-p99"})]
    criteria = criteria_for(signals, "search", window_s=600)
    assert {a.alarm for a in criteria.alerts} == {None, "search-p99"}
    later = [*signals, _signal("a", SignalStatus.RESOLVED, 5)]
    # When the alarm is still in ALARM in CloudWatch, recovery fails though its alert never sent OK
    assert not check_recovery(criteria, later, {"search-p99": "ALARM"}).recovered
    # And when CloudWatch reports it OK, it has recovered
    check = check_recovery(criteria, later, {"search-p99": "OK"})
    assert check.recovered and sorted(check.cleared) == ["a alert", "cw alert"]
    # And without CloudWatch's word, the alarm's own resolved notification is needed
    assert not check_recovery(criteria, later, {}).recovered


@pytest.mark.slow
def test_unrecovered_scale_out_is_rolled_back_verified_and_escalated_and_history_shows_it() -> None:
    from sre_copilot.cli.history import render, state_rows
    from sre_copilot.local.replay import Scenario, replay

    # Given alerts on search that never clear, and every approval granted
    run = replay(Scenario.load(DATA / "search-saturation-no-recovery.json"), approve="all")
    incident = next(i for i in run.result["incidents"] if any(a["action"] == "scale_out" for a in i["actions"]))
    # Then the scale-out ran, its recovery check failed, and its rollback strategy ran
    action = next(a for a in incident["actions"] if a["action"] == "scale_out")
    assert action["status"] == "rolled_back" and not action["dry_run"]
    # And the incident was never called mitigated, and a human was paged with what happened
    assert "MITIGATED" not in [t["state"] for t in incident["timeline"]]
    assert {("slack", "escalation"), ("phone", "escalation")} <= {(n["channel"], n["kind"])
                                                                  for n in incident["notifications"]}
    # And the history shows Verify, the recovery check, the rollback (restore verified) and escalation
    rows = state_rows(run.histories[incident["id"]])
    names = [r["state"] for r in rows]
    assert names.index("Verify") < names.index("CheckRecovery") < names.index("Rollback")
    outputs = {e["stateExitedEventDetails"]["name"]: json.loads(e["stateExitedEventDetails"]["output"])
               for e in run.histories[incident["id"]] if e["type"].endswith("StateExited")}
    assert outputs["CheckRecovery"]["recovery"]["result"]["outcome"] == "unrecovered"
    rollback = outputs["Rollback"]["rollback"]["result"]
    assert rollback["strategy"] == "restore_pre_state" and rollback["restore_verified"] and rollback["escalated"]
    assert "CheckRecovery" in render(incident["id"], rows, "RUNNING")


def test_rollback_of_a_compensated_partial_action_records_it_and_escalates() -> None:
    from sre_copilot.cli.commands import BUNDLED_DEMO
    from sre_copilot.domain.action import ActionPlan
    from sre_copilot.domain.incident import Incident
    from sre_copilot.domain.types import ActionStatus, Approval, Priority, Risk
    from sre_copilot.local.replay import Scenario
    from sre_copilot.local.runtime import LocalDeployment
    from sre_copilot.services.workflow_steps import WorkflowSteps

    with LocalDeployment(start=T0) as deployment:
        deployment.put_catalog(Scenario.load(BUNDLED_DEMO).catalog)
        store = deployment.container.store
        incident = Incident.open(incident_id="inc-drain", tenant_id="default", priority=Priority.P1,
                                 title="node not ready", service="checkout", at=T0, actor="test", reason="test")
        store.put_incident(incident)
        # Given a drain that failed part-way, which its executor undid (what the Act step stores)
        plan = ActionPlan(id="plan-drain", incident_id="inc-drain", action="drain_host", target="node/ip-10-0-1-12",
                          risk=Risk.MEDIUM, approval=Approval.APPROVED, status=ActionStatus.FAILED,
                          detail="execution failed: eviction of pod x refused; compensated: node ip-10-0-1-12 "
                                 "uncordoned", created_at=T0, updated_at=T0)
        store.put_action("default", plan)
        # When the workflow's Rollback step runs
        out = WorkflowSteps(deployment.container).rollback(
            {"tenant_id": "default", "incident_id": "inc-drain", "act": {"result": {"plan_id": "plan-drain"}}})
        # Then it records the compensation instead of undoing again, and a human is told
        assert out["strategy"] == "compensated_by_executor" and out["escalated"]
        trail = {r.action: r.details for r in store.for_subject("default", "inc-drain")}
        assert "node ip-10-0-1-12 uncordoned" in trail["action.rolled_back"]["detail"]
        assert "incident.escalated" in trail
