"""KubernetesExecutor with the real kubernetes client against the local apps/v1 API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from sre_copilot.actions.routing import plan_from_recommendation
from sre_copilot.adapters.k8s_executor import KubernetesActionError, KubernetesExecutor, RolloutInProgress
from sre_copilot.domain.action import ActionPlan, Recommendation
from sre_copilot.domain.catalog import Catalog
from sre_copilot.domain.incident import Incident
from sre_copilot.domain.types import Risk
from sre_copilot.errors import ConfigurationError
from sre_copilot.local.clock import SimClock
from sre_copilot.local.k8s_api import LocalKubernetesApi, template_hash
from sre_copilot.ports.clock import SystemClock, use_clock

TOKEN = "k8s-test-token"
NOW = datetime(2026, 3, 4, 10, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def simulated_clock() -> Iterator[SimClock]:
    clock = SimClock(NOW)
    use_clock(clock)
    yield clock
    use_clock(SystemClock())


def _plan(action: str, incident: Incident, catalog: Catalog, *, dry_run: bool = False,
          target: str = "deployment/checkout") -> ActionPlan:
    rec = Recommendation(hypothesis_id="hyp-1", action=action, target=target, risk=Risk.MEDIUM)
    return plan_from_recommendation(rec, incident, plan_id=f"plan-{action}", now=NOW, dry_run=dry_run,
                                    catalog=catalog)


def _executed(plan: ActionPlan, result: dict[str, Any]) -> ActionPlan:
    """What the act step stores: the executor's result merged into the plan's params."""
    return plan.model_copy(update={"params": {**plan.params, **result}})


def _image(k8s: LocalKubernetesApi) -> str:
    return str(k8s.deployment("shop", "checkout")["spec"]["template"]["spec"]["containers"][0]["image"])


def test_catalog_seeds_every_kubernetes_service_with_two_revisions(k8s: LocalKubernetesApi,
                                                                   demo_catalog: Catalog) -> None:
    kubernetes_services = [s for s in demo_catalog.services if s.runtime.get("kind") == "kubernetes"]
    assert len(k8s.deployments) == len(kubernetes_services) > 0
    assert k8s.revisions("shop", "checkout") == {1: "registry.local/shop/checkout:rev1",
                                                 2: "registry.local/shop/checkout:rev2"}
    deployment = k8s.deployment("shop", "checkout")
    assert deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    assert deployment["spec"]["replicas"] == 2  # the catalog lists two checkout instances


def test_rollback_returns_the_pod_template_to_the_previous_revision(
    k8s: LocalKubernetesApi, incident: Incident, demo_catalog: Catalog,
) -> None:
    # Given checkout at revision 2 and a rollback plan
    executor = KubernetesExecutor(host=k8s.base_url, token=TOKEN)
    plan = _plan("rollback", incident, demo_catalog)
    assert executor.supports(plan)
    # When it executes
    result = executor.execute(plan, dry_run=False)
    # Then the deployment runs revision 1's image as a new revision 3 (what `kubectl rollout undo` does)
    assert _image(k8s) == "registry.local/shop/checkout:rev1"
    assert k8s.revisions("shop", "checkout") == {3: "registry.local/shop/checkout:rev1",
                                                 2: "registry.local/shop/checkout:rev2"}
    assert result["detail"] == ("applied: rollout undo from revision 2 to revision 1 "
                                "(registry.local/shop/checkout:rev1) on deployment/checkout in shop")
    # And the state before the action was captured for an undo
    assert result["pre_state"]["revision"] == "2"
    assert result["pre_state"]["template"]["spec"]["containers"][0]["image"] == "registry.local/shop/checkout:rev2"
    # And on the wire: read, list ReplicaSets by the selector, then a JSON patch of /spec/template
    wire = [(r["method"], r["path"], r["query"]) for r in k8s.requests]
    assert wire == [
        ("GET", "/apis/apps/v1/namespaces/shop/deployments/checkout", {}),
        ("GET", "/apis/apps/v1/namespaces/shop/replicasets", {"labelSelector": "app=checkout"}),
        ("PATCH", "/apis/apps/v1/namespaces/shop/deployments/checkout", {"fieldManager": "sre-copilot"}),
    ]
    patch = k8s.requests[2]
    assert patch["headers"]["content-type"] == "application/json-patch+json"
    assert patch["headers"]["authorization"] == f"Bearer {TOKEN}"
    # The template change, then the marks that make a retried rollback idempotent on the plan id
    op, *marks = patch["body"]
    assert (op["op"], op["path"]) == ("replace", "/spec/template")
    assert [m["path"] for m in marks] == ["/metadata/annotations/sre-copilot~1action",
                                          "/metadata/annotations/sre-copilot~1pre-state"]
    assert "pod-template-hash" not in op["value"]["metadata"]["labels"]


def test_dry_run_goes_to_the_server_and_changes_nothing(
    k8s: LocalKubernetesApi, incident: Incident, demo_catalog: Catalog,
) -> None:
    # Given a dry-run rollback plan
    executor = KubernetesExecutor(host=k8s.base_url, token=TOKEN)
    plan = _plan("rollback", incident, demo_catalog, dry_run=True)
    before = k8s.deployment("shop", "checkout")
    # When it executes
    result = executor.execute(plan, dry_run=True)
    # Then the API server was asked with dryRun=All and nothing changed
    assert k8s.requests[-1]["query"] == {"dryRun": "All", "fieldManager": "sre-copilot"}
    assert k8s.deployment("shop", "checkout") == before
    assert len(k8s.revisions("shop", "checkout")) == 2
    # And the would-be template is the previous revision's
    assert result["post_state"]["template"]["spec"]["containers"][0]["image"] == "registry.local/shop/checkout:rev1"
    assert result["detail"].startswith("dry run (server-side, nothing persisted): rollout undo")
    # And verify and rollback say honestly that there is nothing to check or undo
    executed = _executed(plan, result)
    ok, why = executor.verify(executed)
    assert ok and why.startswith("dry run: deployment/checkout was not changed")
    assert executor.rollback(executed) == {"detail": "dry run: deployment/checkout was not changed; "
                                                     "nothing to roll back"}
    assert k8s.deployment("shop", "checkout") == before


def test_restart_stamps_restarted_at_and_rolls_a_new_revision(
    k8s: LocalKubernetesApi, incident: Incident, demo_catalog: Catalog,
) -> None:
    executor = KubernetesExecutor(host=k8s.base_url, token=TOKEN)
    result = executor.execute(_plan("restart", incident, demo_catalog), dry_run=False)
    deployment = k8s.deployment("shop", "checkout")
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {"kubectl.kubernetes.io/restartedAt": "2026-03-04T10:12:00Z"}
    assert deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    assert _image(k8s) == "registry.local/shop/checkout:rev2"  # same image, new pods
    patch = k8s.requests[-1]
    assert patch["headers"]["content-type"] == "application/strategic-merge-patch+json"
    assert patch["body"]["spec"] == {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": "2026-03-04T10:12:00Z"}}}}
    assert patch["body"]["metadata"]["annotations"]["sre-copilot/action"] == "plan-restart"
    assert result["post_state"]["revision"] == "3"


def test_scale_out_adds_replicas_within_the_ceiling(
    k8s: LocalKubernetesApi, incident: Incident, demo_catalog: Catalog,
) -> None:
    executor = KubernetesExecutor(host=k8s.base_url, token=TOKEN)
    plan = _plan("scale_out", incident, demo_catalog)
    # When scaling out by the plan's increment of 2 from 2 replicas
    result = executor.execute(plan, dry_run=False)
    # Then checkout runs 4, without a new revision
    assert k8s.deployment("shop", "checkout")["spec"]["replicas"] == 4
    assert k8s.requests[-1]["body"]["spec"] == {"replicas": 4}
    assert (result["pre_state"]["replicas"], result["post_state"]["replicas"]) == (2, 4)
    assert len(k8s.revisions("shop", "checkout")) == 2
    # And the same plan retried (a re-run Act) does not scale again
    retry = executor.execute(plan, dry_run=False)
    assert retry["already_applied"] and k8s.deployment("shop", "checkout")["spec"]["replicas"] == 4
    # And another plan with a ceiling of 5 allows one more, after which scaling is refused
    capped = plan.model_copy(update={"id": "plan-scale-capped", "params": {**plan.params, "max_replicas": 5}})
    assert executor.execute(capped, dry_run=False)["post_state"]["replicas"] == 5
    with pytest.raises(KubernetesActionError, match="at or above the plan's ceiling of 5"):
        executor.execute(capped.model_copy(update={"id": "plan-scale-capped-2"}), dry_run=False)


def test_verify_succeeds_when_the_rollout_is_complete(
    k8s: LocalKubernetesApi, incident: Incident, demo_catalog: Catalog,
) -> None:
    executor = KubernetesExecutor(host=k8s.base_url, token=TOKEN)
    plan = _plan("rollback", incident, demo_catalog)
    ok, why = executor.verify(_executed(plan, executor.execute(plan, dry_run=False)))
    assert ok
    assert why == "deployment/checkout revision 3 rolled out: 2/2 updated, 2/2 available"


def test_failed_rollout_fails_verification_and_rollback_restores_the_pre_action_state(
    k8s: LocalKubernetesApi, incident: Incident, demo_catalog: Catalog,
) -> None:
    # Given the rollback's target revision will not become available (a broken old image)
    k8s.fail_next_rollout("shop", "checkout")
    executor = KubernetesExecutor(host=k8s.base_url, token=TOKEN)
    plan = _plan("rollback", incident, demo_catalog)
    executed = _executed(plan, executor.execute(plan, dry_run=False))
    # When it is verified
    ok, why = executor.verify(executed)
    # Then verification fails and says why
    assert not ok
    assert why == ('deployment/checkout revision 3 exceeded its progress deadline: 2/2 updated, 0/2 available; '
                   f'ReplicaSet "checkout-{template_hash(executed.params["post_state"]["template"])}" has timed out '
                   'progressing.')
    # When the action is rolled back
    result = executor.rollback(executed)
    # Then the pre-action template (revision 2's image) is back, as a new revision, and healthy
    assert _image(k8s) == "registry.local/shop/checkout:rev2"
    assert result["detail"] == ("restored deployment/checkout to its pre-action pod template (was revision 2, "
                                "now revision 4) and 2 replicas")
    assert executor.verify(executed.model_copy(update={"action": "rollback"}))[0]
    assert k8s.requests[-2]["body"][1] == {"op": "replace", "path": "/spec/replicas", "value": 2}


def test_a_rollout_still_in_progress_is_neither_verified_nor_failed(
    k8s: LocalKubernetesApi, incident: Incident, demo_catalog: Catalog,
) -> None:
    # Given a restart whose new pods are not up yet
    executor = KubernetesExecutor(host=k8s.base_url, token=TOKEN)
    k8s.hold_rollouts("shop", "checkout")
    plan = _plan("restart", incident, demo_catalog)
    executed = _executed(plan, executor.execute(plan, dry_run=False))
    # When it is verified, then the workflow is told to wait and retry rather than roll back
    with pytest.raises(RolloutInProgress, match="revision 3 still rolling out: 0/2 updated, 2/2 available"):
        executor.verify(executed)
    # And once the rollout completes it verifies
    k8s.hold_rollouts("shop", "checkout", held=False)
    assert executor.verify(executed) == (True, "deployment/checkout revision 3 rolled out: 2/2 updated, "
                                               "2/2 available")


def test_rollback_of_a_scale_out_restores_the_replica_count(
    k8s: LocalKubernetesApi, incident: Incident, demo_catalog: Catalog,
) -> None:
    executor = KubernetesExecutor(host=k8s.base_url, token=TOKEN)
    plan = _plan("scale_out", incident, demo_catalog)
    executed = _executed(plan, executor.execute(plan, dry_run=False))
    executor.rollback(executed)
    assert k8s.deployment("shop", "checkout")["spec"]["replicas"] == 2


def test_unhealthy_deployment_fails_verification(
    k8s: LocalKubernetesApi, incident: Incident, demo_catalog: Catalog,
) -> None:
    executor = KubernetesExecutor(host=k8s.base_url, token=TOKEN)
    plan = _plan("restart", incident, demo_catalog)
    executed = _executed(plan, executor.execute(plan, dry_run=False))
    k8s.set_healthy("shop", "checkout", False)
    assert executor.verify(executed)[0] is False
    k8s.set_healthy("shop", "checkout", True)
    assert executor.verify(executed)[0] is True


def test_what_the_executor_does_not_support(k8s: LocalKubernetesApi, incident: Incident,
                                            demo_catalog: Catalog) -> None:
    executor = KubernetesExecutor(host=k8s.base_url, token=TOKEN)
    assert not executor.supports(_plan("failover", incident, demo_catalog))
    assert not executor.supports(_plan("rollback", incident, demo_catalog, target="rds/payments-db"))
    assert not KubernetesExecutor(host="").supports(_plan("rollback", incident, demo_catalog))
    with pytest.raises(ConfigurationError, match="not a Deployment"):
        executor.execute(_plan("restart", incident, demo_catalog, target="statefulset/checkout"), dry_run=False)


def test_api_errors_name_the_workload(k8s: LocalKubernetesApi, incident: Incident, demo_catalog: Catalog) -> None:
    # Given a deployment with a single revision, one that does not exist, and a bad token
    k8s.add_deployment("shop", "fresh", ["registry.local/shop/fresh:rev1"])
    executor = KubernetesExecutor(host=k8s.base_url, token=TOKEN)
    fresh = _plan("rollback", incident, demo_catalog, target="deployment/fresh")
    with pytest.raises(KubernetesActionError, match="has no revision before 1"):
        executor.execute(fresh, dry_run=False)
    with pytest.raises(KubernetesActionError, match=r'404 deployments\.apps "ghost" not found'):
        executor.execute(_plan("restart", incident, demo_catalog, target="deployment/ghost"), dry_run=False)
    with pytest.raises(KubernetesActionError, match="401 Unauthorized"):
        KubernetesExecutor(host=k8s.base_url, token="wrong").execute(
            _plan("restart", incident, demo_catalog), dry_run=False)
    with pytest.raises(KubernetesActionError, match="no captured pre-action state"):
        executor.rollback(_plan("restart", incident, demo_catalog))
