"""Which alerts a candidate root cause explains, read from the context snapshot alone.

Hypothesis generation and confidence scoring both need this, and scoring runs in a later Step
Functions task that only has the snapshot and the evidence package, so everything here works on
the snapshot's `correlated_signals` and `topology` (never on the live catalog).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sre_copilot.domain.reasoning import ContextSnapshot
from sre_copilot.domain.types import EntityKind, Severity, parse_time
from sre_copilot.reasoning.symptoms import LOCAL, PROPAGATING, Symptom


@dataclass(frozen=True)
class SignalFact:
    id: str
    source: str
    severity: Severity
    symptom: Symptom
    at: datetime
    service: str | None
    entity: str | None
    entity_kind: EntityKind | None
    host: str | None
    sigma: float | None
    title: str

    @property
    def is_host_level(self) -> bool:
        return self.entity_kind is EntityKind.HOST or (self.symptom is Symptom.HOST_DOWN and self.service is None)

    @property
    def instance(self) -> str | None:
        return self.entity if self.entity_kind is EntityKind.INSTANCE else None


def facts(snapshot: ContextSnapshot) -> list[SignalFact]:
    """The incident's alerts, one per alert (duplicates and background noise left out), oldest first."""
    out: list[SignalFact] = []
    for row in snapshot.correlated_signals:
        if not row.get("alert", True) or not row.get("resolved", True):
            continue
        kind = row.get("entity_kind")
        out.append(SignalFact(
            id=str(row["id"]), source=str(row.get("source") or "unknown"),
            severity=Severity(row.get("severity") or "warning"), symptom=Symptom(row.get("symptom") or "other"),
            at=parse_time(row["event_time"]), service=row.get("service"), entity=row.get("entity"),
            entity_kind=EntityKind(kind) if kind else None, host=row.get("host"),
            sigma=row.get("sigma"), title=str(row.get("title") or ""),
        ))
    return sorted(out, key=lambda f: (f.at, f.id))


def first_symptom_at(snapshot: ContextSnapshot) -> datetime | None:
    value = snapshot.topology.get("first_symptom_at")
    return parse_time(value) if value else None


class Graph:
    """Caller/callee adjacency of the services the snapshot captured."""

    def __init__(self, topology: Mapping[str, Any]) -> None:
        services: Mapping[str, Any] = topology.get("services", {})
        self.deps: dict[str, list[str]] = {n: list(s.get("depends_on", [])) for n, s in services.items()}
        self.callers: dict[str, list[str]] = {n: list(s.get("callers", [])) for n, s in services.items()}
        self.managed: dict[str, bool] = {n: bool(s.get("managed")) for n, s in services.items()}
        hosts: Mapping[str, Any] = topology.get("hosts", {})
        self.host_instances: dict[str, list[list[str]]] = {h: list(v.get("instances", [])) for h, v in hosts.items()}
        self._up: dict[str, frozenset[str]] = {}
        self._down: dict[str, frozenset[str]] = {}

    def _closure(self, start: str, edges: Mapping[str, list[str]]) -> frozenset[str]:
        seen: set[str] = set()
        stack = [start]
        while stack:
            for nxt in edges.get(stack.pop(), []):
                if nxt not in seen and nxt != start:
                    seen.add(nxt)
                    stack.append(nxt)
        return frozenset(seen)

    def upstream(self, service: str) -> frozenset[str]:
        """Every service that transitively calls `service`."""
        if service not in self._up:
            self._up[service] = self._closure(service, self.callers)
        return self._up[service]

    def downstream(self, service: str) -> frozenset[str]:
        """Every service `service` transitively depends on."""
        if service not in self._down:
            self._down[service] = self._closure(service, self.deps)
        return self._down[service]

    def knows(self, service: str) -> bool:
        return service in self.deps


def explains(entity: str, kind: EntityKind, service: str | None, fact: SignalFact, graph: Graph) -> bool:
    """Would a fault at (entity, kind) produce this alert?

    A host explains whatever runs on it; an instance its own alerts and its service's service-level
    ones; a service its own alerts and the propagating symptoms (errors, latency, burn) of every
    service that transitively calls it. Local symptoms (pod readiness, crash loops, dead nodes) of
    callers are not explained by a callee."""
    if kind is EntityKind.HOST:
        return fact.host == entity or fact.entity == entity
    if kind is EntityKind.INSTANCE:
        return fact.entity == entity or (fact.service == service and fact.entity_kind is EntityKind.SERVICE)
    target = service or entity
    if fact.service == target:
        return True
    return bool(fact.service and fact.symptom in PROPAGATING and fact.symptom not in LOCAL
                and fact.service in graph.upstream(target))


def explained(entity: str, kind: EntityKind, service: str | None, all_facts: Iterable[SignalFact],
              graph: Graph) -> list[SignalFact]:
    return [f for f in all_facts if explains(entity, kind, service, f, graph)]


def direct(entity: str, kind: EntityKind, service: str | None, fact: SignalFact) -> bool:
    """Is the alert about the entity itself (rather than something it would knock over)?"""
    if kind is EntityKind.HOST:
        return fact.host == entity or fact.entity == entity
    if kind is EntityKind.INSTANCE:
        return fact.entity == entity
    return fact.service == (service or entity)
