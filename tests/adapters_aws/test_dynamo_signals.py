"""Signals, dedup claims and duplicate counters on the single table."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import pytest
from aws_test_support import START, raw_item

from sre_copilot.adapters.dynamodb_store import DedupWindow, DynamoStore
from sre_copilot.domain.signal import Signal
from sre_copilot.local.clock import SimClock


def make_signal(signal_id: str, *, at_s: float = 0, incident_id: str | None = None, **extra: Any) -> Signal:
    at = START + timedelta(seconds=at_s)
    return Signal.model_validate({
        "id": signal_id, "tenant_id": "acme", "source": "alertmanager", "status": "firing", "severity": "critical",
        "priority": "P0", "event_time": at, "received_at": at + timedelta(seconds=2),
        "title": f"checkout 5xx ratio high ({signal_id})", "labels": {"service": "checkout"},
        "fingerprint": f"fp-{signal_id}", "incident_id": incident_id, "metric_value": 0.37, "sigma": 4.25,
        "service": "checkout", **extra,
    })


def test_signal_round_trips_by_id(store: DynamoStore) -> None:
    # Given a stored signal with floats, labels and an origin
    signal = make_signal("sig-1", origin={"delivery": 3, "item": 1}, links=["https://grafana/x"])
    store.put_signal(signal)
    # When it is read back by id
    read = store.get_signal("acme", "sig-1")
    # Then it is the same signal, and other tenants cannot see it
    assert read == signal
    assert store.get_signal("other", "sig-1") is None
    assert store.get_signal("acme", "sig-unknown") is None


def test_a_correlated_alertmanager_signal_is_stored_in_one_write_unit(store: DynamoStore) -> None:
    # Given an Alertmanager alert with the labels and annotations a real one carries, in an incident
    signal = make_signal(
        "sig-6de8acb5c30fe621e2a1d01c207cb146", incident_id="inc-20260501T081903-2e05107d7d",
        labels={"alertname": "TraceLatencyDegraded", "client": "frontend-0", "server": "productcatalogservice-2",
                "span_name": "hipstershop.ProductCatalogService/GetProduct (rpc)", "severity": "warning"},
        description="latency degraded on frontend-0 -> productcatalogservice-2 "
                    "hipstershop.ProductCatalogService/GetProduct (rpc)",
        delivery_id="alertmanager:sha256:8d29b52054ebc5668a786b46f7596fc9",
        raw_ref="firehose://sre-copilot-raw-archive/2026/05/01/08/62a2ad1f-501b-46df-b2d5-af169edf5412"
                "#alertmanager_sha256_8d29b52054ebc5668a786b46f7596fc9",
        links=["http://jaeger-query:16686/search?service=frontend-0&operation=hipstershop.ProductCatalogService"])
    # When it is stored
    store.put_signal(signal)
    # Then its document is compressed and the whole item (names and values) stays under the 1 KB
    # that on-demand DynamoDB bills as one write unit, and it reads back the same
    item = raw_item("TENANT#acme#SIGNAL#sig-6de8acb5c30fe621e2a1d01c207cb146", "SIGNAL")
    # DynamoDB counts attribute names and values (numbers at most their digits, binary its bytes)
    size = sum(len(k) + len(v.get("B") or str(next(iter(v.values()))).encode()) for k, v in item.items())
    assert "doc" not in item and "doc_z" in item
    assert size < 1024, size
    assert store.get_signal("acme", signal.id) == signal


def test_signals_are_read_by_id_in_batches(store: DynamoStore) -> None:
    # Given 230 stored signals (more than two BatchGetItem requests' worth), one counter-only item,
    # and a signal of another tenant
    signals = {f"sig-{i:03d}": make_signal(f"sig-{i:03d}", at_s=i) for i in range(230)}
    for signal in signals.values():
        store.put_signal(signal)
    store.count_duplicate("acme", "sig-counter-only")
    store.put_signal(make_signal("sig-theirs").model_copy(update={"tenant_id": "other"}))
    # When they are asked for by id, with repeats, unknown ids, the counter-only one and the other tenant's
    wanted = [*signals, "sig-000", "sig-unknown", "sig-counter-only", "sig-theirs"]
    read = store.signals_by_id("acme", wanted)
    # Then exactly the stored signals of the tenant come back, equal to what was written
    assert read == signals
    assert store.signals_by_id("acme", []) == {}


def test_signal_expires_after_signal_ttl_days(store: DynamoStore) -> None:
    # Given a signal received at START + 2s
    store.put_signal(make_signal("sig-ttl"))
    # When the stored item is inspected
    item = raw_item("TENANT#acme#SIGNAL#sig-ttl", "SIGNAL")
    # Then its ttl is 30 days after it was received, in epoch seconds
    assert int(item["ttl"]["N"]) == int((START + timedelta(seconds=2, days=30)).timestamp())


def test_signals_of_an_incident_come_in_event_time_order(store: DynamoStore) -> None:
    # Given signals written out of order, two in the incident and one elsewhere
    store.put_signal(make_signal("sig-late", at_s=300, incident_id="inc-1"))
    store.put_signal(make_signal("sig-early", at_s=10, incident_id="inc-1"))
    store.put_signal(make_signal("sig-other", at_s=20, incident_id="inc-2"))
    store.put_signal(make_signal("sig-loose", at_s=30))
    # When the incident's signals are listed
    signals = store.signals_for_incident("acme", "inc-1")
    # Then only its signals come back, earliest first
    assert [s.id for s in signals] == ["sig-early", "sig-late"]


def test_moving_a_signal_to_another_incident_moves_it_in_the_index(store: DynamoStore) -> None:
    # Given a signal of inc-1 that a merge moves to inc-2
    signal = make_signal("sig-m", incident_id="inc-1")
    store.put_signal(signal)
    store.put_signal(signal.model_copy(update={"incident_id": "inc-2"}))
    # When both incidents' signals are listed
    # Then it belongs to inc-2 only
    assert store.signals_for_incident("acme", "inc-1") == []
    assert [s.id for s in store.signals_for_incident("acme", "inc-2")] == ["sig-m"]


def test_second_claim_of_a_window_returns_the_first_holder(store: DynamoStore, clock: SimClock) -> None:
    # Given sig-a claimed the fingerprint's window for 15 minutes
    until = START + timedelta(minutes=15)
    assert store.claim_fingerprint("acme", "fp:firing", "sig-a", until) is None
    # When sig-b claims the same window a minute later
    clock.advance(60)
    holder = store.claim_fingerprint("acme", "fp:firing", "sig-b", until + timedelta(minutes=1))
    # Then sig-a is reported as the holder, and the same fingerprint is free in another tenant
    assert holder == "sig-a"
    assert store.claim_fingerprint("other", "fp:firing", "sig-b", until) is None


def test_retried_claim_by_the_holder_is_still_its_own(store: DynamoStore) -> None:
    # Given sig-a holds the window
    until = START + timedelta(minutes=15)
    store.claim_fingerprint("acme", "fp:firing", "sig-a", until)
    # When a redelivery makes sig-a claim again
    # Then it is told it holds the window (not that it duplicates itself)
    assert store.claim_fingerprint("acme", "fp:firing", "sig-a", until) is None


def test_expired_window_is_claimable_again(store: DynamoStore, clock: SimClock) -> None:
    # Given sig-a's window ended (TTL has not deleted the item yet)
    store.claim_fingerprint("acme", "fp:firing", "sig-a", START + timedelta(minutes=15))
    clock.advance(16 * 60)
    # When sig-c claims the fingerprint after the window
    holder = store.claim_fingerprint("acme", "fp:firing", "sig-c", START + timedelta(minutes=31))
    # Then sig-c gets it, and later claims see sig-c as the holder
    assert holder is None
    assert store.claim_fingerprint("acme", "fp:firing", "sig-d", START + timedelta(minutes=40)) == "sig-c"
    # And the window item outlives its window by the signals' retention, so its repeats are kept
    item = raw_item("TENANT#acme#FINGERPRINT#fp:firing", "CLAIM")
    assert int(item["ttl"]["N"]) == int((START + timedelta(minutes=16)).timestamp()) + 30 * 86400


def test_repeats_are_counted_on_the_open_window_by_the_claim_itself(store: DynamoStore, clock: SimClock) -> None:
    # Given sig-a holds a 15-minute window
    until = START + timedelta(minutes=15)
    assert store.claim_fingerprint("acme", "fp:firing", "sig-a", until) is None
    assert store.dedup_window("acme", "fp:firing") == DedupWindow(holder="sig-a", until=until, repeats=0)
    # When three other signals of the fingerprint arrive inside it
    clock.advance(60)
    holders = [store.claim_fingerprint("acme", "fp:firing", f"sig-{n}", until + timedelta(minutes=1)) for n in "bcd"]
    # Then each is told sig-a holds it, the window counts three repeats and keeps its end
    assert holders == ["sig-a"] * 3
    assert store.dedup_window("acme", "fp:firing") == DedupWindow(holder="sig-a", until=until, repeats=3)


def test_a_closed_windows_repeats_move_to_its_original_when_taken_over(store: DynamoStore, clock: SimClock) -> None:
    # Given sig-a stored, holding a window that absorbed two repeats
    store.put_signal(make_signal("sig-a"))
    until = START + timedelta(minutes=15)
    store.claim_fingerprint("acme", "fp:firing", "sig-a", until)
    for n in "bc":
        store.claim_fingerprint("acme", "fp:firing", f"sig-{n}", until)
    # When sig-e opens the next window after it closed
    clock.advance(16 * 60)
    assert store.claim_fingerprint("acme", "fp:firing", "sig-e", START + timedelta(minutes=31)) is None
    # Then sig-a carries its two repeats and the new window starts with none
    original = store.get_signal("acme", "sig-a")
    assert original is not None and original.duplicate_count == 2
    window = store.dedup_window("acme", "fp:firing")
    assert window is not None and (window.holder, window.repeats) == ("sig-e", 0)


def test_duplicates_are_counted_atomically_and_survive_rewrites(store: DynamoStore) -> None:
    # Given an original signal
    original = make_signal("sig-orig")
    store.put_signal(original)
    # When three duplicates are counted and the (stale) original is written again with an incident
    counts = [store.count_duplicate("acme", "sig-orig") for _ in range(3)]
    store.put_signal(original.model_copy(update={"incident_id": "inc-9"}))
    # Then the counter went 1, 2, 3 and the rewrite kept it
    assert counts == [1, 2, 3]
    read = store.get_signal("acme", "sig-orig")
    assert read is not None and read.duplicate_count == 3 and read.incident_id == "inc-9"


def test_duplicate_counted_before_its_original_is_written_is_kept(store: DynamoStore) -> None:
    # Given a duplicate counted while the original's write is still in flight (concurrent deliveries)
    assert store.count_duplicate("acme", "sig-slow") == 1
    assert store.get_signal("acme", "sig-slow") is None
    # When the original is written
    store.put_signal(make_signal("sig-slow"))
    # Then it carries the count
    read = store.get_signal("acme", "sig-slow")
    assert read is not None and read.duplicate_count == 1


def test_unprocessed_batch_keys_are_asked_for_again(store: DynamoStore, monkeypatch: Any) -> None:
    # Given two stored signals, and DynamoDB leaving one key unprocessed once (it does under throttling;
    # moto never does, so botocore's own hook answers that first request)
    from botocore.awsrequest import AWSResponse

    for signal_id in ("sig-a", "sig-b"):
        store.put_signal(make_signal(signal_id))
    if not hasattr(store.client, "meta"):
        pytest.skip("answers through botocore's request hooks, which only a boto3 client has")
    monkeypatch.setattr("sre_copilot.adapters.dynamo.signals.time.sleep", lambda _s: None)
    first_item = store.client.get_item(TableName=store.table_name, Key=raw_key("sig-a"))["Item"]
    answered = []

    def throttle_once(request: Any, **_: Any) -> AWSResponse | None:
        if answered:
            return None
        answered.append(True)
        # On the wire, binary attributes (the compressed document) are base64
        wire = {k: {"B": base64.b64encode(v["B"]).decode()} if "B" in v else v for k, v in first_item.items()}
        body = {"Responses": {store.table_name: [wire]},
                "UnprocessedKeys": {store.table_name: {"Keys": [raw_key("sig-b")], "ConsistentRead": True}}}
        return AWSResponse(request.url, 200, {}, _Raw(json.dumps(body).encode()))  # type: ignore[arg-type]

    store.client.meta.events.register_first("before-send.dynamodb.BatchGetItem", throttle_once)
    try:
        # When both are read in one batch
        read = store.signals_by_id("acme", ["sig-a", "sig-b"])
    finally:
        store.client.meta.events.unregister("before-send.dynamodb.BatchGetItem", throttle_once)
    # Then the unprocessed one was asked for again and both came back
    assert answered and sorted(read) == ["sig-a", "sig-b"]


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body

    def read(self, *_: Any) -> bytes:
        return self._body


def raw_key(signal_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"TENANT#acme#SIGNAL#{signal_id}"}, "sk": {"S": "SIGNAL"}}
