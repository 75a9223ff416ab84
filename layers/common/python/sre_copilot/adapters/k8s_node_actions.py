"""Pod and node remediations: `kubectl delete pod`, `kubectl cordon` and `kubectl drain`.

- delete_pod: delete one pod (its ReplicaSet replaces it). Nothing to restore afterwards.
- cordon_node: mark the node unschedulable.
- drain_host / drain_node: cordon, then evict every pod on the node through the Eviction API (so
  PodDisruptionBudgets are honoured), leaving DaemonSet and mirror pods as
  `kubectl drain --ignore-daemonsets` does.

Cordon and drain record the node's schedulability before the action, and the plan id, as node
annotations in the same patch that cordons it: a retried drain finds its own mark and keeps the
original pre-state, and rollback (uncordon) puts exactly that back. Evicted pods are not moved back:
the scheduler places their replacements.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from kubernetes.client import V1DeleteOptions, V1Eviction, V1ObjectMeta
from kubernetes.client.exceptions import ApiException

from sre_copilot.actions.compensation import ActionCompensated
from sre_copilot.adapters.k8s_errors import KubernetesActionError, _api_message
from sre_copilot.domain.action import ActionPlan

if TYPE_CHECKING:
    from sre_copilot.adapters.k8s_executor import KubernetesExecutor

NODE_ACTIONS = frozenset({"cordon_node", "drain_host", "drain_node"})
POD_ACTIONS = frozenset({"delete_pod"})
ACTION_MARK = "sre-copilot/action"
PRE_STATE_MARK = "sre-copilot/pre-state"
MIRROR = "kubernetes.io/config.mirror"


def _named(plan: ActionPlan, kinds: tuple[str, ...]) -> str | None:
    kind, _, name = plan.target.partition("/")
    if name and kind.lower() in kinds:
        return name
    return None


def node_of(plan: ActionPlan) -> str | None:
    return _named(plan, ("node", "nodes", "host"))


def pod_of(plan: ActionPlan) -> tuple[str, str] | None:
    name = _named(plan, ("pod", "pods"))
    return (str(plan.params.get("namespace") or "default"), name) if name else None


class NodeAndPodActions:
    def __init__(self, executor: KubernetesExecutor) -> None:
        self.x = executor
        self.core = executor.core

    # -- execute -------------------------------------------------------------------------------------
    def execute(self, plan: ActionPlan, dry_run: bool) -> dict[str, Any]:
        mode = "dry run (server-side, nothing persisted)" if dry_run else "applied"
        if plan.action in POD_ACTIONS:
            result = self._delete_pod(plan, dry_run)
        else:
            result = self._cordon_and_drain(plan, dry_run)
        result["detail"] = f"{mode}: {result['detail']}"
        return result

    def _delete_pod(self, plan: ActionPlan, dry_run: bool) -> dict[str, Any]:
        target = pod_of(plan)
        assert target is not None
        namespace, name = target
        path = f"/api/v1/namespaces/{namespace}/pods/{name}"
        calls = [{"api": "DELETE", "path": path, "dryRun": "All" if dry_run else None}]
        try:
            pod = self.x.api_client.sanitize_for_serialization(self.core.read_namespaced_pod(name, namespace))
        except ApiException as exc:
            if exc.status == 404 and not dry_run:  # a retried delete: the first one took it
                return {"pre_state": {"pod": name, "namespace": namespace}, "calls": [], "already_applied": True,
                        "detail": f"pod {name} in {namespace} is already gone"}
            raise KubernetesActionError(f"cannot read pod {name} in {namespace}: {exc.status} "
                                        f"{_api_message(exc)}") from exc
        pre = {"pod": name, "namespace": namespace, "node": pod["spec"].get("nodeName"),
               "owner": (pod["metadata"].get("ownerReferences") or [{}])[0].get("kind")}
        try:
            self.core.delete_namespaced_pod(name, namespace, body=V1DeleteOptions(),
                                            dry_run="All" if dry_run else None)
        except ApiException as exc:
            raise KubernetesActionError(f"the API server refused to delete pod {name}: {exc.status} "
                                        f"{_api_message(exc)}") from exc
        return {"pre_state": pre, "calls": calls, "detail": f"deleted pod {name} in {namespace} (on {pre['node']})"}

    def _cordon_and_drain(self, plan: ActionPlan, dry_run: bool) -> dict[str, Any]:
        node_name = node_of(plan)
        assert node_name is not None
        node = self._node(node_name)
        marks = node["metadata"].get("annotations") or {}
        if marks.get(ACTION_MARK) == plan.id and PRE_STATE_MARK in marks:
            pre = json.loads(marks[PRE_STATE_MARK])  # a retry: keep what was there before the first try
        else:
            pre = {"node": node_name, "unschedulable": bool(node["spec"].get("unschedulable"))}
        cordon = {"spec": {"unschedulable": True},
                  "metadata": {"annotations": {ACTION_MARK: plan.id, PRE_STATE_MARK: json.dumps(pre)}}}
        calls: list[dict[str, Any]] = [
            {"api": "PATCH", "path": f"/api/v1/nodes/{node_name}", "dryRun": "All" if dry_run else None,
             "body": cordon}]
        self._patch_node(node_name, cordon, dry_run)
        evicted: list[str] = []
        if plan.action != "cordon_node":
            for pod in self._evictable(node_name):
                namespace, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
                calls.append({"api": "POST", "path": f"/api/v1/namespaces/{namespace}/pods/{name}/eviction",
                              "dryRun": "All" if dry_run else None})
                try:
                    self.core.create_namespaced_pod_eviction(
                        name, namespace, V1Eviction(metadata=V1ObjectMeta(name=name, namespace=namespace)),
                        dry_run="All" if dry_run else None)
                except ApiException as exc:
                    if exc.status == 404:
                        continue  # gone meanwhile
                    failure = (f"eviction of pod {name} from {node_name} refused ({exc.status} "
                               f"{_api_message(exc)}) after {len(evicted)} pod(s) were evicted")
                    if dry_run:
                        raise KubernetesActionError(failure) from exc
                    raise ActionCompensated(failure, self._compensate(plan, node_name, pre, evicted)) from exc
                evicted.append(f"{namespace}/{name}")
        what = "cordoned" if plan.action == "cordon_node" else f"cordoned and drained ({len(evicted)} pod(s) evicted)"
        return {"pre_state": pre, "calls": calls, "evicted": evicted, "detail": f"node {node_name} {what}"}

    def _compensate(self, plan: ActionPlan, node_name: str, pre: dict[str, Any], evicted: list[str]) -> str:
        """Undo the cordon of a drain that could not finish; evicted pods already run elsewhere."""
        try:
            self.rollback(plan.model_copy(update={"params": {**plan.params, "pre_state": pre}}))
        except KubernetesActionError as exc:
            return f"uncordoning {node_name} failed too ({exc}); uncordon it by hand"
        moved = f"; {len(evicted)} evicted pod(s) were rescheduled elsewhere" if evicted else ""
        return f"node {node_name} {'left cordoned as before' if pre['unschedulable'] else 'uncordoned'}{moved}"

    # -- verify / rollback -----------------------------------------------------------------------------
    def verify(self, plan: ActionPlan) -> tuple[bool, str]:
        if plan.dry_run:
            return True, f"dry run: {plan.target} was not changed, so there is nothing to verify"
        if plan.action in POD_ACTIONS:
            target = pod_of(plan)
            assert target is not None
            namespace, name = target
            try:
                self.core.read_namespaced_pod(name, namespace)
            except ApiException as exc:
                if exc.status == 404:
                    return True, f"pod {name} is gone; its controller replaces it"
                raise KubernetesActionError(f"cannot read pod {name}: {exc.status} {_api_message(exc)}") from exc
            return False, f"pod {name} in {namespace} still exists"
        node_name = node_of(plan)
        assert node_name is not None
        node = self._node(node_name)
        unschedulable = bool(node["spec"].get("unschedulable"))
        if plan.params.get("verifying") == "rollback":
            want = bool((plan.params.get("pre_state") or {}).get("unschedulable"))
            return unschedulable == want, f"node {node_name} {'un' if unschedulable else ''}schedulable"
        left = [p["metadata"]["name"] for p in self._evictable(node_name)] if plan.action != "cordon_node" else []
        if not unschedulable:
            return False, f"node {node_name} is schedulable again"
        if left:
            return False, f"node {node_name} still runs {len(left)} pod(s): {', '.join(left[:5])}"
        return True, f"node {node_name} is cordoned" + ("" if plan.action == "cordon_node" else " and drained")

    def rollback(self, plan: ActionPlan) -> dict[str, Any]:
        if plan.dry_run:
            return {"calls": [], "detail": f"dry run: {plan.target} was not changed; nothing to roll back"}
        if plan.action in POD_ACTIONS:
            return {"calls": [], "detail": "a deleted pod is replaced by its controller; nothing to restore"}
        node_name = node_of(plan)
        assert node_name is not None
        pre = plan.params.get("pre_state")
        if not isinstance(pre, dict) or "unschedulable" not in pre:
            raise KubernetesActionError(f"plan {plan.id} has no captured state of node {node_name}; "
                                        "uncordon it by hand")
        body = {"spec": {"unschedulable": bool(pre["unschedulable"]) or None},
                "metadata": {"annotations": {ACTION_MARK: f"{plan.id}:rolled-back", PRE_STATE_MARK: None}}}
        after = self._patch_node(node_name, body, dry_run=False)
        return {"calls": [{"api": "PATCH", "path": f"/api/v1/nodes/{node_name}", "body": body}],
                "restored_state": {"unschedulable": bool(after["spec"].get("unschedulable"))},
                "detail": f"node {node_name} {'left cordoned' if pre['unschedulable'] else 'uncordoned'} as before; "
                          "evicted pods stay where the scheduler put them"}

    # -- helpers ---------------------------------------------------------------------------------------
    def _node(self, name: str) -> dict[str, Any]:
        try:
            return dict(self.x.api_client.sanitize_for_serialization(self.core.read_node(name)))
        except ApiException as exc:
            raise KubernetesActionError(f"cannot read node {name}: {exc.status} {_api_message(exc)}") from exc

    def _patch_node(self, name: str, body: dict[str, Any], dry_run: bool) -> dict[str, Any]:
        try:
            node = self.core.patch_node(name, body, dry_run="All" if dry_run else None)
        except ApiException as exc:
            raise KubernetesActionError(f"the API server refused the patch of node {name}: {exc.status} "
                                        f"{_api_message(exc)}") from exc
        return dict(self.x.api_client.sanitize_for_serialization(node))

    def _evictable(self, node_name: str) -> list[dict[str, Any]]:
        try:
            listed = self.core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node_name}")
        except ApiException as exc:
            raise KubernetesActionError(f"cannot list the pods on node {node_name}: {exc.status} "
                                        f"{_api_message(exc)}") from exc
        pods = [self.x.api_client.sanitize_for_serialization(p) for p in listed.items or []]
        return [p for p in pods
                if not any(o.get("kind") == "DaemonSet" for o in p["metadata"].get("ownerReferences") or [])
                and MIRROR not in (p["metadata"].get("annotations") or {})]
