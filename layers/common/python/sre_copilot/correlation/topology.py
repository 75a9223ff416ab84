"""Bounded, cached neighbourhoods of the dependency graph, for the graph rule.

Two services are related when some node `c` is reachable from both within `max_hops` in total:
with calls only (causal mode) that covers a call chain either way (`c` is one of them) and a shared
dependency (`c` is what both call), but not two services that merely share a caller. Each alert is
indexed under every `c` it reaches and looks up every `c` it reaches, so the work per alert is the
size of its own neighbourhood, not the number of services that call a popular database.
"""

from __future__ import annotations

from sre_copilot.domain.catalog import Catalog


class Topology:
    def __init__(self, catalog: Catalog, max_hops: int, *, causal: bool = True) -> None:
        self.catalog = catalog
        self.max_hops = max_hops
        self.causal = causal
        self._reach: dict[str, dict[str, tuple[str, ...]]] = {}
        self._fan_in: dict[str, int] = {}

    def reach(self, service: str) -> dict[str, tuple[str, ...]]:
        """Every node within max_hops of `service` (itself included) with a shortest path to it."""
        found = self._reach.get(service)
        if found is None:
            found = self._bfs(service)
            self._reach[service] = found
        return found

    def _bfs(self, start: str) -> dict[str, tuple[str, ...]]:
        paths: dict[str, tuple[str, ...]] = {start: (start,)}
        frontier = [start]
        for _ in range(self.max_hops):
            following: list[str] = []
            for node in frontier:
                for nxt in self._next(node):
                    if nxt not in paths:
                        paths[nxt] = (*paths[node], nxt)
                        following.append(nxt)
            frontier = following
            if not frontier:
                break
        return paths

    def _next(self, node: str) -> list[str]:
        if self.causal:
            return self.catalog.dependencies(node)
        return [*self.catalog.dependencies(node), *self.catalog.callers(node)]

    def fan_in(self, service: str) -> int:
        """How many services call `service` (cached): a widely shared dependency is weak evidence."""
        found = self._fan_in.get(service)
        if found is None:
            found = len(self.catalog.callers(service))
            self._fan_in[service] = found
        return found

    def path(self, service: str, meet: str, other: str) -> list[str]:
        """The path service -> meet <- other, as a list of catalog names (meet appears once)."""
        head = self.reach(service).get(meet, (service, meet))
        tail = self.reach(other).get(meet, (other, meet))
        return [*head, *reversed(tail[:-1])]

    def relation(self, service: str, meet: str, other: str, path: list[str]) -> str:
        """One phrase for why `service` and `other` are related through `meet`."""
        if len(path) == 1:
            return f"both alerts are on {service}"
        hops = f"{len(path) - 1} hop{'s' if len(path) > 2 else ''}"
        if not self.causal:
            return f"{service} and {other} are {hops} apart in the dependency graph ({' - '.join(path)})"
        if meet == other:
            return f"{service} depends on {other} ({hops}: {' -> '.join(path)})"
        if meet == service:
            return f"{other} depends on {service} ({hops}: {' -> '.join(reversed(path))})"
        return f"{service} and {other} both depend on {meet} ({hops}: {' - '.join(path)})"
