"""Turn parsed alert items into `Signal`s: catalog resolution, fingerprint, deterministic id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from sre_copilot.domain.catalog import Catalog
from sre_copilot.domain.signal import Signal
from sre_copilot.domain.types import Severity
from sre_copilot.errors import InvalidPayload
from sre_copilot.ingest.fields import DESCRIPTION_MAX, SOURCE_ID_MAX, TITLE_MAX, clip
from sre_copilot.ingest.fingerprint import fingerprint, signal_id
from sre_copilot.ingest.model import AlertItem
from sre_copilot.ingest.payload import describe
from sre_copilot.ingest.resolution import resolve


@dataclass(slots=True)
class DeliveryContext:
    source: str
    catalog: Catalog
    received_at: datetime
    """Aware and already truncated to milliseconds (see `millis`)."""
    tenant_id: str
    delivery_id: str
    origin_delivery: int | str | None
    raw_ref: str | None


def build_signal(item: AlertItem, ctx: DeliveryContext) -> Signal:
    resolution = resolve(ctx.catalog, item.service_hints, item.instance_hints, item.host_hints)
    title = clip(item.title, TITLE_MAX)
    fp = fingerprint(ctx.source, item.source_key, item.labels, resolution.service, resolution.entity, title)
    event_time = millis(item.event_time) if item.event_time else ctx.received_at
    if ctx.delivery_id:
        delivery_key = f"delivery:{ctx.delivery_id}"
    elif item.delivery_ref:
        delivery_key = f"ref:{item.delivery_ref}"
    elif ctx.origin_delivery is not None:
        delivery_key = f"origin:{ctx.origin_delivery}"
    else:
        # No id anywhere: the alert's identity, state and payload time stand in for the delivery.
        delivery_key = f"content:{fp}:{item.status.value}:{event_time.isoformat()}"
    fields = {
        "id": signal_id(ctx.tenant_id, ctx.source, delivery_key, item.index),
        "tenant_id": ctx.tenant_id,
        "source": ctx.source,
        "source_id": clip(item.source_id, SOURCE_ID_MAX),
        "delivery_id": ctx.delivery_id,
        "origin": {"delivery": ctx.origin_delivery, "item": item.index},
        "status": item.status,
        "severity": item.severity,
        "event_time": event_time,
        "received_at": ctx.received_at,
        "title": title,
        "description": clip(item.description, DESCRIPTION_MAX),
        "labels": item.labels,
        "links": _dedupe(item.links),
        "raw_ref": ctx.raw_ref,
        "service": resolution.service,
        "entity": resolution.entity,
        "entity_kind": resolution.entity_kind,
        "host": resolution.host,
        "fingerprint": fp,
        "background": item.severity is Severity.INFO,
        "metric_value": item.metric_value,
    }
    # Validating is cheaper than model_construct in pydantic v2 (the core is compiled), and it
    # guarantees every signal we hand out is a valid Signal.
    try:
        return Signal.model_validate(fields)
    except ValidationError as exc:
        raise InvalidPayload(describe(f"{ctx.source} alert {item.index}", exc)) from None


def millis(value: datetime) -> datetime:
    """Truncate to milliseconds: signals are stored and exchanged with millisecond times
    (format_time), so the in-memory signal equals its stored form (Alertmanager sends nanoseconds)."""
    extra = value.microsecond % 1000
    return value.replace(microsecond=value.microsecond - extra) if extra else value


def _dedupe(values: list[str]) -> list[str]:
    unique = list(dict.fromkeys(values))
    return [v for v in unique if v] if "" in unique else unique
