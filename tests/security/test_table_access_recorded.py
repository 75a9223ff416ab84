"""Least privilege that still works: every DynamoDB call the functions really make is granted.

The embedded backend runs the real handlers; `table_access_recorder` notes each DynamoDB call with
the function that made it, and each is checked against `infra_cdk.constructs.table_access` (what
the stack grants). A narrower grant than the code needs fails here, before a deploy fails at 3 a.m.
The flows: the bundled bad-deploy incident end to end (ingest, correlation, every workflow step, the
phone acknowledgement, a signed Slack approval, act, verify, resolve, document), and a P0 nobody
answers (paging, timeout, escalation, the sweeper).
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from pathlib import Path

import pytest
from table_access_recorder import Call, Recorder, recording

from sre_copilot.domain.types import format_time
from sre_copilot.local.replay import Scenario, _change_body, _deliver
from sre_copilot.local.runtime import LocalDeployment, Responders

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # infra_cdk runs from the repository root and is not installed
from infra_cdk.constructs.table_access import AUDIT_APPENDERS, AUDIT_READERS, PARTITIONS, TABLE_ACCESS  # noqa: E402

DEMO = REPO / "layers/common/python/sre_copilot/data/demo-checkout-bad-deploy.json"
TABLE, AUDIT_TABLE, IDEMPOTENCY_TABLE = "sre-copilot", "sre-copilot-audit", "sre-copilot-idempotency"

pytestmark = pytest.mark.slow


def _granted(call: Call) -> bool:
    access = TABLE_ACCESS[call.function]
    if call.table == AUDIT_TABLE:
        reads = call.function in AUDIT_READERS and call.operation in ("Query", "GetItem")
        return call.partition_key.split("#")[2:3] == ["AUDIT"] and (
            reads or (call.operation == "PutItem" and call.function in AUDIT_APPENDERS))
    if call.table == IDEMPOTENCY_TABLE:
        return call.function in ("ingest", "anomaly_detector") and call.operation in (
            "GetItem", "PutItem", "UpdateItem", "DeleteItem")
    assert call.table == TABLE, call
    if call.index is not None:
        return call.operation == "Query" and call.index in access.indexes
    families = access.items.get(call.operation, frozenset())  # type: ignore[call-overload]
    rest = call.partition_key.split("#", 2)[2] if call.partition_key.count("#") >= 2 else ""
    return any(fnmatchcase(f"#{rest}" if rest else "", PARTITIONS[f]) for f in families)


def _check(recorder: Recorder) -> None:
    assert not recorder.unreadable, recorder.unreadable
    missing = sorted({(c.function, c.operation, c.table, c.index, c.partition_key.split("#", 2)[-1].split("#")[0])
                      for c in recorder.calls if not _granted(c)})
    assert not missing, f"calls the stack does not grant: {missing}"


def test_every_call_of_an_incident_end_to_end_is_granted() -> None:
    scenario = Scenario.load(DEMO)
    first = min(d.at for d in scenario.deliveries)
    with recording() as recorder, LocalDeployment(
            start=first - timedelta(minutes=10), responders=Responders(approve="all", approve_after_s=120)) as d:
        d.put_catalog(scenario.catalog)
        for change in scenario.changes:
            d.http("POST", "/changes", json.dumps(_change_body(change)).encode(), {})
        for delivery in sorted(scenario.deliveries, key=lambda x: x.at):
            d.advance_to(delivery.at)
            _deliver(d, delivery)
            d.settle()
        d.advance_to(d.clock.now() + timedelta(hours=1))
    functions = {c.function for c in recorder.calls}
    # The flow reached the functions whose access matters most
    assert {"ingest", "correlate", "recommend", "notify", "callbacks", "act", "verify", "document",
            "approval_sweeper"} <= functions, functions
    assert any(c.function == "act" and c.operation == "PutItem" and "#INCIDENT#" in c.partition_key
               for c in recorder.calls)
    _check(recorder)


def test_every_call_of_an_unanswered_page_and_its_escalation_is_granted() -> None:
    start = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
    labels = {"alertname": "HighErrorRate", "severity": "critical", "service": "checkout"}
    body = {"receiver": "r", "status": "firing", "version": "4", "groupKey": "{}", "truncatedAlerts": 0,
            "groupLabels": {}, "commonLabels": labels, "commonAnnotations": {}, "externalURL": "http://am",
            "alerts": [{"status": "firing", "labels": labels, "annotations": {"summary": "5xx above SLO"},
                        "startsAt": format_time(start), "endsAt": "0001-01-01T00:00:00Z",
                        "generatorURL": "http://prom", "fingerprint": "HighErrorRate-checkout"}]}
    with recording() as recorder, LocalDeployment(start=start, responders=Responders(ack_pages_after_s=None)) as d:
        d.put_catalog({"services": [{"name": "checkout", "depends_on": [], "team": "t", "tier": 1}]})
        status, _ = d.http("POST", "/webhooks/alertmanager", json.dumps(body).encode(),
                           {"Content-Type": "application/json"})
        assert status == 202
        d.settle()
        d.advance_to(start + timedelta(minutes=40))
    # The sweeper answers each level's deadline with the next level (escalation.advance), so its
    # grants cover the escalation; NextLevel runs only after a failure or the backstop timeout.
    called = {c.function for c in recorder.calls}
    assert {"escalation_page", "approval_sweeper"} <= called and "escalation_next" not in called
    _check(recorder)
