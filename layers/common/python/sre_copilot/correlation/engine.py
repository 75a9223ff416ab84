"""The correlation engine: fold signals into incidents, explaining every decision. Pure: no I/O, no clock.

Each firing alert is linked to the live groups it has evidence for, strongest first:

| rule          | score            | evidence                                                       |
|---------------|------------------|----------------------------------------------------------------|
| duplicate     | 1.00             | `Signal.duplicate_of` names an alert already in the group      |
| fingerprint   | 0.95             | the same fingerprint fired there within the window, or is      |
|               |                  | still firing there and was last seen within the horizon        |
| entity        | 0.90             | the same instance alerted within the window                    |
| host          | 0.85             | an alert on the same host within the window (host alarm, pods) |
| similar-alert | 0.80             | the same alert name on the same service/entity in the window   |
| service       | 0.75             | an alert on the same service within the window                 |
| graph         | 0.7 - 0.1 * hops | a causally related service within `max_hops`, in the window    |

"Within the window" is measured between the two alerts' event times, not from the group's start, so
an incident keeps folding its own alerts while a fault that starts after a quiet gap stands alone.
Service and graph links are the weak, indirect ones, and three structural limits keep them from
chaining unrelated concurrent problems together (docs/correlation.md shows each on data):

- host attribution: an instance alert on a host that a group already blames (a host alarm, or
  instances of several services alerting there) links by host only. A pod that is down because its
  node is down says nothing about its service's dependencies.
- onset: only an alert's first firing registers service/graph links; its re-notifications keep host,
  instance and fingerprint links fresh but do not keep attracting newly failing neighbours.
- cascade age: a group whose first alert is older than `cascade_s` takes alerts on direct evidence
  only (fingerprint, instance, host, alert name).

An alert linked to several groups joins the strongest; other links at or above `merge_min_score`
merge those groups into the oldest incident. A new group is *held* until an open rule for its
highest priority is met (see `CorrelationConfig`); background (`Signal.background` or a background
severity) and silenced alerts are recorded only.
"""

from __future__ import annotations

import hashlib
import heapq
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from sre_copilot.correlation import actionable
from sre_copilot.correlation.alert_history import AlertHistory
from sre_copilot.correlation.config import CorrelationConfig, OpenRule
from sre_copilot.correlation.groups import (
    ALERT,
    PRIORITIES,
    RANK,
    REPEAT,
    SETTLED,
    Group,
    IncidentGroup,
    Member,
    explanation,
)
from sre_copilot.correlation.topology import Topology
from sre_copilot.domain.catalog import Catalog
from sre_copilot.domain.incident import GroupingExplanation
from sre_copilot.domain.signal import Signal
from sre_copilot.domain.types import EntityKind, SignalStatus
from sre_copilot.ingest.dedup import STARTS_AT_SOURCES

STATE_FORMAT = "sre-copilot/correlation-state@1"

SCORE_DUPLICATE = 1.0
SCORE_FINGERPRINT = 0.95
SCORE_ENTITY = 0.9
SCORE_HOST = 0.85
SCORE_SIMILAR = 0.8
SCORE_SERVICE = 0.75
SCORE_BURST = 0.4


def graph_score(hops: int) -> float:
    return SCORE_SERVICE if hops == 0 else max(0.3, round(0.7 - 0.1 * hops, 2))


@dataclass
class CorrelationOutcome:
    signal_id: str
    incident_id: str | None = None
    opened: list[str] = field(default_factory=list)
    joined: str | None = None
    held: bool = False
    explanation: GroupingExplanation | None = None
    merged: list[tuple[str, str]] = field(default_factory=list)
    resolution_proposed: list[str] = field(default_factory=list)
    released: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class _Link:
    gid: str
    score: float
    rule: str
    member_sid: str
    member_t: float
    detail: tuple[str | None, ...] = ()


def default_incident_id(signal: Signal) -> str:
    # Derived from the first signal so a redelivered batch re-creates the same id.
    digest = hashlib.sha256(signal.id.encode()).hexdigest()[:10]
    return f"inc-{signal.event_time.astimezone(UTC):%Y%m%dT%H%M%S}-{digest}"


_NOT_LETTERS = re.compile(r"[^a-z]+")


def similarity_key(signal: Signal) -> str | None:
    """Alert name (digits and punctuation dropped) + what it is about: repeats of one check compare equal."""
    name = signal.labels.get("alertname") or signal.title
    target = signal.service or signal.entity or signal.host
    if not name or not target:
        return None
    return f"{_NOT_LETTERS.sub('', name.lower())[:64]}|{target}"


