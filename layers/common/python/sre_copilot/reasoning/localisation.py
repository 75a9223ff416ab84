"""Fault localisation on anomaly alerts: which instance, host or service the evidence points at.

Real monitoring sends many anomaly alerts about pods, nodes, services and calls between them, most of
them symptoms. This module ranks the entities they name with the signals published RCA methods use
(MicroRank, MonitorRank, RCD, BARO), each one a named feature that can be switched off to measure it:

- `onset`: the time of each entity's first anomaly (causes start first), exp(-t / DECAY_S);
- `density`: how many alerts are about the entity itself (log scale);
- `breadth`: how many distinct metrics are anomalous on it;
- `resource`: resource metrics (CPU, memory, disk I/O, network) on the entity itself, against only
  latency or errors, which a fault elsewhere also produces;
- `trace`: call direction. A callee that is slow for many distinct callers is a suspect; a caller
  slow towards everything it calls is slow itself, and each of its callees gets only its share;
- `host`: node-level anomalies make the node a suspect, discounted by the share of its pods that
  alert themselves (pod-level anomalies explain node-level ones on a busy node);
- `pagerank`: a personalised PageRank over the dependency graph of the incident's entities (caller
  -> callee, service -> its dependencies' instances, instance -> its service when the service is
  itself a suspect), started from the anomaly scores, so scores flow from symptoms towards what
  they depend on, and a service-wide fault gathers what its replicas show.
- `rarity`: each alert counts at its weight, how unusual its key was before the incident
  (`correlation.alert_history`, learned online), so anomalies that recur in every incident stop
  outranking the one that started this one.
- `decay`: each alert counts less the later it starts after the incident's first alert: a fault
  shows first where it is, and its symptoms spread to callers, hosts and neighbours over minutes.
- `specificity`: within the incident, an anomaly (metric and direction) that most entities of one
  kind share is a system-wide swing (load, a scrape gap), not a local fault; it counts less.
- `entry`: an entry service (nothing in the catalog calls it) whose own anomalies are only latency
  or errors while a service it depends on is anomalous keeps ENTRY_SHARE of its density and
  breadth: the edge shows every fault behind it, so its errors are the symptom users see, not a
  place (resource metrics on it, or its pods' anomalies, still count in full);
- `origin`: errors propagate from callee to caller, so an entity whose own error metrics moved the
  faulty way (success rate down, failures up) while nothing its service depends on, directly or
  not, shows errors or slowness (a caller's errors are often timeouts) is where the incident's
  errors start (error-propagation tracing, as MicroHECL and the structural generators' "deepest
  alerting dependency" do it, here weighted by how unusual that error alert is);
- `polarity`: an alert on a latency or error metric that moved its healthy way (response time
  down, success rate up) counts POLARITY_SHARE: a service that got faster or more successful is at
  most a side effect (its callers failing before they reach it, fewer requests), not a fault there.

- `colocation`: a node fault shows on the pods it runs, so a node whose placed pods are, on average,
  more anomalous than the incident's placed pods as a whole gains that excess x sqrt(its placed pods)
  (a two-group comparison scaled like a standard error: the same excess on many pods says more than
  on one), at most the node's own score. Peer comparison across placement: one node's pods
  against everyone's.

Two or more replicas of a service slow for their callers also make the service itself a suspect.

It ranks what anomaly detectors send: alerts that say which way a metric moved (a `direction`
label) or which call degraded (`client` and `server`). Everything is structural (labels, catalog,
time); no entity or metric name is special.
"""

from __future__ import annotations

import functools
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sre_copilot.domain.catalog import Catalog
from sre_copilot.domain.signal import Signal
from sre_copilot.domain.types import EntityKind

FEATURES: tuple[str, ...] = ("onset", "density", "breadth", "resource", "trace", "host", "pagerank", "rarity",
                             "decay", "specificity", "entry", "polarity", "origin", "colocation")

