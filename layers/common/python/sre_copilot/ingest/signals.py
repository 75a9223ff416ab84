"""Turn parsed alert items into `Signal`s: catalog resolution, fingerprint, deterministic id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sre_copilot.domain.catalog import Catalog
from sre_copilot.domain.signal import Origin, Signal
from sre_copilot.domain.types import Severity
from sre_copilot.ingest.fields import DESCRIPTION_MAX, SOURCE_ID_MAX, TITLE_MAX, clip
from sre_copilot.ingest.fingerprint import fingerprint, signal_id
from sre_copilot.ingest.model import AlertItem
from sre_copilot.ingest.resolution import resolve


@dataclass(frozen=True, slots=True)
class DeliveryContext:
    source: str
    catalog: Catalog
    received_at: datetime
    tenant_id: str
    delivery_id: str
    origin_delivery: int | str | None
    raw_ref: str | None


def build_signal(item: AlertItem, ctx: DeliveryContext) -> Signal:
    resolution = resolve(ctx.catalog, _dedupe(item.service_hints), _dedupe(item.instance_hints),
                         _dedupe(item.host_hints))
    title = clip(item.title, TITLE_MAX)
    fp = fingerprint(ctx.source, item.source_key, item.labels, resolution.service, resolution.entity, title)
    event_time = _millis(item.event_time or ctx.received_at)
    if ctx.delivery_id:
        delivery_key = f"delivery:{ctx.delivery_id}"
    elif item.delivery_ref:
        delivery_key = f"ref:{item.delivery_ref}"
    elif ctx.origin_delivery is not None:
        delivery_key = f"origin:{ctx.origin_delivery}"
    else:
        # No id anywhere: the alert's identity, state and payload time stand in for the delivery.
        delivery_key = f"content:{fp}:{item.status.value}:{event_time.isoformat()}"
    # Fields are validated by construction here (clipped text, parsed times, str labels), so the
    # hot path skips a second pydantic validation of the Signal.
    return Signal.model_construct(
        id=signal_id(ctx.tenant_id, ctx.source, delivery_key, item.index),
        tenant_id=ctx.tenant_id,
        source=ctx.source,
        source_id=clip(item.source_id, SOURCE_ID_MAX),
        delivery_id=ctx.delivery_id,
        origin=Origin.model_construct(delivery=ctx.origin_delivery, item=item.index),
        status=item.status,
        severity=item.severity,
        event_time=event_time,
        received_at=_millis(ctx.received_at),
        title=title,
        description=clip(item.description, DESCRIPTION_MAX),
        labels=item.labels,
        links=_dedupe(item.links),
        raw_ref=ctx.raw_ref,
        service=resolution.service,
        entity=resolution.entity,
        entity_kind=resolution.entity_kind,
        host=resolution.host,
        fingerprint=fp,
        background=item.severity is Severity.INFO,
        metric_value=item.metric_value,
    )


def _millis(value: datetime) -> datetime:
    # Signals are stored and exchanged with millisecond times (format_time); truncating here keeps
    # the in-memory signal equal to its stored form (Alertmanager sends nanoseconds).
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _dedupe(values: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        if value and value not in seen:
            seen[value] = None
    return list(seen)
