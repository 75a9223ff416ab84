"""Build a FORGE storm (scenario@1 plus its labels) from the public benchmark's own files.

`../shared/forge/` holds one storm of the FORGE root-cause benchmark (Online Boutique, cloudbed 2).
Tuning on one storm and scoring on the same storm says nothing about the next one, so this tool
converts any other storm of that benchmark the same way, to score on data nothing was tuned on:

    # a copy of github.com/boerste/rca-llm-reasoning (MIT), a work tree or a bare git directory
    .venv/bin/python benchmarks/forge_convert.py RCA_LLM_REASONING Online-Boutique-cloudbed-1 /tmp/cb1
    .venv/bin/sre-copilot eval --backend memory /tmp/cb1

The conversion is the one the shared storm was made with: given cloudbed 2's files it writes the
shared scenario and labels exactly (tests/replay/test_forge_convert.py rebuilds it from the shared
storm's own alerts). Per fault, in time order:
- each metric anomaly is one Alertmanager alert (`MetricAnomaly` on a pod, `NodeMetricAnomaly` on a
  node, `ServiceMetricAnomaly` on a service), each slow call between two pods one
  `TraceLatencyDegraded` alert, each failed one (an HTTP status as its mark) one `TraceErrors`
  alert; a pod's spans to itself and OpenTelemetry's own `(telemetry)` spans are not calls
  between services and are left out (in both Online Boutique storms, every failed span is one of
  those);
- alerts are grouped into one delivery per alert kind (metric or trace) and minute, sent when the
  last of them starts, with Alertmanager's fingerprint (Prometheus' FNV-1a over the labels).
The output is evaluation data: keep it out of anything the project ships.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import subprocess
import urllib.parse
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sre_copilot.domain.types import format_time, parse_time

FNV_OFFSET = 14695981039346656037
FNV_PRIME = 1099511628211
LABEL_SEPARATOR = b"\xff"
METRIC_KINDS = {"Service": "service", "Database": "database", "Cache": "cache"}
DEPENDS = ("control_flow", "data_flow")
FAULT_LEVELS = {"pod": "instance", "node": "host", "service": "service"}
METRIC_GROUP = '{}/{alertname=~"MetricAnomaly|NodeMetricAnomaly|ServiceMetricAnomaly"}:{}'
TRACE_GROUP = '{}/{alertname=~"TraceLatencyDegraded|TraceErrors"}:{}'
NAMESPACE = "hipstershop"
SLOW = "PD"  # the trace detector's mark for a slow span ("performance degradation")

Json = dict[str, Any]


def prometheus_fingerprint(labels: Mapping[str, str]) -> str:
    """Alertmanager's alert fingerprint: FNV-1a 64 over each sorted label name and value."""
    value = FNV_OFFSET
    for name in sorted(labels):
        for byte in name.encode() + LABEL_SEPARATOR + labels[name].encode() + LABEL_SEPARATOR:
            value = ((value ^ byte) * FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return f"{value:016x}"


def catalog_from_graph(graph: Json) -> Json:
    """The scenario catalog from the system's knowledge graph: services, caches and databases with
    what they call (`control_flow` and `data_flow` edges, caller to callee) and their pods' nodes."""
    edges = graph["edges"]
    host_of = {e["source"]: e["target"] for e in edges if e["label"] == "hosted_on"}
    services: list[Json] = []
    for node in graph["nodes"]:
        kind = METRIC_KINDS.get(node["type"])
        if kind is None:
            continue
        name = node["id"]
        service: Json = {"name": name,
                         "depends_on": [e["target"] for e in edges if e["source"] == name and e["label"] in DEPENDS],
                         "kind": kind, "runtime": {"kind": "kubernetes", "namespace": NAMESPACE}}
        pods = [e["target"] for e in edges if e["source"] == name and e["label"] == "has_instance"]
        if pods:
            service["instances"] = [{"name": pod, "host": host_of[pod]} for pod in pods]
        services.append(service)
    hosts = [{"name": n["id"], "kind": "node"} for n in graph["nodes"] if n["type"] == "Host"]
    return {"services": services, "hosts": hosts}


def _prometheus_url(selector: Mapping[str, str]) -> str:
    expr = "{" + ",".join(f'{k}="{v}"' for k, v in selector.items()) + "}"
    return "http://prometheus:9090/graph?g0.expr=" + urllib.parse.quote(expr, safe="") + "&g0.tab=1"


def metric_alert(row: Sequence[Any], services: set[str]) -> tuple[int, Json]:
    """One metric anomaly row `[epoch ms, entity, node or null, metric, up|down]` as an alert."""
    at, entity, node, metric, direction = int(row[0]), row[1], row[2], row[3], row[4]
    if node is not None:
        labels = {"alertname": "MetricAnomaly", "metric": metric, "direction": direction, "container": entity,
                  "pod": entity, "node": node, "namespace": NAMESPACE, "severity": "warning"}
        summary = f"{metric} {direction} on container {entity} (node {node})"
        selector = {"__name__": metric, "namespace": NAMESPACE, "container": entity}
    elif entity in services:
        labels = {"alertname": "ServiceMetricAnomaly", "metric": metric, "direction": direction, "service": entity,
                  "severity": "warning"}
        summary = f"{metric} {direction} on service {entity}"
        selector = {"__name__": metric, "service": entity}
    else:
        labels = {"alertname": "NodeMetricAnomaly", "metric": metric, "direction": direction, "node": entity,
                  "instance": entity, "severity": "warning"}
        summary = f"{metric} {direction} on node {entity}"
        selector = {"__name__": metric, "instance": entity}
    return at, _alert(at, labels, summary, _prometheus_url(selector))


def trace_alert(row: Sequence[Any]) -> tuple[int, Json] | None:
    """One trace anomaly row `[epoch ms, client, server, span, mark]`: a slow (`PD`) or failed (an
    HTTP status) call; None for what is not a call between two pods (a span to itself, the
    tracer's own spans)."""
    at, client, server, span, mark = int(row[0]), row[1], row[2], row[3], row[4]
    if client == server or span.endswith("(telemetry)"):
        return None
    name, what = ("TraceLatencyDegraded", "latency degraded") if mark == SLOW else ("TraceErrors", f"{mark} errors")
    labels = {"alertname": name, "client": client, "server": server, "span_name": span,
              "status_code": mark, "severity": "warning"}
    url = ("http://jaeger-query:16686/search?service=" + urllib.parse.quote_plus(client) + "&operation="
           + urllib.parse.quote_plus(span))
    return at, _alert(at, labels, f"{what} on {client} -> {server} {span}", url)


def _alert(at: int, labels: Json, summary: str, url: str) -> Json:
    return {"status": "firing", "labels": labels, "annotations": {"summary": summary},
            "startsAt": format_time(parse_time(at)), "endsAt": "0001-01-01T00:00:00Z", "generatorURL": url,
            "fingerprint": prometheus_fingerprint(labels)}


def _delivery(alerts: list[tuple[int, Json]], group_key: str) -> tuple[int, Json]:
    alerts.sort(key=lambda entry: entry[0])
    body_alerts = [alert for _, alert in alerts]
    first = body_alerts[0]["labels"]
    common = {k: v for k, v in first.items() if all(a["labels"].get(k) == v for a in body_alerts)}
    summaries = {a["annotations"]["summary"] for a in body_alerts}
    body = {"receiver": "sre-copilot", "status": "firing", "alerts": body_alerts, "groupLabels": {},
            "commonLabels": common,
            "commonAnnotations": {"summary": summaries.pop()} if len(summaries) == 1 else {},
            "externalURL": "http://alertmanager:9093", "version": "4", "groupKey": group_key,
            "truncatedAlerts": 0}
    last = alerts[-1][0]
    return last, {"at": format_time(parse_time(last)), "source": "alertmanager", "headers": {}, "body": body}


def convert(system: str, faults: Sequence[Mapping[str, str]], metrics: Mapping[str, list[list[Any]]],
            traces: Mapping[str, list[list[Any]]], graph: Json, source: str) -> tuple[Json, Json]:
    """(scenario, labels) of one storm: `faults` are label.csv's rows, `metrics` and `traces` the
    anomaly rows by fault id, `graph` the knowledge graph; `source` names where they came from."""
    catalog = catalog_from_graph(graph)
    services = {s["name"] for s in catalog["services"]}
    owner = {pod["name"]: s["name"] for s in catalog["services"] for pod in s.get("instances", [])}
    deliveries: list[Json] = []
    labels: list[Json] = []
    skipped: list[str] = []
    for fault in faults:
        fault_id = fault["fault_id"]
        groups: dict[tuple[str, int], list[tuple[int, Json]]] = defaultdict(list)
        for row in metrics.get(fault_id, []):
            at, alert = metric_alert(row, services)
            groups[(METRIC_GROUP, at // 60_000)].append((at, alert))
        for row in traces.get(fault_id, []):
            found = trace_alert(row)
            if found is not None:
                groups[(TRACE_GROUP, found[0] // 60_000)].append(found)
        if not groups:
            skipped.append(fault_id)
            continue
        first = len(deliveries)
        sent = sorted((_delivery(alerts, key) for (key, _), alerts in groups.items()), key=lambda d: d[0])
        deliveries.extend(delivery for _, delivery in sent)
        level, entity = fault["fault_level"], fault["fault_entity"]
        service = None if level == "node" else entity if level == "service" else owner[entity]
        labels.append({"entity": entity, "entity_kind": FAULT_LEVELS[level], "service": service, "change_id": None,
                       "fault": fault["fault_type"], "deliveries": list(range(first, len(deliveries))),
                       "source_fault": {"fault_id": fault_id, "level": level,
                                        "start": format_time(parse_time(int(fault["fault_st_time"]) * 1000)),
                                        "end": format_time(parse_time(int(fault["fault_ed_time"]) * 1000))}})
    name = f"forge-{system}"
    alerts = sum(len(d["body"]["alerts"]) for d in deliveries)
    scenario = {"format": "sre-copilot/scenario@1", "name": name,
                "description": f"Converted from {source}, system {system}: {len(labels)} injected faults as "
                               f"{len(deliveries)} Alertmanager deliveries ({alerts} alerts), grouped per fault, "
                               "alert kind and minute; no change events exist in this data.",
                "catalog": catalog, "changes": [], "deliveries": deliveries}
    truth = {"scenario": name, "incidents": labels, "noise": [],
             "source": f"{source} data/fault-alerts/{system}/label.csv", "skipped_faults_without_alerts": skipped}
    return scenario, truth


class BenchmarkFiles:
    """The benchmark's files, from a work tree or (as `fetch` brings it) a bare git directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.bare = not (root / "data").is_dir()

    def read(self, path: str) -> bytes:
        if not self.bare:
            return (self.root / path).read_bytes()
        return subprocess.run(["git", "--git-dir", str(self.root), "show", f"HEAD:{path}"],
                              capture_output=True, check=True).stdout

    def revision(self) -> str:
        git = ["git", "--git-dir", str(self.root)] if self.bare else ["git", "-C", str(self.root)]
        found = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True)
        return found.stdout.strip() if found.returncode == 0 else "unknown revision"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("benchmark", type=Path, help="a copy of github.com/boerste/rca-llm-reasoning")
    parser.add_argument("system", help="e.g. Online-Boutique-cloudbed-1")
    parser.add_argument("out", type=Path, help="directory to write the scenario and its labels to")
    args = parser.parse_args()
    files = BenchmarkFiles(args.benchmark)
    alerts = f"data/fault-alerts/{args.system}"
    faults = list(csv.DictReader(io.StringIO(files.read(f"{alerts}/label.csv").decode())))
    graph = json.loads(files.read(f"data/system-knowledge-graphs/original/{args.system}/{args.system}-KG.json"))
    scenario, truth = convert(args.system, faults, json.loads(files.read(f"{alerts}/metric/metrics.json")),
                              json.loads(files.read(f"{alerts}/trace/traces.json")), graph,
                              f"boerste/rca-llm-reasoning@{files.revision()}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{scenario['name']}.json").write_text(json.dumps(scenario))
    (args.out / f"{scenario['name']}.truth.json").write_text(json.dumps(truth))
    alerts_n = sum(len(d["body"]["alerts"]) for d in scenario["deliveries"])
    print(f"{scenario['name']}: {len(truth['incidents'])} faults, {len(scenario['deliveries'])} deliveries, "
          f"{alerts_n} alerts -> {args.out}")


if __name__ == "__main__":
    main()