# Metric-name tokens -> fault class. Matched on whole tokens of the metric name (split on . _ - /).
_CLASSES: tuple[tuple[str, frozenset[str]], ...] = (
    ("CPU", frozenset({"cpu", "cpus", "load", "throttled", "throttling"})),
    ("memory", frozenset({"mem", "memory", "rss", "heap", "oom", "swap", "cache", "working"})),
    ("disk I/O", frozenset({"disk", "io", "fs", "iops", "read", "reads", "write", "writes", "w", "r", "blkio",
                            "filesystem", "inode", "inodes"})),
    ("network", frozenset({"net", "network", "packet", "packets", "receive", "transmit", "tcp", "udp", "rx", "tx",
                           "bytes", "dropped", "drop", "retrans", "socket", "sockets"})),
    ("latency", frozenset({"latency", "mrt", "rt", "duration", "p99", "p95", "p50", "slow", "time", "seconds"})),
    ("errors", frozenset({"error", "errors", "err", "5xx", "fail", "failed", "failure", "sr", "success", "rr",
                          "count", "status"})),
)
RESOURCE_CLASSES = frozenset({"CPU", "memory", "disk I/O", "network"})
# `polarity`: which way is healthy for a latency or error metric. Rates of success go up when things
# are well; response times and failure counts go down. Request counts and rates have no healthy way.
_HIGHER_IS_BETTER = frozenset({"success", "sr", "availability", "apdex"})
_FAILURE_WORDS = frozenset({"error", "errors", "err", "5xx", "fail", "failed", "failure"})
_LOWER_IS_BETTER = next(w for name, w in _CLASSES if name == "latency") | _FAILURE_WORDS
_SPLIT = re.compile(r"[^a-z0-9]+")
PR_DAMPING = 0.85
PR_ITERATIONS = 30
DIVERSITY = 0.7
DENSITY = 4.0
# `decay`: an alert's evidence halves about every 3.5 minutes after the incident's first alert
# (exp(-t / DECAY_S)). Five minutes is the unit detectors and paging work in, not a fitted value:
# 2 to 5 minutes score alike on the labelled storm; 10 to 15 minutes keep less of the gain.
DECAY_S = 300.0
SPECIFICITY_FLOOR = 0.1
# `entry`: half, as for evidence two places explain equally; 0 to 0.75 score alike on the labelled storm.
ENTRY_SHARE = 0.5
# `polarity`: half, not nothing: a service failing fast also answers faster. 0 to 0.5 score alike on
# the labelled storm.
POLARITY_SHARE = 0.5
# `origin`: half the density anchor (DENSITY): the origin of the incident's errors weighs like half the
# busiest entity's alerts. 1.5 to 4 score alike on the labelled storm (0.5 and 1 keep part of the gain).
ORIGIN = 2.0


def healthy_move(metric: str, direction: str) -> bool:
    """Whether a latency or error metric moved its healthy way: a success rate up, a response time
    or a failure count down. Resource metrics, request counts and rates never do (either way can be
    a fault: a CPU drop is a crashed process as much as a CPU rise is a hot loop)."""
    if fault_class(metric) not in {"latency", "errors"}:
        return False
    tokens = _metric_tokens(metric)
    if tokens & _HIGHER_IS_BETTER:
        return direction == "up"
    return bool(tokens & _LOWER_IS_BETTER) and direction == "down"


def faulty_error_move(metric: str, direction: str) -> bool:
    """Whether an error metric moved the faulty way: a success rate down, a failure count or rate up.
    Latency, request counts and rates are not errors (a slow or quiet service still answers)."""
    if fault_class(metric) != "errors":
        return False
    tokens = _metric_tokens(metric)
    if tokens & _HIGHER_IS_BETTER:
        return direction == "down"
    return bool(tokens & _FAILURE_WORDS) and direction == "up"


@functools.lru_cache(maxsize=8192)
def fault_class(metric: str) -> str:
    """The fault class a metric name belongs to (first match in resource-first order), else 'anomaly'."""
    tokens = _metric_tokens(metric)
    return next((name for name, words in _CLASSES if tokens & words), "anomaly")


@functools.lru_cache(maxsize=8192)
def _metric_tokens(metric: str) -> frozenset[str]:
    """A metric name's lower-case words (a storm repeats a few hundred names in every analysis)."""
    return frozenset(t for t in _SPLIT.split(metric.lower()) if t)


