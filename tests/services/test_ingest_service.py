"""Ingestion through the real handler on the embedded backend: durability, retries, duplicates,
rejections kept for review. (Normalisation itself is covered in tests/ingest.)"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sre_copilot.adapters import aws_clients
from sre_copilot.adapters.dynamo.idempotency_records import PACKED_KEY
from sre_copilot.domain.signal import Signal
from sre_copilot.domain.types import format_time
from sre_copilot.local.runtime import LocalDeployment

T0 = datetime(2026, 3, 10, 20, 0, tzinfo=UTC)
CATALOG = {"services": [{"name": "checkout", "tier": 1, "depends_on": [], "aliases": ["checkoutservice"]}]}


def _alertmanager(fingerprint: str, starts: datetime, severity: str = "warning") -> bytes:
    alert = {"status": "firing", "labels": {"alertname": "HighErrorRate", "service": "checkout", "severity": severity},
             "annotations": {"summary": "errors"}, "startsAt": starts.isoformat(), "endsAt": "0001-01-01T00:00:00Z",
             "generatorURL": "http://prom", "fingerprint": fingerprint}
    return json.dumps({"receiver": "r", "status": "firing", "alerts": [alert], "version": "4", "groupKey": "{}",
                       "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am",
                       "truncatedAlerts": 0}).encode()


@pytest.fixture()
def deployment() -> Iterator[LocalDeployment]:
    with LocalDeployment(start=T0) as d:
        d.put_catalog(CATALOG)
        yield d


def _post(d: LocalDeployment, body: bytes, source: str = "alertmanager") -> tuple[int, Any]:
    return d.http("POST", f"/webhooks/{source}", body, {"Content-Type": "application/json"})



def test_accepted_delivery_is_durable_before_the_2xx(deployment: LocalDeployment) -> None:
    # When an alert is accepted
    status, body = _post(deployment, _alertmanager("fp1", T0))
    # Then the raw body is in the archive stream (Firehose, which moto writes to S3 at once), and
    # the signal, whole, in a message on its priority queue (correlation stores it, placed)
    assert status == 202
    signal_id = body["signals"][0]["id"]
    assert body["raw_ref"].startswith("firehose://sre-copilot-raw-archive/")
    archived = deployment.raw_archive_records()
    assert [r["raw"][:11] for r in archived if r["delivery_id"] == body["delivery_id"]] == ['{"receiver"']
    assert [m["signal"]["id"] for m in _queued(deployment)] == [signal_id]
    # And once correlation has run, it is stored
    deployment.advance_to(T0 + timedelta(minutes=2))
    assert deployment.container.store.get_signal("default", signal_id) is not None


def _queued(d: LocalDeployment) -> list[dict[str, Any]]:
    """The queued messages' bodies (received, so hidden from the poller for the visibility timeout)."""
    sqs = d.session.client("sqs")
    return [json.loads(m["Body"]) for url in d.queue_urls.values()
            for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", [])]


def test_the_queued_signal_is_stored_once_by_correlation_placed_in_its_incident(deployment: LocalDeployment) -> None:
    # When an alert is accepted
    _, body = _post(deployment, _alertmanager("fp1", T0, severity="critical"))
    # Then ingest stores nothing of it: its queue message carries the whole signal
    signal_id = body["signals"][0]["id"]
    assert deployment.container.store.get_signal("default", signal_id) is None
    [carried] = [m["signal"] for m in _queued(deployment)]
    # And correlation writes that very document once, naming the incident it opened
    writes: list[str] = []
    store = deployment.container.store
    put_signal = store.put_signal

    def counted(signal: Any) -> None:
        writes.append(signal.id)
        put_signal(signal)

    store.put_signal = counted  # type: ignore[method-assign]
    deployment.advance_to(T0 + timedelta(minutes=2))
    stored = store.get_signal("default", signal_id)
    assert stored is not None and stored.incident_id
    assert stored.model_dump(mode="json") == {**carried, "incident_id": stored.incident_id}
    assert writes == [signal_id]


def test_a_signal_too_big_for_a_queue_message_goes_by_id(deployment: LocalDeployment) -> None:
    # Given an accepted signal, then the same signal with a label too big for an SQS message
    _post(deployment, _alertmanager("fp1", T0, severity="critical"))
    stored = Signal.model_validate(_queued(deployment)[0]["signal"])
    huge = stored.model_copy(update={"id": "sig-huge", "labels": {**stored.labels, "blob": "x" * 300_000}})
    sqs = deployment.session.client("sqs")
    for url in deployment.queue_urls.values():
        sqs.purge_queue(QueueUrl=url)
    # When ingest queues it
    ingest = deployment.container.ingest
    ingest.c.queue.enqueue_all([ingest._signal_message(huge)])
    # Then its message names it without carrying it
    [message] = [m for url in deployment.queue_urls.values()
                 for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])]
    assert json.loads(message["Body"]) == {"type": "signal", "tenant_id": "default", "signal_id": "sig-huge",
                                           "event_time": stored.model_dump(mode="json")["event_time"]}
    # And ingest stored it, so that correlation can read it back
    assert deployment.container.store.get_signal("default", "sig-huge") == huge


