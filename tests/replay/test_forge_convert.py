"""benchmarks/forge_convert.py: another FORGE storm converted exactly as the shared one was."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from sre_copilot.domain.types import parse_time

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from forge_convert import convert, trace_alert

GRAPH_TYPES = {"service": "Service", "database": "Database", "cache": "Cache"}


def _epoch_ms(stamp: str) -> int:
    return round(parse_time(stamp).timestamp() * 1000)


def _benchmark_files(scenario: dict[str, Any], truth: dict[str, Any]) -> tuple[
        list[dict[str, str]], dict[str, list[list[Any]]], dict[str, list[list[Any]]], dict[str, Any]]:
    """The benchmark's own files (label rows, metric and trace rows by fault, knowledge graph) as
    they must have been for the shared storm, read back from its alerts, labels and catalog."""
    faults: list[dict[str, str]] = []
    metrics: dict[str, list[list[Any]]] = {}
    traces: dict[str, list[list[Any]]] = {}
    for fault in truth["incidents"]:
        source = fault["source_fault"]
        faults.append({"fault_id": source["fault_id"], "fault_level": source["level"],
                       "fault_entity": fault["entity"], "fault_type": fault["fault"],
                       "fault_st_time": str(_epoch_ms(source["start"]) // 1000),
                       "fault_ed_time": str(_epoch_ms(source["end"]) // 1000)})
        rows_m = metrics.setdefault(source["fault_id"], [])
        rows_t = traces.setdefault(source["fault_id"], [])
        for index in fault["deliveries"]:
            for alert in scenario["deliveries"][index]["body"]["alerts"]:
                labels, at = alert["labels"], str(_epoch_ms(alert["startsAt"]))
                if labels["alertname"] == "TraceLatencyDegraded":
                    rows_t.append([at, labels["client"], labels["server"], labels["span_name"], labels["status_code"]])
                else:
                    entity = labels.get("pod") or labels.get("service") or labels["instance"]
                    rows_m.append([at, entity, labels.get("pod") and labels["node"], labels["metric"],
                                   labels["direction"]])
    nodes: list[dict[str, Any]] = []
    edges: list[dict[str, str]] = []
    for service in scenario["catalog"]["services"]:
        nodes.append({"id": service["name"], "type": GRAPH_TYPES[service["kind"]]})
        edges += [{"source": service["name"], "target": callee, "label": "control_flow"}
                  for callee in service["depends_on"]]
        for pod in service.get("instances", []):
            nodes.append({"id": pod["name"], "type": "Service_Instance"})
            edges += [{"source": service["name"], "target": pod["name"], "label": "has_instance"},
                      {"source": pod["name"], "target": pod["host"], "label": "hosted_on"}]
    nodes += [{"id": host["name"], "type": "Host"} for host in scenario["catalog"]["hosts"]]
    return faults, metrics, traces, {"nodes": nodes, "edges": edges}


@pytest.mark.slow
def test_the_shared_storm_is_rebuilt_exactly_from_its_benchmark_files(shared_dir: Path) -> None:
    # Given the shared FORGE storm, and the benchmark files it was converted from
    path = shared_dir / "forge" / "forge-Online-Boutique-cloudbed-2.json"
    shared = json.loads(path.read_text())
    labels = json.loads(path.with_name(path.stem + ".truth.json").read_text())
    faults, metrics, traces, graph = _benchmark_files(shared, labels)
    # ... with failed spans of a pod to itself and of the tracer beside the slow calls of its first
    # fault (the benchmark's files have both)
    first = faults[0]["fault_id"]
    at, client = traces[first][0][0], traces[first][0][1]
    traces[first] += [[at, client, client, "hipstershop.CartService/GetCart (rpc)", "500"],
                      [at, client, "currencyservice-0", "grpc.hipstershop.CurrencyService/Convert (telemetry)", "PD"]]
    # When they are converted
    scenario, truth = convert("Online-Boutique-cloudbed-2", faults, metrics, traces, graph,
                              "boerste/rca-llm-reasoning@235902c2a846551f121138fd12faffe674bfe40e")
    # Then the scenario and its labels are the shared ones: the same deliveries, alert for alert
    # (fingerprints, times, grouping and order), the same catalog and the same faults
    assert scenario["catalog"] == shared["catalog"]
    assert len(scenario["deliveries"]) == len(shared["deliveries"]) == 1315
    assert scenario["deliveries"] == shared["deliveries"]
    assert truth == labels


def test_slow_and_failed_calls_between_two_pods_become_alerts() -> None:
    # Given trace anomaly rows: a slow call, a failed call, a span to itself and the tracer's own span
    slow = ["1647736507534", "frontend-0", "cartservice-1", "hipstershop.CartService/GetCart (rpc)", "PD"]
    failed = ["1647736507534", "frontend-0", "cartservice-1", "hipstershop.CartService/GetCart (rpc)", "500"]
    to_itself = ["1647736507534", "frontend-0", "frontend-0", "hipstershop.CartService/GetCart (rpc)", "PD"]
    telemetry = ["1647736507534", "frontend-0", "currencyservice-0",
                 "grpc.hipstershop.CurrencyService/Convert (telemetry)", "PD"]
    # When each is converted
    alerts = [trace_alert(row) for row in (slow, failed, to_itself, telemetry)]
    # Then the slow and the failed call are alerts, named by client, server and span; the others none
    assert alerts[2:] == [None, None]
    assert [found and found[1]["labels"]["alertname"] for found in alerts[:2]] == ["TraceLatencyDegraded",
                                                                                    "TraceErrors"]
    assert [found and found[1]["labels"]["server"] for found in alerts[:2]] == ["cartservice-1"] * 2
    assert alerts[0] is not None and alerts[0][1]["startsAt"] == "2022-03-20T00:35:07.534Z"