@dataclass
class EntityProfile:
    name: str
    kind: EntityKind
    service: str | None
    host: str | None = None
    alerts: int = 0
    weight: float = 0.0  # the alerts' summed rarity weights (alerts, when rarity is off)
    metrics: dict[str, str] = field(default_factory=dict)  # metric -> direction
    metric_weight: dict[str, float] = field(default_factory=dict)  # metric -> its rarest alert's weight
    first: datetime | None = None
    callers: set[str] = field(default_factory=set)  # distinct callers slow towards it
    callees: set[str] = field(default_factory=set)  # distinct callees it is slow towards
    calls_in: float = 0.0  # trace evidence as callee, each caller's vote split over its callees
    node_level: int = 0

    def saw(self, at: datetime) -> None:
        if self.first is None or at < self.first:
            self.first = at

    def note(self, metric: str, direction: str, w: float) -> None:
        self.alerts += 1
        self.weight += w
        self.metrics.setdefault(metric, direction)
        self.metric_weight[metric] = max(w, self.metric_weight.get(metric, 0.0))

    @property
    def classes(self) -> set[str]:
        return {fault_class(m) for m in self.metrics}

    def class_weight(self, classes: frozenset[str]) -> float:
        """Per fault class in `classes` the weight of its rarest metric, summed."""
        best: dict[str, float] = {}
        for metric, w in self.metric_weight.items():
            c = fault_class(metric)
            if c in classes:
                best[c] = max(w, best.get(c, 0.0))
        return sum(best.values())


@dataclass(frozen=True)
class Suspect:
    entity: str
    kind: EntityKind
    service: str | None
    score: float  # relative to the best suspect: 1.0 for the top
    fault: str
    features: dict[str, float]
    summary: str


def _is_call(signal: Signal) -> bool:
    return bool(signal.labels.get("client") and signal.labels.get("server"))


def _metric(signal: Signal) -> str:
    return signal.labels.get("metric") or signal.labels.get("alertname") or signal.title


