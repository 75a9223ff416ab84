"""A local stand-in for the apps/v1 endpoints the Kubernetes executor calls, with a tiny controller.

It keeps Deployments and their ReplicaSets the way the deployment controller does: a pod-template
change makes (or revives) the ReplicaSet with that template's hash and stamps it with the next
`deployment.kubernetes.io/revision`; the rollout then completes at once. Health belongs to a
revision (a broken image stays broken), so a test can break the next rollout, watch verification
fail, roll back and see the deployment healthy again. Patches follow the documented content types
(JSON patch, JSON merge patch, strategic merge with containers merged by name); `dryRun=All`
answers with the would-be object and changes nothing.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from typing import Any

from sre_copilot.domain.catalog import Catalog
from sre_copilot.domain.types import format_time
from sre_copilot.local.k8s_core_api import CORE_PATH, LocalCoreApi
from sre_copilot.local.sinks import Incoming, LocalHttpServer, Outgoing
from sre_copilot.ports import clock

REVISION = "deployment.kubernetes.io/revision"
HASH_LABEL = "pod-template-hash"
_PATH = re.compile(r"^/apis/apps/v1/namespaces/(?P<ns>[^/]+)/(?P<kind>deployments|replicasets)(?:/(?P<name>[^/]+))?$")


class PatchError(ValueError):
    pass


def _status(code: int, reason: str, message: str) -> Outgoing:
    return Outgoing(code, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                           "message": message, "reason": reason, "code": code})


def template_hash(template: dict[str, Any]) -> str:
    clean = copy.deepcopy(template)
    clean.get("metadata", {}).get("labels", {}).pop(HASH_LABEL, None)
    return hashlib.sha256(json.dumps(clean, sort_keys=True).encode()).hexdigest()[:10]


def _pointer(path: str) -> list[str]:
    if not path.startswith("/"):
        raise PatchError(f"JSON pointer {path!r} must start with '/'")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def apply_json_patch(doc: dict[str, Any], ops: list[dict[str, Any]]) -> dict[str, Any]:
    """RFC 6902 add / replace / remove / test."""
    out = copy.deepcopy(doc)
    for op in ops:
        *parents, last = _pointer(op.get("path", ""))
        node: Any = out
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node.get(part)
            if node is None:
                raise PatchError(f"path {op.get('path')} does not exist")
        kind = op.get("op")
        if kind == "test":
            current = node[int(last)] if isinstance(node, list) else node.get(last)
            if current != op.get("value"):
                raise PatchError(f"test failed at {op['path']}")
        elif kind in ("add", "replace"):
            if kind == "replace" and (last not in node if isinstance(node, dict) else int(last) >= len(node)):
                raise PatchError(f"cannot replace {op['path']}: it does not exist")
            if isinstance(node, list):
                if last == "-":
                    node.append(copy.deepcopy(op["value"]))
                elif kind == "add":
                    node.insert(int(last), copy.deepcopy(op["value"]))
                else:
                    node[int(last)] = copy.deepcopy(op["value"])
            else:
                node[last] = copy.deepcopy(op["value"])
        elif kind == "remove":
            if isinstance(node, list):
                node.pop(int(last))
            elif node.pop(last, None) is None:
                raise PatchError(f"cannot remove {op['path']}: it does not exist")
        else:
            raise PatchError(f"unsupported JSON patch op {kind!r}")
    return out


def apply_merge_patch(doc: Any, patch: Any, *, strategic: bool) -> Any:
    """RFC 7386 merge; the strategic variant merges lists of named objects (containers) by name."""
    if not isinstance(patch, dict):
        if strategic and isinstance(patch, list) and isinstance(doc, list) and _named(patch) and _named(doc):
            merged = {item["name"]: item for item in copy.deepcopy(doc)}
            for item in patch:
                merged[item["name"]] = apply_merge_patch(merged.get(item["name"], {}), item, strategic=True)
            return list(merged.values())
        return copy.deepcopy(patch)
    out = copy.deepcopy(doc) if isinstance(doc, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = apply_merge_patch(out.get(key), value, strategic=strategic)
    return out


def _named(items: list[Any]) -> bool:
    return all(isinstance(i, dict) and "name" in i for i in items)


def _matches(labels: dict[str, str], selector: str) -> bool:
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key.strip()) != value.strip():
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


class LocalKubernetesApi(LocalHttpServer):
    def __init__(self, catalog: Catalog | dict[str, Any] | None = None, token: str | None = None) -> None:
        super().__init__()
        self.token = token
        self.eks_cluster: str | None = None
        """When set, only an EKS token (`aws eks get-token`) for this cluster is accepted."""
        self.core = LocalCoreApi()
        self.deployments: dict[tuple[str, str], dict[str, Any]] = {}
        self.replicasets: dict[tuple[str, str], dict[str, Any]] = {}
        self._broken_hashes: set[tuple[str, str, str]] = set()
        self._break_next: set[tuple[str, str]] = set()
        self._held: set[tuple[str, str]] = set()
        self._version = 0
        if catalog is not None:
            self.seed(catalog)

    # -- seeding and test controls ---------------------------------------------------------------------
    def seed(self, catalog: Catalog | dict[str, Any]) -> list[tuple[str, str]]:
        """A deployment with two revisions for every Kubernetes service of the catalog."""
        if isinstance(catalog, dict):
            catalog = Catalog.model_validate(catalog)
        self.core.seed(catalog)
        created = []
        for service in catalog.services:
            runtime = service.runtime
            if runtime.get("kind") != "kubernetes":
                continue
            kind, _, name = str(runtime.get("workload") or f"deployment/{service.name}").partition("/")
            if kind not in ("deployment", "deployments", "deploy"):
                continue
            namespace = str(runtime.get("namespace") or "default")
            if (namespace, name) in self.deployments:
                continue
            replicas = max(len(service.instances), 2)
            self.add_deployment(namespace, name, [f"registry.local/{namespace}/{name}:rev1",
                                                  f"registry.local/{namespace}/{name}:rev2"], replicas=replicas)
            created.append((namespace, name))
        return created

    def add_deployment(self, namespace: str, name: str, images: list[str], replicas: int = 3) -> dict[str, Any]:
        """Create a deployment that has rolled out each image in turn (revision i+1 runs images[i])."""
        if not images:
            raise ValueError("a deployment needs at least one image")
        with self._lock:
            labels = {"app": name}
            deployment: dict[str, Any] = {
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": name, "namespace": namespace, "uid": _uid("deploy", namespace, name),
                             "generation": 0, "resourceVersion": "0", "labels": dict(labels), "annotations": {},
                             "creationTimestamp": format_time(clock.now())},
                "spec": {"replicas": replicas, "selector": {"matchLabels": dict(labels)},
                         "strategy": {"type": "RollingUpdate",
                                      "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
                         "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600, "template": {}},
                "status": {},
            }
            for image in images:
                template = {"metadata": {"labels": dict(labels)},
                            "spec": {"containers": [{"name": name, "image": image,
                                                     "ports": [{"containerPort": 8080, "protocol": "TCP"}]}]}}
                deployment = self._commit(deployment, {**deployment, "spec": {**deployment["spec"],
                                                                              "template": template}})
            return copy.deepcopy(deployment)

    def set_healthy(self, namespace: str, name: str, healthy: bool) -> None:
        """Mark the deployment's current revision as (un)healthy; its status follows at once."""
        with self._lock:
            key = (namespace, name)
            current = template_hash(self.deployments[key]["spec"]["template"])
            if healthy:
                self._broken_hashes.discard((namespace, name, current))
            else:
                self._broken_hashes.add((namespace, name, current))
            self._scale_replicasets(self.deployments[key])
            self.deployments[key]["status"] = self._status_for(self.deployments[key])

    def hold_rollouts(self, namespace: str, name: str, held: bool = True) -> None:
        """While held, the deployment reports its rollout as still in progress (new pods not yet up)."""
        with self._lock:
            key = (namespace, name)
            if held:
                self._held.add(key)
            else:
                self._held.discard(key)
            self.deployments[key]["status"] = self._status_for(self.deployments[key])

    def fail_next_rollout(self, namespace: str, name: str) -> None:
        """The next new pod template of this deployment never becomes available (a bad image)."""
        with self._lock:
            self._break_next.add((namespace, name))

    def deployment(self, namespace: str, name: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self.deployments[(namespace, name)])

    def revisions(self, namespace: str, name: str) -> dict[int, str]:
        """revision -> first container image, for the deployment's ReplicaSets."""
        with self._lock:
            owned = [rs for (ns, _), rs in self.replicasets.items()
                     if ns == namespace and rs["metadata"]["ownerReferences"][0]["name"] == name]
            return {int(rs["metadata"]["annotations"][REVISION]):
                    rs["spec"]["template"]["spec"]["containers"][0]["image"] for rs in owned}

    # -- the controller ------------------------------------------------------------------------------
    def _commit(self, old: dict[str, Any], new: dict[str, Any], dry_run: bool = False) -> dict[str, Any]:
        new = copy.deepcopy(new)
        namespace, name = new["metadata"]["namespace"], new["metadata"]["name"]
        template_changed = old["spec"].get("template") != new["spec"]["template"]
        if template_changed or old["spec"].get("replicas") != new["spec"]["replicas"]:
            new["metadata"]["generation"] = int(old["metadata"].get("generation", 0)) + 1
        if dry_run:
            # The API server validates and answers; the revision is the controller's to stamp, later.
            return new
        self._version += 1
        new["metadata"]["resourceVersion"] = str(self._version)
        if template_changed:
            self._roll_out(new)
        self._scale_replicasets(new)
        new["status"] = self._status_for(new)
        self.deployments[(namespace, name)] = new
        return new

    def _owned(self, namespace: str, name: str) -> list[dict[str, Any]]:
        return [rs for (ns, _), rs in self.replicasets.items()
                if ns == namespace and rs["metadata"]["ownerReferences"][0]["name"] == name]

    def _next_revision(self, namespace: str, name: str, deployment: dict[str, Any]) -> int:
        revisions = [int(rs["metadata"]["annotations"][REVISION]) for rs in self._owned(namespace, name)]
        current = template_hash(deployment["spec"]["template"])
        existing = next((rs for rs in self._owned(namespace, name)
                         if rs["metadata"]["labels"][HASH_LABEL] == current), None)
        if existing is not None and int(existing["metadata"]["annotations"][REVISION]) == max(revisions, default=0):
            return max(revisions)
        return max(revisions, default=0) + 1

    def _roll_out(self, deployment: dict[str, Any]) -> None:
        namespace, name = deployment["metadata"]["namespace"], deployment["metadata"]["name"]
        revision = self._next_revision(namespace, name, deployment)
        pod_hash = template_hash(deployment["spec"]["template"])
        rs_name = f"{name}-{pod_hash}"
        if (namespace, name) in self._break_next:
            self._break_next.discard((namespace, name))
            self._broken_hashes.add((namespace, name, pod_hash))
        existing = self.replicasets.get((namespace, rs_name))
        if existing is None:
            template = copy.deepcopy(deployment["spec"]["template"])
            template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = pod_hash
            labels = dict(template["metadata"]["labels"])
            existing = {
                "apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": rs_name, "namespace": namespace, "uid": _uid("rs", namespace, rs_name),
                             "labels": labels, "annotations": {},
                             "creationTimestamp": format_time(clock.now()), "generation": 1,
                             "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name,
                                                  "uid": deployment["metadata"]["uid"], "controller": True,
                                                  "blockOwnerDeletion": True}]},
                "spec": {"replicas": 0, "selector": {"matchLabels": labels}, "template": template},
                "status": {"replicas": 0},
            }
            self.replicasets[(namespace, rs_name)] = existing
        existing["metadata"]["annotations"][REVISION] = str(revision)
        deployment["metadata"]["annotations"][REVISION] = str(revision)

    def _scale_replicasets(self, deployment: dict[str, Any]) -> None:
        namespace, name = deployment["metadata"]["namespace"], deployment["metadata"]["name"]
        current = template_hash(deployment["spec"]["template"])
        for rs in self._owned(namespace, name):
            is_current = rs["metadata"]["labels"][HASH_LABEL] == current
            replicas = deployment["spec"]["replicas"] if is_current else 0
            healthy = (namespace, name, rs["metadata"]["labels"][HASH_LABEL]) not in self._broken_hashes
            rs["spec"]["replicas"] = replicas
            rs["status"] = {"replicas": replicas, "observedGeneration": rs["metadata"]["generation"],
                            "readyReplicas": replicas if healthy else 0,
                            "availableReplicas": replicas if healthy else 0}

    def _status_for(self, deployment: dict[str, Any]) -> dict[str, Any]:
        namespace, name = deployment["metadata"]["namespace"], deployment["metadata"]["name"]
        replicas = int(deployment["spec"]["replicas"])
        healthy = (namespace, name, template_hash(deployment["spec"]["template"])) not in self._broken_hashes
        available = replicas if healthy else 0
        now = format_time(clock.now())
        if (namespace, name) in self._held:
            # Mid-rollout: the old pods still serve, the new ReplicaSet has not started any.
            return {"observedGeneration": deployment["metadata"]["generation"], "replicas": replicas,
                    "updatedReplicas": 0, "readyReplicas": replicas, "availableReplicas": replicas,
                    "conditions": [
                        {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                         "lastUpdateTime": now, "lastTransitionTime": now,
                         "message": "Deployment has minimum availability."},
                        {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated",
                         "lastUpdateTime": now, "lastTransitionTime": now,
                         "message": f'ReplicaSet "{name}-{template_hash(deployment["spec"]["template"])}" '
                                    "is progressing."}]}
        return {
            "observedGeneration": deployment["metadata"]["generation"], "replicas": replicas,
            "updatedReplicas": replicas, "readyReplicas": available, "availableReplicas": available,
            **({} if healthy else {"unavailableReplicas": replicas}),
            "conditions": [
                {"type": "Available", "status": "True" if healthy else "False",
                 "reason": "MinimumReplicasAvailable" if healthy else "MinimumReplicasUnavailable",
                 "lastUpdateTime": now, "lastTransitionTime": now,
                 "message": "Deployment has minimum availability." if healthy
                 else "Deployment does not have minimum availability."},
                {"type": "Progressing", "status": "True" if healthy else "False",
                 "reason": "NewReplicaSetAvailable" if healthy else "ProgressDeadlineExceeded",
                 "lastUpdateTime": now, "lastTransitionTime": now,
                 "message": f'ReplicaSet "{name}-{template_hash(deployment["spec"]["template"])}" '
                            + ("has successfully progressed." if healthy else "has timed out progressing.")},
            ],
        }

    # -- HTTP -------------------------------------------------------------------------------------------
    def handle(self, request: Incoming) -> Outgoing:
        if self.token is not None and request.headers.get("authorization") != f"Bearer {self.token}":
            return _status(401, "Unauthorized", "Unauthorized")
        if self.eks_cluster is not None:
            from sre_copilot.local.eks_token_check import check_eks_token

            problem = check_eks_token(request.headers.get("authorization", ""), self.eks_cluster)
            if problem:
                return _status(401, "Unauthorized", problem)
        core = CORE_PATH.match(request.path)
        if core is not None:
            with self._lock:
                return self.core.handle(request, core)
        match = _PATH.match(request.path)
        if match is None:
            return _status(404, "NotFound", f"the server could not find the requested resource ({request.path})")
        namespace, kind, name = match["ns"], match["kind"], match["name"]
        if request.method == "GET" and name is None:
            return self._list(namespace, kind, (request.query.get("labelSelector") or [""])[0])
        if name is None:
            return _status(405, "MethodNotAllowed", f"{request.method} is not supported on the {kind} collection")
        store = self.deployments if kind == "deployments" else self.replicasets
        found = store.get((namespace, name))
        if found is None:
            return _status(404, "NotFound", f'{kind}.apps "{name}" not found')
        if request.method == "GET":
            return Outgoing(200, found)
        if request.method == "PATCH" and kind == "deployments":
            return self._patch(found, request)
        return _status(405, "MethodNotAllowed", f"{request.method} {kind} is not supported by the local API")

    def _list(self, namespace: str, kind: str, selector: str) -> Outgoing:
        store = self.deployments if kind == "deployments" else self.replicasets
        items = [obj for (ns, _), obj in sorted(store.items())
                 if ns == namespace and _matches(obj["metadata"].get("labels", {}), selector)]
        list_kind = "DeploymentList" if kind == "deployments" else "ReplicaSetList"
        return Outgoing(200, {"apiVersion": "apps/v1", "kind": list_kind,
                              "metadata": {"resourceVersion": str(self._version)}, "items": items})

    def _patch(self, current: dict[str, Any], request: Incoming) -> Outgoing:
        dry_run = next(iter(request.query.get("dryRun", [])), None)
        if dry_run not in (None, "All"):
            return _status(400, "BadRequest", f"dryRun must be 'All', not {dry_run!r}")
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        try:
            patch = json.loads(request.raw or b"null")
            if content_type == "application/json-patch+json":
                if not isinstance(patch, list):
                    raise PatchError("a JSON patch is a list of operations")
                patched = apply_json_patch(current, patch)
            elif content_type in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
                patched = apply_merge_patch(current, patch, strategic=content_type.startswith("application/strat"))
            else:
                return _status(415, "UnsupportedMediaType", f"the local API does not accept {content_type!r} patches")
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            return _status(422, "Invalid", f"cannot apply patch: {exc}")
        problem = _validate(current, patched)
        if problem:
            return _status(422, "Invalid", problem)
        return Outgoing(200, self._commit(current, patched, dry_run=dry_run == "All"))


def _validate(old: dict[str, Any], new: dict[str, Any]) -> str | None:
    if new.get("metadata", {}).get("name") != old["metadata"]["name"] or \
            new.get("metadata", {}).get("namespace") != old["metadata"]["namespace"]:
        return "metadata.name and metadata.namespace cannot change"
    spec = new.get("spec") or {}
    if spec.get("selector") != old["spec"]["selector"]:
        return "spec.selector: field is immutable"
    replicas = spec.get("replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        return "spec.replicas must be a non-negative integer"
    template = spec.get("template") or {}
    containers = (template.get("spec") or {}).get("containers") or []
    if not containers or not all(isinstance(c, dict) and c.get("name") and c.get("image") for c in containers):
        return "spec.template.spec.containers: each container needs a name and an image"
    labels = (template.get("metadata") or {}).get("labels") or {}
    if any(labels.get(k) != v for k, v in spec["selector"].get("matchLabels", {}).items()):
        return "spec.template.metadata.labels: must match spec.selector"
    return None


def _uid(*parts: str) -> str:
    digest = hashlib.sha256("/".join(parts).encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"
