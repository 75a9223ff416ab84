"""Verification by recovery with metric criteria: GetMetricData on moto decides, and its values are
the evidence kept with the verdict."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws
from pydantic import ValidationError

from sre_copilot.actions.recovery import MetricCriterion, RecoveryCriteria, check_recovery, read_metric
from sre_copilot.adapters.cloudwatch_metrics import CloudWatchMetrics
from sre_copilot.domain.catalog import RecoveryMetric

T0 = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
P99 = MetricCriterion(metric="TargetResponseTime", namespace="AWS/ApplicationELB", stat="p99",
                      dimensions={"LoadBalancer": "app/search/123"}, max=0.5, points=3)


def _minutes(values: list[float], start: datetime = T0) -> list[tuple[datetime, float]]:
    return [(start + timedelta(minutes=i), v) for i, v in enumerate(values)]


def test_a_metric_recovers_only_when_its_latest_datapoints_are_all_within_bounds() -> None:
    # Given a latency criterion: the last 3 datapoints at most 0.5 s
    # When latency fell but one of the last three is still high, or too few datapoints exist
    assert not read_metric(P99, _minutes([2.0, 0.4, 0.9, 0.3])).recovered
    assert not read_metric(P99, _minutes([0.2, 0.3])).recovered
    assert not read_metric(P99, []).recovered
    # Then only three datapoints in a row within bounds count as recovered, and the values are kept
    reading = read_metric(P99, _minutes([2.0, 0.4, 0.3, 0.2]))
    assert reading.recovered and [v for _, v in reading.values] == [2.0, 0.4, 0.3, 0.2]
    assert "within <= 0.5" in reading.describe() and "0.2" in reading.describe()


def test_a_recovery_metric_needs_a_bound() -> None:
    with pytest.raises(ValidationError, match="needs a bound"):
        RecoveryMetric(metric="ErrorRate")


def test_alerts_cleared_but_metric_still_bad_is_not_recovered() -> None:
    # Given criteria with no alert left and one metric
    criteria = RecoveryCriteria(window_s=600, metrics=[P99])
    # When the metric is still above its bound
    check = check_recovery(criteria, [], {}, {P99.label(): _minutes([1.5, 1.2, 1.1])})
    # Then recovery fails and says which metric and what it read
    assert not check.recovered and check.still_firing == [P99.label()]
    assert "not within <= 0.5" in check.summary() and "1.1" in check.summary()
    # And with no datapoints at all it is not recovered either
    assert not check_recovery(criteria, [], {}, {}).recovered


@mock_aws
def test_get_metric_data_reads_any_namespace_dimensions_and_statistic() -> None:
    # Given datapoints in a namespace other than SRE/Services, for two load balancers
    client = boto3.client("cloudwatch", region_name="us-east-1")
    for lb, value in (("app/search/123", 0.25), ("app/other/456", 9.0)):
        client.put_metric_data(Namespace="AWS/ApplicationELB", MetricData=[
            {"MetricName": "TargetResponseTime", "Dimensions": [{"Name": "LoadBalancer", "Value": lb}],
             "Timestamp": T0 + timedelta(minutes=i), "Value": value, "Unit": "Seconds"} for i in range(4)])
    criterion = P99.model_copy(update={"stat": "Average"})
    stats = {criterion.label(): {"Metric": {"Namespace": criterion.namespace, "MetricName": criterion.metric,
                                            "Dimensions": [{"Name": "LoadBalancer", "Value": "app/search/123"}]},
                                 "Period": 60, "Stat": criterion.stat}}
    # When the recovery check reads them
    values = CloudWatchMetrics(client).metric_stats(stats, T0 - timedelta(minutes=1), T0 + timedelta(minutes=10))
    # Then it gets only the named load balancer's series, oldest first, and it counts as recovered
    assert [v for _, v in values[criterion.label()]] == [0.25] * 4
    assert check_recovery(RecoveryCriteria(metrics=[criterion]), [], {}, values).recovered


@pytest.mark.parametrize(("error_rates", "outcome"), [([0.3, 0.2, 0.1, 0.1], "recovered"),
                                                      ([9.0, 8.0, 7.5, 7.0], "unrecovered")])
def test_check_recovery_step_reads_the_catalogs_recovery_metric_from_cloudwatch(
        error_rates: list[float], outcome: str) -> None:
    from sre_copilot.domain.action import ActionPlan
    from sre_copilot.domain.incident import Incident, IncidentState
    from sre_copilot.domain.types import ActionStatus, Approval, Priority, Risk
    from sre_copilot.local.runtime import LocalDeployment
    from sre_copilot.services.mutations import create_plan
    from sre_copilot.services.remediation_steps import RemediationSteps
    from sre_copilot.services.workflow_steps import WorkflowSteps

    catalog: dict[str, Any] = {"services": [{"name": "search", "recovery_metrics": [
        {"metric": "ErrorRate", "max": 1.0, "points": 3}]}]}
    with LocalDeployment(start=T0) as deployment:
        deployment.put_catalog(catalog)
        store = deployment.container.store
        incident = Incident.open(incident_id="inc-m", tenant_id="default", priority=Priority.P1,
                                 title="search errors", service="search", at=T0, actor="test", reason="test")
        store.put_incident(incident)
        steps = WorkflowSteps(deployment.container)
        remediation = RemediationSteps(steps)
        # Given a restart of search whose plan names the catalog's ErrorRate criterion
        plan = ActionPlan(id="plan-m", incident_id="inc-m", action="restart", target="deployment/search",
                          risk=Risk.LOW, approval=Approval.APPROVED, status=ActionStatus.EXECUTED,
                          params={"service": "search"}, created_at=T0, updated_at=T0)
        plan = remediation.with_recovery_criteria(plan, incident)
        assert "ErrorRate Average <= 1 for 3 datapoint(s)" in plan.verification
        plan, _created = create_plan(store, "default", plan)
        waiting = remediation.await_recovery(incident, plan, "rollout complete")
        assert waiting is not None
        # And ErrorRate datapoints after the action in CloudWatch (moto)
        CloudWatchMetrics(deployment.session.client("cloudwatch")).put_series(
            "search", "ErrorRate", "Percent", _minutes(error_rates, T0 + timedelta(minutes=1)))
        # When the recovery deadline passes and CheckRecovery runs
        deployment.advance_to(T0 + timedelta(seconds=deployment.container.settings.verification_window_s + 60))
        out = steps.check_recovery({"tenant_id": "default", "incident_id": "inc-m"})
        # Then the verdict follows the metric, and the values read are recorded as its evidence
        assert out["outcome"] == outcome
        verdict = next(r for r in store.for_subject("default", "inc-m")
                       if r.action in ("action.verified", "action.verification_failed"))
        [reading] = verdict.details["metrics"]
        assert [v for _, v in reading["values"]] == error_rates
        assert reading["criterion"] == "SRE/Services ErrorRate{Service=search} Average"
        state = store.get_incident("default", "inc-m")
        assert state is not None and (state.state is IncidentState.MITIGATED) == (outcome == "recovered")