def localise(signals: Iterable[Signal], catalog: Catalog, *, features: Iterable[str] = FEATURES,
             limit: int = 8, weights: Mapping[str, float] | None = None) -> list[Suspect]:
    """Rank the entities the incident's alerts name, best first (scores relative to the best).

    `weights`: signal id -> how unusual that alert was before the incident (the `rarity` feature,
    `correlation.alert_history`); an alert missing from it weighs 1."""
    use = set(features)
    rarity = weights if weights is not None and "rarity" in use else {}
    # Anomaly detectors say which way a metric moved (`direction`) or which call degraded (client and
    # server); threshold alerts (a name and a severity) are the structural generators' evidence.
    alerts = [s for s in signals if s.is_alert and not s.background and s.duplicate_of is None
              and (_is_call(s) or s.labels.get("direction"))]
    if not alerts:
        return []
    profiles: dict[str, EntityProfile] = {}
    peers = _specificity(alerts) if "specificity" in use else {}
    start = min(s.event_time for s in alerts)

    def decay(s: Signal) -> float:
        if "decay" not in use:
            return 1.0
        return math.exp(-max(0.0, (s.event_time - start).total_seconds()) / DECAY_S)

    def profile(name: str, kind: EntityKind, service: str | None, host: str | None = None) -> EntityProfile:
        found = profiles.get(name)
        if found is None:
            found = profiles[name] = EntityProfile(name=name, kind=kind, service=service, host=host)
        return found

    call_edges: dict[str, set[str]] = defaultdict(set)
    call_weight: dict[tuple[str, str], float] = {}
    for s in alerts:
        w = rarity.get(s.id, 1.0) * decay(s)
        if _is_call(s):
            caller = catalog.find_instance(s.labels["client"])
            callee = catalog.find_instance(s.labels["server"])
            if caller is None or callee is None:
                continue
            src = profile(caller[2], EntityKind.INSTANCE, caller[0], caller[1])
            dst = profile(callee[2], EntityKind.INSTANCE, callee[0], callee[1])
            src.callees.add(dst.name)
            dst.callers.add(src.name)
            dst.saw(s.event_time)
            call_edges[src.name].add(dst.name)
            edge = (src.name, dst.name)
            call_weight[edge] = max(w, call_weight.get(edge, 0.0))
            continue
        if not s.entity:
            continue
        kind = s.entity_kind or EntityKind.SERVICE
        host = s.host
        if kind is EntityKind.HOST:
            host = catalog.find_host(s.entity) or s.entity
        p = profile(host if kind is EntityKind.HOST and host else s.entity, kind, s.service, host)
        w *= peers.get(_peer_key(s), 1.0)
        if "polarity" in use and healthy_move(_metric(s), s.labels.get("direction", "")):
            w *= POLARITY_SHARE
        p.note(_metric(s), s.labels.get("direction", ""), w)
        p.saw(s.event_time)
        if kind is EntityKind.HOST:
            p.node_level += 1
    # A caller slow towards many callees votes less for each of them: the slowness is likely its own.
    for caller_name, callees in call_edges.items():
        for callee_name in callees:
            profiles[callee_name].calls_in += call_weight[(caller_name, callee_name)] / len(callees)
    if not profiles:
        return []
    if "trace" in use:
        _service_slowness(profiles, profile)

    first_at = min((p.first for p in profiles.values() if p.first), default=None)
    # Pods of several services alerting on one node point at the node (pods of one service don't).
    pod_alerting: dict[str, set[str]] = defaultdict(set)
    for p in profiles.values():
        if p.kind is EntityKind.INSTANCE and p.host and p.alerts:
            pod_alerting[p.host].add(p.name)

    top_weight = max((p.weight for p in profiles.values()), default=0.0) or 1.0
    symptoms = _entry_symptoms(profiles, catalog) if "entry" in use else set()
    raw: dict[str, dict[str, float]] = {}
    for p in profiles.values():
        f: dict[str, float] = {}
        own = ENTRY_SHARE if p.name in symptoms else 1.0
        if "density" in use:
            # Relative to the incident's busiest entity, and linear: on a storm where every entity
            # alerts, the one with clearly more (unusual) alerts is the anchor the other features
            # adjust; a log scale flattened that margin away.
            f["density"] = own * DENSITY * p.weight / top_weight
        if "breadth" in use:
            f["breadth"] = own * 0.5 * sum(p.metric_weight.values())
        if "resource" in use:
            f["resource"] = 0.75 * p.class_weight(RESOURCE_CLASSES)
        if "trace" in use:
            own_slowness = len(p.callees) >= 3 and not p.callers
            f["trace"] = math.log1p(p.calls_in) + (0.5 * math.log1p(len(p.callees)) if own_slowness else 0.0)
        if "host" in use and p.kind is EntityKind.HOST:
            # Node-level anomalies count for the node as far as its own pods do not explain them: a
            # node whose pods alert too is more likely a bystander of a pod fault than the cause.
            placed = len(catalog.instances_on_host(p.name)) or 1
            share = min(1.0, sum(len(v) for k, v in pod_alerting.items() if k == p.name) / placed)
            f["host"] = (0.5 * math.log1p(p.weight) + 0.5 * sum(p.metric_weight.values())) * (1.0 - share)
        if "onset" in use and p.first and first_at:
            # On the decay's clock, not relative to the span of first anomalies: one late straggler
            # would otherwise squeeze every other entity's lead towards the first.
            f["onset"] = math.exp(-(p.first - first_at).total_seconds() / DECAY_S)
        raw[p.name] = f
    if "origin" in use:
        for name, value in _error_origins(profiles, catalog).items():
            raw[name]["origin"] = ORIGIN * value
    anomaly = {name: sum(f.values()) for name, f in raw.items()}
    if "colocation" in use:
        for name, value in _colocation(profiles, anomaly, catalog).items():
            raw[name]["colocation"] = value
            anomaly[name] += value

    if "pagerank" in use:
        ranks = _pagerank(profiles, anomaly, call_edges, catalog)
        top_rank = max(ranks.values(), default=0.0) or 1.0
        for name, value in ranks.items():
            raw[name]["pagerank"] = 1.5 * value / top_rank
            anomaly[name] = anomaly.get(name, 0.0) + raw[name]["pagerank"]

    best = max(anomaly.values(), default=0.0)
    if best <= 0:
        return []
    ordered = _diversified(sorted(profiles.values(), key=lambda p: (-anomaly[p.name], p.name)), anomaly)
    out: list[Suspect] = []
    for p, value in ordered[:limit]:
        fault = _fault(p)
        out.append(Suspect(entity=p.name, kind=p.kind, service=p.service, score=round(value / best, 4),
                           fault=fault, features={k: round(v, 3) for k, v in raw[p.name].items()},
                           summary=_summary(p, fault, raw[p.name])))
    return out


def _peer_key(signal: Signal) -> tuple[str, str, str]:
    return ((signal.entity_kind or EntityKind.SERVICE).value, _metric(signal), signal.labels.get("direction", ""))


def _specificity(alerts: list[Signal]) -> dict[tuple[str, str, str], float]:
    """Per anomaly (entity kind, metric, direction), how few of the incident's alerting entities of
    that kind share it, like IDF across entities: sqrt(ln(N / n) / ln(N)) for n of N, floored at
    SPECIFICITY_FLOOR; an anomaly on one entity only, or a kind with one entity, weighs 1. The square
    root keeps an anomaly shared by half the pods at about half weight rather than a fifth."""
    holders: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    kinds: dict[str, set[str]] = defaultdict(set)
    for s in alerts:
        if _is_call(s) or not s.entity:
            continue
        key = _peer_key(s)
        holders[key].add(s.entity)
        kinds[key[0]].add(s.entity)
    out: dict[tuple[str, str, str], float] = {}
    for key, who in holders.items():
        n_kind = len(kinds[key[0]])
        if n_kind < 2 or len(who) < 2:
            out[key] = 1.0
            continue
        out[key] = max(SPECIFICITY_FLOOR, math.sqrt(math.log(n_kind / len(who)) / math.log(n_kind)))
    return out


