"""The service catalog: services, their dependencies, instances and hosts, and name resolution.

Alert tools name things their own way ("Quote API", "checkoutservice", a pod, an EC2 instance id,
a node name). `Catalog.resolve` maps any of those to (service, entity, entity_kind, host) so that
correlation and reasoning work on catalog identities only.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sre_copilot.domain.types import EntityKind


class Instance(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    host: str | None = None


class Host(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    kind: str = "node"
    aliases: list[str] = Field(default_factory=list)


class Service(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    depends_on: list[str] = Field(default_factory=list)
    team: str | None = None
    tier: int = 3
    runtime: dict[str, Any] = Field(default_factory=dict)
    instances: list[Instance] = Field(default_factory=list)
    aliases: list[str] = Field(default_factory=list)
    slo: dict[str, Any] = Field(default_factory=dict)
    runbooks: list[str] = Field(default_factory=list)
    oncall: dict[str, str] = Field(default_factory=dict, description="slack channel, phone, pagerduty service id")


class Resolution(BaseModel):
    model_config = ConfigDict(frozen=True)

    service: str | None = None
    entity: str | None = None
    entity_kind: EntityKind | None = None
    host: str | None = None


def normalise_name(name: str) -> str:
    """Case- and punctuation-insensitive key: 'Quote API' and 'quote_api' compare equal."""
    return re.sub(r"[^a-z0-9]+", "", name.lower())


_SUFFIXES = ("service", "svc", "api", "app", "server", "prod", "production")


class Catalog(BaseModel):
    model_config = ConfigDict(extra="ignore")

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
