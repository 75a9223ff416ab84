"""Kubernetes remediations through the official client: rollback, restart and scale-out of a
Deployment; delete a pod; cordon and drain a node (`k8s_node_actions`).

Each mirrors the kubectl command an SRE would type, so the cluster's audit log reads the same:
- rollback = `kubectl rollout undo`: find the ReplicaSet of the previous revision and JSON-patch
  the Deployment's pod template back to it (minus the pod-template-hash label);
- restart = `kubectl rollout restart`: stamp kubectl.kubernetes.io/restartedAt on the pod template;
- scale_out = `kubectl scale`: raise spec.replicas by the plan's increment, never past its ceiling.

Before changing anything the executor captures the pod template and replica count in
`pre_state`; `rollback(plan)` puts exactly that back. Dry runs go to the API server with
dryRun=All, so admission and validation run but nothing is persisted.
"""

from __future__ import annotations

import json
from typing import Any

from kubernetes.client import ApiClient, AppsV1Api, Configuration, CoreV1Api
from kubernetes.client.exceptions import ApiException

from sre_copilot.adapters.k8s_errors import KubernetesActionError, RolloutInProgress, _api_message
from sre_copilot.adapters.k8s_node_actions import (
    NODE_ACTIONS,
    POD_ACTIONS,
    NodeAndPodActions,
    node_of,
    pod_of,
)
from sre_copilot.domain.action import ActionPlan
from sre_copilot.errors import ConfigurationError
from sre_copilot.ports import clock

REVISION = "deployment.kubernetes.io/revision"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
HASH_LABEL = "pod-template-hash"
SUPPORTED_ACTIONS = frozenset({"rollback", "restart", "scale_out"})
ACTION_MARK = "sre-copilot/action"
PRE_STATE_MARK = "sre-copilot/pre-state"
DEPLOYMENT_KINDS = frozenset({"deployment", "deployments", "deploy"})
FIELD_MANAGER = "sre-copilot"