class CorrelationEngine:
    def __init__(self, catalog: Catalog, config: CorrelationConfig | None = None, *,
                 id_factory: Callable[[Signal], str] | None = None) -> None:
        self.catalog = catalog
        self.config = config or CorrelationConfig()
        self.id_factory = id_factory or default_incident_id
        self.topology = Topology(catalog, self.config.max_hops, causal=self.config.causal_paths_only)
        self._window = float(self.config.window_s)
        self._cap = self.config.max_group_members
        self._explain_cap = max(8, self._cap // 4)
        self._background = frozenset(self.config.background_severities)
        self._groups: dict[str, Group] = {}
        self._signal_group: dict[str, str] = {}
        self._fp: dict[str, tuple[str, float, str]] = {}  # fingerprint -> (group, last fired, that alert)
        self._alias: dict[str, str] = {}
        self._entity: dict[str, dict[str, tuple[float, str]]] = {}
        self._host: dict[str, dict[str, tuple[float, str, str | None]]] = {}
        self._similar: dict[str, dict[tuple[str, str | None], tuple[float, str]]] = {}
        self._graph: dict[str, dict[tuple[str, int, str | None], tuple[float, str, str]]] = {}
        self._due: list[tuple[float, str]] = []
        self._share_at: dict[str, float] = {}
        self._awaiting_tick: set[str] = set()
        self._watermark = 0.0
        # How usual each alert key is (reasoning weighs alerts by it); learned from every alert seen.
        self.history = AlertHistory()
        # Groups compacted so far: a compacted group's dropped alerts are still linked in this engine
        # but not in one restored from its state (services/warm_engine.py restores after one).
        self.compactions = 0

    # -- public API ----------------------------------------------------------------------------
    def ingest(self, signal: Signal) -> CorrelationOutcome:
        t = signal.event_time.timestamp()
        if t > self._watermark:
            self._watermark = t
            self._expire(t, None)
        self.history.observe(signal)
        if signal.suppressed_by:
            return CorrelationOutcome(signal.id, explanation=explanation(
                signal.id, "suppressed", f"silenced by {signal.suppressed_by}: recorded, never opens, joins or pages"))
        if signal.background or signal.severity in self._background:
            return CorrelationOutcome(signal.id, explanation=explanation(
                signal.id, "background",
                f"background {signal.severity.value} alert: recorded, never opens, joins or pages"))
        if signal.status is not SignalStatus.FIRING:
            return self._settle(signal, t)
        if signal.duplicate_of:
            original = self._live(self._signal_group.get(signal.duplicate_of))
            if original is not None:
                return self._repeat(signal, t, original)
        return self._place(signal, t)

    def tick(self, now: datetime) -> list[CorrelationOutcome]:
        """Open held groups whose duration rule is met and forget groups idle past the horizon."""
        outcomes: list[CorrelationOutcome] = []
        self._expire(now.timestamp(), outcomes)
        return outcomes

    def next_tick_at(self) -> float | None:
        """When `tick` next has work (epoch seconds): a duration opening left for it, a held group's
        open rule coming due, or a group going idle. None when no group is remembered. Exact (not a
        lazy heap entry), so a scheduler that skips ticks until then misses nothing."""
        if self._awaiting_tick:
            return self._watermark
        live = [self._due_at(g) for g in self._groups.values() if not g.merged_into]
        return min(live) if live else None

    def incidents(self) -> list[IncidentGroup]:
        """Opened groups (merged ones keep `merged_into`), oldest first."""
        groups = [g for g in self._groups.values() if g.opened or g.merged_into]
        return [g.view() for g in sorted(groups, key=lambda g: (g.opened_at or g.first_at, g.id))]

    def incident(self, group_id: str) -> IncidentGroup:
        """One group's view (an incident an outcome of this engine named)."""
        return self._groups[group_id].view()

    def held(self) -> list[IncidentGroup]:
        """Groups still waiting for an open rule."""
        return [g.view() for g in self._groups.values() if not g.opened and not g.merged_into]

    def group_of(self, signal_id: str) -> str | None:
        """The live group (incident or held) holding a signal, if the engine still remembers it."""
        group = self._live(self._signal_group.get(signal_id))
        return group.id if group else None

    def incident_of(self, signal_id: str) -> str | None:
        """The opened incident holding a signal; None while its group waits for an open rule."""
        group = self._live(self._signal_group.get(signal_id))
        return group.id if group is not None and group.opened else None

    # -- persistence -------------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        return {"format": STATE_FORMAT, "watermark": self._watermark,
                "groups": [g.to_json() for g in self._groups.values()],
                "awaiting_tick": sorted(self._awaiting_tick), "alert_history": self.history.to_json()}

    @classmethod
    def from_state(cls, catalog: Catalog, state: dict[str, Any], config: CorrelationConfig | None = None, *,
                   id_factory: Callable[[Signal], str] | None = None) -> CorrelationEngine:
        engine = cls(catalog, config, id_factory=id_factory)
        if not state:
            return engine
        if state.get("format") != STATE_FORMAT:
            raise ValueError(f"correlation state is {state.get('format')!r}, expected {STATE_FORMAT}; "
                             "start from an empty state")
        engine._watermark = float(state.get("watermark") or 0.0)
        engine.history = AlertHistory.from_json(state.get("alert_history"))
        for data in state.get("groups", []):
            group = Group.from_json(data)
            engine._groups[group.id] = group
        alerts: list[tuple[float, Group, Member, bool]] = []
        for group in engine._groups.values():
            if group.merged_into:
                continue
            for absorbed in group.tombstone_ids:
                engine._alias[absorbed] = group.id
            seen: set[str] = set()
            for member in group.members:
                engine._signal_group[member.sid] = group.id
                if member.kind == ALERT:
                    alerts.append((member.t, group, member, member.fp not in seen))
                    seen.add(member.fp)
            heapq.heappush(engine._due, (engine._due_at(group), group.id))
        # Indexed in event-time order across groups, as a running engine touched them: a link scan
        # stops at the first entry far outside the window, and the latest group to fire a
        # fingerprint owns it, so rebuilding group by group decided differently after a restore.
        alerts.sort(key=lambda entry: entry[0])
        for _t, group, member, onset in alerts:
            engine._index(group, member, onset=onset)
        engine._awaiting_tick = {g for g in state.get("awaiting_tick", []) if g in engine._groups}
        return engine

    # -- placement ---------------------------------------------------------------------------------
    def _place(self, signal: Signal, t: float) -> CorrelationOutcome:
        member = self._member(signal, t, ALERT)
        links = self._links(signal, member)
        if not links and not self._opens_alone(member):
            links = self._burst_links(member)
        if not links:
            group = self._new_group(signal, t)
            return self._add_first(group, member, signal)
        links.sort(key=lambda ln: (ln.score, self._groups[ln.gid].opened, ln.member_t), reverse=True)
        primary = links[0]
        group = self._groups[primary.gid]
        outcome = CorrelationOutcome(signal.id)
        others = [ln for ln in links[1:] if ln.score >= self.config.merge_min_score]
        if others:
            group = self._merge(group, primary, others, signal, outcome)
        was_open = group.opened
        self._attach(group, member)
        expl = self._explain(signal, member, primary)
        group.explanations.append(expl)
        outcome.explanation = expl
        if was_open:
            if group.resolution_proposed:
                group.resolution_proposed = False
            outcome.incident_id = outcome.joined = group.id
            return outcome
        self._maybe_open(group, signal, t, outcome)
        return outcome

    def _add_first(self, group: Group, member: Member, signal: Signal) -> CorrelationOutcome:
        self._attach(group, member)
        outcome = CorrelationOutcome(signal.id)
        rule = self.config.rule_for(PRIORITIES[group.rank])
        if rule is not None and rule.min_signals <= 1:
            expl = explanation(signal.id, "open", f"{_who(signal)}: {signal.priority.value} "
                               f"{signal.severity.value} alert opens at once (no related incident in the window)")
            group.explanations.append(expl)
            self._open(group, member.t, outcome, signal.id)
        else:
            expl = explanation(signal.id, "held", f"{_who(signal)}: {signal.priority.value} "
                               f"{signal.severity.value} alert with no related alert in the window; "
                               f"{_waits_for(rule)}")
            group.explanations.append(expl)
            outcome.held = True
        outcome.explanation = expl
        return outcome

    def _repeat(self, signal: Signal, t: float, group: Group) -> CorrelationOutcome:
        member = self._member(signal, t, REPEAT)
        due_before = self._held_due(group)
        self._attach(group, member)
        # Ingestion deduplicates firing notices against firing ones, so this alert is firing (again).
        group.set_firing(signal.fingerprint, True)
        self._reschedule_if_sooner(group, due_before)
        group.resolution_proposed = False
        expl = explanation(signal.id, "duplicate", f"repeat of {signal.duplicate_of} (same alert, deduplicated)",
                           score=SCORE_DUPLICATE)
        group.explanations.append(expl)
        if group.opened:
            return CorrelationOutcome(signal.id, incident_id=group.id, joined=group.id, explanation=expl)
        return CorrelationOutcome(signal.id, held=True, explanation=expl)

    def _settle(self, signal: Signal, t: float) -> CorrelationOutcome:
        """A resolved or acknowledged notice: attach to the group of its alert, propose resolution."""
        entry = self._fp.get(signal.fingerprint)
        group = self._live(entry[0]) if entry else None
        word = signal.status.value
        if group is None or signal.fingerprint not in group.firing:
            return CorrelationOutcome(signal.id, explanation=explanation(
                signal.id, word, f"{word} notice for an alert no live group holds"))
        member = self._member(signal, t, SETTLED)
        group.members.append(member)
        group.total += 1
        if len(group.members) > self._cap or len(group.explanations) > self._explain_cap:
            remembered = len(group.members)
            group.compact(self._cap, self._window)
            self.compactions += len(group.members) < remembered
        self._signal_group[signal.id] = group.id
        group.last_at = max(group.last_at, t)
        if signal.status is SignalStatus.RESOLVED:
            group.set_firing(signal.fingerprint, False)
        expl = explanation(signal.id, word, f"{word} notice for an alert in this group "
                           f"({group.n_firing} of {len(group.firing)} alerts still firing)", score=SCORE_FINGERPRINT)
        group.explanations.append(expl)
        if not group.opened:
            if group.n_firing == 0 and not actionable.keeps_cleared(self.config.rule_for(PRIORITIES[group.rank])):
                self._forget(group)  # cleared before anything corroborated it: it was noise
            return CorrelationOutcome(signal.id, explanation=expl)
        outcome = CorrelationOutcome(signal.id, incident_id=group.id, joined=group.id, explanation=expl)
        if group.n_firing == 0 and not group.resolution_proposed:
            group.resolution_proposed = True
            outcome.resolution_proposed.append(group.id)
        return outcome

    # -- linking -----------------------------------------------------------------------------------
    def _member(self, signal: Signal, t: float, kind: int) -> Member:
        return Member(
            sid=signal.id, fp=signal.fingerprint, t=t, kind=kind, rank=RANK[signal.priority],
            service=signal.service, entity=signal.entity, host=signal.host,
            similar=similarity_key(signal) if kind == ALERT else None,
            host_level=signal.entity_kind is EntityKind.HOST,
            instance=signal.entity_kind is EntityKind.INSTANCE,
        )

    def _links(self, signal: Signal, member: Member) -> list[_Link]:
        best: dict[str, _Link] = {}
        window = self._window
        t = member.t
        # Index entries are kept in touch order, which follows event time, so a scan from the newest
        # can stop at the first entry far outside the window (twice the window tolerates reordering).
        stale = t - 2 * window

        cascade = self.config.cascade_s
        young = t - cascade if cascade is not None else float("-inf")
        quiet = self.config.quiet_s

        def offer(gid: str, score: float, rule: str, sid: str, mt: float, *detail: str | None,
                  renotified: bool = False) -> None:
            root = self._live(gid)
            if root is None:
                return
            if score < SCORE_SIMILAR and root.first_at < young:
                return  # an old incident only takes alerts with direct evidence (see cascade_s)
            if quiet is not None and not renotified and t - root.last_at > self._quiet_after(root):
                return  # the group has gone quiet: a fault that fires after the silence is a new one
            found = best.get(root.id)
            if found is None or score > found.score:
                best[root.id] = _Link(root.id, score, rule, sid, mt, detail)

        fp_entry = self._fp.get(member.fp)
        if fp_entry is not None:
            # The same alert again: recent, or re-notified while its group still has it firing.
            fp_gid, last, last_sid = fp_entry
            fp_group = self._live(fp_gid)
            # A source that stamps each firing with its own start (Alertmanager `startsAt`) sends a
            # new start for a new firing: that alert cleared and fired again, so it is not "still
            # firing" in the old group, whatever that group last heard (no resolve may ever come).
            # A re-notification of an alert the group still has firing means the group is not quiet.
            renotified = bool(fp_group is not None and fp_group.firing.get(member.fp)
                              and t - last <= self.config.horizon_s
                              and (t == last or signal.source not in STARTS_AT_SOURCES))
            # A cleared group that waits for its alert to fire again (P2 persistence) takes it back.
            refire = bool(fp_group is not None and actionable.awaits_refire(
                fp_group, self.config.rule_for(PRIORITIES[fp_group.rank])))
            if fp_group is not None and (abs(t - last) <= window or renotified or refire):
                offer(fp_gid, SCORE_FINGERPRINT, "fingerprint", last_sid, last, renotified=renotified or refire)
        if member.instance and member.entity:
            for gid, (mt, msid) in reversed(self._entity.get(member.entity, {}).items()):
                if mt < stale:
                    break
                if abs(t - mt) <= window:
                    offer(gid, SCORE_ENTITY, "entity", msid, mt)
        attributed = member.host_level
        if member.host:
            min_services = self.config.suspect_host_services
            share = self._placed_share(member.host)
            for gid, (mt, msid, mentity) in reversed(self._host.get(member.host, {}).items()):
                if mt < stale:
                    break
                if abs(t - mt) > window:
                    continue
                offer(gid, SCORE_HOST, "host", msid, mt, mentity)
                root = self._live(gid)
                if root is not None and member.instance and root.suspect(member.host, min_services, member.service, share):
                    attributed = True
        if attributed and self.config.host_attribution:
            return list(best.values())
        if member.similar:
            for (gid, mhost), (mt, msid) in reversed(self._similar.get(member.similar, {}).items()):
                if mt < stale:
                    break
                if abs(t - mt) <= window and not self._attributed(gid, mhost):
                    offer(gid, SCORE_SIMILAR, "similar-alert", msid, mt)
        if member.service:
            max_hops = self.config.max_hops
            fan_in_limit = self.config.shared_dependency_max_callers
            for meet, path in self.topology.reach(member.service).items():
                inner = self._graph.get(meet)
                if not inner:
                    continue
                own = len(path) - 1
                shared_limit = own > 0 and fan_in_limit is not None and self.topology.fan_in(meet) > fan_in_limit
                for (gid, hops, mhost), (mt, msvc, msid) in reversed(inner.items()):
                    if mt < stale:
                        break
                    total = own + hops
                    if total > max_hops or abs(t - mt) > window or (shared_limit and hops > 0):
                        continue
                    score = graph_score(total)
                    found = best.get(gid)
                    if found is not None and found.score >= score:
                        continue
                    if self._attributed(gid, mhost):
                        continue
                    offer(gid, score, "service" if total == 0 else "graph", msid, mt, msvc, meet)
        return list(best.values())

    def _quiet_after(self, group: Group) -> float:
        """How long a silence ends `group`: `quiet_s`, or for a group that has alerted steadily
        (`quiet_min_alerts` or more) `quiet_rhythm` times its longest pause so far, if shorter (not
        under `quiet_min_s`). A storm of alerts that stops for several times its own longest pause
        is over; a few scattered threshold alerts have no rhythm to measure, so they get `quiet_s`."""
        quiet = float(self.config.quiet_s or 0)
        if group.total >= self.config.quiet_min_alerts:
            quiet = min(quiet, max(float(self.config.quiet_min_s), self.config.quiet_rhythm * group.longest_pause))
        return quiet

    def _opens_alone(self, member: Member) -> bool:
        """An alert whose open rule opens it at once (a critical) is its owner's claim to be looked at
        on its own: time alone never folds it into another incident."""
        rule = self.config.rule_for(PRIORITIES[member.rank])
        return rule is not None and rule.min_signals <= 1

    def _burst_links(self, member: Member) -> list[_Link]:
        """An alert with no evidence for any group still belongs to an open incident whose alerts are
        starting around it right now (within `burst_s`), while that incident is young and a storm
        (`burst_min_alerts` alerts or more; a lone warning beside a small incident stays noise): one fault
        makes many entities alert within a minute or two, in places neither topology nor labels tie
        together (a node the catalog places no pod on, a metric on a far service). The link scores
        below any merge, so a burst never joins two incidents; an alert that opens on its own (a
        critical) is never placed by time alone.

        Time is evidence only while that incident is the one fault under way. With two or more
        incidents in progress (open, younger than `cascade_s`, not gone quiet), an alert with no
        link could belong to either, or be the first of a new fault that starts beside them, and
        its timing cannot tell which: it is placed on its own."""
        burst = self.config.burst_s
        if burst is None:
            return []
        t = member.t
        # A second incident in progress settles it: no need to look further.
        in_progress = list(islice((g for g in self._groups.values() if self._in_progress(g, t)), 2))
        if len(in_progress) != 1:
            return []
        group = in_progress[0]
        if group.total < self.config.burst_min_alerts or t - group.last_at > burst or group.last_at > t + burst:
            return []
        return [_Link(group.id, SCORE_BURST, "burst", group.members[-1].sid if group.members else "",
                      group.last_at, ())]

    def _in_progress(self, group: Group, t: float) -> bool:
        """An opened incident younger than `cascade_s` whose alerts have not gone quiet at `t`."""
        if group.merged_into or not group.opened:
            return False
        cascade = self.config.cascade_s
        if cascade is not None and group.first_at < t - cascade:
            return False
        return self.config.quiet_s is None or t - group.last_at <= self._quiet_after(group)

    def _attributed(self, gid: str, host: str | None) -> bool:
        if host is None or not self.config.host_attribution:
            return False
        group = self._live(gid)
        return group is not None and group.suspect(host, self.config.suspect_host_services,
                                                   share=self._placed_share(host))

    def _placed_share(self, host: str) -> float:
        """The share of the catalog's placed services that run an instance on `host`: what share of
        any fault's alerting services lands there by placement alone (0 for a host the catalog
        places nothing on)."""
        share = self._share_at.get(host)
        if share is None:
            placed = {service for service, _ in self.catalog.instances_on_host(host)}
            everywhere = {s.name for s in self.catalog.services if s.instances}
            share = self._share_at[host] = len(placed) / len(everywhere) if everywhere else 0.0
        return share

    def _explain(self, signal: Signal, member: Member, link: _Link) -> GroupingExplanation:
        ago = _ago(member.t - link.member_t)
        if link.rule == "fingerprint":
            return explanation(signal.id, "fingerprint", f"same alert (fingerprint) as {link.member_sid}, "
                               f"{_ago(member.t - link.member_t)}", score=link.score)
        if link.rule == "entity":
            return explanation(signal.id, "entity", f"same instance {member.entity} as {link.member_sid} ({ago})",
                               score=link.score)
        if link.rule == "burst":
            return explanation(signal.id, "burst", f"{_who(signal)} started {ago} after {link.member_sid}, in the "
                               "burst of alerts of a young incident (no topology or label link)", score=link.score)
        if link.rule == "host":
            other = link.detail[0] if link.detail else None
            return explanation(signal.id, "host", f"{_who(signal)} is on host {member.host}, like "
                               f"{link.member_sid}{f' ({other})' if other else ''} ({ago})",
                               path=[member.host or ""], score=link.score)
        if link.rule == "similar-alert":
            name = signal.labels.get("alertname") or signal.title
            return explanation(signal.id, "similar-alert", f"same alert '{name}' on {_target(signal)} as "
                               f"{link.member_sid} ({ago})", score=link.score)
        other_service, meet = (*link.detail, None, None)[:2]
        service = member.service or ""
        path = self.topology.path(service, meet or service, other_service or service)
        relation = self.topology.relation(service, meet or service, other_service or service, path)
        return explanation(signal.id, link.rule, f"{relation}; {link.member_sid} on {other_service} alerted "
                           f"{ago}", path=path, score=link.score)

    # -- group lifecycle ---------------------------------------------------------------------------
    def _new_group(self, signal: Signal, t: float) -> Group:
        gid = self.id_factory(signal)
        while gid in self._groups:  # an id factory that repeats must not overwrite a live group
            gid = f"{gid}-{len(self._groups)}"
        group = Group(id=gid, first_at=t, last_at=t, rank=RANK[signal.priority])
        self._groups[gid] = group
        heapq.heappush(self._due, (self._due_at(group), gid))
        return group

    def _held_due(self, group: Group) -> float | None:
        return None if group.opened else self._due_at(group)

    def _reschedule_if_sooner(self, group: Group, due_before: float | None) -> None:
        """The due heap is lazy: an entry that comes due too early is re-pushed at the group's real
        time, but one that is later than it would wait. A held group's duration rule comes due
        sooner when its priority rises, an earlier alert joins, or an alert fires again after its
        resolve; without a fresh entry it opened only when the group's forget time came up."""
        if due_before is not None and not group.opened:
            due = self._due_at(group)
            if due < due_before:
                heapq.heappush(self._due, (due, group.id))

    def _attach(self, group: Group, member: Member) -> None:
        due_before = self._held_due(group)
        group.members.append(member)
        group.total += 1
        if len(group.members) > self._cap or len(group.explanations) > self._explain_cap:
            remembered = len(group.members)
            group.compact(self._cap, self._window)
            self.compactions += len(group.members) < remembered
        self._signal_group[member.sid] = group.id
        if member.t > group.last_at:
            group.longest_pause = max(group.longest_pause, member.t - group.last_at)
            group.last_at = member.t
        if member.t < group.first_at:
            group.first_at = member.t
        if member.rank < group.rank:
            group.rank = member.rank
        if member.kind == ALERT:
            refire = member.fp in group.firing
            group.set_firing(member.fp, True)
            group.note_placement(member)
            self._index(group, member, onset=not refire)
        self._reschedule_if_sooner(group, due_before)

    def _index(self, group: Group, member: Member, *, onset: bool = True) -> None:
        """Register an alert for linking. A re-notification of an alert the group already has refreshes
        fingerprint, instance and host links but not service or graph ones: failures cascade within
        minutes of an alert's onset, so an alert that has been firing for twenty minutes should not
        keep pulling every newly failing neighbour into its incident."""
        gid, t, keys = group.id, member.t, group.keys
        previous = self._fp.get(member.fp)
        if previous is None or previous[0] != gid or t >= previous[1]:
            self._fp[member.fp] = (gid, t, member.sid)
        if member.instance and member.entity:
            _put(self._entity.setdefault(member.entity, {}), gid, (t, member.sid))
            keys.add(("e", member.entity))
        if member.host:
            _put(self._host.setdefault(member.host, {}), gid, (t, member.sid, member.entity))
            keys.add(("h", member.host))
        if member.host_level or not onset:
            return  # a host alarm links by host only
        if member.similar:
            _put(self._similar.setdefault(member.similar, {}), (gid, member.host), (t, member.sid))
            keys.add(("a", member.similar))
        if member.service:
            service, sid = member.service, member.sid
            for meet, path in self.topology.reach(service).items():
                _put(self._graph.setdefault(meet, {}), (gid, len(path) - 1, member.host), (t, service, sid))
                keys.add(("g", meet))

    def _maybe_open(self, group: Group, signal: Signal, t: float, outcome: CorrelationOutcome) -> None:
        rule = self.config.rule_for(PRIORITIES[group.rank])
        met = self._rule_met(group, rule) or actionable.fired_again(group, rule, signal.fingerprint, signal.id, t)
        if met is None:
            outcome.held = True
            return
        group.explanations.insert(0, explanation(signal.id, "open", met))
        self._open(group, t, outcome, signal.id)

    def _rule_met(self, group: Group, rule: OpenRule | None) -> str | None:
        if rule is None:
            return None
        if rule.min_signals <= 1:
            return f"a {rule.priority.value} alert opens at once"
        latest = group.last_at
        distinct = {m.fp for m in group.members if m.kind == ALERT and latest - m.t <= rule.within_s}
        if len(distinct) >= rule.min_signals:
            return (f"{len(distinct)} related alerts within {rule.within_s}s meet the {rule.priority.value} "
                    f"open rule (at least {rule.min_signals})")
        return None

    def _open(self, group: Group, at: float, outcome: CorrelationOutcome, opener: str) -> None:
        group.opened_at = at
        if group.id in self._awaiting_tick:  # its agenda entry was taken for tick: put it back
            self._awaiting_tick.discard(group.id)
            heapq.heappush(self._due, (self._due_at(group), group.id))
        outcome.opened.append(group.id)
        outcome.incident_id = group.id
        outcome.held = False
        for m in group.members:
            if m.sid != opener:
                outcome.released[m.sid] = group.id

    def _merge(self, primary: Group, link: _Link, others: list[_Link], signal: Signal,
               outcome: CorrelationOutcome) -> Group:
        """Fold every strongly linked group into one survivor: the oldest incident, else the primary."""
        candidates = [primary, *(self._groups[ln.gid] for ln in others)]
        opened = [g for g in candidates if g.opened]
        if opened and not self.config.merge:
            # Incidents stay apart; held groups may still fold into the primary incident.
            candidates = [g for g in candidates if not g.opened or g is primary]
            opened = [g for g in candidates if g.opened]
        survivor = min(opened, key=lambda g: (g.opened_at or 0.0, g.id)) if opened else primary
        rules = {link.gid: link.rule, **{ln.gid: ln.rule for ln in others}}
        due_before = self._held_due(survivor)
        for group in candidates:
            if group is survivor:
                continue
            self._absorb(survivor, group, outcome)
            evidence = (f"{signal.id} links {survivor.id} ({rules.get(survivor.id, 'merge')}) and {group.id} "
                        f"({rules.get(group.id, 'merge')}): {group.id} folded into {survivor.id}")
            survivor.explanations.append(explanation(signal.id, "merge", evidence,
                                                     path=[group.id, survivor.id], score=link.score))
        self._reschedule_if_sooner(survivor, due_before)
        return survivor

    def _absorb(self, survivor: Group, absorbed: Group, outcome: CorrelationOutcome) -> None:
        if absorbed.opened and survivor.opened:
            outcome.merged.append((absorbed.id, survivor.id))
            survivor.merged_from.append(absorbed.id)
        elif survivor.opened:
            for m in absorbed.members:
                outcome.released[m.sid] = survivor.id
        survivor.members.extend(absorbed.members)
        survivor.total += absorbed.total
        survivor.explanations.extend(absorbed.explanations)
        survivor.first_at = min(survivor.first_at, absorbed.first_at)
        survivor.last_at = max(survivor.last_at, absorbed.last_at)
        survivor.rank = min(survivor.rank, absorbed.rank)
        for fp, on in absorbed.firing.items():
            survivor.set_firing(fp, on or survivor.firing.get(fp, False))
        for host, services in absorbed.host_services.items():
            survivor.host_services.setdefault(host, set()).update(services)
        survivor.host_alarms |= absorbed.host_alarms
        survivor.keys |= absorbed.keys
        survivor.resolution_proposed = False
        self._awaiting_tick.discard(absorbed.id)
        for m in absorbed.members:
            self._signal_group[m.sid] = survivor.id
        for fp in absorbed.firing:
            entry = self._fp.get(fp)
            if entry is not None and entry[0] == absorbed.id:
                self._fp[fp] = (survivor.id, entry[1], entry[2])
        # Index entries still name the absorbed id; the alias sends them to the survivor.
        for gid in (absorbed.id, *absorbed.tombstone_ids):
            self._alias[gid] = survivor.id
        survivor.tombstone_ids.extend([absorbed.id, *absorbed.tombstone_ids])
        if absorbed.opened:
            # The incident stays on record as merged into the survivor, which now holds its signals.
            absorbed.merged_into = survivor.id
            absorbed.members = [Member(sid=m.sid, fp=m.fp, t=m.t, kind=SETTLED, rank=m.rank) for m in absorbed.members]
            absorbed.keys = set()
            absorbed.firing = {}
            absorbed.n_firing = 0
            absorbed.tombstone_ids = []
        else:
            del self._groups[absorbed.id]

    def _live(self, gid: str | None) -> Group | None:
        """The live group an id resolves to, following merges; None once it is forgotten."""
        for _ in range(64):
            if gid is None:
                return None
            group = self._groups.get(gid)
            if group is not None and group.merged_into is None:
                return group
            gid = self._alias.get(gid)
        return None

    # -- time --------------------------------------------------------------------------------------
    def _due_at(self, group: Group) -> float:
        if group.opened:
            return group.last_at + self.config.horizon_s
        return actionable.held_due_at(group, self.config.rule_for(PRIORITIES[group.rank]), self._window,
                                      self.config.horizon_s)

    def _expire(self, now: float, outcomes: list[CorrelationOutcome] | None) -> None:
        """Pop groups whose due time passed: forget idle ones, open held ones whose duration rule is met.

        Duration openings are only reported from `tick` (`outcomes` given); `ingest` leaves them for it.
        """
        if outcomes is not None:
            for gid in sorted(self._awaiting_tick):
                group = self._groups.get(gid)
                if group is not None and not group.opened and not group.merged_into:
                    self._duration_open(group, now, outcomes)
            self._awaiting_tick.clear()
        due = self._due
        while due and due[0][0] < now:
            _, gid = heapq.heappop(due)
            group = self._groups.get(gid)
            if group is None or group.merged_into:
                continue
            actual = self._due_at(group)
            if not group.opened:
                rule = self.config.rule_for(PRIORITIES[group.rank])
                if (rule is not None and rule.after_s is not None and group.n_firing > 0
                        and now - group.first_at >= rule.after_s and now - group.last_at <= self.config.horizon_s):
                    if outcomes is None:
                        self._awaiting_tick.add(gid)
                    else:
                        self._duration_open(group, now, outcomes)
                    continue
            if actual >= now:
                heapq.heappush(due, (actual, gid))
                continue
            self._forget(group)

    def _duration_open(self, group: Group, now: float, outcomes: list[CorrelationOutcome]) -> None:
        rule = self.config.rule_for(PRIORITIES[group.rank])
        first = min((m for m in group.members if m.kind == ALERT), key=lambda m: m.t, default=group.members[0])
        outcome = CorrelationOutcome(first.sid)
        after = rule.after_s if rule is not None else 0
        group.explanations.insert(0, explanation(
            first.sid, "open", f"still firing {int(now - group.first_at)}s after its first alert, past the "
            f"{PRIORITIES[group.rank].value} open rule's {after}s"))
        outcome.explanation = group.explanations[0]
        self._open(group, now, outcome, first.sid)
        heapq.heappush(self._due, (self._due_at(group), group.id))
        outcomes.append(outcome)

    def _forget(self, group: Group) -> None:
        ids = {group.id, *group.tombstone_ids}
        tables: dict[str, dict[str, Any]] = {"e": self._entity, "h": self._host, "a": self._similar,
                                             "g": self._graph}
        for kind, key in group.keys:
            table = tables[kind]
            index: dict[Any, Any] | None = table.get(key)
            if not index:
                continue
            for entry in [e for e in index if (e if isinstance(e, str) else e[0]) in ids]:
                del index[entry]
            if not index:
                del table[key]
        for m in group.members:
            if self._signal_group.get(m.sid) in ids:
                del self._signal_group[m.sid]
            entry = self._fp.get(m.fp)
            if entry is not None and entry[0] in ids:
                del self._fp[m.fp]
        for gid in ids:
            self._groups.pop(gid, None)
            self._alias.pop(gid, None)
            self._awaiting_tick.discard(gid)


def _put(index: dict[Any, Any], key: Any, value: tuple[Any, ...]) -> None:
    """Keep the newest time per key, most recently touched last (reinsertion moves it)."""
    old = index.pop(key, None)
    if old is not None and old[0] > value[0]:
        value = old
    index[key] = value


def _who(signal: Signal) -> str:
    return signal.entity or signal.service or signal.host or signal.title[:60]


def _target(signal: Signal) -> str:
    return signal.service or signal.entity or signal.host or "unknown"


def _ago(seconds: float) -> str:
    if seconds >= 0:
        return f"{round(seconds)}s earlier"
    return f"{round(-seconds)}s later"


def _waits_for(rule: OpenRule | None) -> str:
    if rule is None:
        return "no open rule for its priority, so it never opens on its own"
    text = f"held until {rule.min_signals} related alerts fire within {rule.within_s}s"
    if rule.after_s is not None:
        text += f" or it keeps firing for {rule.after_s}s"
    return text
