"""Property-based robustness of `normalize` for every source, and of `parse_change` and `authenticate`.

Whatever arrives (arbitrary JSON, truncated bodies, real bodies with fields replaced by values of
the wrong type or deleted, random bytes, parsed mappings holding NaN), `normalize` either returns a
delivery whose signals are valid `Signal`s, or raises InvalidPayload / PayloadTooLarge. Nothing else.
Seed bodies are the public fixtures (provenance in tests/fixtures/webhooks/SOURCES.md), the shared
scenario deliveries and a few bodies built here.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sre_copilot.domain.catalog import Catalog
from sre_copilot.domain.change import ChangeEvent
from sre_copilot.domain.signal import Signal
from sre_copilot.errors import InvalidPayload, MalformedSignature, PayloadTooLarge, Unauthorized
from sre_copilot.ingest.auth import SnsVerifier, WebhookSecrets, authenticate
from sre_copilot.ingest.changes import parse_change
from sre_copilot.ingest.classify import classify
from sre_copilot.ingest.normalize import SOURCES, NormalizedDelivery, normalize

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "webhooks"
SCENARIOS = Path(__file__).resolve().parents[3] / "shared" / "scenarios"
RECEIVED = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
PROPERTY_SETTINGS = settings(max_examples=150, deadline=None, derandomize=True,
                             suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _catalog() -> Catalog:
    demo = Path(__file__).resolve().parents[2] / "layers/common/python/sre_copilot/data/demo-checkout-bad-deploy.json"
    return Catalog.model_validate(json.loads(demo.read_text())["catalog"])


CATALOG = _catalog()


def _seed_bodies() -> dict[str, list[Any]]:
    """Real bodies per source: the public fixtures, the scenario deliveries and a few built variants."""
    seeds: dict[str, list[Any]] = {source: [] for source in SOURCES}
    for name, source in sorted(json.loads((FIXTURES / "sources.json").read_text()).items()):
        seeds[source].append(json.loads((FIXTURES / name).read_text()))
    for path in sorted(SCENARIOS.glob("*[0-9].json")):
        for delivery in json.loads(path.read_text())["deliveries"]:
            if len(seeds[delivery["source"]]) < 12:
                seeds[delivery["source"]].append(delivery["body"])
    alarm = {"AlarmName": "checkout-5xx-high", "NewStateValue": "ALARM", "NewStateReason": "x [1.0 (a)]",
             "StateChangeTime": "2026-03-04T10:07:10.118+0000",
             "AlarmArn": "arn:aws:cloudwatch:us-east-1:1:alarm:checkout-5xx-high", "AlarmRule": "ALARM(a)",
             "Trigger": {"Dimensions": [{"name": "Service", "value": "cart"}],
                         "Metrics": [{"Id": "m1", "Expression": "SUM(METRICS())"}]}}
    seeds["cloudwatch-sns"].append({"Type": "Notification", "MessageId": "m-1", "Message": json.dumps(alarm),
                                    "Timestamp": "2026-03-04T10:07:11.000Z"})
    seeds["generic"] += [
        {"title": "Checkout 5xx", "status": "firing", "severity": "critical", "service": "cart", "entity": "cart",
         "host": "ip-10-0-1-68", "at": "2026-03-04T10:05:00Z", "labels": {"env": "prod", "n": 3},
         "fingerprint": "f", "links": ["https://x"], "metric_value": 2.5},
        {"alerts": [{"title": "a", "at": 1772618700000}, {"title": "b", "status": "resolved"}]},
    ]
    seeds["grafana"].append({"ruleName": "r", "state": "alerting", "ruleId": 1,
                             "evalMatches": [{"value": 1.5, "metric": "m", "tags": {"service": "cart"}}]})
    return seeds


SEEDS = _seed_bodies()

SCALARS = (st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
           | st.floats(allow_nan=False, allow_infinity=False)
           | st.text(max_size=30)
           | st.sampled_from(["firing", "resolved", "ALARM", "OK", "INSUFFICIENT_DATA", "Notification",
                              "incident.triggered", "incident.annotated", "Create", "Close", "Triggered",
                              "2026-03-04T10:00:00Z", "0001-01-01T00:00:00Z", "1772618400000", "$DATE", "",
                              "9" * 40, "P1", "critical", "info", "CloudWatch Alarm State Change",
                              "arn:aws:cloudwatch:us-east-1:1:alarm:x", "{\"AlarmName\": 1}", "{}"]))
JSON = st.recursive(SCALARS, lambda children: st.lists(children, max_size=4)
                    | st.dictionaries(st.text(max_size=12), children, max_size=5), max_leaves=25)


def _check(source: str, body: bytes | str | dict[str, Any]) -> None:
    try:
        result = normalize(source, body, catalog=CATALOG, received_at=RECEIVED, delivery_id="prop")
    except (InvalidPayload, PayloadTooLarge) as exc:
        assert exc.message and "\n" not in exc.message
        return
    _assert_valid(result)


def _assert_valid(result: NormalizedDelivery) -> None:
    assert result.kind in ("alerts", "ignored")
    assert bool(result.signals) == (result.kind == "alerts")
    if result.kind == "ignored":
        assert result.ignored_reason
    for signal in result.signals:
        # constructed without validation on the hot path, so prove it is a valid, serialisable Signal
        Signal.model_validate(signal.model_dump())
        Signal.model_validate_json(signal.model_dump_json())
        classify(signal, CATALOG)


def _mutate(data: st.DataObject, body: Any) -> Any:
    """Replace or delete one value somewhere in a real body (the path is drawn at random)."""
    root = copy.deepcopy(body)
    container: Any = root
    while True:
        keys = list(container.keys()) if isinstance(container, dict) else list(range(len(container)))
        if not keys:
            return root
        key = data.draw(st.sampled_from(keys))
        child = container[key]
        if isinstance(child, dict | list) and child and data.draw(st.booleans()):
            container = child
            continue
        if isinstance(container, dict) and data.draw(st.integers(0, 4)) == 0:
            del container[key]
        else:
            container[key] = data.draw(JSON)
        return root


@pytest.mark.parametrize("source", SOURCES)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_garbage_never_escapes_as_another_exception(source: str, data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(["json", "bytes", "truncated", "text"]))
    body: bytes | str
    if kind == "json":
        body = json.dumps(data.draw(JSON)).encode()
    elif kind == "bytes":
        body = data.draw(st.binary(max_size=200))
    elif kind == "truncated":
        seed = json.dumps(data.draw(st.sampled_from(SEEDS[source]))).encode()
        body = seed[: data.draw(st.integers(0, max(len(seed) - 1, 0)))]
    else:
        body = data.draw(st.text(max_size=200))
    _check(source, body)


@pytest.mark.parametrize("source", SOURCES)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_real_bodies_with_wrong_types_never_escape(source: str, data: st.DataObject) -> None:
    body = data.draw(st.sampled_from(SEEDS[source]))
    for _ in range(data.draw(st.integers(1, 3))):
        body = _mutate(data, body)
    if data.draw(st.booleans()):
        _check(source, json.dumps(body).encode())
    else:
        _check(source, body)


@pytest.mark.parametrize("source", SOURCES)
@settings(max_examples=40, deadline=None, derandomize=True)
@given(data=st.data())
def test_parsed_mappings_with_nan_and_odd_keys_never_escape(source: str, data: st.DataObject) -> None:
    odd = st.sampled_from([float("nan"), float("inf"), -float("inf"), 10**400, b"bytes", object()])
    body = _mutate(data, data.draw(st.sampled_from(SEEDS[source])))
    if isinstance(body, dict):
        body[data.draw(st.sampled_from(list(body) or ["k"]))] = data.draw(odd)
    _check(source, body)


@pytest.mark.parametrize("source", SOURCES)
def test_seed_bodies_are_valid_and_redeliver_identically(source: str) -> None:
    assert SEEDS[source], source
    for body in SEEDS[source]:
        raw = json.dumps(body).encode()
        first = normalize(source, raw, catalog=CATALOG, received_at=RECEIVED, delivery_id="d-1")
        again = normalize(source, raw, catalog=CATALOG, received_at=RECEIVED, delivery_id="d-1")
        _assert_valid(first)
        assert [(s.id, s.fingerprint) for s in first.signals] == [(s.id, s.fingerprint) for s in again.signals]
        # without a delivery id the payload's own identity still gives retries the same ids
        bare = [s.id for s in normalize(source, raw, catalog=CATALOG, received_at=RECEIVED).signals]
        assert bare == [s.id for s in normalize(source, raw, catalog=CATALOG, received_at=RECEIVED).signals]


CHANGE_SEEDS: list[tuple[dict[str, str], Any]] = [
    ({}, {"at": "2026-03-04T10:02:00Z", "service": "checkout", "kind": "deploy", "id": "deploy-1", "version": "v2"}),
    ({"X-GitHub-Event": "deployment_status"},
     {"deployment_status": {"state": "success", "created_at": "2026-03-04T10:02:00Z"},
      "deployment": {"id": 1, "sha": "abc", "ref": "v1", "payload": {"service": "checkout"}},
      "repository": {"name": "checkout"}}),
    ({}, {"id": "e", "detail-type": "ECS Deployment State Change", "source": "aws.ecs", "time": "2026-03-04T10:00:00Z",
          "resources": ["arn:aws:ecs:us-west-2:1:service/prod/checkout"],
          "detail": {"eventName": "SERVICE_DEPLOYMENT_COMPLETED", "deploymentId": "ecs-svc/1"}}),
    ({}, {"id": "c", "detail-type": "CodeDeploy Deployment State-change Notification", "source": "aws.codedeploy",
          "time": "2026-03-04T10:00:00Z",
          "detail": {"deploymentId": "d-1", "application": "checkout", "state": "SUCCESS"}}),
]


@settings(max_examples=150, deadline=None, derandomize=True)
@given(data=st.data())
def test_change_parsing_never_escapes(data: st.DataObject) -> None:
    headers, body = data.draw(st.sampled_from(CHANGE_SEEDS))
    kind = data.draw(st.sampled_from(["mutated", "json", "bytes"]))
    raw: Any = _mutate(data, body) if kind == "mutated" else (
        json.dumps(data.draw(JSON)).encode() if kind == "json" else data.draw(st.binary(max_size=120)))
    try:
        change = parse_change(raw, headers)
    except InvalidPayload as exc:
        assert exc.message
        return
    assert change is None or isinstance(change, ChangeEvent)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(source=st.sampled_from([*SOURCES, "github", "changes"]),
       headers=st.dictionaries(st.sampled_from(["Authorization", "X-PagerDuty-Signature", "X-Hub-Signature-256",
                                                "X-Grafana-Alerting-Signature", "X-Grafana-Alerting-Timestamp",
                                                "X-Token"]), st.text(max_size=80), max_size=3),
       body=st.binary(max_size=200))
def test_authentication_fails_only_with_its_own_errors(source: str, headers: dict[str, str], body: bytes) -> None:
    secrets = WebhookSecrets(pagerduty=["pd"], grafana_hmac="g", alertmanager_bearer="t", alertmanager_basic=("u", "p"),
                             github="gh", generic_bearer="t", datadog_header=("X-Token", "v"), opsgenie_basic=("u", "p"),
                             cloudwatch_header=("X-Token", "v"))
    try:
        authenticate(source, headers, body, secrets, sns_verifier=SnsVerifier(fetch_cert=lambda url: b""))
    except (Unauthorized, MalformedSignature) as exc:
        assert exc.message