class KubernetesExecutor:
    """`ActionExecutor` for Deployments."""

    def __init__(self, host: str, token: str | None = None, *, ca_cert_path: str | None = None,
                 verify_ssl: bool = True, token_source: Any = None) -> None:
        """`token`: a bearer token (from the kubernetes secret, for any cluster); `token_source`: an
        `EksTokenSource` for EKS (presigned STS tokens, refreshed before they expire)."""
        self.host = host
        configuration = Configuration(host=host or None, ssl_ca_cert=ca_cert_path, verify_ssl=verify_ssl)
        if token_source is not None:
            token_source.install(configuration)
        elif token:
            configuration.api_key = {"BearerToken": token}
            configuration.api_key_prefix = {"BearerToken": "Bearer"}
        self.api_client = ApiClient(configuration)
        self.apps = AppsV1Api(self.api_client)
        self.core = CoreV1Api(self.api_client)

    # -- ActionExecutor ------------------------------------------------------------------------------
    def supports(self, plan: ActionPlan) -> bool:
        if not self.host:
            return False
        if plan.action in NODE_ACTIONS:
            return node_of(plan) is not None
        if plan.action in POD_ACTIONS:
            return pod_of(plan) is not None
        return plan.action in SUPPORTED_ACTIONS and self._workload(plan) is not None

    def execute(self, plan: ActionPlan, dry_run: bool) -> dict[str, Any]:
        if plan.action in NODE_ACTIONS or plan.action in POD_ACTIONS:
            return NodeAndPodActions(self).execute(plan, dry_run)
        namespace, name = self._require_workload(plan)
        deployment = self._read(namespace, name)
        marks = self.api_client.sanitize_for_serialization(deployment)["metadata"].get("annotations", {})
        if marks.get(ACTION_MARK) == plan.id and PRE_STATE_MARK in marks and not dry_run:
            # A retried Act: this plan already changed the deployment; a second rollout undo would go
            # one revision further back.
            return {"pre_state": json.loads(marks[PRE_STATE_MARK]), "post_state": self._capture(deployment),
                    "already_applied": True, "calls": [],
                    "detail": f"already applied by {plan.id} on deployment/{name} in {namespace}"}
        pre_state = self._capture(deployment)
        patch: dict[str, Any] | list[dict[str, Any]]
        if plan.action == "rollback":
            patch, summary = self._rollback_patch(namespace, name, deployment)
        elif plan.action == "restart":
            stamp = clock.now().isoformat(timespec="seconds").replace("+00:00", "Z")
            patch = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
            summary = f"rolling restart (restartedAt {stamp})"
        elif plan.action == "scale_out":
            patch, summary = self._scale_patch(plan, deployment)
        else:
            raise KubernetesActionError(f"the Kubernetes executor cannot {plan.action}; it runs "
                                        f"{', '.join(sorted(SUPPORTED_ACTIONS))}")
        marks = {ACTION_MARK: plan.id, PRE_STATE_MARK: json.dumps(pre_state, separators=(",", ":"))}
        if isinstance(patch, list):
            patch = [*patch, *({"op": "add", "path": f"/metadata/annotations/{k.replace('/', '~1')}", "value": v}
                               for k, v in marks.items())]
        else:
            patch = {**patch, "metadata": {"annotations": marks}}
        after = self._patch(namespace, name, patch, dry_run)
        post_state = self._capture(after)
        mode = "dry run (server-side, nothing persisted)" if dry_run else "applied"
        calls = [{"api": "GET", "path": f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}"},
                 {"api": "PATCH", "path": f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
                  "dryRun": "All" if dry_run else None, "body": patch}]
        return {"pre_state": pre_state, "post_state": post_state, "calls": calls,
                "detail": f"{mode}: {summary} on deployment/{name} in {namespace}"}

    def verify(self, plan: ActionPlan) -> tuple[bool, str]:
        """Rollout status as `kubectl rollout status` judges it.

        Returns (True, ...) once complete and (False, ...) once the rollout exceeded its progress
        deadline; raises `RolloutInProgress` while it is still going.
        """
        if plan.action in NODE_ACTIONS or plan.action in POD_ACTIONS:
            return NodeAndPodActions(self).verify(plan)
        namespace, name = self._require_workload(plan)
        if plan.dry_run:
            return True, f"dry run: deployment/{name} was not changed, so there is no rollout to verify"
        deployment = self.api_client.sanitize_for_serialization(self._read(namespace, name))
        spec, status, meta = deployment.get("spec", {}), deployment.get("status", {}), deployment["metadata"]
        desired = int(spec.get("replicas", 1))
        observed, generation = int(status.get("observedGeneration", 0)), int(meta.get("generation", 0))
        current, updated = int(status.get("replicas", 0)), int(status.get("updatedReplicas", 0))
        available = int(status.get("availableReplicas", 0))
        revision = meta.get("annotations", {}).get(REVISION, "?")
        counts = f"{updated}/{desired} updated, {available}/{desired} available"
        if observed < generation:
            raise RolloutInProgress(f"deployment/{name}: the controller has not observed generation {generation} "
                                    f"yet ({counts})")
        progressing: dict[str, Any] = next(
            (c for c in status.get("conditions", []) if c.get("type") == "Progressing"), {})
        if progressing.get("reason") == "ProgressDeadlineExceeded":
            return False, (f"deployment/{name} revision {revision} exceeded its progress deadline: {counts}; "
                           f"{progressing.get('message', '')}".rstrip("; "))
        if updated < desired or current > updated or available < updated:
            raise RolloutInProgress(f"deployment/{name} revision {revision} still rolling out: {counts}, "
                                    f"{max(current - updated, 0)} old replica(s) pending termination")
        return True, f"deployment/{name} revision {revision} rolled out: {counts}"

    def rollback(self, plan: ActionPlan) -> dict[str, Any]:
        if plan.action in NODE_ACTIONS or plan.action in POD_ACTIONS:
            return NodeAndPodActions(self).rollback(plan)
        namespace, name = self._require_workload(plan)
        if plan.dry_run:
            return {"detail": f"dry run: deployment/{name} was not changed; nothing to roll back"}
        pre = plan.params.get("pre_state")
        if not isinstance(pre, dict) or "template" not in pre:
            raise KubernetesActionError(f"plan {plan.id} has no captured pre-action state of deployment/{name}; "
                                        "restore it by hand with kubectl rollout undo")
        ops = [{"op": "replace", "path": "/spec/template", "value": pre["template"]},
               {"op": "replace", "path": "/spec/replicas", "value": pre["replicas"]},
               {"op": "add", "path": f"/metadata/annotations/{ACTION_MARK.replace('/', '~1')}",
                "value": f"{plan.id}:rolled-back"}]
        after = self._capture(self._patch(namespace, name, ops, dry_run=False))
        return {"restored_state": after,
                "detail": f"restored deployment/{name} to its pre-action pod template (was revision "
                          f"{pre.get('revision')}, now revision {after.get('revision')}) and {pre['replicas']} "
                          f"replicas"}

    # -- helpers ------------------------------------------------------------------------------------
    def _workload(self, plan: ActionPlan) -> tuple[str, str] | None:
        if "/" in plan.target:
            kind, _, name = plan.target.partition("/")
        else:
            kind, name = str(plan.params.get("kind", "")), str(plan.params.get("name") or plan.target)
        if kind.lower() not in DEPLOYMENT_KINDS or not name:
            return None
        return str(plan.params.get("namespace") or "default"), name

    def _require_workload(self, plan: ActionPlan) -> tuple[str, str]:
        workload = self._workload(plan)
        if workload is None:
            raise ConfigurationError(f"{plan.target} is not a Deployment; the Kubernetes executor acts on "
                                     "targets named deployment/<name>")
        return workload

    def _read(self, namespace: str, name: str) -> Any:
        try:
            return self.apps.read_namespaced_deployment(name, namespace)
        except ApiException as exc:
            raise KubernetesActionError(f"cannot read deployment/{name} in {namespace}: {exc.status} "
                                        f"{_api_message(exc)}") from exc

    def _patch(self, namespace: str, name: str, body: Any, dry_run: bool) -> Any:
        try:
            return self.apps.patch_namespaced_deployment(name, namespace, body, dry_run="All" if dry_run else None,
                                                         field_manager=FIELD_MANAGER)
        except ApiException as exc:
            raise KubernetesActionError(f"the API server refused the patch of deployment/{name} in {namespace}: "
                                        f"{exc.status} {_api_message(exc)}") from exc

    def _capture(self, deployment: Any) -> dict[str, Any]:
        raw = self.api_client.sanitize_for_serialization(deployment)
        return {"revision": raw["metadata"].get("annotations", {}).get(REVISION),
                "generation": raw["metadata"].get("generation"), "replicas": raw["spec"].get("replicas", 1),
                "template": raw["spec"]["template"]}

    def _rollback_patch(self, namespace: str, name: str, deployment: Any) -> tuple[list[dict[str, Any]], str]:
        raw = self.api_client.sanitize_for_serialization(deployment)
        current = int(raw["metadata"].get("annotations", {}).get(REVISION, 0))
        selector = ",".join(f"{k}={v}" for k, v in raw["spec"]["selector"].get("matchLabels", {}).items())
        try:
            listed = self.apps.list_namespaced_replica_set(namespace, label_selector=selector)
        except ApiException as exc:
            raise KubernetesActionError(f"cannot list the ReplicaSets of deployment/{name}: {exc.status} "
                                        f"{_api_message(exc)}") from exc
        uid = raw["metadata"].get("uid")
        history: list[tuple[int, dict[str, Any]]] = []
        for rs in (self.api_client.sanitize_for_serialization(item) for item in listed.items or []):
            owners = rs["metadata"].get("ownerReferences", [])
            if uid and owners and not any(o.get("uid") == uid for o in owners):
                continue
            revision = rs["metadata"].get("annotations", {}).get(REVISION)
            if revision and revision.isdigit() and int(revision) < current:
                history.append((int(revision), rs))
        if not history:
            raise KubernetesActionError(f"deployment/{name} has no revision before {current} to roll back to")
        revision, rs = max(history, key=lambda item: item[0])
        template = rs["spec"]["template"]
        template.get("metadata", {}).get("labels", {}).pop(HASH_LABEL, None)
        images = ", ".join(c.get("image", "?") for c in template.get("spec", {}).get("containers", []))
        return ([{"op": "replace", "path": "/spec/template", "value": template}],
                f"rollout undo from revision {current} to revision {revision} ({images})")

    def _scale_patch(self, plan: ActionPlan, deployment: Any) -> tuple[dict[str, Any], str]:
        current = int(deployment.spec.replicas if deployment.spec.replicas is not None else 1)
        increment = int(plan.params.get("increment", 1))
        ceiling = int(plan.params.get("max_replicas", current + increment))
        target = min(current + max(increment, 1), ceiling)
        if target <= current:
            raise KubernetesActionError(f"deployment already runs {current} replicas, at or above the plan's "
                                        f"ceiling of {ceiling}")
        return {"spec": {"replicas": target}}, f"scale from {current} to {target} replicas (ceiling {ceiling})"
