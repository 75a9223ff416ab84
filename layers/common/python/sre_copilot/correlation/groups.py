"""The engine's groups: the public `IncidentGroup` view and the compact internal records behind it.

Internal times are epoch seconds (floats) because the engine compares them on every alert; the
public view and the persisted state turn them back into datetimes / numbers that JSON can carry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sre_copilot.domain.incident import GroupingExplanation
from sre_copilot.domain.types import Priority

PRIORITIES: tuple[Priority, ...] = (Priority.P0, Priority.P1, Priority.P2, Priority.P3)
RANK: dict[Priority, int] = {p: i for i, p in enumerate(PRIORITIES)}

# How far above what placement explains a host's alerting services must be to blame the host: the
# usual two standard deviations of a significance test.
SIGNIFICANT_SIGMAS = 2.0

# Member kinds: what an attached signal means for the group.
ALERT = 0  # a firing alert: counts for open rules, is indexed for linking
REPEAT = 1  # a duplicate of an alert already in the group
SETTLED = 2  # a resolved or acknowledged notice for an alert in the group


@dataclass(frozen=True)
class IncidentGroup:
    """One group of correlated signals: an incident once `opened_at` is set, held until then."""

    id: str
    priority: Priority
    signal_ids: list[str]
    services: list[str]
    entities: list[str]
    hosts: list[str]
    explanations: list[GroupingExplanation]
    opened_at: datetime | None
    merged_into: str | None = None
    merged_from: list[str] = field(default_factory=list)
    first_at: datetime | None = None
    last_at: datetime | None = None
    firing: int = 0
    resolution_proposed: bool = False
    signal_count: int = 0

    @property
    def held(self) -> bool:
        return self.opened_at is None and self.merged_into is None


@dataclass(slots=True)
class Member:
    sid: str
    fp: str
    t: float
    kind: int
    rank: int
    service: str | None = None
    entity: str | None = None
    host: str | None = None
    similar: str | None = None
    host_level: bool = False
    instance: bool = False

    def to_json(self) -> list[Any]:
        # Times at full precision (JSON keeps a float exactly): a restored engine must compare the
        # same instants as the running one did.
        return [self.sid, self.fp, self.t, self.kind, self.rank, self.service, self.entity, self.host,
                self.similar, int(self.host_level) | (int(self.instance) << 1)]

    @classmethod
    def from_json(cls, row: list[Any]) -> Member:
        flags = int(row[9])
        return cls(sid=row[0], fp=row[1], t=float(row[2]), kind=int(row[3]), rank=int(row[4]), service=row[5],
                   entity=row[6], host=row[7], similar=row[8], host_level=bool(flags & 1), instance=bool(flags & 2))


@dataclass(slots=True)
class Group:
    id: str
    first_at: float
    last_at: float
    rank: int = 3
    opened_at: float | None = None
    merged_into: str | None = None
    merged_from: list[str] = field(default_factory=list)
    members: list[Member] = field(default_factory=list)
    explanations: list[GroupingExplanation] = field(default_factory=list)
    firing: dict[str, bool] = field(default_factory=dict)
    n_firing: int = 0
    resolution_proposed: bool = False
    host_services: dict[str, set[str]] = field(default_factory=dict)
    host_alarms: set[str] = field(default_factory=set)
    keys: set[tuple[str, str]] = field(default_factory=set)
    tombstone_ids: list[str] = field(default_factory=list)
    total: int = 0
    longest_pause: float = 0.0  # longest silence between the group's alerts so far (event time)

    @property
    def opened(self) -> bool:
        return self.opened_at is not None

    def set_firing(self, fp: str, firing: bool) -> None:
        before = self.firing.get(fp, False)
        if before != firing:
            self.n_firing += 1 if firing else -1
        self.firing[fp] = firing

    def suspect(self, host: str, min_services: int, extra_service: str | None = None, share: float = 0.0) -> bool:
        """Whether this group already blames `host`: a host-level alarm, or instances of at least
        `min_services` services alerting on it, more than the host's `share` of the catalog's
        services explains (see `CorrelationEngine._placed_share`)."""
        if host in self.host_alarms:
            return True
        services = self.host_services.get(host)
        count = len(services) if services else 0
        if extra_service is not None and (not services or extra_service not in services):
            count += 1
        if count < min_services:
            return False
        if share <= 0.0:
            return True
        alerting = set().union(*self.host_services.values())
        if extra_service is not None:
            alerting.add(extra_service)
        expected = len(alerting) * share
        return count > expected + SIGNIFICANT_SIGMAS * math.sqrt(expected * (1.0 - share))

    def note_placement(self, member: Member) -> None:
        if member.host_level and member.host:
            self.host_alarms.add(member.host)
        elif member.instance and member.host and member.service:
            self.host_services.setdefault(member.host, set()).add(member.service)

    def compact(self, cap: int, window: float) -> None:
        """Bound what a long incident remembers (see `CorrelationConfig.max_group_members`).

        The newest member per (service, entity, host, alert name) is kept, which preserves every index
        entry a restored engine rebuilds; then, if still too many, those within the window of the
        group's last alert; then the newest. Alerts no member remembers stop holding resolution back.
        """
        if len(self.members) > cap:
            newest: dict[tuple[str | None, ...], Member] = {}
            for m in self.members:
                if m.kind == ALERT:
                    newest[(m.service, m.entity, m.host, m.similar)] = m
            keep = {id(m) for m in newest.values()}
            if not self.opened:  # a held group's first alert anchors its duration rule
                keep.add(id(min(self.members, key=lambda m: m.t)))
            kept = [m for m in self.members if id(m) in keep]
            # Shrink to half the cap so that a busy group compacts once per cap/2 alerts, not every alert.
            target = max(1, cap // 2)
            if len(kept) > target:
                kept = [m for m in kept if m.t >= self.last_at - window] or kept
            if len(kept) > target:
                kept = kept[-target:]
            self.members = kept
            live = {m.fp for m in kept}
            self.firing = {fp: on for fp, on in self.firing.items() if fp in live}
            self.n_firing = sum(1 for on in self.firing.values() if on)
        # Every explanation was handed out in an outcome already; an open incident keeps why it opened
        # (the head) and its latest ones, a held group keeps more since nobody has seen it yet.
        limit = max(8, cap // 4) if self.opened else cap
        if len(self.explanations) > limit:
            tail = max(1, limit // 4)
            del self.explanations[limit - tail:len(self.explanations) - tail]

    def view(self) -> IncidentGroup:
        services: set[str] = set()
        entities: set[str] = set()
        hosts: set[str] = set()
        for m in self.members:
            if m.kind == SETTLED:
                continue
            if m.service:
                services.add(m.service)
            if m.entity:
                entities.add(m.entity)
            if m.host:
                hosts.add(m.host)
        return IncidentGroup(
            id=self.id, priority=PRIORITIES[self.rank], signal_ids=[m.sid for m in self.members],
            services=sorted(services), entities=sorted(entities), hosts=sorted(hosts),
            explanations=list(self.explanations), opened_at=_dt(self.opened_at), merged_into=self.merged_into,
            merged_from=list(self.merged_from), first_at=_dt(self.first_at), last_at=_dt(self.last_at),
            firing=self.n_firing, resolution_proposed=self.resolution_proposed,
            signal_count=max(self.total, len(self.members)),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "rank": self.rank, "first_at": self.first_at, "last_at": self.last_at,
            "opened_at": self.opened_at, "merged_into": self.merged_into, "merged_from": self.merged_from,
            "members": [m.to_json() for m in self.members],
            # An opened group's explanations were each handed out in an outcome (the incident keeps
            # them); only why it opened is kept, so the state every batch rewrites stays small.
            "explanations": [[e.signal_id, e.rule, e.evidence, e.path, e.score]
                             for e in (self.explanations[:1] if self.opened else self.explanations)],
            "firing": sorted(fp for fp, on in self.firing.items() if on),
            "resolved": sorted(fp for fp, on in self.firing.items() if not on),
            "proposed": self.resolution_proposed, "tombstones": self.tombstone_ids, "total": self.total,
            "pause": self.longest_pause,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Group:
        group = cls(id=data["id"], first_at=float(data["first_at"]), last_at=float(data["last_at"]),
                    rank=int(data["rank"]), opened_at=data.get("opened_at"), merged_into=data.get("merged_into"),
                    merged_from=list(data.get("merged_from", [])), resolution_proposed=bool(data.get("proposed")),
                    tombstone_ids=list(data.get("tombstones", [])), total=int(data.get("total", 0)),
                    longest_pause=float(data.get("pause", 0.0)))
        group.members = [Member.from_json(row) for row in data.get("members", [])]
        group.explanations = [explanation(*row) for row in data.get("explanations", [])]
        for fp in data.get("resolved", []):
            group.firing[fp] = False
        for fp in data.get("firing", []):
            group.set_firing(fp, True)
        for member in group.members:
            if member.kind != SETTLED:
                group.note_placement(member)
        return group


def explanation(signal_id: str, rule: str, evidence: str, path: list[str] | None = None,
                score: float = 1.0) -> GroupingExplanation:
    # Built once per alert on the hot path from values the engine already checked, so skip validation.
    return GroupingExplanation.model_construct(signal_id=signal_id, rule=rule, evidence=evidence,
                                               path=list(path or []), score=score)


def _dt(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, tz=UTC)
