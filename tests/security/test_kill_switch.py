"""Finding 5: a kill switch that works, and Act re-checking every gate at execution time.

The controls live in SSM Parameter Store (moto locally); Act's check is pure and tested at its
own layer; the end-to-end must-show goes through the CLI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from moto import mock_aws

from sre_copilot.actions.gates import SafetyContext
from sre_copilot.actions.policy import ActionPolicy
from sre_copilot.actions.runtime_gates import ActCheck, check_at_execution
from sre_copilot.domain.action import ActionPlan
from sre_copilot.domain.types import ActionStatus, Approval, Risk
from sre_copilot.errors import ConfigurationError
from sre_copilot.runtime_settings import ChangeFreeze, RuntimeControls, current_controls, write_controls
from sre_copilot.settings import Settings

NOW = datetime(2026, 3, 10, 20, 0, tzinfo=UTC)
DEMO = Path(__file__).resolve().parents[2] / "layers/common/python/sre_copilot/data/demo-checkout-bad-deploy.json"


def _plan(**update: object) -> ActionPlan:
    plan = ActionPlan(id="plan-1", incident_id="inc-1", action="rollback", target="deployment/checkout",
                      risk=Risk.LOW, params={"service": "checkout", "environment": "prod", "hypothesis_id": "h1",
                                             "approved_at": (NOW - timedelta(minutes=5)).isoformat()},
                      approval=Approval.APPROVED, status=ActionStatus.PLANNED, dry_run=False,
                      created_at=NOW - timedelta(minutes=10), updated_at=NOW - timedelta(minutes=5))
    return plan.model_copy(update=update)


NO_CONTROLS = RuntimeControls()


def _check(plan: ActionPlan, controls: RuntimeControls | None = NO_CONTROLS, **kw: object) -> ActCheck:
    args: dict[str, object] = dict(ctx=SafetyContext(), policy=ActionPolicy(), controls=controls, controls_error=None,
                                   plans=[plan], current_recommendation={"action": plan.action, "target": plan.target},
                                   incident_state="INVESTIGATING", now=NOW, approval_expiry_s=3600,
                                   deployed_dry_run=False, hypotheses=[{"id": "h1", "generator": "change"}])
    args.update(kw)
    return check_at_execution(plan, **args)  # type: ignore[arg-type]


def test_an_approved_plan_runs_when_nothing_changed() -> None:
    check = _check(_plan())
    assert check.allowed and check.dry_run is False


@pytest.mark.parametrize(("controls", "reason"), [
    (RuntimeControls(emergency_stop=True), "emergency_stop"),
    (RuntimeControls(disabled_services=["check*"]), "disabled_service"),
    (RuntimeControls(manual_override=["checkout"]), "manual_override"),
    (RuntimeControls(change_freezes=[ChangeFreeze(start=NOW - timedelta(hours=1), end=NOW + timedelta(hours=1),
                                                  reason="release freeze")]), "change_freeze"),
    (None, "controls_unavailable"),
])
def test_act_refuses_what_the_controls_forbid_now(controls: RuntimeControls | None, reason: str) -> None:
    # Given a plan approved before the switch was pulled, When Act checks it now
    check = _check(_plan(), controls)
    # Then it refuses, naming the reason
    assert not check.allowed and reason in check.refusals


def test_act_refuses_a_superseded_plan_an_expired_approval_and_an_llm_plan() -> None:
    newer = _plan(id="plan-2", created_at=NOW - timedelta(minutes=1), approval=Approval.PENDING)
    assert "superseded" in _check(_plan(), plans=[_plan(), newer]).refusals
    assert "superseded" in _check(_plan(), current_recommendation={"action": "restart",
                                                                    "target": "deployment/checkout"}).refusals
    stale = _plan(params={**_plan().params, "approved_at": (NOW - timedelta(hours=2)).isoformat()})
    assert "approval_expired" in _check(stale).refusals
    assert "llm_hypothesis" in _check(_plan(), hypotheses=[{"id": "h1", "generator": "llm"}]).refusals


def test_dry_run_comes_from_the_current_setting() -> None:
    assert _check(_plan(), RuntimeControls(dry_run=True)).dry_run is True
    assert _check(_plan(), RuntimeControls()).dry_run is False
    assert _check(_plan(), RuntimeControls(), deployed_dry_run=True).dry_run is True
    # A plan made as a dry run runs live once the setting says live: the current setting alone decides.
    assert _check(_plan(dry_run=True), RuntimeControls(dry_run=False)).dry_run is False
    assert _check(_plan(dry_run=True), RuntimeControls(), deployed_dry_run=False).dry_run is False


def test_controls_round_trip_through_ssm_and_a_bad_value_fails_closed() -> None:
    settings = Settings(controls_path="/sre-copilot/test/controls", region="us-east-1")
    with mock_aws():
        import boto3

        ssm = boto3.client("ssm", region_name="us-east-1")
        write_controls(settings, RuntimeControls(emergency_stop=True, disabled_services=["payments"]), ssm)
        read = current_controls(settings, force_fetch=True)
        assert read.emergency_stop and read.disabled_services == ["payments"]
        ssm.put_parameter(Name="/sre-copilot/test/controls/emergency_stop", Value="maybe", Type="String",
                          Overwrite=True)
        with pytest.raises(ConfigurationError):
            current_controls(settings, force_fetch=True)


def test_controls_are_cached_for_at_most_60_seconds() -> None:
    with pytest.raises(ValueError):
        Settings(controls_max_age_s=61)


@pytest.mark.slow
def test_must_show_kill_switch_on_replay_approve_all_executes_nothing(tmp_path: Path) -> None:
    env = {**os.environ}
    cli = [sys.executable, "-m", "sre_copilot.cli.main", "--state-dir", str(tmp_path)]
    # Given the kill switch is on
    subprocess.run([*cli, "kill-switch", "on", "--local"], check=True, env=env, capture_output=True, timeout=120)
    status = subprocess.run([*cli, "kill-switch", "status", "--local"], check=True, env=env, capture_output=True,
                            text=True, timeout=120)
    assert "ON: no automated action runs" in status.stdout
    # When a deploy-caused sample is replayed with every approval granted
    out = tmp_path / "result.json"
    subprocess.run([*cli, "replay", str(DEMO), "--approve", "all", "--out", str(out), "--quiet"], check=True,
                   env=env, capture_output=True, timeout=600)
    result = json.loads(out.read_text())
    actions = [a for incident in result["incidents"] for a in incident["actions"]]
    # Then nothing executed
    assert actions and all(a["status"] not in ("executed", "verified", "rolled_back", "failed") for a in actions)
    # and the execution history records emergency_stop as the reason
    histories = [json.loads(p.read_text()) for p in (tmp_path / "executions").glob("*.json")]
    assert histories and all("emergency_stop" in json.dumps(h) for h in histories)


def test_cli_kill_switch_writes_only_what_it_changes_in_ssm(monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    from sre_copilot.cli.main import main
    from sre_copilot.settings import reset_settings

    monkeypatch.setenv("SRE_COPILOT_CONTROLS_PATH", "/sre-copilot/staging/controls")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    reset_settings()
    try:
        with mock_aws():
            import boto3

            ssm = boto3.client("ssm", region_name="us-east-1")
            ssm.put_parameter(Name="/sre-copilot/staging/controls/emergency_stop", Value="false", Type="String")
            # When an operator disables one service
            assert main(["kill-switch", "on", "--service", "checkout"]) == 0
            params = {p["Name"].rsplit("/", 1)[-1]: p["Value"] for p in
                      ssm.get_parameters_by_path(Path="/sre-copilot/staging/controls")["Parameters"]}
            # Then only that control was written, and the emergency stop stays off
            assert params == {"emergency_stop": "false", "disabled_services": "checkout"}
            assert main(["kill-switch", "on"]) == 0
            assert main(["kill-switch", "status"]) == 0
            assert "ON: no automated action runs" in capsys.readouterr().out
    finally:
        reset_settings()
