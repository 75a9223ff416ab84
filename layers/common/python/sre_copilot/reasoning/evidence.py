"""Evidence aggregation (seed 001 "EVIDENCE AGGREGATOR"): a structured package of facts per subject.

Item kinds and what their numbers mean (scoring reads them back, see docs/reasoning.md):

- `signal_strength`: one per (subject, source); `strength` = min(|sigma|, 4) / 4, so 0.75 is 3 sigma.
  Alert sources use the alert's own sigma when ingestion measured one, else its severity's sigma
  equivalent; `metric:<name>` sources use the snapshot's 7-day baseline.
- `temporal`: one per change on an involved service or host; `strength` is the seed's temporal
  correlation value for that change; `supports` is False for changes that cannot be the trigger
  (after the first symptom, docs-only, already rolled back).
- `onset`: the entity alerted within a minute of the first symptom.
- `dependency`: an alerting service whose alerting callers' symptoms it would explain.
- `common_dependency`: a quiet service that several otherwise unrelated alerting services share.
- `host`: a host that several alerting instances share, or that raised a host-level alarm.
- `precedent`: a similar past incident; `subject` is "<fault>|<entity>", `strength` the similarity.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any, Protocol

from pydantic import BaseModel

from sre_copilot.domain.catalog import Catalog
from sre_copilot.domain.incident import Incident, IncidentState
from sre_copilot.domain.reasoning import ContextSnapshot, Evidence, EvidencePackage
from sre_copilot.domain.signal import Signal
from sre_copilot.domain.types import ChangeKind
from sre_copilot.ports.knowledge import Embedder, VectorIndex
from sre_copilot.reasoning.factors import temporal_value
from sre_copilot.reasoning.localisation import FEATURES as LOCALISATION_FEATURES
from sre_copilot.reasoning.localisation import localise
from sre_copilot.reasoning.support import Graph, SignalFact, facts
from sre_copilot.reasoning.symptoms import PROPAGATING, SEVERITY_SIGMA

ONSET_TOLERANCE = timedelta(seconds=60)
STRONG_TEMPORAL = 0.8
SIGMA_CAP = 4.0


# -- precedents -----------------------------------------------------------------------------------
class Precedent(BaseModel):
    incident_id: str
    entity: str
    service: str | None = None
    fault: str
    change_kind: str | None = None
    similarity: float
    summary: str = ""


class PrecedentLookup(Protocol):
    """Past incidents similar to a description of the current one."""

    def similar(self, text: str, k: int = 20) -> list[Precedent]: ...


def precedent_key(fault: str, entity: str) -> str:
    return f"{fault}|{entity}"


class VectorPrecedents:
    """`PrecedentLookup` over the vector index: closed incidents are embedded by what they looked
    like (title, services, entities) and what the copilot concluded (top hypothesis)."""

    COLLECTION = "incidents"

    def __init__(self, *, index: VectorIndex, embedder: Embedder, min_similarity: float = 0.35,
                 tenant_id: str | None = None) -> None:
        """`tenant_id`: the tenant whose precedents `similar` may return (None: any, offline tools only)."""
        self.tenant_id = tenant_id
        self.index = index
        self.embedder = embedder
        self.min_similarity = min_similarity

    def add(self, incident: Incident) -> bool:
        """Index a finished incident; returns False when it has no usable conclusion."""
        if not incident.hypotheses or incident.state is IncidentState.INCONCLUSIVE:
            return False
        top = incident.hypotheses[0]
        entity, fault = str(top.get("entity") or ""), str(top.get("fault") or "")
        if not entity or not fault:
            return False
        text = describe(titles=[incident.title], services=incident.services or [incident.service or ""],
                        entities=incident.entities, symptoms=[fault])
        vector = self.embedder.embed([text])[0]
        self.index.upsert(self.COLLECTION, f"{incident.tenant_id}:{incident.id}", vector, {
            "incident_id": incident.id, "tenant_id": incident.tenant_id, "entity": entity,
            "service": top.get("service"), "fault": fault, "change_kind": _change_kind(top.get("fault")),
            "summary": str(top.get("summary") or "")[:500], "state": incident.state.value,
        })
        return True

    def similar(self, text: str, k: int = 20) -> list[Precedent]:
        vector = self.embedder.embed([text])[0]
        out: list[Precedent] = []
        for score, doc in self.index.query(self.COLLECTION, vector, k, tenant_id=self.tenant_id):
            if score < self.min_similarity:
                continue
            out.append(Precedent(incident_id=str(doc.get("incident_id")), entity=str(doc.get("entity")),
                                 service=doc.get("service"), fault=str(doc.get("fault")),
                                 change_kind=doc.get("change_kind"), similarity=round(float(score), 4),
                                 summary=str(doc.get("summary") or "")))
        return out


def _change_kind(fault: Any) -> str | None:
    from sre_copilot.reasoning.symptoms import FAULT_BY_CHANGE_KIND

    return next((k.value for k, f in FAULT_BY_CHANGE_KIND.items() if f == fault), None)


def describe(*, titles: Iterable[str], services: Iterable[str], entities: Iterable[str] = (),
             symptoms: Iterable[str] = ()) -> str:
    """The text both sides of a precedent search embed, so stored and live incidents compare alike."""
    def uniq(values: Iterable[str]) -> list[str]:
        return list(dict.fromkeys(v for v in values if v))
    return " | ".join([" ; ".join(uniq(titles)[:12]), " ".join(uniq(services)), " ".join(uniq(entities)[:12]),
                       " ".join(uniq(s.replace("_", " ") for s in symptoms))])


# -- aggregation ----------------------------------------------------------------------------------
def aggregate_evidence(*, snapshot: ContextSnapshot, signals: list[Signal], catalog: Catalog,
                       precedents: PrecedentLookup | None,
                       localisation_features: Iterable[str] = LOCALISATION_FEATURES,
                       alert_weights: Mapping[str, float] | None = None) -> EvidencePackage:
    """`alert_weights`: signal id -> how unusual the alert was before the incident
    (`correlation.alert_history`); None ranks suspects as if every alert were rare."""
    all_facts = facts(snapshot)
    graph = Graph(snapshot.topology)
    items: list[Evidence] = []
    conflicts: list[str] = []
    items += _signal_strength(all_facts, snapshot)
    temporal = _temporal(snapshot)
    items += temporal
    items += _onset(all_facts)
    items += _dependencies(all_facts, graph)
    items += _common_dependencies(all_facts, graph)
    items += _hosts(all_facts, snapshot)
    items += _precedents(snapshot, all_facts, signals, precedents)
    items += localisation_items(signals, catalog, localisation_features, alert_weights)
    conflicts += _change_conflicts(temporal)
    metric_items, metric_conflicts = _metric_contradictions(all_facts, snapshot)
    items += metric_items
    conflicts += metric_conflicts
    return EvidencePackage(incident_id=snapshot.incident_id, items=items, conflicts=conflicts)


def localisation_items(signals: list[Signal], catalog: Catalog, features: Iterable[str],
                       weights: Mapping[str, float] | None = None) -> list[Evidence]:
    """`localisation`: the anomaly ranking's suspects (reasoning/localisation.py), strength relative
    to the best; `refs` = [entity kind, owning service or "", fault class]."""
    return [Evidence(kind="localisation", summary=s.summary, source="anomaly ranking", subject=s.entity,
                     strength=max(0.0, min(1.0, s.score)), refs=[s.kind.value, s.service or "", s.fault,
                                                                 *(f"{k}={v}" for k, v in s.features.items())])
            for s in localise(signals, catalog, features=features, weights=weights)]


def _cap(sigma: float) -> float:
    return round(min(abs(sigma), SIGMA_CAP) / SIGMA_CAP, 4)


def fact_sigma(fact: SignalFact) -> float:
    return abs(fact.sigma) if fact.sigma is not None else SEVERITY_SIGMA[fact.severity]


def _signal_strength(all_facts: list[SignalFact], snapshot: ContextSnapshot) -> list[Evidence]:
    groups: dict[tuple[str, str], list[SignalFact]] = {}
    for fact in all_facts:
        for subject in {fact.service, fact.host if fact.host else None} - {None}:
            groups.setdefault((str(subject), fact.source), []).append(fact)
    items = []
    for (subject, source), group in sorted(groups.items()):
        sigma = max(fact_sigma(f) for f in group)
        items.append(Evidence(
            kind="signal_strength", subject=subject, source=source, strength=_cap(sigma), refs=[f.id for f in group],
            summary=f"{len(group)} {source} alert(s) on {subject}, strongest ~{sigma:.1f} sigma "
                    f"({'measured' if any(f.sigma is not None for f in group) else 'from severity'})",
        ))
    for service, metrics in sorted((snapshot.traffic_baseline.get("services") or {}).items()):
        for metric, stats in sorted(metrics.items()):
            sigma = stats.get("sigma")
            if sigma is None:
                continue
            items.append(Evidence(
                kind="signal_strength", subject=service, source=f"metric:{metric}", strength=_cap(sigma),
                summary=f"{metric} of {service} at {stats.get('current')} vs 7-day mean {stats.get('baseline_mean')} "
                        f"({sigma:+.1f} sigma)",
            ))
    return items


def _temporal(snapshot: ContextSnapshot) -> list[Evidence]:
    items = []
    for change in snapshot.recent_changes:
        # Changes on services outside the incident (unrelated, or only calling an alerting service)
        # are context, not evidence: blaming them is how decoys fool a responder.
        if change.get("relation") not in ("alerting", "dependency", "host"):
            continue
        kind = ChangeKind(change["kind"])
        lag = float(change["lag_s"])
        subject = str(change["service"])
        where = f"{change['id']} ({kind.value} on {subject}"
        if change.get("version"):
            where += f", {change['version']}"
        where += f", '{change.get('summary') or ''}')"
        if not change.get("before_first_symptom"):
            items.append(Evidence(kind="temporal", subject=subject, source=f"change:{kind.value}", strength=0.3,
                                  refs=[change["id"]], supports=False,
                                  summary=f"{where} landed {_ago(-lag)} after the first symptom; it cannot be the trigger"))
        elif change.get("status") == "rolled_back":
            items.append(Evidence(kind="temporal", subject=subject, source=f"change:{kind.value}", strength=0.3,
                                  refs=[change["id"]], supports=False,
                                  summary=f"{where} was already rolled back"))
        elif change.get("cosmetic"):
            items.append(Evidence(kind="temporal", subject=subject, source=f"change:{kind.value}",
                                  strength=temporal_value(kind, lag, cosmetic=True), refs=[change["id"]], supports=False,
                                  summary=f"{where} landed {_ago(lag)} before the first symptom but changes no "
                                          "runtime behaviour (docs-only); discounted"))
        else:
            items.append(Evidence(kind="temporal", subject=subject, source=f"change:{kind.value}",
                                  strength=temporal_value(kind, lag), refs=[change["id"]],
                                  summary=f"{where} landed {_ago(lag)} before the first symptom "
                                          f"({change['relation']} service)"))
    return items


def _onset(all_facts: list[SignalFact]) -> list[Evidence]:
    if not all_facts:
        return []
    first = all_facts[0].at
    leaders: dict[str, SignalFact] = {}
    for fact in all_facts:
        if fact.at - first > ONSET_TOLERANCE:
            break
        for subject in (fact.service, fact.host if fact.is_host_level or fact.instance else None):
            if subject and subject not in leaders:
                leaders[subject] = fact
    return [Evidence(kind="onset", subject=s, source=f.source, strength=1.0, refs=[f.id],
                     summary=f"{s} alerted first ({f.title[:80]})") for s, f in sorted(leaders.items())]


def _alerting(all_facts: list[SignalFact], graph: Graph) -> list[str]:
    return sorted({f.service for f in all_facts if f.service and graph.knows(f.service)})


def _dependencies(all_facts: list[SignalFact], graph: Graph) -> list[Evidence]:
    alerting = _alerting(all_facts, graph)
    items = []
    for service in alerting:
        callers = sorted({f.service for f in all_facts if f.service and f.symptom in PROPAGATING
                          and f.service in graph.upstream(service)})
        if not callers:
            continue
        items.append(Evidence(
            kind="dependency", subject=service, source="catalog", refs=callers,
            strength=round((len(callers) + 1) / max(1, len(alerting)), 4),
            summary=f"{', '.join(callers)} {'depends' if len(callers) == 1 else 'depend'} (transitively) on {service}, "
                    f"which is alerting too",
        ))
    return items


def sinks(alerting: Iterable[str], graph: Graph) -> list[str]:
    """Alerting services none of whose (transitive) dependencies alert: the deepest failures."""
    alerting_set = set(alerting)
    return sorted(s for s in alerting_set if not (graph.downstream(s) & alerting_set))


def _common_dependencies(all_facts: list[SignalFact], graph: Graph) -> list[Evidence]:
    """A quiet dependency under several alerting services that do not depend on each other. Alert
    coverage of managed datastores is often thin (no alarm on the database), so callers are all we see."""
    propagating = sorted({f.service for f in all_facts if f.service and graph.knows(f.service)
                          and f.symptom in PROPAGATING})
    roots = sinks(propagating, graph)
    if len(roots) < 2:
        return []
    alerting = set(_alerting(all_facts, graph))
    counts: dict[str, list[str]] = {}
    for root in roots:
        for dep in graph.downstream(root):
            if dep not in alerting:
                counts.setdefault(dep, []).append(root)
    shared = {d: r for d, r in counts.items() if len(r) >= 2}
    if not shared:
        return []
    best = max(len(r) for r in shared.values())
    top = [d for d, r in shared.items() if len(r) == best]
    # Deepest first: a candidate that another candidate with the same reach depends on is more specific.
    top.sort(key=lambda d: (not graph.managed.get(d, False), -len(graph.upstream(d) & set(top)), d))
    items = []
    for dep in top[:2]:
        items.append(Evidence(
            kind="common_dependency", subject=dep, source="catalog", refs=sorted(shared[dep]),
            strength=round(len(shared[dep]) / len(roots), 4),
            summary=f"{', '.join(sorted(shared[dep]))} all depend on {dep}, which raised no alert of its own",
        ))
    return items


def _hosts(all_facts: list[SignalFact], snapshot: ContextSnapshot) -> list[Evidence]:
    items = []
    total = max(1, len(all_facts))
    for host, info in sorted((snapshot.topology.get("hosts") or {}).items()):
        on_host = [f for f in all_facts if f.host == host or f.entity == host]
        instances = sorted({f.instance for f in on_host if f.instance})
        alarm = bool(info.get("host_alarm")) or any(f.is_host_level for f in on_host)
        if not alarm and len(instances) < 2:
            continue
        services = sorted({f.service for f in on_host if f.service})
        what = [f"a host-level alarm ({next(f.title for f in on_host if f.is_host_level)[:60]})"] if alarm else []
        if instances:
            what.append(f"{len(instances)} alerting instance(s) of {', '.join(services)}")
        items.append(Evidence(
            kind="host", subject=host, source="catalog", refs=[f.id for f in on_host],
            strength=round(len(on_host) / total, 4),
            summary=f"{host} carries {' and '.join(what)}",
        ))
    return items


def _precedents(snapshot: ContextSnapshot, all_facts: list[SignalFact], signals: list[Signal],
                lookup: PrecedentLookup | None) -> list[Evidence]:
    if lookup is None or not all_facts:
        return []
    text = describe(titles=[f.title for f in all_facts], services=[f.service or "" for f in all_facts],
                    entities=[f.entity or "" for f in all_facts], symptoms=[f.symptom.value for f in all_facts])
    try:
        found = lookup.similar(text, 20)
    except Exception as exc:  # precedents enrich; their absence must not stop analysis
        return [Evidence(kind="note", summary=f"precedent lookup failed: {type(exc).__name__}: {exc}"[:300],
                         source="precedent", supports=False)]
    return [Evidence(kind="precedent", subject=precedent_key(p.fault, p.entity), source="precedent",
                     strength=max(0.0, min(1.0, p.similarity)), refs=[p.incident_id],
                     summary=f"{p.incident_id}: {p.fault} on {p.entity} (similarity {p.similarity:.2f})")
            for p in found if p.incident_id != snapshot.incident_id]


def _change_conflicts(temporal: list[Evidence]) -> list[str]:
    strong = [e for e in temporal if e.supports and e.strength >= STRONG_TEMPORAL]
    subjects = sorted({str(e.subject) for e in strong})
    if len(subjects) < 2:
        return []
    ids = ", ".join(r for e in strong for r in e.refs)
    return [f"[{', '.join(subjects)}] several changes landed shortly before the first symptom ({ids}); "
            "which one triggered it needs a human"]


def _metric_contradictions(all_facts: list[SignalFact], snapshot: ContextSnapshot) -> tuple[list[Evidence], list[str]]:
    items: list[Evidence] = []
    conflicts: list[str] = []
    metrics = snapshot.traffic_baseline.get("services") or {}
    for service in sorted({f.service for f in all_facts if f.service}):
        sigmas = [abs(s["sigma"]) for s in metrics.get(service, {}).values() if s.get("sigma") is not None]
        if sigmas and max(sigmas) < 1.0:
            items.append(Evidence(kind="metric_contradiction", subject=service, source="metrics", supports=False,
                                  strength=0.0, summary=f"{service} is alerting but its metrics stay within 1 sigma "
                                                        "of the 7-day baseline"))
            conflicts.append(f"[{service}] alerts on {service} but its metrics are within 1 sigma of baseline")
    return items, conflicts


def conflict_subjects(conflict: str) -> list[str]:
    """The subjects a conflict line names in its leading "[a, b]"."""
    if conflict.startswith("[") and "]" in conflict:
        return [s.strip() for s in conflict[1:conflict.index("]")].split(",") if s.strip()]
    return []


def _ago(seconds: float) -> str:
    seconds = abs(int(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s"