def _service_slowness(profiles: dict[str, EntityProfile],
                      profile: Callable[[str, EntityKind, str | None], EntityProfile]) -> None:
    """Several replicas of one service slow for their callers point at the service (its network,
    its shared dependency, a bad rollout), not at any one replica: the service becomes a suspect
    with their (rarity-weighted) call evidence summed. One slow replica stays an instance suspect."""
    spread: dict[str, list[EntityProfile]] = defaultdict(list)
    for p in list(profiles.values()):
        if p.kind is EntityKind.INSTANCE and p.service and p.calls_in > 0:
            spread[p.service].append(p)
    for service, slow in spread.items():
        if len(slow) < 2:
            continue
        sp = profile(service, EntityKind.SERVICE, service)
        sp.calls_in += sum(x.calls_in for x in slow)
        for x in slow:
            sp.callers |= x.callers
            if x.first:
                sp.saw(x.first)


def _entry_symptoms(profiles: dict[str, EntityProfile], catalog: Catalog) -> set[str]:
    """Entry services (nothing in the catalog calls them) whose own anomalies are only latency or
    errors while a service they depend on is anomalous: what users see at the edge is the sum of
    every fault behind it, so the edge's errors say little about where the fault is."""
    anomalous = {p.service for p in profiles.values() if p.service and (p.alerts or p.calls_in > 0)}
    out: set[str] = set()
    for p in profiles.values():
        if p.kind is not EntityKind.SERVICE or not p.service or not p.metrics or catalog.callers(p.service):
            continue
        if not all(fault_class(m) in {"latency", "errors"} for m in p.metrics):
            continue
        if (set(catalog.dependencies(p.service)) - {p.service}) & anomalous:
            out.add(p.name)
    return out


def _error_origins(profiles: dict[str, EntityProfile], catalog: Catalog) -> dict[str, float]:
    """Entities with errors of their own (metrics that moved the faulty way) none of whose service's
    dependencies, directly or not, shows errors or slowness in the incident: where the errors start,
    not where they arrive (a caller's errors are often its timeouts on a slow callee). Each with the
    weight of its most unusual such alert."""
    own: dict[str, float] = {}
    propagating: set[str] = set()
    for p in profiles.values():
        weights = [p.metric_weight[m] for m, d in p.metrics.items() if faulty_error_move(m, d)]
        if weights and p.service:
            own[p.name] = max(weights)
        slow = p.calls_in > 0 or any(fault_class(m) == "latency" and not healthy_move(m, d)
                                     for m, d in p.metrics.items())
        if p.service and (weights or slow):
            propagating.add(p.service)
    out: dict[str, float] = {}
    for name, value in own.items():
        service = profiles[name].service or ""
        if not (catalog.downstream_closure(service) - {service}) & propagating:
            out[name] = value
    return out


def _colocation(profiles: dict[str, EntityProfile], anomaly: Mapping[str, float],
                 catalog: Catalog) -> dict[str, float]:
    """Per suspect node with placed pods: (mean anomaly of its pods - mean anomaly of every placed pod)
    x sqrt(its placed pods), when positive. A pod that does not alert scores 0. A node fault (CPU,
    memory, disk, network of the machine) degrades every pod on it, so its pods stand out against the
    pods elsewhere even when the node's own metrics say little; a busy node whose pods are as anomalous
    as everyone's gains nothing. At most the node's own score (its features so far): the pods
    corroborate a node that is anomalous itself, they do not blame a quiet one. Needs pods on at
    least two nodes, else there is nothing to compare."""
    placed: dict[str, list[str]] = defaultdict(list)
    for service in catalog.services:
        for instance in service.instances:
            if instance.host:
                placed[instance.host].append(instance.name)
    if len(placed) < 2:
        return {}
    score = {pod: max(0.0, anomaly.get(pod, 0.0)) for pods in placed.values() for pod in pods}
    mean_all = sum(score.values()) / len(score)
    out: dict[str, float] = {}
    for p in profiles.values():
        pods = placed.get(p.name) if p.kind is EntityKind.HOST else None
        if not pods:
            continue
        excess = sum(score[pod] for pod in pods) / len(pods) - mean_all
        if excess > 0:
            # Corroboration, not accusation: the pods at most double what the node shows itself.
            out[p.name] = min(excess * math.sqrt(len(pods)), max(0.0, anomaly.get(p.name, 0.0)))
    return out


