"""Webhook ingestion: authenticate, keep the raw body, normalise, silence, classify, dedup, queue.

Every accepted delivery is durable (raw body in the Firehose archive stream, which writes it to S3
in batches; signals in DynamoDB; messages in SQS) before the 2xx. Bad input is archived for review
and answered with a 4xx naming the reason. A retried delivery (same delivery id) returns the first
answer again through Powertools Idempotency, so it never yields a second signal.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, TypedDict

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.persistence.dynamodb import DynamoDBPersistenceLayer
from aws_lambda_powertools.utilities.typing import LambdaContext

from sre_copilot.adapters import aws_clients
from sre_copilot.adapters.dynamo.idempotency_records import ANSWER_SERIALIZER
from sre_copilot.domain.catalog import Catalog
from sre_copilot.domain.json_types import string_lists
from sre_copilot.domain.signal import Signal
from sre_copilot.domain.types import Priority, format_time
from sre_copilot.errors import ConfigurationError, InvalidPayload, PayloadTooLarge, SreCopilotError
from sre_copilot.ingest import aws_origin_tenants, tenant_keys
from sre_copilot.ingest.auth import authenticate, check_sns_origin, sns_messages
from sre_copilot.ingest.changes import parse_change
from sre_copilot.ingest.classify import classify
from sre_copilot.ingest.dedup import dedup_key
from sre_copilot.ingest.model import LifecycleHint
from sre_copilot.ingest.normalize import SOURCES, NormalizedDelivery, normalize
from sre_copilot.ingest.silences import Silence, matching_silence
from sre_copilot.ports import clock
from sre_copilot.services import telemetry, tenancy
from sre_copilot.services.container import Container
from sre_copilot.services.observability import logger, metrics


class Delivery(TypedDict):
    """One accepted delivery as the idempotency layer stores it (its key is `delivery_id`)."""

    delivery_id: str
    tenant_id: str
    """The tenant its key resolved to (ingest/tenant_keys.py); the deployment's without tenant keys."""
    source: str
    raw: str
    received_at: str
    origin: int | str | None
    headers: dict[str, str]


class _Accept(Protocol):
    """`_accept_delivery` behind Powertools Idempotency (called by keyword, the layer's rule)."""

    def __call__(self, *, delivery: Delivery) -> dict[str, object]: ...


@dataclass
class IngestResult:
    status: int
    body: dict[str, object] = field(default_factory=dict)


def delivery_id_for(source: str, headers: Mapping[str, str], raw: bytes) -> str:
    """The idempotency key: the sender's own event id where it is inside the signed body, else a
    digest of the exact bytes. Never a header: no signature covers them, so a replayed body with a
    fresh delivery header would otherwise pass as a new delivery. A retry carries the same id."""
    del headers  # kept in the signature for callers; headers are deliberately not used
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        body = None
    if isinstance(body, dict):
        event = body.get("event")
        if source == "pagerduty" and isinstance(event, dict) and isinstance(event.get("id"), str):
            return f"{source}:{event['id']}"
        if source in ("cloudwatch", "changes") and isinstance(body.get("id"), str) and body.get("detail-type"):
            return f"{source}:{body['id']}"
        if source == "cloudwatch-sns":
            records = body.get("Records")
            message = (records[0].get("Sns") if isinstance(records, list) and len(records) == 1
                       and isinstance(records[0], dict) else body)
            if isinstance(message, dict) and isinstance(message.get("MessageId"), str):
                return f"{source}:{message['MessageId']}"
    return f"{source}:sha256:{hashlib.sha256(raw).hexdigest()[:32]}"