def test_correlation_takes_the_carried_signal_and_reads_back_one_sent_by_id(deployment: LocalDeployment) -> None:
    from sre_copilot.services.correlate_service import CorrelateService

    # Given one stored signal queued by id only, and one whose message carries it but was never stored
    _post(deployment, _alertmanager("fp-a", T0, severity="critical"))
    stored = Signal.model_validate(_queued(deployment)[0]["signal"])
    deployment.container.store.put_signal(stored)
    carried = stored.model_copy(update={"id": "sig-carried", "fingerprint": "fp-b", "source_id": "fp-b"})
    messages = [{"type": "signal", "tenant_id": "default", "signal_id": stored.id},
                {"type": "signal", "tenant_id": "default", "signal_id": carried.id,
                 "signal": carried.model_dump(mode="json")}]
    # When correlation processes the batch
    CorrelateService(deployment.container).process(messages)
    # Then both were placed (the carried one without a read) and both now name their incident
    for signal_id in (stored.id, carried.id):
        placed = deployment.container.store.get_signal("default", signal_id)
        assert placed is not None and placed.incident_id


def test_retried_delivery_yields_exactly_one_signal(deployment: LocalDeployment) -> None:
    # Given a delivery that was accepted
    first_status, first = _post(deployment, _alertmanager("fp1", T0))
    # When the sender retries the identical delivery a little later
    deployment.clock.advance(30)
    status, retry = _post(deployment, _alertmanager("fp1", T0))
    # Then it gets the same answer, marked as a retry, and no new signal is created or queued
    assert (first_status, status) == (202, 202)
    assert retry["retry"] is True and retry["signals"] == first["signals"]
    assert "retry of delivery" in retry["ignored"]


def test_the_first_answer_is_kept_packed_in_the_idempotency_record(deployment: LocalDeployment) -> None:
    # Given a delivery that was accepted
    _post(deployment, _alertmanager("fp1", T0))
    # When its idempotency record is read from the table
    dynamodb = aws_clients.client("dynamodb", deployment.container.settings.region)
    items = dynamodb.scan(TableName=deployment.container.settings.idempotency_table_name)["Items"]
    # Then the answer it keeps for retries is the packed form (billed by the KB, written per delivery)
    assert len(items) == 1
    assert set(json.loads(items[0]["data"]["S"])) == {PACKED_KEY}


def test_a_renotified_firing_is_the_same_signal(deployment: LocalDeployment) -> None:
    # Given a firing alert
    _, first = _post(deployment, _alertmanager("fp1", T0))
    original = first["signals"][0]["id"]
    # When the same firing (same fingerprint and startsAt) is re-notified in a different delivery
    deployment.clock.advance(120)
    _, again = _post(deployment, _alertmanager("fp1", T0))
    # Then it is the same signal (same id, never a second one), and the dedup window, keyed by the
    # firing's start, is held by it
    assert again["signals"][0]["id"] == original and again["signals"][0]["duplicate_of"] is None
    key = f"{first['signals'][0]['fingerprint']}:firing:{format_time(T0)}"
    window = deployment.container.store.dedup_window("default", key)
    assert window is not None and window.holder == original


def test_a_new_startsat_of_the_same_fingerprint_is_a_new_firing(deployment: LocalDeployment) -> None:
    # Given a firing Alertmanager alert
    _, first = _post(deployment, _alertmanager("fp1", T0))
    # When the same fingerprint arrives with a new startsAt (it cleared and fired again, no resolve sent)
    deployment.clock.advance(120)
    _, again = _post(deployment, _alertmanager("fp1", T0 + timedelta(seconds=90)))
    # Then it is a new signal of its own, not a duplicate (Alertmanager semantics)
    assert again["signals"][0]["duplicate_of"] is None
    assert again["signals"][0]["id"] != first["signals"][0]["id"]
    assert again["signals"][0]["id"] in {m["signal"]["id"] for m in _queued(deployment)}


