"""The service catalog: services, their dependencies, instances and hosts, and name resolution.

Alert tools name things their own way ("Quote API", "checkoutservice", a pod, an EC2 instance id,
a node name). `Catalog.resolve` maps any of those to (service, entity, entity_kind, host) so that
correlation and reasoning work on catalog identities only.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sre_copilot.domain.types import EntityKind


class Instance(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore")

    name: str
    host: str | None = None


class Host(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore")

    name: str
    kind: str = "node"
    aliases: list[str] = Field(default_factory=list)


class RecoveryMetric(BaseModel):
    """A CloudWatch metric that must be back within bounds before an action counts as verified
    (read with GetMetricData): the last `points` datapoints after the action all within bounds."""

    model_config = ConfigDict(extra="forbid")

    metric: str = Field(min_length=1, max_length=255)
    namespace: str = Field(default="SRE/Services", min_length=1, max_length=255)
    dimensions: dict[str, str] = Field(default_factory=dict,
                                       description="empty: {'Service': <the service>}, as the SRE/Services metrics")
    stat: str = Field(default="Average", max_length=40, description="Average, Maximum, Sum, p99, ...")
    period_s: int = Field(default=60, ge=1, le=86400)
    max: float | None = Field(default=None, description="recovered when every value is at most this")
    min: float | None = Field(default=None, description="recovered when every value is at least this")
    points: int = Field(default=3, ge=1, le=100, description="consecutive latest datapoints that must be in bounds")

    @model_validator(mode="after")
    def _bounded(self) -> RecoveryMetric:
        if self.max is None and self.min is None:
            raise ValueError(f"recovery metric {self.metric} needs a bound: `max`, `min` or both")
        return self

    def bounds(self) -> str:
        parts = [f">= {self.min:g}" if self.min is not None else "", f"<= {self.max:g}" if self.max is not None else ""]
        return " and ".join(p for p in parts if p)


class Service(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore")

    name: str
    depends_on: list[str] = Field(default_factory=list)
    team: str | None = None
    tier: int = 3
    runtime: dict[str, Any] = Field(default_factory=dict)
    instances: list[Instance] = Field(default_factory=list)
    aliases: list[str] = Field(default_factory=list)
    slo: dict[str, Any] = Field(default_factory=dict)
    runbooks: list[str] = Field(default_factory=list)
    recovery_metrics: list[RecoveryMetric] = Field(
        default_factory=list, max_length=20,
        description="metrics that must recover after an action on this service, besides its alerts")
    oncall: dict[str, str] = Field(default_factory=dict, description="slack channel, phone, pagerduty service id")


class Resolution(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True)

    service: str | None = None
    entity: str | None = None
    entity_kind: EntityKind | None = None
    host: str | None = None


def normalise_name(name: str) -> str:
    """Case- and punctuation-insensitive key: 'Quote API' and 'quote_api' compare equal."""
    return re.sub(r"[^a-z0-9]+", "", name.lower())


_SUFFIXES = ("service", "svc", "api", "app", "server", "prod", "production")


class Catalog(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore")

    services: list[Service] = Field(default_factory=list)
    hosts: list[Host] = Field(default_factory=list)

    def model_post_init(self, __context: Any) -> None:
        self._index()

    def _index(self) -> None:
        self._by_name: dict[str, Service] = {s.name: s for s in self.services}
        self._service_keys: dict[str, str] = {}
        self._instance_keys: dict[str, tuple[str, str | None, str]] = {}
        self._host_keys: dict[str, str] = {}
        for service in self.services:
            for alias in [service.name, *service.aliases]:
                self._service_keys.setdefault(normalise_name(alias), service.name)
            for instance in service.instances:
                self._instance_keys[normalise_name(instance.name)] = (service.name, instance.host, instance.name)
                if instance.host:
                    self._host_keys.setdefault(normalise_name(instance.host), instance.host)
        for host in self.hosts:
            for alias in [host.name, *host.aliases]:
                self._host_keys[normalise_name(alias)] = host.name
        self._callers: dict[str, set[str]] = {s.name: set() for s in self.services}
        for service in self.services:
            for callee in service.depends_on:
                self._callers.setdefault(callee, set()).add(service.name)

    # -- lookups ---------------------------------------------------------------------------------
    def service(self, name: str) -> Service | None:
        return self._by_name.get(name)

    @property
    def service_names(self) -> list[str]:
        return list(self._by_name)

    def find_service(self, name: str | None) -> str | None:
        """Catalog name for a service name or alias, tolerating 'service'/'api' suffixes."""
        if not name:
            return None
        key = normalise_name(name)
        if key in self._service_keys:
            return self._service_keys[key]
        for suffix in _SUFFIXES:
            if key.endswith(suffix) and key[: -len(suffix)] in self._service_keys:
                return self._service_keys[key[: -len(suffix)]]
        return None

    def find_instance(self, name: str | None) -> tuple[str, str | None, str] | None:
        """(service, host, instance) for a pod/container/task name."""
        if not name:
            return None
        return self._instance_keys.get(normalise_name(name))

    def find_host(self, name: str | None) -> str | None:
        if not name:
            return None
        return self._host_keys.get(normalise_name(name))

    def instances_on_host(self, host: str) -> list[tuple[str, str]]:
        return [(s.name, i.name) for s in self.services for i in s.instances if i.host == host]

    def is_known_entity(self, name: str) -> bool:
        return bool(self.find_service(name) or self.find_instance(name) or self.find_host(name))

    def resolve(
        self,
        *,
        service_hints: Iterable[str | None] = (),
        instance_hints: Iterable[str | None] = (),
        host_hints: Iterable[str | None] = (),
    ) -> Resolution:
        """Resolve hints, most specific first: an instance names its service and host; a host alone
        makes the host the entity; otherwise the first service hint that the catalog knows."""
        service = next((s for s in (self.find_service(h) for h in service_hints) if s), None)
        host = next((h for h in (self.find_host(x) for x in host_hints) if h), None)
        for hint in instance_hints:
            found = self.find_instance(hint)
            if found:
                inst_service, inst_host, inst_name = found
                return Resolution(
                    service=service or inst_service, entity=inst_name, entity_kind=EntityKind.INSTANCE,
                    host=host or inst_host,
                )
        if host and not service:
            return Resolution(service=None, entity=host, entity_kind=EntityKind.HOST, host=host)
        if service:
            return Resolution(service=service, entity=service, entity_kind=EntityKind.SERVICE, host=host)
        # An instance-looking hint that the catalog lacks still names a host if it is one.
        return Resolution(host=host)

    # -- graph -------------------------------------------------------------------------------------
    def dependencies(self, service: str) -> list[str]:
        found = self._by_name.get(service)
        return list(found.depends_on) if found else []

    def callers(self, service: str) -> list[str]:
        return sorted(self._callers.get(service, set()))

    def path(self, a: str, b: str, max_hops: int) -> list[str] | None:
        """Shortest path between two services over the undirected dependency graph, within max_hops."""
        if a == b:
            return [a]
        seen = {a: ""}
        queue: deque[tuple[str, int]] = deque([(a, 0)])
        while queue:
            node, depth = queue.popleft()
            if depth >= max_hops:
                continue
            for nxt in (*self.dependencies(node), *self.callers(node)):
                if nxt in seen:
                    continue
                seen[nxt] = node
                if nxt == b:
                    out = [b]
                    while out[-1] != a:
                        out.append(seen[out[-1]])
                    return list(reversed(out))
                queue.append((nxt, depth + 1))
        return None

    def downstream_closure(self, service: str) -> set[str]:
        """Everything `service` transitively depends on."""
        out: set[str] = set()
        stack = [service]
        while stack:
            for dep in self.dependencies(stack.pop()):
                if dep not in out:
                    out.add(dep)
                    stack.append(dep)
        return out


# -- import: Backstage catalog-info entities and native catalog documents ----------------------------
_BACKSTAGE_SERVICE_KINDS = {"component", "resource"}
_TIER_ANNOTATIONS = ("sre-copilot/tier", "sre-copilot.io/tier", "tier")


def _entity_ref_name(ref: Any) -> str | None:
    """'component:default/payments' or 'resource:payments-db' or 'payments' -> the entity name."""
    if not isinstance(ref, str) or not ref.strip():
        return None
    name = ref.strip().split(":", 1)[-1]
    return name.rsplit("/", 1)[-1] or None


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _tier(metadata: dict[str, Any]) -> int:
    sources = [_mapping(metadata.get("annotations")), _mapping(metadata.get("labels"))]
    for source in sources:
        for key in _TIER_ANNOTATIONS:
            digits = re.sub(r"\D", "", str(source.get(key, "")))
            if digits:
                return int(digits[:2])
    for tag in metadata.get("tags") or []:
        match = re.fullmatch(r"tier-?(\d)", str(tag).lower())
        if match:
            return int(match.group(1))
    return 3


def from_backstage(entities: Iterable[Any]) -> Catalog:
    """A catalog from Backstage entities (the documents of catalog-info.yaml files).

    Components and Resources become services; `spec.dependsOn` and the providers of
    `spec.consumesApis` become dependencies; the owner becomes the team; the Kubernetes, PagerDuty
    and Slack annotations fill runtime and on-call; links titled like runbooks become runbooks; the
    tier comes from an `sre-copilot/tier` annotation or label, or a `tier-N` tag (default 3).
    Other kinds (API, System, Group, User, Location, ...) are read only to resolve API providers.
    """
    documents = [e for e in entities if isinstance(e, dict) and isinstance(e.get("metadata"), dict)]
    providers: dict[str, str] = {}
    for entity in documents:
        spec = _mapping(entity.get("spec"))
        for api in spec.get("providesApis") or []:
            api_name = _entity_ref_name(api)
            if api_name:
                providers.setdefault(api_name, str(entity["metadata"].get("name")))
    services: dict[str, Service] = {}
    for entity in documents:
        if str(entity.get("kind", "")).lower() not in _BACKSTAGE_SERVICE_KINDS:
            continue
        metadata: dict[str, Any] = entity["metadata"]
        name = metadata.get("name")
        if not isinstance(name, str) or not name:
            continue
        spec = _mapping(entity.get("spec"))
        annotations = {str(k): str(v) for k, v in _mapping(metadata.get("annotations")).items()}
        depends = [_entity_ref_name(r) for r in spec.get("dependsOn") or []]
        depends += [providers.get(_entity_ref_name(a) or "") for a in spec.get("consumesApis") or []]
        aliases = [a for a in (metadata.get("title"), annotations.get("backstage.io/kubernetes-id"))
                   if isinstance(a, str) and a and a != name]
        aliases += [a.strip() for a in annotations.get("sre-copilot/aliases", "").split(",") if a.strip()]
        runtime: dict[str, Any] = {}
        if "backstage.io/kubernetes-id" in annotations or "backstage.io/kubernetes-namespace" in annotations:
            workload = annotations.get("backstage.io/kubernetes-id", name)
            runtime = {"kind": "kubernetes", "workload": f"deployment/{workload}"}
            if annotations.get("backstage.io/kubernetes-namespace"):
                runtime["namespace"] = annotations["backstage.io/kubernetes-namespace"]
        oncall = {key: annotations[source] for key, source in (("pagerduty", "pagerduty.com/service-id"),
                                                                 ("slack", "slack.com/channel"))
                  if annotations.get(source)}
        runbooks = [str(link["url"]) for link in metadata.get("links") or []
                    if isinstance(link, dict) and link.get("url") and "runbook" in str(link.get("title", "")).lower()]
        services[name] = Service(
            name=name, depends_on=sorted({d for d in depends if d and d != name}),
            team=_entity_ref_name(spec.get("owner")), tier=_tier(metadata), runtime=runtime,
            aliases=list(dict.fromkeys(aliases)), runbooks=runbooks, oncall=oncall,
        )
    return Catalog(services=list(services.values()))


def load_catalog_files(paths: Iterable[Path]) -> Catalog:
    """Read and merge catalog files: Backstage catalog-info YAML (multi-document), a native catalog
    (JSON or YAML with `services`), or a scenario (its `catalog`). Later files win on a name clash.

    The one catalog function that reads files; it serves `sre-copilot catalog import`.
    """
    import json

    import yaml

    from sre_copilot.errors import InvalidPayload

    services: dict[str, Service] = {}
    hosts: dict[str, Host] = {}
    for path in paths:
        text = Path(path).read_text(encoding="utf-8")
        try:
            documents = ([json.loads(text)] if Path(path).suffix == ".json"
                         else [d for d in yaml.safe_load_all(text) if d is not None])
        except (ValueError, yaml.YAMLError) as exc:
            raise InvalidPayload(f"{path} is not valid {'JSON' if Path(path).suffix == '.json' else 'YAML'}: "
                                 f"{str(exc).splitlines()[0]}") from None
        native = [_mapping(d.get("catalog", d)) for d in documents if isinstance(d, dict)
                  and isinstance(_mapping(d.get("catalog", d)).get("services"), list)]
        try:
            parts = [Catalog.model_validate(d) for d in native]
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"])
            raise InvalidPayload(f"{path} is not a valid catalog at '{where}': {first['msg']}") from None
        backstage = [d for d in documents if isinstance(d, dict) and "apiVersion" in d and "kind" in d]
        if backstage:
            parts.append(from_backstage(backstage))
        if not parts:
            raise InvalidPayload(f"{path} holds neither a catalog (with 'services') nor Backstage entities")
        for part in parts:
            services.update({s.name: s for s in part.services})
            hosts.update({h.name: h for h in part.hosts})
    return Catalog(services=list(services.values()), hosts=list(hosts.values()))
