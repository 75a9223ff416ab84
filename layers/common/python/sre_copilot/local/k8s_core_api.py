"""The core/v1 part of the local Kubernetes stand-in: nodes and pods, for delete-pod, cordon and drain.

Pods come from the catalog's instances (each on its host, which becomes a node). A deleted or
evicted pod that a Deployment owns is replaced at once on a schedulable node (never a cordoned
one), as the ReplicaSet controller and scheduler would. DaemonSet pods stay where they are, and a
drain leaves them, as `kubectl drain --ignore-daemonsets` does. `dryRun=All` answers with the
would-be object and changes nothing.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
from typing import Any

from sre_copilot.domain.catalog import Catalog
from sre_copilot.domain.types import format_time
from sre_copilot.local.sinks import Incoming, Outgoing
from sre_copilot.ports import clock

CORE_PATH = re.compile(r"^/api/v1/(?:namespaces/(?P<ns>[^/]+)/)?(?P<kind>pods|nodes)(?:/(?P<name>[^/]+))?"
                       r"(?:/(?P<sub>eviction))?$")


def _status(code: int, reason: str, message: str) -> Outgoing:
    return Outgoing(code, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                           "message": message, "reason": reason, "code": code})


class LocalCoreApi:
    def __init__(self) -> None:
        self.nodes: dict[str, dict[str, Any]] = {}
        self.pods: dict[tuple[str, str], dict[str, Any]] = {}
        self._replacements = itertools.count(1)
        self.disruption_blocked: set[tuple[str, str]] = set()
        """Pods whose PodDisruptionBudget refuses an eviction (429), as the API server answers."""

    # -- seeding ---------------------------------------------------------------------------------------
    def seed(self, catalog: Catalog) -> None:
        for host in catalog.hosts:
            self.add_node(host.name)
        for service in catalog.services:
            runtime = service.runtime
            if runtime.get("kind") != "kubernetes":
                continue
            namespace = str(runtime.get("namespace") or "default")
            workload = str(runtime.get("workload") or f"deployment/{service.name}").partition("/")[2]
            for instance in service.instances:
                if instance.host:
                    self.add_node(instance.host)
                self.add_pod(namespace, instance.name, app=workload, node=instance.host)

    def add_node(self, name: str) -> dict[str, Any]:
        return self.nodes.setdefault(name, {
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}, "resourceVersion": "1"},
            "spec": {}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}})

    def add_pod(self, namespace: str, name: str, *, app: str, node: str | None, daemonset: bool = False) -> None:
        owner = {"apiVersion": "apps/v1", "kind": "DaemonSet" if daemonset else "ReplicaSet",
                 "name": f"{app}-ds" if daemonset else f"{app}-rs", "uid": f"uid-{app}", "controller": True}
        self.pods[(namespace, name)] = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": {"app": app},
                         "ownerReferences": [owner], "creationTimestamp": format_time(clock.now())},
            "spec": {"nodeName": node, "containers": [{"name": app, "image": f"registry.local/{app}"}]},
            "status": {"phase": "Running"}}

    def pods_on(self, node: str) -> list[dict[str, Any]]:
        return [copy.deepcopy(p) for p in self.pods.values() if p["spec"].get("nodeName") == node]

    # -- HTTP ------------------------------------------------------------------------------------------
    def handle(self, request: Incoming, match: re.Match[str]) -> Outgoing:
        namespace, kind, name, sub = match["ns"], match["kind"], match["name"], match["sub"]
        dry_run = next(iter(request.query.get("dryRun", [])), None)
        if dry_run not in (None, "All"):
            return _status(400, "BadRequest", f"dryRun must be 'All', not {dry_run!r}")
        if kind == "nodes":
            return self._node(request, name, dry_run == "All")
        if name is None:
            if request.method != "GET":
                return _status(405, "MethodNotAllowed", f"{request.method} pods is not supported")
            selector = next(iter(request.query.get("fieldSelector", [])), "")
            node = selector.split("spec.nodeName=", 1)[1].split(",")[0] if "spec.nodeName=" in selector else None
            items = [p for (ns, _), p in sorted(self.pods.items())
                     if (namespace is None or ns == namespace) and (node is None or p["spec"].get("nodeName") == node)]
            return Outgoing(200, {"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": items})
        pod = self.pods.get((namespace or "default", name))
        if pod is None:
            return _status(404, "NotFound", f'pods "{name}" not found')
        if request.method == "GET" and sub is None:
            return Outgoing(200, pod)
        if request.method == "POST" and sub == "eviction" and (namespace or "default", name) in self.disruption_blocked:
            return _status(429, "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget.")
        if (request.method == "DELETE" and sub is None) or (request.method == "POST" and sub == "eviction"):
            if dry_run != "All":
                self._remove(pod)
            if sub == "eviction":
                return Outgoing(201, {"kind": "Status", "apiVersion": "v1", "status": "Success", "code": 201})
            return Outgoing(200, pod)
        return _status(405, "MethodNotAllowed", f"{request.method} on pods is not supported by the local API")

    def _node(self, request: Incoming, name: str | None, dry_run: bool) -> Outgoing:
        if name is None:
            return Outgoing(200, {"apiVersion": "v1", "kind": "NodeList", "metadata": {},
                                  "items": [self.nodes[n] for n in sorted(self.nodes)]})
        node = self.nodes.get(name)
        if node is None:
            return _status(404, "NotFound", f'nodes "{name}" not found')
        if request.method == "GET":
            return Outgoing(200, node)
        if request.method != "PATCH":
            return _status(405, "MethodNotAllowed", f"{request.method} on nodes is not supported by the local API")
        try:
            patch = json.loads(request.raw or b"null")
        except ValueError as exc:
            return _status(400, "BadRequest", f"cannot decode patch: {exc}")
        if isinstance(patch, list):
            from sre_copilot.local.k8s_api import apply_json_patch

            patched = apply_json_patch(node, patch)
        else:
            from sre_copilot.local.k8s_api import apply_merge_patch

            patched = apply_merge_patch(node, patch, strategic=True)
        unschedulable = patched.get("spec", {}).get("unschedulable")
        if unschedulable is not None and not isinstance(unschedulable, bool):
            return _status(422, "Invalid", "spec.unschedulable must be a boolean")
        if not dry_run:
            patched["metadata"]["resourceVersion"] = str(int(node["metadata"]["resourceVersion"]) + 1)
            self.nodes[name] = patched
        return Outgoing(200, patched)

    def _remove(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        del self.pods[(meta["namespace"], meta["name"])]
        owner = (meta.get("ownerReferences") or [{}])[0]
        if owner.get("kind") != "ReplicaSet":
            return
        schedulable = sorted(n for n, node in self.nodes.items() if not node["spec"].get("unschedulable"))
        others = [n for n in schedulable if n != pod["spec"].get("nodeName")]
        choices = others or schedulable
        target = choices[0] if choices else None
        base = meta["name"].rsplit("-r", 1)[0]
        self.add_pod(meta["namespace"], f"{base}-r{next(self._replacements)}", app=meta["labels"]["app"], node=target)