def test_bad_input_gets_a_4xx_with_a_reason_and_is_kept_for_review(deployment: LocalDeployment) -> None:
    # When garbage arrives on a webhook
    status, body = _post(deployment, b'{"alerts": [{"labels": 7}]', source="alertmanager")
    # Then it is a 4xx naming the problem, never a 500 or a stack trace
    assert 400 <= status < 500
    assert body["error"] and "Traceback" not in json.dumps(body)
    # And the bytes and the reason are kept for review
    sqs = deployment.session.client("sqs")
    messages = sqs.receive_message(QueueUrl=deployment.review_queue_url, MaxNumberOfMessages=10).get("Messages", [])
    assert messages and "alertmanager" in messages[0]["Body"]


def test_forged_pagerduty_webhook_is_refused(deployment: LocalDeployment) -> None:
    body = json.dumps({"event": {"id": "x", "event_type": "incident.triggered", "data": {}}}).encode()
    status, answer = deployment.http("POST", "/webhooks/pagerduty", body, {"X-PagerDuty-Signature": "v1=" + "0" * 64})
    assert status == 401 and answer["code"] == "unauthorized"


def test_unknown_route_source_is_a_clear_4xx(deployment: LocalDeployment) -> None:
    status, answer = _post(deployment, b"{}", source="nagios")
    assert 400 <= status < 500 and "nagios" in answer["error"]


def test_ingestion_metrics_by_source_and_latency_are_emitted_as_emf() -> None:
    # The deployment is entered inside the test: pytest swaps sys.stdout between fixture and call
    # phases, and the runtime's EMF capture wraps whatever stdout is current when it starts.
    with LocalDeployment(start=T0) as deployment:
        deployment.put_catalog(CATALOG)
        # When an alert is accepted and a bad body rejected
        _post(deployment, _alertmanager("fp9", T0))
        _post(deployment, b"[]", source="grafana")
        documents = [json.loads(line) for line in deployment.emf.lines]
    # Then the EMF lines (what CloudWatch Logs receives) carry the per-source count, latency and errors
    assert any(d.get("Signals") and d.get("source") == "alertmanager" and d.get("status") == "firing"
               for d in documents)
    names = {m["Name"] for d in documents for m in d["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert {"IngestLatency", "ValidationErrors"} <= names


def test_a_delivery_counts_its_signals_in_one_metric_line_per_status() -> None:
    with LocalDeployment(start=T0) as deployment:
        deployment.put_catalog(CATALOG)
        # Given one Alertmanager delivery of three firing alerts and one resolved
        body = json.loads(_alertmanager("fp-a", T0))
        firing = body["alerts"][0]
        body["alerts"] = [{**firing, "fingerprint": f"fp-{n}", "labels": {**firing["labels"], "pod": f"p{n}"}}
                          for n in range(3)]
        body["alerts"].append({**firing, "fingerprint": "fp-r", "status": "resolved",
                               "endsAt": (T0 + timedelta(minutes=1)).isoformat()})
        # When it is accepted
        status, _ = _post(deployment, json.dumps(body).encode())
        documents = [json.loads(line) for line in deployment.emf.lines]
    # Then the Signals metric says 3 firing and 1 resolved, one EMF line each (the Sum CloudWatch shows)
    assert status == 202
    counts = [(d["status"], d["Signals"]) for d in documents if "Signals" in d and d.get("source") == "alertmanager"]
    assert sorted(counts) == [("firing", [3.0]), ("resolved", [1.0])]


def test_silenced_alert_is_recorded_as_suppressed_and_opens_nothing(deployment: LocalDeployment) -> None:
    from sre_copilot.cli.main import main

    # Given a maintenance window on checkout, created with the CLI
    assert main(["silence", "add", "--matcher", "service=checkout", "--duration", "2h", "--maintenance",
                 "--comment", "db upgrade"]) == 0
    # When a critical alert on checkout arrives
    _, body = _post(deployment, _alertmanager("fp-maint", T0, severity="critical"))
    deployment.advance_to(T0 + timedelta(minutes=10))
    # Then it is stored as suppressed and opens no incident
    signal = deployment.container.store.get_signal("default", body["signals"][0]["id"])
    assert signal is not None and signal.suppressed_by and signal.incident_id is None
    assert deployment.container.store.open_incidents("default") == []
