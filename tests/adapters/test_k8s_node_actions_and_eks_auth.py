"""Delete pod, cordon and drain with the real kubernetes client against the local core/v1 API, and
EKS authentication: the presigned STS token is built, sent and checked by the local API server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from sre_copilot.adapters.eks_auth import EksTokenSource, eks_token
from sre_copilot.adapters.k8s_executor import KubernetesActionError, KubernetesExecutor
from sre_copilot.domain.action import ActionPlan
from sre_copilot.domain.catalog import Catalog
from sre_copilot.domain.types import Risk
from sre_copilot.local.eks_token_check import check_eks_token
from sre_copilot.local.k8s_api import LocalKubernetesApi

TOKEN = "k8s-test-token"
NOW = datetime(2026, 3, 4, 10, 12, tzinfo=UTC)
NODE = "ip-10-0-1-12"  # runs checkout-7f9c-abcde and cart-1a2-0 in the demo catalog


def _plan(action: str, target: str, dry_run: bool = False, **params: Any) -> ActionPlan:
    return ActionPlan(id=f"plan-{action}", incident_id="inc-1", action=action, target=target, risk=Risk.MEDIUM,
                      params=params, dry_run=dry_run, created_at=NOW, updated_at=NOW)


def _executed(plan: ActionPlan, result: dict[str, Any]) -> ActionPlan:
    return plan.model_copy(update={"params": {**plan.params, **result}})


def _on(k8s: LocalKubernetesApi, node: str) -> list[str]:
    return sorted(p["metadata"]["name"] for p in k8s.core.pods_on(node))


@pytest.fixture
def executor(k8s: LocalKubernetesApi) -> KubernetesExecutor:
    return KubernetesExecutor(host=k8s.base_url, token=TOKEN)


def test_drain_dry_run_lists_the_evictions_and_changes_nothing(k8s: LocalKubernetesApi,
                                                               executor: KubernetesExecutor) -> None:
    # Given a node running two pods, one of a DaemonSet that a drain must leave
    k8s.core.add_pod("kube-system", "node-exporter-x", app="node-exporter", node=NODE, daemonset=True)
    plan = _plan("drain_host", f"node/{NODE}", dry_run=True)
    assert executor.supports(plan)
    # When drained in dry run
    result = executor.execute(plan, dry_run=True)
    # Then the cordon patch and one eviction per workload pod are listed, all server-side dry runs
    assert [(c["api"], c["path"]) for c in result["calls"]] == [
        ("PATCH", f"/api/v1/nodes/{NODE}"),
        ("POST", "/api/v1/namespaces/shop/pods/cart-1a2-0/eviction"),
        ("POST", "/api/v1/namespaces/shop/pods/checkout-7f9c-abcde/eviction")]
    assert all(c["dryRun"] == "All" for c in result["calls"])
    # And the node is still schedulable with its pods
    assert not k8s.core.nodes[NODE]["spec"].get("unschedulable")
    assert _on(k8s, NODE) == ["cart-1a2-0", "checkout-7f9c-abcde", "node-exporter-x"]


def test_drain_cordons_evicts_is_idempotent_and_rollback_uncordons(k8s: LocalKubernetesApi,
                                                                   executor: KubernetesExecutor) -> None:
    k8s.core.add_pod("kube-system", "node-exporter-x", app="node-exporter", node=NODE, daemonset=True)
    plan = _plan("drain_host", f"node/{NODE}")
    # When the node is drained
    result = executor.execute(plan, dry_run=False)
    # Then it is cordoned, only the DaemonSet pod is left, and the workload pods run elsewhere
    assert k8s.core.nodes[NODE]["spec"]["unschedulable"] is True
    assert _on(k8s, NODE) == ["node-exporter-x"]
    assert result["pre_state"] == {"node": NODE, "unschedulable": False}
    assert len(k8s.core.pods) == 7 + 1  # demo pods plus the DaemonSet pod, replacements included
    ok, why = executor.verify(_executed(plan, result))
    assert ok, why
    # And a retried drain keeps the original pre-state (the node was schedulable before)
    assert executor.execute(plan, dry_run=False)["pre_state"] == {"node": NODE, "unschedulable": False}
    # When rolled back, the node is schedulable again, and that is verified
    executed = _executed(plan, result)
    restored = executor.rollback(executed)
    assert restored["restored_state"] == {"unschedulable": False}
    assert not k8s.core.nodes[NODE]["spec"].get("unschedulable")
    assert executor.verify(executed.model_copy(update={"params": {**executed.params, "verifying": "rollback"}}))[0]


def test_cordon_only_leaves_the_pods(k8s: LocalKubernetesApi, executor: KubernetesExecutor) -> None:
    plan = _plan("cordon_node", f"node/{NODE}")
    result = executor.execute(plan, dry_run=False)
    assert k8s.core.nodes[NODE]["spec"]["unschedulable"] is True
    assert _on(k8s, NODE) == ["cart-1a2-0", "checkout-7f9c-abcde"]
    assert executor.verify(_executed(plan, result))[0]


def test_delete_pod_dry_run_then_live_and_retry(k8s: LocalKubernetesApi, executor: KubernetesExecutor) -> None:
    plan = _plan("delete_pod", "pod/checkout-7f9c-abcde", namespace="shop")
    dry = executor.execute(plan.model_copy(update={"dry_run": True}), dry_run=True)
    assert dry["calls"][0]["dryRun"] == "All" and ("shop", "checkout-7f9c-abcde") in k8s.core.pods
    result = executor.execute(plan, dry_run=False)
    assert ("shop", "checkout-7f9c-abcde") not in k8s.core.pods
    assert sum(1 for (_, n) in k8s.core.pods if n.startswith("checkout-7f9c-abcde-r")) == 1  # replaced
    assert executor.verify(_executed(plan, result))[0]
    assert executor.execute(plan, dry_run=False)["already_applied"]


def test_unknown_node_is_a_clear_error(executor: KubernetesExecutor) -> None:
    with pytest.raises(KubernetesActionError, match="cannot read node ip-9-9-9-9: 404"):
        executor.execute(_plan("drain_host", "node/ip-9-9-9-9"), dry_run=False)


# -- EKS authentication --------------------------------------------------------------------------------
@pytest.fixture
def eks(demo_catalog: Catalog) -> Iterator[LocalKubernetesApi]:
    with LocalKubernetesApi(demo_catalog) as running:
        running.eks_cluster = "prod-eks"
        yield running


def _session() -> boto3.session.Session:
    return boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                 region_name="us-east-1")


def test_eks_token_is_a_presigned_sts_url_that_signs_the_cluster_header() -> None:
    token = eks_token("prod-eks", "us-east-1", _session())
    assert token.startswith("k8s-aws-v1.") and "=" not in token
    assert check_eks_token(f"Bearer {token}", "prod-eks") is None
    assert "not signed for cluster other" in str(check_eks_token(f"Bearer {token}", "other"))
    assert check_eks_token("Bearer k8s-test-token", "prod-eks") is not None


def test_kubernetes_client_authenticates_to_eks_with_the_token(eks: LocalKubernetesApi) -> None:
    # Given an API server that accepts only EKS tokens for prod-eks
    executor = KubernetesExecutor(host=eks.base_url, token_source=EksTokenSource("prod-eks", "us-east-1", _session()))
    # When the executor acts
    result = executor.execute(_plan("cordon_node", f"node/{NODE}"), dry_run=True)
    # Then every request carried the token, and the server accepted it
    assert result["calls"] and all(r["headers"]["authorization"].startswith("Bearer k8s-aws-v1.")
                                   for r in eks.requests)
    # And a token made for another cluster is refused
    wrong = KubernetesExecutor(host=eks.base_url, token_source=EksTokenSource("staging", "us-east-1", _session()))
    with pytest.raises(KubernetesActionError, match="401"):
        wrong.execute(_plan("cordon_node", f"node/{NODE}"), dry_run=True)


def test_a_drain_that_fails_part_way_uncordons_the_node_and_says_so(k8s: LocalKubernetesApi,
                                                                    executor: KubernetesExecutor) -> None:
    from sre_copilot.actions.compensation import ActionCompensated

    # Given a node whose second pod is protected by a disruption budget
    k8s.core.disruption_blocked.add(("shop", "checkout-7f9c-abcde"))
    # When the drain runs
    with pytest.raises(ActionCompensated) as failed:
        executor.execute(_plan("drain_host", f"node/{NODE}"), dry_run=False)
    # Then the eviction refusal is reported with its compensation, and the node is schedulable again
    assert "disruption budget" in failed.value.failure
    assert failed.value.compensation.startswith(f"node {NODE} uncordoned; 1 evicted pod(s)")
    assert not k8s.core.nodes[NODE]["spec"].get("unschedulable")
    assert _on(k8s, NODE) == ["checkout-7f9c-abcde"]
