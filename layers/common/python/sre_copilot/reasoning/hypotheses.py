"""Hypothesis generation: deterministic generators always run; LLM candidates only add, after grounding.

Generators reason on structure, never on names: which alerting service is deepest in the
dependency graph, which hosts alerting instances share, which changes landed shortly before the
first symptom on something involved, and what kind of change each was.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sre_copilot.domain.catalog import Catalog
from sre_copilot.domain.reasoning import ContextSnapshot, Evidence, EvidencePackage, Hypothesis
from sre_copilot.domain.signal import Signal
from sre_copilot.domain.types import ChangeKind, EntityKind
from sre_copilot.ports.knowledge import HypothesisAssistant
from sre_copilot.reasoning.evidence import sinks
from sre_copilot.reasoning.redact import redact
from sre_copilot.reasoning.support import Graph, SignalFact, explained, facts
from sre_copilot.reasoning.symptoms import FAULT_BY_CHANGE_KIND, FAULTS, LOCAL, SATURATION_LIKE, Symptom

MAX_DETERMINISTIC = 12
MAX_NON_SINK = 3
MAX_LOCALISED = 5
LLM_PRIOR = 0.3


@dataclass
class _Inputs:
    snapshot: ContextSnapshot
    evidence: EvidencePackage
    catalog: Catalog
    facts: list[SignalFact] = field(default_factory=list)
    graph: Graph = field(init=False)

    def __post_init__(self) -> None:
        self.facts = facts(self.snapshot)
        self.graph = Graph(self.snapshot.topology)

    def items(self, kind: str, subject: str | None = None) -> list[Evidence]:
        return [e for e in self.evidence.items if e.kind == kind and (subject is None or e.subject == subject)]

    def coverage(self, entity: str, kind: EntityKind, service: str | None) -> float:
        if not self.facts:
            return 0.0
        return len(explained(entity, kind, service, self.facts, self.graph)) / len(self.facts)

    def alerting(self) -> list[str]:
        return sorted({f.service for f in self.facts if f.service and self.graph.knows(f.service)})

    def change(self, change_id: str) -> dict[str, Any] | None:
        return next((c for c in self.snapshot.recent_changes if c.get("id") == change_id), None)

    def about(self, *subjects: str | None) -> list[Evidence]:
        wanted = {s for s in subjects if s}
        return [e for e in self.evidence.items if e.subject in wanted and e.kind != "precedent"]


def generate_hypotheses(
    *,
    snapshot: ContextSnapshot,
    evidence: EvidencePackage,
    signals: list[Signal],
    catalog: Catalog,
    assistant: HypothesisAssistant | None = None,
    max_llm: int = 10,
) -> list[Hypothesis]:
    ctx = _Inputs(snapshot=snapshot, evidence=evidence, catalog=catalog)
    candidates = [*_host_failures(ctx), *_change_caused(ctx), *_service_faults(ctx), *_common_dependencies(ctx),
                  *_blamed_dependencies(ctx), *_instance_failures(ctx), *_localised(ctx)]
    out = _dedupe(candidates)[:MAX_DETERMINISTIC]
    if assistant is not None and max_llm > 0:
        out += llm_hypotheses(ctx, assistant, out, max_llm)
    return out


# -- deterministic generators ---------------------------------------------------------------------
def _hid(generator: str, entity: str, change_id: str | None, fault: str) -> str:
    digest = hashlib.sha1(f"{generator}|{entity}|{change_id}|{fault}".encode()).hexdigest()[:12]
    return f"hyp-{digest}"


def _make(ctx: _Inputs, *, generator: str, entity: str, kind: EntityKind, service: str | None, fault: str,
          summary: str, prior: float, change_id: str | None = None, extra: Iterable[Evidence] = ()) -> Hypothesis:
    support = [*extra, *ctx.about(entity, service)]
    unique = list({(e.kind, e.subject, e.source, tuple(e.refs)): e for e in support}.values())
    return Hypothesis(id=_hid(generator, entity, change_id, fault), entity=entity, entity_kind=kind, service=service,
                      change_id=change_id, fault=fault, summary=summary[:600], generator=generator,
                      prior=round(max(0.0, min(1.0, prior)), 4), evidence=unique[:12])


def _host_failures(ctx: _Inputs) -> list[Hypothesis]:
    out = []
    for item in ctx.items("host"):
        host = str(item.subject)
        on_host = [f for f in ctx.facts if f.host == host or f.entity == host]
        alarm = any(f.is_host_level for f in on_host)
        services = sorted({f.service for f in on_host if f.service})
        coverage = ctx.coverage(host, EntityKind.HOST, None)
        span = (on_host[-1].at - on_host[0].at).total_seconds() if on_host else 0
        from_instances = sum(1 for f in on_host if not f.is_host_level)
        lead = "a host-level alarm and " if alarm else ""
        out.append(_make(
            ctx, generator="host_failure", entity=host, kind=EntityKind.HOST, service=None, fault="host failure",
            prior=0.55 + 0.3 * coverage + (0.15 if alarm else 0.0),
            summary=f"Host {host} failed: {lead}{from_instances} alert(s) from instances of "
                    f"{', '.join(services) or 'its workloads'} on it, within {int(span // 60)} min.",
            extra=[item],
        ))
    return out


def _change_caused(ctx: _Inputs) -> list[Hypothesis]:
    out = []
    for item in ctx.items("temporal"):
        if not item.supports or not item.refs:
            continue
        change = ctx.change(item.refs[0])
        if change is None:
            continue
        kind = ChangeKind(change["kind"])
        subject = str(change["service"])
        is_host = change.get("relation") == "host"
        entity_kind = EntityKind.HOST if is_host else EntityKind.SERVICE
        service = None if is_host else subject
        coverage = ctx.coverage(subject, entity_kind, service)
        if coverage == 0 and not is_host:
            # A change on a quiet service explains nothing the incident shows.
            continue
        fault = FAULT_BY_CHANGE_KIND[kind]
        version = ""
        if change.get("version"):
            version = f" {change['previous_version']} -> {change['version']}" if change.get("previous_version") \
                else f" {change['version']}"
        when = item.summary.split(" landed ", 1)[-1]
        out.append(_make(
            ctx, generator="change", entity=subject, kind=entity_kind, service=service, fault=fault,
            change_id=change["id"], prior=0.5 + 0.3 * coverage + 0.2 * (item.strength - 0.3) / 0.65,
            summary=f"{fault.capitalize()}: {change['id']} ({kind.value}{version} on {subject}, "
                    f"'{redact(str(change.get('summary') or ''))[:120]}') landed {when}; "
                    f"a fault there explains {round(coverage * 100)}% of the incident's alerts.",
            extra=[item],
        ))
    return out


def _service_fault(ctx: _Inputs, service: str) -> str:
    symptoms = {f.symptom for f in ctx.facts if f.service == service}
    if ctx.graph.managed.get(service):
        return "dependency outage"
    for symptom, fault in ((Symptom.CERTIFICATE, "certificate expiry"), (Symptom.DNS, "dns failure"),
                           (Symptom.QUEUE, "queue backlog")):
        if symptom in symptoms:
            return fault
    titles = " ".join(f.title.lower() for f in ctx.facts if f.service == service)
    if "oom" in titles or "memory" in titles:
        return "memory leak"
    return "saturation"


def _failed_hosts(ctx: _Inputs) -> set[str]:
    """Hosts that explain their instances' alerts better than the instances' services do: a
    host-level alarm, or alerting instances of two or more different services."""
    out = set()
    for item in ctx.items("host"):
        on_host = [f for f in ctx.facts if f.host == item.subject or f.entity == item.subject]
        if any(f.is_host_level for f in on_host) or len({f.service for f in on_host if f.service}) >= 2:
            out.add(str(item.subject))
    return out


def _explained_away(ctx: _Inputs, service: str, failed_hosts: set[str]) -> bool:
    own = [f for f in ctx.facts if f.service == service]
    return bool(own) and all(f.instance and f.symptom in LOCAL and f.host in failed_hosts for f in own)


def _service_faults(ctx: _Inputs) -> list[Hypothesis]:
    failed_hosts = _failed_hosts(ctx)
    alerting = [s for s in ctx.alerting() if not _explained_away(ctx, s, failed_hosts)]
    deepest = sinks(alerting, ctx.graph)
    out = []
    ranked = sorted(alerting, key=lambda s: (s not in deepest, -ctx.coverage(s, EntityKind.SERVICE, s), s))
    non_sink = 0
    for service in ranked:
        is_sink = service in deepest
        if not is_sink:
            non_sink += 1
            if non_sink > MAX_NON_SINK:
                continue
        coverage = ctx.coverage(service, EntityKind.SERVICE, service)
        fault = _service_fault(ctx, service)
        own = [f for f in ctx.facts if f.service == service]
        callers = sorted({f.service for f in ctx.facts if f.service and f.service != service
                          and f.service in ctx.graph.upstream(service)})
        what = ", ".join(sorted({f.symptom.value.replace("_", " ") for f in own})) or "alerts"
        because = (f"; {', '.join(callers)} {'depends' if len(callers) == 1 else 'depend'} on it and "
                   f"{'alerts' if len(callers) == 1 else 'alert'} too" if callers else "")
        shape = "the deepest alerting dependency" if is_sink and callers else (
            "alerting on its own" if is_sink else "alerting, but one of its dependencies alerts as well")
        out.append(_make(
            ctx, generator="dependency" if fault == "dependency outage" else "saturation", entity=service,
            kind=EntityKind.SERVICE, service=service, fault=fault,
            prior=(0.45 + 0.4 * coverage) if is_sink else (0.15 + 0.3 * coverage),
            summary=f"{fault.capitalize()} of {service} (symptoms: {what}), {shape}{because}; "
                    "no change on it explains the timing.",
        ))
    return out


def _common_dependencies(ctx: _Inputs) -> list[Hypothesis]:
    out = []
    for item in ctx.items("common_dependency"):
        dep = str(item.subject)
        coverage = ctx.coverage(dep, EntityKind.SERVICE, dep)
        if coverage == 0:
            continue
        out.append(_make(
            ctx, generator="dependency", entity=dep, kind=EntityKind.SERVICE, service=dep, fault="dependency outage",
            prior=0.3 + 0.3 * coverage, extra=[item],
            summary=f"Dependency outage of {dep}: {item.summary}; a shared failing dependency explains "
                    "why unrelated callers alert together.",
        ))
    return out


def _blamed_dependencies(ctx: _Inputs) -> list[Hypothesis]:
    """A deepest alerting service that itself reports upstream errors points below itself: propose
    its quiet direct dependencies (datastores first), which have no alarm of their own."""
    alerting = ctx.alerting()
    out = []
    for service in sinks(alerting, ctx.graph):
        if not any(f.service == service and f.symptom is Symptom.UPSTREAM for f in ctx.facts):
            continue
        deps = [d for d in ctx.graph.deps.get(service, []) if d not in alerting]
        deps.sort(key=lambda d: (not ctx.graph.managed.get(d, False), d))
        for dep in deps[:2]:
            coverage = ctx.coverage(dep, EntityKind.SERVICE, dep)
            out.append(_make(
                ctx, generator="dependency", entity=dep, kind=EntityKind.SERVICE, service=dep, fault="dependency outage",
                prior=0.3 + 0.2 * coverage,
                summary=f"Dependency outage of {dep}: {service} reports upstream errors and depends on {dep}, "
                        "which has no alarm of its own.",
            ))
    return out


def _instance_failures(ctx: _Inputs) -> list[Hypothesis]:
    host_candidates = {str(e.subject) for e in ctx.items("host")}
    out = []
    for fact in ctx.facts:
        if not fact.instance or fact.symptom not in LOCAL or fact.host in host_candidates or not fact.service:
            continue
        svc = ctx.catalog.service(fact.service)
        if svc is None or len(svc.instances) < 2:
            continue
        crash = fact.symptom in SATURATION_LIKE
        fault = "memory leak" if "oom" in fact.title.lower() else "instance failure"
        out.append(_make(
            ctx, generator="instance", entity=fact.instance, kind=EntityKind.INSTANCE, service=fact.service,
            fault=fault, prior=0.35,
            summary=f"Instance {fact.instance} of {fact.service} is {'crash-looping' if crash else 'unhealthy'} "
                    f"while its other {len(svc.instances) - 1} replica(s) are not alerting.",
        ))
    return out


def _localised(ctx: _Inputs) -> list[Hypothesis]:
    """The anomaly ranking's suspects (evidence kind `localisation`): the most specific entity the
    alerts support (instance, host or service), its owning service and the fault class its anomalous
    metrics belong to (CPU, memory, disk I/O, network, latency; metric and direction)."""
    out = []
    for item in ctx.items("localisation")[:MAX_LOCALISED]:
        kind_value, service, fault = [*item.refs, "", "", ""][:3]
        kind = EntityKind(kind_value) if kind_value in {k.value for k in EntityKind} else EntityKind.SERVICE
        out.append(_make(
            ctx, generator="localisation", entity=str(item.subject), kind=kind, service=service or None,
            fault=fault or "anomaly", prior=0.3 + 0.6 * item.strength,
            summary=f"Anomaly ranking (score {item.strength:.2f} of the best): {item.summary}",
        ))
    return out


def _dedupe(candidates: list[Hypothesis]) -> list[Hypothesis]:
    best: dict[tuple[str, str | None], Hypothesis] = {}
    for h in candidates:
        key = (h.entity, h.change_id)
        if key not in best or h.prior > best[key].prior:
            best[key] = h
    return sorted(best.values(), key=lambda h: (-h.prior, h.entity, h.change_id or ""))


# -- LLM candidates -------------------------------------------------------------------------------
_INJECTION = re.compile(
    r"ignore (all |any )?(previous|prior|above)|disregard|system prompt|you are now|new instructions|"
    r"\bexecute\b|run (this|the following)|\bcurl\b|\bwget\b|rm -rf|https?://|<\s*/?\s*(system|instructions)",
    re.IGNORECASE,
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def llm_context(ctx: _Inputs, deterministic: list[Hypothesis], max_llm: int) -> dict[str, Any]:
    """What the assistant sees. Alert and change text is redacted and marked untrusted; the allowed
    lists tell it what grounding will accept (anything else is dropped anyway)."""
    allowed = _allowed(ctx)
    return {
        "incident_id": ctx.snapshot.incident_id,
        "catalog": ctx.catalog.model_dump(mode="json", exclude_none=True),
        "precedents": [e.summary for e in ctx.items("precedent")][:10],
        "untrusted_signals": [{"source": f.source, "severity": f.severity.value, "at": f.at.isoformat(),
                               "title": redact(f.title)[:200], "service": f.service, "entity": f.entity,
                               "host": f.host, "symptom": f.symptom.value} for f in ctx.facts][:60],
        "changes": [{"id": c["id"], "service": c["service"], "kind": c["kind"], "at": c["at"],
                     "summary": redact(str(c.get("summary") or ""))[:200], "relation": c.get("relation"),
                     "seconds_before_first_symptom": c.get("lag_s"), "cosmetic": c.get("cosmetic")}
                    for c in ctx.snapshot.recent_changes][:40],
        "evidence": [e.summary for e in ctx.evidence.items if e.kind != "precedent"][:60],
        "conflicts": ctx.evidence.conflicts,
        "deterministic_hypotheses": [{"entity": h.entity, "entity_kind": h.entity_kind.value, "fault": h.fault,
                                      "change_id": h.change_id} for h in deterministic],
        "allowed_entities": sorted(allowed["entities"]),
        "allowed_change_ids": sorted(allowed["changes"]),
        "allowed_faults": list(FAULTS),
        "max_hypotheses": max_llm,
    }


def _allowed(ctx: _Inputs) -> dict[str, set[str]]:
    topo = ctx.snapshot.topology
    entities: set[str] = set(topo.get("involved") or [])
    entities |= set((topo.get("hosts") or {}).keys())
    for svc in (topo.get("services") or {}).values():
        entities |= {i["name"] for i in svc.get("instances", []) if i.get("alerting")}
    changes = {str(c["id"]) for c in ctx.snapshot.recent_changes if c.get("relation") in ("alerting", "dependency", "host")}
    entities |= {str(c["service"]) for c in ctx.snapshot.recent_changes if str(c["id"]) in changes}
    return {"entities": entities, "changes": changes}


def llm_hypotheses(ctx: _Inputs, assistant: HypothesisAssistant, deterministic: list[Hypothesis],
                   max_llm: int) -> list[Hypothesis]:
    try:
        raw = assistant.propose(llm_context(ctx, deterministic, max_llm))
    except Exception:  # the assistant is optional; the deterministic set stands on its own
        return []
    if not isinstance(raw, list):
        return []
    taken = {(h.entity, h.change_id) for h in deterministic}
    out: list[Hypothesis] = []
    for candidate in raw:
        grounded = ground(candidate, ctx)
        if isinstance(grounded, str) or (grounded.entity, grounded.change_id) in taken:
            continue
        taken.add((grounded.entity, grounded.change_id))
        out.append(grounded)
        if len(out) >= max_llm:
            break
    return out


def ground(candidate: Any, ctx: _Inputs) -> Hypothesis | str:
    """Validate one untrusted LLM candidate; return the Hypothesis or the reason it was dropped.

    Grounding: the entity must be a catalog entity inside this incident's neighbourhood, the change
    (if any) one of the incident's candidate changes on that same entity, the fault one of ours, and
    the summary free of instructions or links (alert text can carry prompt injections)."""
    if not isinstance(candidate, dict):
        return "not an object"
    entity, kind_raw, fault = candidate.get("entity"), candidate.get("entity_kind"), candidate.get("fault")
    summary, change_id = candidate.get("summary"), candidate.get("change_id")
    if not isinstance(entity, str) or not entity or len(entity) > 256:
        return "entity missing"
    if kind_raw not in {k.value for k in EntityKind}:
        return f"entity_kind {kind_raw!r} is not service/instance/host"
    if not isinstance(fault, str) or fault.strip().lower() not in FAULTS:
        return f"fault {fault!r} is not a known fault class"
    if not isinstance(summary, str) or not summary.strip():
        return "summary missing"
    if change_id is not None and not isinstance(change_id, str):
        return "change_id must be a string"
    kind = EntityKind(kind_raw)
    catalog = ctx.catalog
    service: str | None
    if kind is EntityKind.SERVICE:
        name = catalog.find_service(entity)
        service = name
    elif kind is EntityKind.INSTANCE:
        found = catalog.find_instance(entity)
        name, service = (found[2], found[0]) if found else (None, None)
    else:
        name, service = catalog.find_host(entity), None
    if name is None:
        return f"{entity!r} is not in the catalog"
    allowed = _allowed(ctx)
    if name not in allowed["entities"] and (service is None or service not in allowed["entities"]):
        return f"{name!r} is not involved in this incident"
    fault = fault.strip().lower()
    if change_id:
        change = ctx.change(change_id)
        if change is None or change_id not in allowed["changes"]:
            return f"change {change_id!r} is not a candidate change of this incident"
        if str(change["service"]) not in (name, service):
            return f"change {change_id!r} is on {change['service']}, not {name}"
    elif fault in FAULT_BY_CHANGE_KIND.values():
        return f"fault {fault!r} needs a change_id"
    text = _CONTROL.sub(" ", summary).strip()
    if _INJECTION.search(text):
        return "summary carries instructions or links"
    return Hypothesis(id=_hid("llm", name, change_id, fault), entity=name, entity_kind=kind, service=service,
                      change_id=change_id or None, fault=fault, summary=redact(text)[:500], generator="llm",
                      prior=LLM_PRIOR, evidence=ctx.about(name, service)[:12])
