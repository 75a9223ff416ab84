"""Scenario-format measures over replay results (docs: ../shared/docs/scenario-format.md, docs/correlation.md).

Definitions used throughout:

- *alert signal*: a result signal whose `status` is `firing` (a missing status counts as firing).
  Duplicates and background alerts are alert signals too: they are notifications a person would
  otherwise have received, which is what noise reduction measures against.
- a signal belongs to the truth incident whose `deliveries` hold its `origin.delivery`; signals of
  noise deliveries, or of deliveries the label does not mention, belong to no incident.
- grouping: two alert signals are a *true pair* when they belong to the same truth incident and a
  *predicted pair* when they carry the same non-null `incident_id`. Precision is 1.0 when nothing
  was paired and recall is 1.0 when nothing should have been.
- noise reduction: `1 - incidents / alert signals`, with `incidents` the result's incident list.

Pair counts come from a contingency table, so scoring is linear in the number of signals.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sre_copilot.domain.catalog import Catalog


def _is_alert(signal: dict[str, Any]) -> bool:
    return (signal.get("status") or "firing") == "firing"


def _delivery(signal: dict[str, Any]) -> Any:
    origin = signal.get("origin") or {}
    delivery = origin.get("delivery")
    return int(delivery) if isinstance(delivery, int | str) and str(delivery).isdigit() else delivery


def truth_incident_of(truth: dict[str, Any]) -> dict[Any, int]:
    """Delivery index -> position of its truth incident."""
    out: dict[Any, int] = {}
    for position, incident in enumerate(truth.get("incidents", [])):
        for delivery in incident.get("deliveries", []):
            out[int(delivery)] = position
    return out


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def pairwise_grouping(truth: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """Pairwise precision, recall and F1 over alert signals, with the counts for micro averages."""
    incident_of = truth_incident_of(truth)
    predicted: Counter[str] = Counter()
    actual: Counter[int] = Counter()
    joint: Counter[tuple[str, int]] = Counter()
    alerts = 0
    for signal in result.get("signals", []):
        if not _is_alert(signal):
            continue
        alerts += 1
        label = incident_of.get(_delivery(signal))
        incident_id = signal.get("incident_id")
        if incident_id:
            predicted[incident_id] += 1
        if label is not None:
            actual[label] += 1
        if incident_id and label is not None:
            joint[(incident_id, label)] += 1
    tp = sum(_pairs(n) for n in joint.values())
    predicted_pairs = sum(_pairs(n) for n in predicted.values())
    true_pairs = sum(_pairs(n) for n in actual.values())
    return _prf(tp, predicted_pairs - tp, true_pairs - tp) | {"alert_signals": alerts}


def _prf(tp: int, fp: int, fn: int) -> dict[str, Any]:
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": fp, "fn": fn}


def alert_signal_count(result: dict[str, Any]) -> int:
    return sum(1 for s in result.get("signals", []) if _is_alert(s))


def noise_reduction(result: dict[str, Any]) -> float:
    """`1 - incidents opened / alert signals`; 0.0 when there were no alert signals."""
    alerts = alert_signal_count(result)
    if alerts == 0:
        return 0.0
    return 1.0 - len(result.get("incidents", [])) / alerts


def noise_opened(truth: dict[str, Any], result: dict[str, Any]) -> int:
    """Noise deliveries (the label's `noise` list) any of whose signals opened or joined an incident."""
    noise = {int(d) for d in truth.get("noise", [])}
    hit = {_delivery(s) for s in result.get("signals", []) if s.get("incident_id") and _delivery(s) in noise}
    return len(hit)


def match_incidents(truth: dict[str, Any], result: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    """Each truth incident with the result incident holding most of its deliveries' signals (or None)."""
    votes_by_delivery: dict[Any, Counter[str]] = {}
    for signal in result.get("signals", []):
        if signal.get("incident_id"):
            votes_by_delivery.setdefault(_delivery(signal), Counter())[signal["incident_id"]] += 1
    incidents = {i["id"]: i for i in result.get("incidents", [])}
    pairs: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
    for label in truth.get("incidents", []):
        votes: Counter[str] = Counter()
        for delivery in label.get("deliveries", []):
            votes.update(votes_by_delivery.get(int(delivery), Counter()))
        best = max(sorted(votes), key=lambda k: votes[k]) if votes else None
        pairs.append((label, incidents.get(best) if best else None))
    return pairs


def names_entity(hypothesis: dict[str, Any], label: dict[str, Any], catalog: Catalog | None) -> bool:
    """Whether a hypothesis names the labelled root cause (an instance of a labelled service counts)."""
    want = label.get("entity")
    if not want:
        return False
    entity = hypothesis.get("entity")
    if entity == want:
        return True
    kind = label.get("entity_kind") or "service"
    if catalog is not None:
        if kind == "host":
            return bool(entity) and catalog.find_host(str(entity)) == want
        if kind == "service":
            owner = hypothesis.get("service") or catalog.find_service(str(entity or ""))
            if not owner and entity:
                found = catalog.find_instance(str(entity))
                owner = found[0] if found else None
            return owner == want
        return False
    return kind == "service" and hypothesis.get("service") == want


def names_service(hypothesis: dict[str, Any], label: dict[str, Any], catalog: Catalog | None) -> bool:
    """Whether a hypothesis names the labelled fault's owning service (any of its instances, or the
    service itself). A fault with no owning service (a host) needs the entity itself."""
    want = label.get("service")
    if not want:
        return names_entity(hypothesis, label, catalog)
    owner = hypothesis.get("service")
    entity = str(hypothesis.get("entity") or "")
    if not owner and catalog is not None and entity:
        owner = catalog.find_service(entity)
        if not owner:
            found = catalog.find_instance(entity)
            owner = found[0] if found else None
    return owner == want or entity == want


def scenario_catalog(scenario: dict[str, Any] | None) -> Catalog | None:
    """The scenario document's own catalog, which maps instances to services (None without one)."""
    return Catalog.model_validate(scenario["catalog"]) if scenario and scenario.get("catalog") else None


def root_cause_accuracy(truth: dict[str, Any], result: dict[str, Any],
                        scenario: dict[str, Any] | None = None) -> dict[str, Any]:
    """Top-1/top-3 accuracy of hypothesis entities, and of change ids where the label names a change.

    A truth incident with no matching result incident, or one without hypotheses, counts as a miss.
    `scenario` (the scenario document) supplies the catalog that maps instances to services.
    """
    catalog = scenario_catalog(scenario)
    counts = Counter[str]()
    for label, incident in match_incidents(truth, result):
        hypotheses = list((incident or {}).get("hypotheses") or [])
        hypotheses.sort(key=lambda h: h.get("rank", 0))
        counts["incidents"] += 1
        hits = [names_entity(h, label, catalog) for h in hypotheses[:3]]
        counts["top1"] += int(bool(hits[:1]) and hits[0])
        counts["top3"] += int(any(hits))
        service_hits = [names_service(h, label, catalog) for h in hypotheses[:3]]
        counts["service_top1"] += int(bool(service_hits[:1]) and service_hits[0])
        counts["service_top3"] += int(any(service_hits))
        if label.get("change_id"):
            counts["changes"] += 1
            changes = [h.get("change_id") for h in hypotheses[:3]]
            counts["change_top1"] += int(bool(changes) and changes[0] == label["change_id"])
            counts["change_top3"] += int(label["change_id"] in changes)
    n, m = counts["incidents"], counts["changes"]
    return {
        "incidents": n, "top1_hits": counts["top1"], "top3_hits": counts["top3"],
        "top1": counts["top1"] / n if n else None, "top3": counts["top3"] / n if n else None,
        "service_top1_hits": counts["service_top1"], "service_top3_hits": counts["service_top3"],
        "service_top1": counts["service_top1"] / n if n else None,
        "service_top3": counts["service_top3"] / n if n else None,
        "changes": m, "change_top1_hits": counts["change_top1"], "change_top3_hits": counts["change_top3"],
        "change_top1": counts["change_top1"] / m if m else None,
        "change_top3": counts["change_top3"] / m if m else None,
    }


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Micro (pooled counts) and macro (mean of per-scenario values) aggregates of evaluation rows.

    A row holds `grouping` (from `pairwise_grouping`), `noise_reduction`, `noise_opened`, `incidents`
    and optionally `root_cause` (from `root_cause_accuracy`).
    """
    tp = sum(r["grouping"]["tp"] for r in rows)
    fp = sum(r["grouping"]["fp"] for r in rows)
    fn = sum(r["grouping"]["fn"] for r in rows)
    alerts = sum(r["grouping"].get("alert_signals", 0) for r in rows)
    incidents = sum(int(r.get("incidents", 0)) for r in rows)
    micro: dict[str, Any] = _prf(tp, fp, fn)
    micro["noise_reduction"] = 1.0 - incidents / alerts if alerts else 0.0
    micro["noise_opened"] = sum(int(r.get("noise_opened", 0)) for r in rows)
    micro["incidents"] = incidents
    micro["alert_signals"] = alerts
    macro: dict[str, Any] = {
        key: _mean([r["grouping"][key] for r in rows]) for key in ("precision", "recall", "f1")
    }
    macro["noise_reduction"] = _mean([r.get("noise_reduction", 0.0) for r in rows])
    causes = [r["root_cause"] for r in rows if r.get("root_cause")]
    if causes:
        n = sum(c["incidents"] for c in causes)
        m = sum(c["changes"] for c in causes)
        for key in ("top1", "top3", "service_top1", "service_top3"):
            micro[key] = sum(c.get(f"{key}_hits", 0) for c in causes) / n if n else None
            macro[key] = _mean([c[key] for c in causes if c.get(key) is not None])
        for key in ("top1", "top3"):
            micro[f"change_{key}"] = sum(c[f"change_{key}_hits"] for c in causes) / m if m else None
            macro[f"change_{key}"] = _mean([c[f"change_{key}"] for c in causes if c[f"change_{key}"] is not None])
    return {"scenarios": len(rows), "micro": micro, "macro": macro}


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None