def _diversified(ordered: list[EntityProfile], anomaly: dict[str, float]) -> list[tuple[EntityProfile, float]]:
    """Re-rank so each further suspect of an already-named service (or host) counts for less
    (x DIVERSITY per earlier one): a fault is one place, and a short list that names three pods of
    one service says less than one that also names the next-likeliest service or node."""
    seen: dict[str, int] = defaultdict(int)
    pending = [(p, anomaly[p.name]) for p in ordered]
    out: list[tuple[EntityProfile, float]] = []
    while pending:
        scored = [(p, value * DIVERSITY ** seen[p.service or p.name]) for p, value in pending]
        pick = max(range(len(scored)), key=lambda i: (scored[i][1], -i))
        p, value = scored[pick]
        out.append((p, value))
        seen[p.service or p.name] += 1
        pending.pop(pick)
        if len(out) >= 16:
            break
    return out


def _pagerank(profiles: dict[str, EntityProfile], anomaly: dict[str, float], call_edges: dict[str, set[str]],
              catalog: Catalog) -> dict[str, float]:
    """Personalised PageRank: walk from symptoms to what they depend on (callee, host, dependency)."""
    edges: dict[str, set[str]] = defaultdict(set)
    for src, dsts in call_edges.items():
        edges[src] |= dsts
    by_service: dict[str, list[str]] = defaultdict(list)
    for p in profiles.values():
        if p.kind is EntityKind.INSTANCE and p.service:
            by_service[p.service].append(p.name)
    for p in profiles.values():
        if p.kind is EntityKind.SERVICE and p.service:
            for dep in catalog.dependencies(p.service):
                edges[p.name] |= set(by_service.get(dep, ())) | ({dep} if dep in profiles else set())
        elif p.kind is EntityKind.INSTANCE and p.service and p.service != p.name and p.service in profiles:
            # A pod's anomalies also point at its service (a service-wide network, image or config
            # fault shows on each replica), when the service is itself a suspect.
            edges[p.name].add(p.service)
    nodes = list(profiles)
    total = sum(max(0.0, anomaly.get(n, 0.0)) for n in nodes) or 1.0
    personal = {n: max(0.0, anomaly.get(n, 0.0)) / total for n in nodes}
    rank = dict(personal)
    for _ in range(PR_ITERATIONS):
        nxt = {n: (1 - PR_DAMPING) * personal[n] for n in nodes}
        for n in nodes:
            outs = [d for d in edges.get(n, ()) if d in nxt]
            if outs:
                share = PR_DAMPING * rank[n] / len(outs)
                for d in outs:
                    nxt[d] += share
            else:
                nxt[n] += PR_DAMPING * rank[n]
        rank = nxt
    return rank


def _fault(p: EntityProfile) -> str:
    """'<level> <class> (<metric> <direction>)': the class most of its resource metrics (else of all
    its metrics) belong to; a callee with no metric anomaly of its own is slow for its callers."""
    counts: dict[str, int] = defaultdict(int)
    for name in p.metrics:
        counts[fault_class(name)] += 1
    pool = {k: v for k, v in counts.items() if k in RESOURCE_CLASSES} or counts
    pick = max(pool, key=lambda k: (pool[k], k)) if pool else ("latency" if p.callers else "anomaly")
    level = {EntityKind.HOST: "node", EntityKind.INSTANCE: "container"}.get(p.kind, "service")
    example = next((m for m in p.metrics if fault_class(m) == pick), None)
    detail = f" ({example} {p.metrics[example]})".replace(" )", ")") if example else ""
    return f"{level} {pick}{detail}"


def _summary(p: EntityProfile, fault: str, f: dict[str, float]) -> str:
    parts = [f"{p.alerts} alert(s) on {len(p.metrics)} metric(s)"]
    if p.callers:
        parts.append(f"slow for {len(p.callers)} caller(s)")
    if p.callees:
        parts.append(f"slow towards {len(p.callees)} callee(s)")
    top = ", ".join(f"{k} {v:.2f}" for k, v in sorted(f.items(), key=lambda kv: -kv[1])[:3])
    return f"{p.name}: {fault}; " + "; ".join(parts) + (f" (strongest: {top})" if top else "")
