"""Cost model: dollars per million alerts and per incident workflow, from AWS list prices and the
template's real settings, written to docs/cost.md and checked against it.

Run: .venv/bin/python benchmarks/check_cost_model.py          # check docs/cost.md is current
     .venv/bin/python benchmarks/check_cost_model.py --write  # regenerate docs/cost.md

Where each number comes from:
- The synthesized template (cdk.json's context, bundling off): every function's memory size and
  architecture, the SQS batch size of the correlate event sources, whether the OpenSearch
  collection has standby replicas, DynamoDB's billing mode, the count of alarms and dashboards.
- One replay of a workload (WORKLOADS: a slice of the real FORGE storm by default) on the embedded
  backend, instrumented: every AWS request the functions and the local event-source pollers make (botocore
  `_make_api_call`, by service and operation; DynamoDB in request units by the size of each item
  written or read, see CapacityMeter), every Lambda invocation per function, the state
  transitions of each standard workflow (`StateEntered` events of the execution history), and the
  Express analysis passes it ran (their states, as the local history places them under `Analyse`).
- Prices: AWS list prices, us-east-1, arm64, on-demand, no free tier (PRICES below).
- Assumptions, stated in the document: billed duration per invocation and X-Ray sampling.

Exit status 1 when docs/cost.md no longer matches what this computes (rerun with --write and
review the diff), or when the variable cost is above $10 per million alerts before LLM cost.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
DOC = REPO / "docs" / "cost.md"
BUDGET_PER_MILLION_ALERTS = 10.0

# AWS list prices, us-east-1 (USD), checked 2026-12: first pricing tier, no free tier.
PRICES = {
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second_arm64": 0.0000133334,
    "http_api_request": 1.00 / 1e6,
    "sqs_request": 0.40 / 1e6,
    "dynamodb_wru": 0.625 / 1e6,
    "dynamodb_rru": 0.125 / 1e6,
    "s3_put": 0.005 / 1e3,
    "s3_get": 0.0004 / 1e3,
    "sfn_transition": 0.025 / 1e3,
    "sfn_express_request": 1.00 / 1e6,
    "sfn_express_gb_second": 0.00001667,  # billed in 64 MB steps
    "eventbridge_event": 1.00 / 1e6,
    "firehose_gb": 0.029,  # Direct PUT ingestion, first 500 TB a month; each record rounded up to 5 KB
    "cloudwatch_logs_gb": 0.50,
    "xray_trace": 5.00 / 1e6,
    # GetMetricData bills each metric a request asks for; ListMetrics, each request.
    "cloudwatch_metric_read": 0.01 / 1e3,
    "aoss_ocu_hour": 0.24,
    "alarm_month": 0.10,
    "dashboard_month": 3.00,
    "secret_month": 0.40,
    "kms_key_month": 1.00,
    "custom_metric_month": 0.30,
}
HOURS_PER_MONTH = 730
# Assumptions (not measurable without an AWS account): billed milliseconds per invocation. The
# embedded backend runs the same handlers in-process much faster than Lambda's network round
# trips; these are deliberately pessimistic for the per-step work the handlers do.
BILLED_MS = {"ingest": 120, "correlate": 250, "generate_hypotheses": 800, "document": 600,
             "approval_sweeper": 200}
DEFAULT_BILLED_MS = 300
XRAY_SAMPLED_SHARE = 0.05  # X-Ray's default rule beyond its 1 request/s reservoir
# The workloads (--workload): a slice of the real FORGE storm (the default, and docs/cost.md's), or
# `make bench`'s generated storm; each cut to replay in a minute or two of CPU. Alerts per
# delivery, per correlate batch and per incident are measured on it, not assumed.
FORGE = REPO.parent / "shared" / "forge" / "forge-Online-Boutique-cloudbed-2.json"
FORGE_DELIVERIES = 150
STORM_ALERTS = 300
OCUS_WITH_STANDBY, OCUS_WITHOUT_STANDBY = 2.0, 1.0  # OpenSearch Serverless minimum per account
EMF_METRIC_NAMES = 20  # distinct EMF metric names (telemetry + existing counters), one dimension set


POLLER_OPERATIONS = ("ReceiveMessage", "DeleteMessage", "DeleteMessageBatch", "ChangeMessageVisibility",
                     "ChangeMessageVisibilityBatch")
# START, END and REPORT lines Lambda writes for every invocation.
PLATFORM_LOG_BYTES = 350
EXPRESS_MEMORY_MB = 64  # Express bills duration in 64 MB steps; a pass's state data is far below it
FAILURE_EVENTS = ("Failed", "TimedOut", "Aborted")  # the history events log level ERROR keeps
EXPRESS_LOG_EVENT_BYTES = 400  # one logged state event of the analysis pass, without its state data
# Per alert: the webhook's ingestion and its correlation. PagerDuty sync (a lifecycle transition's
# EventBridge target) and callbacks (a person's button or keypress) run per incident event, so they
# are charged with the incident's workflow, not multiplied by the alerts of the demo's one incident.
EDGE = ("ingest", "correlate")
FIREHOSE_RECORD_UNIT = 5 * 1024
SWEEPER = "approval_sweeper"


SQS_BILLED_CHUNK = 64 * 1024
WRITE_OPERATIONS = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")


def item_size(item: dict[str, Any] | None) -> int:
    """Bytes of one item as DynamoDB bills it: attribute names plus values (the memory backend's
    own rule, which refuses what DynamoDB would refuse)."""
    from sre_copilot.adapters.memory.wire import item_size as wire_item_size

    return wire_item_size(item or {})


def _units(size: int, unit: int) -> int:
    return max(1, -(-size // unit))


class CapacityMeter:
    """Request units of DynamoDB calls by item size, as on-demand bills them: a write is 1 WRU per
    started KB of the larger of the item before and after it (a failed condition check too), a
    transactional write twice that; a read is 1 RRU per started 4 KB (a Query per 4 KB of all the
    items it returns), half when eventually consistent, twice in a transaction. The item before a
    write is read from the local table with an uncounted GetItem."""

    def __init__(self, call: Callable[..., Any]) -> None:
        self.call = call
        self.key_names: dict[str, list[str]] = {}

    def _key(self, client: Any, table: str, item: dict[str, Any]) -> dict[str, Any]:
        if table not in self.key_names:
            schema = self.call(client, "DescribeTable", {"TableName": table})["Table"]["KeySchema"]
            self.key_names[table] = [k["AttributeName"] for k in schema]
        return {k: item[k] for k in self.key_names[table] if k in item}

    def _stored_size(self, client: Any, table: str, key: dict[str, Any]) -> int:
        return item_size(self.call(client, "GetItem", {"TableName": table, "Key": key}).get("Item"))

    def before_write(self, client: Any, operation: str, params: dict[str, Any]) -> list[tuple[int, int]]:
        """(size of the new item, 0 until an update is applied; size of the stored item) per item."""
        def one(table: str, request: dict[str, Any]) -> tuple[int, int]:
            new = item_size(request["Item"]) if "Item" in request else 0
            key = request.get("Key") or self._key(client, table, request.get("Item", {}))
            return new, self._stored_size(client, table, key)

        if operation in ("PutItem", "UpdateItem", "DeleteItem"):
            sizes = [one(params["TableName"], params)]
        elif operation == "BatchWriteItem":
            sizes = [one(table, r.get("PutRequest") or r.get("DeleteRequest") or {})
                     for table, requests in params.get("RequestItems", {}).items() for r in requests]
        else:
            sizes = [one(body["TableName"], body) for entry in params.get("TransactItems", [])
                     for body in entry.values() if "TableName" in body and "ConditionCheck" not in entry]
        return sizes

    def write_units(self, client: Any, operation: str, params: dict[str, Any], before: list[tuple[int, int]]) -> int:
        """Units of a write whose stored sizes `before_write` took (call it after the write)."""
        if operation == "UpdateItem":
            before = [(self._stored_size(client, params["TableName"], params["Key"]), before[0][1])]
        units = sum(_units(max(new, old), 1024) for new, old in before)
        return units * (2 if operation == "TransactWriteItems" else 1)

    def read_units(self, client: Any, operation: str, params: dict[str, Any], response: dict[str, Any]) -> float:
        """A read with a `ProjectionExpression` bills the whole items it reads, not what it returns:
        those are read again without it, uncounted."""
        def rounded(size: int, consistent: bool) -> float:
            return _units(size, 4096) * (1.0 if consistent else 0.5)

        if "ProjectionExpression" in params and operation in ("GetItem", "Query", "Scan"):
            whole = {k: v for k, v in params.items() if k != "ProjectionExpression"}
            names = whole.get("ExpressionAttributeNames")
            if names:  # names only the projection used would be refused as unused
                used = " ".join(str(whole.get(k, "")) for k in (
                    "KeyConditionExpression", "FilterExpression", "ConditionExpression"))
                kept = {k: v for k, v in names.items() if k in used}
                if kept:
                    whole["ExpressionAttributeNames"] = kept
                else:
                    whole.pop("ExpressionAttributeNames")
            response = self.call(client, operation, whole)
        if operation == "GetItem":
            return rounded(item_size(response.get("Item")), bool(params.get("ConsistentRead")))
        if operation in ("Query", "Scan"):
            return rounded(sum(item_size(i) for i in response.get("Items", [])), bool(params.get("ConsistentRead")))
        if operation == "BatchGetItem":
            consistent = {t: bool(r.get("ConsistentRead")) for t, r in params.get("RequestItems", {}).items()}
            return sum(rounded(item_size(i), consistent.get(t, False))
                       for t, items in response.get("Responses", {}).items() for i in items)
        if operation == "TransactGetItems":
            return sum(2 * _units(item_size(r.get("Item")), 4096) for r in response.get("Responses", []))
        return 0.0


@dataclass
class Measured:
    alerts: int = 0  # alerts in the deliveries (an Alertmanager delivery carries a group of them)
    deliveries: int = 0  # HTTP requests: alert deliveries and change events (charged to the alerts)
    changes: int = 0
    incidents: int = 0
    correlate_batches: Counter[int] = field(default_factory=Counter)  # records per correlate invocation
    invocations: Counter[str] = field(default_factory=Counter)
    # (function or "poller", "service:Operation") -> requests; DynamoDB in capacity units
    requests: Counter[tuple[str, str]] = field(default_factory=Counter)
    dynamodb_wru: Counter[str] = field(default_factory=Counter)
    dynamodb_rru: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    log_bytes: Counter[str] = field(default_factory=Counter)
    firehose_bytes: Counter[str] = field(default_factory=Counter)  # billed: records rounded up to 5 KB
    transitions: list[int] = field(default_factory=list)  # standard transitions, per incident workflow
    paging_transitions: int = 0  # of the paging workflow (statemachines/escalation.asl.json), all incidents
    express_runs: int = 0  # Express child executions (analysis passes)
    express_billed_ms: float = 0.0  # their duration: the billed time of the Lambda steps they ran
    express_log_events: int = 0  # the events an Express run logs: one per state entered and exited
    # The standard workflow's events, with their state data, as each log level would log them.
    standard_log_bytes: Counter[str] = field(default_factory=Counter)



def template_settings() -> dict[str, Any]:
    from infra_cdk.app import BUNDLING_STACKS, cdk_json_context, create_app

    context = cdk_json_context(REPO) | {BUNDLING_STACKS: [], "@aws-cdk/core:validateAgainstDefaultRules": False}
    built = create_app(context)
    template = built.app.synth().get_stack_artifact(built.stack.artifact_id).template
    resources = template["Resources"]
    names = {lid: r for lid, r in resources.items()}
    memory: dict[str, int] = {}
    architectures: set[str] = set()
    for name, sre_function in built.stack.functions.items():
        props = names[built.stack.get_logical_id(sre_function.function.node.default_child)]["Properties"]
        memory[name] = int(props["MemorySize"])
        architectures.update(props["Architectures"])
    # P1's queue is the one that delays delivery; its event source mapping has P1's batching window.
    delayed = {lid for lid, r in resources.items()
               if r["Type"] == "AWS::SQS::Queue" and int(r["Properties"].get("DelaySeconds", 0)) > 0}
    p1 = next(r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::EventSourceMapping"
              and r["Properties"]["EventSourceArn"]["Fn::GetAtt"][0] in delayed)
    batch_sizes = sorted({int(r["Properties"]["BatchSize"]) for r in resources.values()
                          if r["Type"] == "AWS::Lambda::EventSourceMapping"})
    collections = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::OpenSearchServerless::Collection"]
    tables = [r["Properties"].get("BillingMode") for r in resources.values() if r["Type"] == "AWS::DynamoDB::Table"]
    count = Counter(r["Type"] for r in resources.values())
    streams = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::KinesisFirehose::DeliveryStream"]
    buffer_intervals = sorted(int(st["ExtendedS3DestinationConfiguration"]["BufferingHints"]["IntervalInSeconds"])
                              for st in streams)
    return {
        "memory_mb": memory, "architectures": sorted(architectures), "sqs_batch_sizes": batch_sizes,
        "p1_batching_window_s": int(p1.get("MaximumBatchingWindowInSeconds", 0)),
        "windowed_batch_size": int(p1.get("BatchSize", 10)),
        "opensearch": bool(collections),
        "standby": bool(collections) and collections[0].get("StandbyReplicas") == "ENABLED",
        "table_billing": sorted(set(tables)), "alarms": count["AWS::CloudWatch::Alarm"],
        "dashboards": count["AWS::CloudWatch::Dashboard"], "secrets": count["AWS::SecretsManager::Secret"],
        "kms_keys": count["AWS::KMS::Key"], "raw_archive_buffer_s": buffer_intervals,
        "workflow_log_level": next(
            (r["Properties"]["LoggingConfiguration"]["Level"] for r in resources.values()
             if r["Type"] == "AWS::StepFunctions::StateMachine"
             and r["Properties"].get("StateMachineType") == "STANDARD"
             and str(r["Properties"].get("StateMachineName", "")).endswith("-incident")
             and r["Properties"].get("LoggingConfiguration")), "OFF"),
    }


def _alerts_in(body: Any) -> int:
    """Alerts in one delivery: an Alertmanager or Grafana group carries a list, the rest one each."""
    if isinstance(body, dict) and isinstance(body.get("alerts"), list):
        return max(len(body["alerts"]), 1)
    return 1


@dataclass(frozen=True)
class Workload:
    name: str
    description: str
    scenario: Callable[[], dict[str, Any]]


def _forge_slice() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(FORGE.read_text(encoding="utf-8"))
    document["deliveries"] = document["deliveries"][:FORGE_DELIVERIES]
    return document


def _generated_storm() -> dict[str, Any]:
    from bench_replay import storm

    return storm(STORM_ALERTS)


WORKLOADS = {
    "forge": Workload("forge", f"""the first {FORGE_DELIVERIES} deliveries of the FORGE storm (`../shared/forge`: real anomaly
alerts of Online Boutique, Alertmanager grouping several alerts per delivery)""", _forge_slice),
    "storm": Workload("storm", f"""`make bench`'s generated alert storm (`benchmarks/bench_replay.py`, seed 7, its first
{STORM_ALERTS} alerts: bursts of 20 to 60 alerts on one service every 12 to 25 minutes, one alert per
delivery, some noise, half the bursts after a deploy)""", _generated_storm),
}


def measure_workload(workload: Workload) -> Measured:
    from sre_copilot.local.replay import Scenario

    # Approval granted so every incident's workflow runs to its end (acts, verifies, documents).
    return measure(Scenario.model_validate(workload.scenario()), approve="approve", settle_after_s=600)


def measure(scenario: Any, approve: str = "approve", **replay_args: Any) -> Measured:
    """Replay `scenario` on the embedded backend, counting what AWS would bill."""
    import botocore.client

    from sre_copilot.local import runtime
    from sre_copilot.local.replay import replay

    measured = Measured()
    original_call = botocore.client.BaseClient._make_api_call
    original_load = runtime._load_handler

    current: list[str] = []  # the function whose invocation is running (handlers run one at a time)

    meter = CapacityMeter(original_call)

    def counting_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
        service = client.meta.service_model.service_name
        who = current[-1] if current else "poller"
        # Outside an invocation only the event-source pollers' SQS calls are billed on AWS; the
        # rest is the local runtime creating resources and moto's Step Functions invoking tasks.
        if who == "poller" and not (service == "sqs" and operation in POLLER_OPERATIONS):
            return original_call(client, operation, params)
        measured.requests[(who, f"{service}:{operation}")] += _billed_requests(service, operation, params)
        if service == "firehose" and operation in ("PutRecord", "PutRecordBatch"):
            records = [params["Record"]] if operation == "PutRecord" else params.get("Records", [])
            measured.firehose_bytes[who] += sum(-(-len(r["Data"]) // FIREHOSE_RECORD_UNIT) * FIREHOSE_RECORD_UNIT
                                                for r in records)
        if service != "dynamodb":
            return original_call(client, operation, params)
        if operation not in WRITE_OPERATIONS:
            response = original_call(client, operation, params)
            measured.dynamodb_rru[who] += meter.read_units(client, operation, params, response)
            return response
        before = meter.before_write(client, operation, params)
        try:  # a write whose condition fails is billed too
            return original_call(client, operation, params)
        finally:
            measured.dynamodb_wru[who] += meter.write_units(client, operation, params, before)

    def counting_load(name: str) -> Any:
        module = original_load(name)
        handler: Callable[..., Any] = module.handler

        def counted(event: Any, context: Any) -> Any:
            measured.invocations[name] += 1
            if name == "correlate":
                measured.correlate_batches[len(event.get("Records", []))] += 1
            current.append(name)
            out = io.StringIO()
            try:
                with contextlib.redirect_stdout(out):
                    return handler(event, context)
            finally:
                current.pop()
                measured.log_bytes[name] += len(out.getvalue().encode()) + PLATFORM_LOG_BYTES

        module.handler = counted
        return module

    botocore.client.BaseClient._make_api_call = counting_call  # type: ignore[method-assign]
    runtime._load_handler = counting_load  # type: ignore[assignment]
    try:
        run = replay(scenario, approve=approve, **replay_args)
    finally:
        botocore.client.BaseClient._make_api_call = original_call  # type: ignore[method-assign]
        runtime._load_handler = original_load
    measured.alerts = sum(_alerts_in(d.body) for d in scenario.deliveries)
    measured.changes = len(scenario.changes)
    measured.deliveries = len(scenario.deliveries) + measured.changes

    measured.incidents = len(run.result["incidents"])
    measured.paging_transitions = sum(1 for history in run.paging_histories.values() for e in history
                                      if str(e.get("type", "")).endswith("StateEntered"))
    for history in run.histories.values():
        own = [e for e in history if not e.get("parentState")]
        child = [e for e in history if e.get("parentState")]
        measured.transitions.append(sum(1 for e in own if str(e.get("type", "")).endswith("StateEntered")))
        # Each pass, the workflow's own or a re-analysis started beside it, begins with its Unwrap.
        measured.express_runs += sum(1 for e in child if e.get("type") == "PassStateEntered"
                                     and e["stateEnteredEventDetails"]["name"] == "Unwrap")
        measured.express_billed_ms += sum(
            BILLED_MS.get(_snake(str(e["stateEnteredEventDetails"]["name"])), DEFAULT_BILLED_MS)
            for e in child if e.get("type") == "TaskStateEntered")
        measured.express_log_events += sum(1 for e in child if str(e.get("type", "")).endswith(
            ("StateEntered", "StateExited")))
        for event in own:
            size = len(json.dumps(_logged(event), default=str))
            measured.standard_log_bytes["ALL"] += size
            kind = str(event.get("type", ""))
            if kind.endswith(FAILURE_EVENTS):  # what level ERROR logs; FATAL, the execution's own
                measured.standard_log_bytes["ERROR"] += size
                if kind.startswith("Execution"):
                    measured.standard_log_bytes["FATAL"] += size
    return measured


def _billed_requests(service: str, operation: str, params: dict[str, Any]) -> int:
    """SQS bills a send per started 64 KB of its payload (a batch of ten small messages is one
    request); GetMetricData, each metric it asks for; every other request is one."""
    if service == "cloudwatch" and operation == "GetMetricData":
        return len(params.get("MetricDataQueries") or [])
    if service != "sqs" or operation not in ("SendMessage", "SendMessageBatch"):
        return 1
    entries = [params] if operation == "SendMessage" else params.get("Entries", [])
    size = sum(len(str(e["MessageBody"]).encode()) + len(json.dumps(e.get("MessageAttributes") or {}))
               for e in entries)
    return max(1, -(-size // SQS_BILLED_CHUNK))


def _logged(event: dict[str, Any]) -> dict[str, Any]:
    """The history event as the state machine's log delivers it (without the local-only fields)."""
    return {k: v for k, v in event.items() if k not in ("simulatedTimestamp", "parentState")}