class IngestService:
    def __init__(self, container: Container) -> None:
        self.c = container
        persistence = DynamoDBPersistenceLayer(
            table_name=container.settings.idempotency_table_name,
            boto3_client=aws_clients.client("dynamodb", container.settings.region),
        )
        config = IdempotencyConfig(event_key_jmespath="delivery_id", expires_after_seconds=24 * 3600)
        self._idempotency = config
        self._accept: _Accept = idempotent_function(
            data_keyword_argument="delivery", persistence_store=persistence, config=config,
            output_serializer=ANSWER_SERIALIZER,
        )(self._accept_delivery)

    # -- entry points -------------------------------------------------------------------------
    def handle_webhook(self, source: str, headers: Mapping[str, str], raw: bytes,
                       origin_delivery: int | str | None = None, *, iam_trusted: bool = False,
                       lambda_context: LambdaContext | None = None, tenant: str | None = None) -> IngestResult:
        """`iam_trusted`: invoked directly by EventBridge or SNS, whose identity IAM already checked
        (there are no HTTP headers to verify). `tenant`: with `iam_trusted`, set by our own producers
        that run as a tenant (the anomaly detector); else the delivery's origin decides."""
        if lambda_context is not None:
            # Lets Idempotency expire an in-progress record if this invocation times out mid-way.
            self._idempotency.register_lambda_context(lambda_context)
        started = time.perf_counter()
        received_at = clock.now()
        # Authenticate first, then spend: nothing of an unauthenticated request is parsed, archived
        # or queued; it is counted and answered in one sentence.
        try:
            if source not in SOURCES and source != "changes":
                raise InvalidPayload(f"unknown source '{source[:40]}'; expected one of {', '.join(SOURCES)}")
            if len(raw) > self.c.settings.max_body_bytes:
                raise PayloadTooLarge(
                    f"body is {len(raw)} bytes; the limit is {self.c.settings.max_body_bytes} bytes"
                )
            policy = self.c.auth_policy()
            if not iam_trusted:
                authenticate(source, headers, raw, self.c.webhook_secrets(), sns_verifier=self.c.sns_verifier(),
                             policy=policy, now=received_at)
            elif source == "cloudwatch-sns" and source not in policy.insecure_sources:
                # SNS invoked us through IAM (a topic subscription): the topic and freshness still apply.
                for message in sns_messages(raw):
                    check_sns_origin(message, policy, received_at)
            if tenant is None or not iam_trusted:  # else our own producer, running as that tenant
                tenant = self._tenant_of(source, headers, raw, iam_trusted=iam_trusted)
            if tenant not in tenancy.served(self.c):
                # A valid key of a tenant the stack was not deployed for (IAM would refuse its writes).
                raise ConfigurationError(f"tenant_keys names tenant {tenant}, which this deployment does not "
                                         "serve; add it to the cdk.json context `tenants` and deploy")
        except SreCopilotError as exc:
            return self._refuse(source, exc)
        delivery_id = delivery_id_for(source, headers, raw)
        if tenant != self.c.settings.tenant_id:
            # Two tenants may send byte-identical bodies: neither is a retry of the other's.
            delivery_id = f"{tenant}/{delivery_id}"
        with tenancy.scope(tenant):
            return self._accept_authenticated(source, headers, raw, delivery_id, tenant, origin_delivery,
                                              received_at, started)

    def _tenant_of(self, source: str, headers: Mapping[str, str], raw: bytes, *, iam_trusted: bool) -> str:
        """Per-tenant keys, on top of the source's own signature: the key alone names the tenant (the
        deployment's when no keys are listed). EventBridge and SNS cannot send a key: the account or
        topic that IAM or the SNS signature vouched for names it instead."""
        keys = string_lists(self.c.secret("webhook").get("tenant_keys"))
        if iam_trusted or (source == "cloudwatch-sns" and not tenant_keys.carries_key(headers)):
            return aws_origin_tenants.resolve(source, raw, self.c.settings.aws_source_tenant_map(),
                                              self.c.settings.tenant_id, invoked_by_iam=iam_trusted,
                                              keys_in_force=bool(keys))
        return tenant_keys.resolve(headers, keys, self.c.settings.tenant_id)

    def _accept_authenticated(self, source: str, headers: Mapping[str, str], raw: bytes, delivery_id: str,
                              tenant: str, origin_delivery: int | str | None, received_at: datetime,
                              started: float) -> IngestResult:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            # Authenticated, so kept for review; a replacement character would hide the bad bytes.
            return self._reject(source, delivery_id, raw,
                                InvalidPayload(f"body is not valid UTF-8 (bad byte at offset {exc.start})"), received_at,
                                tenant)
        delivery: Delivery = {
            "delivery_id": delivery_id, "tenant_id": tenant, "source": source, "raw": text,
            "received_at": format_time(received_at), "origin": origin_delivery,
            # The tenant key is a credential: it has done its work and goes no further.
            "headers": {k.lower(): v for k, v in headers.items() if k.lower() != tenant_keys.HEADER},
        }
        response = self._accept(delivery=delivery)
        metrics.add_metric(name="IngestLatency", unit=MetricUnit.Milliseconds,
                           value=(time.perf_counter() - started) * 1000)
        telemetry.delivery_accepted()
        if response.get("received_at") != format_time(received_at):
            metrics.add_metric(name="RetriedDeliveries", unit=MetricUnit.Count, value=1)
            response = {**response, "retry": True,
                        "ignored": f"retry of delivery {delivery_id} first accepted at {response.get('received_at')}"}
        status = response.pop("status", 202)
        return IngestResult(status=status if isinstance(status, int) else 202, body=response)

    # -- internals ----------------------------------------------------------------------------
    def _accept_delivery(self, delivery: Delivery) -> dict[str, object]:
        source = delivery["source"]
        raw = delivery["raw"].encode("utf-8")
        received_at = datetime.fromisoformat(delivery["received_at"].replace("Z", "+00:00"))
        delivery_id = delivery["delivery_id"]
        tenant = delivery["tenant_id"]
        # Durable before the 2xx: Firehose holds the record when PutRecord returns, and writes it to
        # S3 in batches (adapters/raw_archive.py).
        raw_ref = self.c.raw_archive().put(tenant_id=tenant, source=source, delivery_id=delivery_id,
                                         received_at=received_at, raw=raw)
        try:
            if source == "changes":
                return self._accept_change(delivery, raw, raw_ref, received_at)
            result = normalize(
                source, raw, catalog=self.c.catalog(), received_at=received_at, tenant_id=tenant,
                delivery_id=delivery_id, origin_delivery=delivery.get("origin"),
                max_bytes=self.c.settings.max_body_bytes, raw_ref=raw_ref,
            )
        except SreCopilotError as exc:
            # Not cached as a success: the reject path archives it and answers 4xx.
            self._archive_rejection(source, delivery_id, raw_ref, exc)
            metrics.add_metric(name="ValidationErrors", unit=MetricUnit.Count, value=1)
            telemetry.delivery_rejected(exc.code)
            return {"status": exc.status, "error": exc.message, "code": exc.code,
                    "received_at": delivery["received_at"], "delivery_id": delivery_id}
        return self._accept_normalized(source, result, delivery, raw_ref)

    def _accept_change(self, delivery: Delivery, raw: bytes, raw_ref: str,
                       received_at: datetime) -> dict[str, object]:
        headers = delivery.get("headers") or {}
        change = parse_change(raw, headers, tenant_id=delivery["tenant_id"])
        if change is None:
            return {"status": 202, "ignored": "not a completed change event", "signals": [],
                    "received_at": delivery["received_at"], "delivery_id": delivery["delivery_id"]}
        self.c.store.put_change(change)
        metrics.add_metric(name="ChangeEvents", unit=MetricUnit.Count, value=1)
        return {"status": 202, "change_id": change.id, "signals": [], "raw_ref": raw_ref,
                "received_at": delivery["received_at"], "delivery_id": delivery["delivery_id"]}

    def _accept_normalized(self, source: str, result: NormalizedDelivery, delivery: Delivery,
                           raw_ref: str) -> dict[str, object]:
        base = {"received_at": delivery["received_at"], "delivery_id": delivery["delivery_id"], "raw_ref": raw_ref}
        if result.lifecycle:
            # Lifecycle hints (an ack or resolve made in PagerDuty/Opsgenie) ride the P0 queue so the
            # correlate function applies them in order with the signals.
            self.c.queue.enqueue(Priority.P0, {"type": "lifecycle", "tenant_id": delivery["tenant_id"],
                                               "source": source,
                                               "hints": [hint_to_dict(h) for h in result.lifecycle]},
                                 dedup_id=f"lifecycle-{_safe(delivery['delivery_id'])}")
        if result.kind == "ignored":
            return {"status": 202, "ignored": result.ignored_reason, "signals": [],
                    "subscribe_url": result.subscribe_url, **base}
        catalog = self.c.catalog()
        silences = self.c.silences()
        out: list[dict[str, object]] = []
        queued: list[tuple[Priority, dict[str, object], str]] = []
        by_status: Counter[str] = Counter()
        for signal in result.signals:
            signal = self._prepare(signal, catalog, silences)
            # A duplicate is counted on its original and its delivery is archived raw (raw_ref), as
            # an alert's repeats are in PagerDuty: an alert storm of re-sends does not become
            # thousands of stored signals. A silenced signal is stored here, as it goes no further;
            # a queued one is durable in its message, and correlation stores it once, placed.
            if signal.duplicate_of is None and signal.suppressed_by is not None:
                self.c.store.put_signal(signal)
            elif signal.duplicate_of is None:
                queued.append(self._signal_message(signal))
            by_status[signal.status.value] += 1
            out.append(signal.model_dump(mode="json", include=_SIGNAL_SUMMARY))
        for status, count in sorted(by_status.items()):
            _count_by_source("Signals", source, status, count)
        if queued:
            # One request per ten alerts of a group (and per priority), not one per alert.
            self.c.queue.enqueue_all(queued)
        logger.info("accepted delivery", extra={"source": source, "signals": len(out)})
        return {"status": 202, "signals": out, **base}

    def _signal_message(self, signal: Signal) -> tuple[Priority, dict[str, object], str]:
        """A new signal's queue message, carrying it whole: the message is where it is durable until
        correlation stores it (one write per alert, placed in its incident, not two). One too big
        for a queue message is stored here and goes by id alone."""
        message: dict[str, object] = {"type": "signal", "tenant_id": signal.tenant_id, "signal_id": signal.id,
                                   "event_time": format_time(signal.event_time)}
        carrying = {**message, "signal": signal.model_dump(mode="json")}
        if self.c.queue.carries(carrying):
            return signal.priority, carrying, signal.id
        self.c.store.put_signal(signal)
        return signal.priority, message, signal.id

    def _prepare(self, signal: Signal, catalog: Catalog, silences: list[Silence]) -> Signal:
        silence = matching_silence(signal, silences, signal.event_time)
        priority = classify(signal, catalog, self.c.priority_rules())
        update: dict[str, object] = {"priority": priority}
        if silence is not None:
            update["suppressed_by"] = silence.id
        else:
            window_until = signal.event_time.timestamp() + self.c.settings.dedup_window_s
            holder = self.c.store.claim_fingerprint(
                signal.tenant_id, dedup_key(signal), signal.id,
                datetime.fromtimestamp(window_until, tz=signal.event_time.tzinfo),
            )
            if holder is not None and holder != signal.id:  # the claim counted this repeat on its window
                update["duplicate_of"] = holder
                metrics.add_metric(name="DuplicateSignals", unit=MetricUnit.Count, value=1)
        return signal.model_copy(update=update)

    def _refuse(self, source: str, exc: SreCopilotError) -> IngestResult:
        """Before authentication: no archive, no review message, no idempotency record."""
        with single_metric(name="AuthFailures" if exc.status == 401 else "RefusedDeliveries", unit=MetricUnit.Count,
                           value=1, namespace="SreCopilot") as metric:
            metric.add_dimension(name="source", value=source if source in SOURCES or source == "changes" else "unknown")
        logger.info("refused delivery", extra={"source": source[:40], "code": exc.code, "reason": exc.message})
        return IngestResult(status=exc.status, body={"error": exc.message, "code": exc.code})

    def _reject(self, source: str, delivery_id: str, raw: bytes, exc: SreCopilotError,
                received_at: datetime, tenant: str) -> IngestResult:
        ref = self.c.blobs.put_bytes(
            f"review/{tenant}/{source}/{received_at:%Y/%m/%d}/{_safe(delivery_id)}.bin", raw[: 1024 * 1024],
        )
        self._archive_rejection(source, delivery_id, ref, exc)
        metrics.add_metric(name="ValidationErrors" if exc.status != 401 else "AuthFailures",
                           unit=MetricUnit.Count, value=1)
        telemetry.delivery_rejected(exc.code)
        return IngestResult(status=exc.status, body={"error": exc.message, "code": exc.code,
                                                     "delivery_id": delivery_id})

    def _archive_rejection(self, source: str, delivery_id: str, ref: str, exc: SreCopilotError) -> None:
        self.c.queue.send_to_review(f"{source}: {exc.message}", ref)


_SIGNAL_SUMMARY = {"id", "source", "status", "severity", "priority", "service", "entity", "entity_kind",
                   "title", "fingerprint", "duplicate_of", "suppressed_by", "background", "origin", "event_time"}


def _count_by_source(name: str, source: str, kind: str, count: int) -> None:
    """Signals by source and type: a dimensioned metric of its own, flushed at once, so the shared
    metric set of the invocation keeps only the service dimension. One line per status of a
    delivery, not per alert: its Sum is the same, and a 50-alert delivery logs 1 line, not 50."""
    with single_metric(name=name, unit=MetricUnit.Count, value=count, namespace="SreCopilot") as metric:
        metric.add_dimension(name="source", value=source)
        metric.add_dimension(name="status", value=kind)


def hint_to_dict(hint: LifecycleHint) -> dict[str, object]:
    from dataclasses import asdict

    return {k: (format_time(v) if isinstance(v, datetime) else v) for k, v in asdict(hint).items()}


def _safe(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text)[:200]