def _snake(state: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", state).lower()


@dataclass
class Line:
    item: str
    basis: str
    usd: float


def compute(settings: dict[str, Any], m: Measured) -> dict[str, Any]:
    p = PRICES
    workflow = tuple(sorted(set(settings["memory_mb"]) - {*EDGE, SWEEPER}))

    def usage(functions: tuple[str, ...], per: float) -> dict[str, float]:
        """Billable units of `functions`' invocations (and, for the edge, the pollers), divided by `per`."""
        owners = set(functions) | ({"poller"} if functions == EDGE else set())

        def requests(*operations: str, service: str = "") -> float:
            return sum(v for (who, op), v in m.requests.items()
                       if who in owners and (op in operations or (service and op.startswith(service + ":"))))

        invocations = sum(m.invocations[n] for n in functions)
        poller_deletes = m.requests[("poller", "sqs:DeleteMessage")]
        batches = min(poller_deletes, sum(m.correlate_batches.values()))
        return {k: v / per for k, v in {
            "invocations": invocations,
            "gb_s": sum(m.invocations[n] * settings["memory_mb"][n] / 1024 * BILLED_MS.get(n, DEFAULT_BILLED_MS)
                        / 1000 for n in functions),
            # Lambda's SQS poller deletes each processed batch with one DeleteMessageBatch; the local
            # poller deletes message by message, so its deletes count once per correlate batch.
            "sqs": requests(service="sqs") - (poller_deletes - batches if functions == EDGE else 0),
            "wru": sum(m.dynamodb_wru[w] for w in owners), "rru": sum(m.dynamodb_rru[w] for w in owners),
            "s3_put": requests("s3:PutObject", "s3:CopyObject", "s3:ListObjectsV2", "s3:DeleteObject"),
            "s3_get": requests("s3:GetObject", "s3:HeadObject"),
            "events": requests("events:PutEvents"),
            "metric_reads": requests("cloudwatch:GetMetricData", "cloudwatch:ListMetrics"),
            "log_gb": sum(m.log_bytes[n] for n in functions) / 1e9,
            "firehose_gb": sum(m.firehose_bytes[w] for w in owners) / 2**30,
        }.items()}

    def lines(u: dict[str, float], scale: float) -> list[Line]:
        return [
            Line("Lambda requests", f"{u['invocations']:.3f} invocations", u["invocations"] * p["lambda_request"]),
            Line("Lambda duration", f"{u['gb_s']:.4f} GB-s", u["gb_s"] * p["lambda_gb_second_arm64"]),
            Line("SQS requests", f"{u['sqs']:.2f} requests", u["sqs"] * p["sqs_request"]),
            Line("DynamoDB writes", f"{u['wru']:.2f} WRU", u["wru"] * p["dynamodb_wru"]),
            Line("DynamoDB reads", f"{u['rru']:.2f} RRU", u["rru"] * p["dynamodb_rru"]),
            Line("S3 PUT/LIST/DELETE", f"{u['s3_put']:.2f} requests", u["s3_put"] * p["s3_put"]),
            Line("S3 GET", f"{u['s3_get']:.2f} requests", u["s3_get"] * p["s3_get"]),
            Line("EventBridge events", f"{u['events']:.3f} events", u["events"] * p["eventbridge_event"]),
            Line("CloudWatch metric reads", f"{u['metric_reads']:.2f} metrics asked for and listings",
                 u["metric_reads"] * p["cloudwatch_metric_read"]),
            Line("CloudWatch Logs", f"{u['log_gb'] * 1e6:.1f} KB", u["log_gb"] * p["cloudwatch_logs_gb"]),
            Line("Firehose (raw archive)", f"{u['firehose_gb'] * 2**20:.1f} KB billed",
                 u["firehose_gb"] * p["firehose_gb"]),
        ]

    edge = usage(EDGE, max(m.alerts, 1))
    http = m.deliveries / max(m.alerts, 1)  # one API request per delivery (an alert group or a change)
    alert_lines = [Line("HTTP API request", f"{http:.3f} requests", http * p["http_api_request"]), *lines(edge, 1e6),
                   Line("X-Ray traces", f"{XRAY_SAMPLED_SHARE:.0%} of {http:.3f} requests sampled",
                        XRAY_SAMPLED_SHARE * http * p["xray_trace"])]
    incidents = max(m.incidents, 1)
    # The incident workflow's own, plus the paging workflow's (a paged incident's calls and escalation).
    transitions = (sum(m.transitions) + m.paging_transitions) / max(len(m.transitions), 1)
    passes = m.express_runs / incidents
    express_gb_s = m.express_billed_ms / 1000 * EXPRESS_MEMORY_MB / 1024 / incidents
    standard_log_bytes = m.standard_log_bytes[settings["workflow_log_level"]]
    sfn_log_kb = (standard_log_bytes + m.express_log_events * EXPRESS_LOG_EVENT_BYTES) / 1e3 / incidents
    incident_lines = [Line("Step Functions transitions", f"{transitions:.0f} transitions",
                           transitions * p["sfn_transition"]),
                      Line("Step Functions Express (analysis passes)", f"{passes:.1f} runs, {express_gb_s:.4f} GB-s",
                           passes * p["sfn_express_request"] + express_gb_s * p["sfn_express_gb_second"]),
                      Line("Step Functions logs", f"{sfn_log_kb:.1f} KB", sfn_log_kb / 1e6 * p["cloudwatch_logs_gb"]),
                      *lines(usage(workflow, incidents), 1)]
    sweeps_per_month = HOURS_PER_MONTH * 60
    # Firehose writes at most one object per buffer interval (more only above 5 MB a buffer).
    archive_puts = sum(HOURS_PER_MONTH * 3600 // s for s in settings["raw_archive_buffer_s"])
    sweep = usage((SWEEPER,), max(m.invocations[SWEEPER], 1))
    per_alert = sum(line.usd for line in alert_lines)
    per_incident = sum(line.usd for line in incident_lines)
    incidents_per_alert = m.incidents / max(m.alerts, 1)
    per_million = 1e6 * per_alert + 1e6 * incidents_per_alert * per_incident
    ocus = (OCUS_WITH_STANDBY if settings["standby"] else OCUS_WITHOUT_STANDBY) if settings["opensearch"] else 0.0
    fixed = [
        Line("OpenSearch Serverless minimum", f"{ocus:g} OCU x {HOURS_PER_MONTH} h", ocus * HOURS_PER_MONTH * p["aoss_ocu_hour"]),
        Line("Approval sweeper, every minute", f"{sweeps_per_month} runs",
             sweeps_per_month * sum(line.usd for line in lines(sweep, 1))),
        Line("Raw archive objects (Firehose to S3)", f"{archive_puts} PUTs", archive_puts * p["s3_put"]),
        Line("CloudWatch alarms", f"{settings['alarms']} alarms", settings["alarms"] * p["alarm_month"]),
        Line("CloudWatch dashboard", f"{settings['dashboards']} dashboard", settings["dashboards"] * p["dashboard_month"]),
        Line("EMF custom metrics", f"{EMF_METRIC_NAMES} metrics", EMF_METRIC_NAMES * p["custom_metric_month"]),
        Line("Secrets Manager", f"{settings['secrets']} secrets", settings["secrets"] * p["secret_month"]),
        Line("KMS key", f"{settings['kms_keys']} key", settings["kms_keys"] * p["kms_key_month"]),
    ]
    lever = {"passes": passes,
             "transitions_share": 1e6 * incidents_per_alert * incident_lines[0].usd / per_million,
             "dynamodb_share": 1e6 * next(line.usd for line in alert_lines if line.item == "DynamoDB writes")
             / per_million}
    return {"lever": lever, "alert_lines": alert_lines, "incident_lines": incident_lines, "per_alert": per_alert,
            "per_incident": per_incident, "per_million": per_million, "fixed": fixed,
            "fixed_total": sum(line.usd for line in fixed), "transitions": transitions,
            "alerts_per_incident": 1 / incidents_per_alert if incidents_per_alert else float("inf")}


def render(settings: dict[str, Any], m: Measured, c: dict[str, Any], workload: Workload) -> str:
    def table(lines: list[Line], scale: float, unit: str) -> str:
        digits = 2 if unit == "month" else 4 if scale != 1 else 6
        rows = [f"| {line.item} | {line.basis} | {line.usd * scale:.{digits}f} |" for line in lines]
        return "\n".join([f"| item | per {unit} | USD per {unit if scale == 1 else 'million alerts'} |",
                          "|---|---|---:|", *rows])

    memory = ", ".join(f"{n} {mb}" for n, mb in sorted(settings["memory_mb"].items()))
    by_operation: Counter[str] = Counter()
    for (_who, operation), count in m.requests.items():
        by_operation[operation] += count
    top_requests = ", ".join(f"{k} {v}" for k, v in by_operation.most_common(12))
    invocations = ", ".join(f"{k} {v}" for k, v in sorted(m.invocations.items()))
    return f"""# Cost model

Generated by `benchmarks/check_cost_model.py --write`; `make bench` recomputes it from the synthesized
template and a fresh replay and fails when this page no longer matches, or when the variable cost is
above ${BUDGET_PER_MILLION_ALERTS:.0f} per million alerts before LLM cost.

## Result

- **${c['per_million']:.2f} per million alerts** before LLM cost (variable: ingestion of every alert plus one
  incident workflow per {c['alerts_per_incident']:.0f} alerts, as measured on the storm below).
- **${c['per_incident']:.5f} per incident workflow** (without LLM). So the figure per million alerts
  depends on how many alerts an incident gathers (derived: ${1e6 * c['per_alert']:.2f} for the alerts themselves,
  plus the incidents' share): {'; '.join(f"${1e6 * (c['per_alert'] + c['per_incident'] / n):.2f} at {n} alerts an incident" for n in (10, 25, 100, 500))}.
- **${c['fixed_total']:.2f} per month fixed**, whatever the volume (table below); the OpenSearch Serverless
  minimum dominates it. `-c enable_opensearch=false` removes it (precedents and runbooks then use the
  in-function index, which does not persist between cold starts).

## Inputs from the template (`cdk.json` context, as synthesized)

- Memory (MB): {memory}; architecture {', '.join(settings['architectures'])}.
- SQS batch size of the correlate event sources: {', '.join(map(str, settings['sqs_batch_sizes']))}.
- Raw-archive Firehose buffer interval (s): {', '.join(map(str, settings['raw_archive_buffer_s'])) or 'no stream'}.
- DynamoDB billing: {', '.join(settings['table_billing'])}. OpenSearch collection:
  {'yes' if settings['opensearch'] else 'no'}, standby replicas {'enabled' if settings['standby'] else 'disabled'}.
- Incident workflow log level: {settings['workflow_log_level']} (with state data); the analysis pass: ALL, without.
- {settings['alarms']} alarms, {settings['dashboards']} dashboard, {settings['secrets']} secrets, {settings['kms_keys']} KMS key.

## Inputs measured on the embedded backend

One replay of {workload.description}, approval granted so every workflow runs to its end:
{m.alerts} alerts in {m.deliveries - m.changes} deliveries, {m.changes} change events, {m.incidents} incidents
(one per {c['alerts_per_incident']:.0f} alerts).
- Alerts per correlate invocation: {', '.join(f'{k} alert(s) x {v}' for k, v in sorted(m.correlate_batches.items()))}.
- Lambda invocations: {invocations}.
- AWS requests (most frequent): {top_requests}.
- DynamoDB: {sum(m.dynamodb_wru.values())} write units, {sum(m.dynamodb_rru.values()):.0f} read units in all,
  by the size of each item written or read (see `CapacityMeter`).
- Log bytes each function wrote (plus {PLATFORM_LOG_BYTES} bytes of Lambda's START/END/REPORT lines per
  invocation): {', '.join(f'{k} {v}' for k, v in sorted(m.log_bytes.items()))}.
- State transitions per workflow: {', '.join(map(str, m.transitions)) or 'none'}, standard only; plus
  {m.paging_transitions} of the paging workflow in all (mean {c['transitions']:.1f} per incident), and {m.express_runs} Express
  analysis passes.
Each request is charged to the function whose invocation made it: ingest and correlate (and the
SQS event-source pollers) per alert; the workflow's steps, PagerDuty sync (a lifecycle transition's
EventBridge target) and callbacks (a person's button or keypress) per incident; the approval
sweeper (a schedule, every minute) per month. Change events' requests are charged to the alerts.
The local SQS poller deletes message by message; Lambda's deletes a processed batch with one
DeleteMessageBatch, so the poller's deletes are billed once per correlate batch.

## Where the money goes, and the levers

Taken: the raw delivery is archived through Firehose (one record, durable when PutRecord returns,
before the 2xx), which writes to S3 in batches instead of one S3 PUT per delivery ($5 per million).
DynamoDB bills a write per started KB of the item, so the items written for every alert keep their
document zlib-compressed: the correlation state (rewritten by every correlate batch), the incident
and the signal, and the answer Powertools
Idempotency keeps per delivery for its retries (`adapters/dynamo/idempotency_records.py`; on this
replay $20.61 to $20.36); and a correlate batch writes each incident once for all the alerts
joining it, not once per alert. A signal is written once, by correlation, already placed in its
incident: ingest queues it whole (its message is where it is durable until then) instead of
storing it first; and ingest sends an alert group's messages ten to a `SendMessageBatch`, which SQS
bills per 64 KB, not one request per alert (together, $14.96 to $13.96). Analysis passes are spaced by
the re-analysis schedule (`domain/reanalysis.py`: the gap between an incident's passes doubles from
a minute up to `reanalysis_max_interval_s`), not run every minute new evidence arrives; on this
replay that took the cost from $30.21 to $22.65 per million alerts (7.1 to 4.7 passes per incident).
Each analysis pass (AssembleContext to Notify, `statemachines/analysis.asl.json`) runs as an Express
child of the incident workflow: one `Analyse` task state of the standard workflow, with the pass
billed per request and duration instead of per transition (on this replay, with the workflows'
logs now counted, $20.36 to $14.93). AwaitDecision answers itself for a plan policy approved, so a
pass needs no `NeedsApproval` Choice ($14.93 to $13.84). The standard workflows log failures only,
with their data (`workflow_log_level`, default ERROR): their full history is kept by Step Functions
and the audit export ($13.84 to $13.45). The paging workflow's transitions (each paged incident's
calls and escalation) were left out of this page until now; counted, they took it from $13.45 to
$14.96. `Document` ends the incident workflow itself (no `Done` state): one transition fewer per
finished incident, which this replay does not show, since its incidents still wait at its end.
Whoever answers a paging level (the sweeper at its deadline, a keypress, an acknowledgement) sends
the state paging goes on with (`services/escalation.advance`), so a level is `PageLevel` and
`Escalated`, not three transitions through a `NextLevel` task, which now runs only after a failure
or the backstop timeout ($13.96 to $13.50). The analysis pass ends by parking the parent's task
token itself (the child's own `AwaitDecision`; the parent's `Analyse` is a
`startExecution.waitForTaskToken` task), so a pass and the wait after it are one state of the
standard workflow: two transitions per pass (`Analyse`, `RouteWake`), not three ($13.50 to $12.50).
And a re-analysis does not wake the workflow at all: whoever would have woken it takes the parked
token and starts the pass as its own Express execution holding it (`services/reanalysis.py`); the
pass parks the token again, so the workflow makes no transition for it ($12.50 to $10.87). P1
alerts, already held a minute by their queue's delivery delay, wait up to
{settings['p1_batching_window_s']} s more for others to share a correlate run (up to {settings['windowed_batch_size']} a run): each run
saves the correlation state and rewrites the incidents it joins once, so a storm costs fewer of
them ($10.87 to $9.64). CloudWatch metric reads were left out of this page until December 2026:
GetMetricData bills each metric a request asks for ($0.01 per 1,000), with data or without, and
context assembly asked for every wanted series, up to 144 a pass (647 per incident on this replay).
Counted, that took the figure from $9.64 to $65.15. Context assembly and the anomaly detector now ask
ListMetrics which series the namespace holds (one request per 500 metrics) and read only those
(`adapters/cloudwatch_metrics.py`); this replay's services publish none, so it reads none ($9.84).
A warm function reuses its listing for five minutes ($9.84 to $9.64).

Left:
- DynamoDB writes per alert, {c['lever']['dynamodb_share']:.0%} of the variable cost: per delivery, Powertools idempotency's
  record (a put, then an update with the packed answer); per alert, its fingerprint claim and the
  write of its signal; per batch, the correlation state and the incidents it joins.
- Step Functions standard transitions, {c['lever']['transitions_share']:.0%} of the variable cost: about
  {c['transitions']:.0f} per incident (paging included): the first pass (`Start`, `Analyse`, `RouteWake`), each
  answer a person or the policy gives (`RouteWake`, `Act` and its checks, `AwaitDecision`), `Document`,
  and the paging workflow's levels. The {c['lever']['passes']:.1f} analysis passes per incident cost none after the
  first: they run beside the workflow.
- Lambda duration is assumed, not measured (below); `function_memory_mb` for ingest and correlate
  can come down once their duration on AWS is known.

## Assumptions

- Billed duration per invocation (ms): {', '.join(f'{k} {v}' for k, v in BILLED_MS.items())}, every other
  function {DEFAULT_BILLED_MS}. Not measurable without an account; deliberately pessimistic.
- X-Ray samples {XRAY_SAMPLED_SHARE:.0%} of requests (its default rule after the 1 request/s reservoir).
- An Express analysis pass lasts as long as the billed time of its Lambda steps (above), at
  {EXPRESS_MEMORY_MB} MB, and logs {EXPRESS_LOG_EVENT_BYTES} bytes per state event (its log level is ALL without
  state data). The standard workflow logs its events with their data, measured from the replay's
  execution histories.
- Prices: AWS list prices in us-east-1, arm64, on demand, first tier, no free tier.

## Per alert

{table(c['alert_lines'], 1e6, 'alert')}

## Per incident workflow

{table(c['incident_lines'], 1, 'incident')}

## Fixed per month

{table(c['fixed'], 1, 'month')}

## LLM, priced separately

Tokens are priced from the model's list prices (`sre_copilot.adapters.anthropic_assistant.PRICES`)
and emitted per call as EMF metrics (`LlmInputTokens`, `LlmOutputTokens`, `LlmCostUsd`) on the
operations dashboard. At Claude Sonnet 4.5 list prices ($3 per million input tokens, $15 per million
output), one hypothesis request of about 6,000 input and 800 output tokens costs
${(6000 * 3 + 800 * 15) / 1e6:.3f}; with one request per incident and one incident per
{c['alerts_per_incident']:.0f} alerts that is ${(6000 * 3 + 800 * 15) / 1e6 * 1e6 / c['alerts_per_incident']:.0f} per million alerts on top of the figures
above (token counts are an example; the dashboard shows the real ones). The `LlmDailyCost` alarm fires
at $25 a day.
"""


TEMPLATE_LINES = ("- Memory (MB):", "- SQS batch size", "- Raw-archive Firehose", "- DynamoDB billing", "  yes, standby", "  no, standby",
                  "- Incident workflow log level",
                  "- State transitions per workflow")
HEADLINE = re.compile(r"\*\*\$([0-9.]+) per million alerts\*\*")
# The replay's log lines carry timestamps and ids, so its byte counts move a little between runs.
TOLERANCE = 0.05


def stale(documented: str, computed: str) -> list[str]:
    """What differs between the page and a fresh computation: any template-derived line exactly,
    the headline figure beyond TOLERANCE."""
    problems = [f"template changed: {line.strip()!r}" for line in computed.splitlines()
                if line.startswith(TEMPLATE_LINES) and line not in documented.splitlines()]
    old, new = HEADLINE.search(documented), HEADLINE.search(computed)
    if old is None or new is None:
        problems.append("no per-million-alerts figure in docs/cost.md")
    elif abs(float(old.group(1)) - float(new.group(1))) > TOLERANCE * float(new.group(1)):
        problems.append(f"per million alerts: documented ${old.group(1)}, computed ${new.group(1)}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="regenerate docs/cost.md (default: check it)")
    parser.add_argument("--workload", choices=sorted(WORKLOADS), default="forge",
                        help="what to replay (default forge; docs/cost.md is generated from forge)")
    args = parser.parse_args()
    if args.workload == "forge" and not FORGE.exists():
        print(f"cost model: {FORGE} not found, skipped (use --workload storm)")
        return 0
    if args.workload != "forge" and args.write:
        parser.error("docs/cost.md is generated from the forge workload")
    workload = WORKLOADS[args.workload]
    settings = template_settings()
    measured = measure_workload(workload)
    computed = compute(settings, measured)
    text = render(settings, measured, computed, workload)
    print(f"cost model: ${computed['per_million']:.2f} per million alerts before LLM cost,\n"
          f"  ${computed['per_incident']:.4f} per incident workflow, ${computed['fixed_total']:.2f} per month fixed")
    if args.write:
        DOC.write_text(text, encoding="utf-8")
        print(f"wrote {DOC.relative_to(REPO)}")
    elif args.workload == "forge":  # the page is the forge workload's
        problems = stale(DOC.read_text(encoding="utf-8") if DOC.exists() else "", text)
        if problems:
            print("docs/cost.md no longer matches; run with --write and review the diff:\n  " + "\n  ".join(problems))
            return 1
        print("docs/cost.md matches the template and the replay")
    if computed["per_million"] > BUDGET_PER_MILLION_ALERTS:
        print(f"over budget: ${computed['per_million']:.2f} > ${BUDGET_PER_MILLION_ALERTS:.0f} per million alerts")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
