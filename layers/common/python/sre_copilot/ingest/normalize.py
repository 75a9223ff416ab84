"""Normalise one webhook delivery into `Signal`s (or an ignored delivery), for every source we accept.

`normalize` is pure: no clock, no I/O. Anything that is not a payload the source sends raises
`InvalidPayload` (or `PayloadTooLarge`) with a one-sentence reason naming the field; no other
exception escapes for any body.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sre_copilot.domain.catalog import Catalog
from sre_copilot.domain.signal import Signal
from sre_copilot.errors import ConfigurationError, InvalidPayload, PayloadTooLarge
from sre_copilot.ingest.model import LifecycleHint, SourceResult
from sre_copilot.ingest.payload import LABELS
from sre_copilot.ingest.signals import DeliveryContext, build_signal, millis
from sre_copilot.ingest.sources import (
    alertmanager,
    cloudwatch,
    cloudwatch_sns,
    datadog,
    generic,
    grafana,
    opsgenie,
    pagerduty,
)

__all__ = ["SOURCES", "LifecycleHint", "NormalizedDelivery", "decode_json", "normalize"]

SOURCES: tuple[str, ...] = ("pagerduty", "cloudwatch", "cloudwatch-sns", "alertmanager", "grafana", "datadog",
                            "opsgenie", "generic")

_PARSERS: dict[str, Callable[[Any], SourceResult]] = {
    "pagerduty": pagerduty.parse,
    "cloudwatch": cloudwatch.parse,
    "cloudwatch-sns": cloudwatch_sns.parse,
    "alertmanager": alertmanager.parse,
    "grafana": grafana.parse,
    "datadog": datadog.parse,
    "opsgenie": opsgenie.parse,
    "generic": generic.parse,
}


@dataclass(frozen=True)
class NormalizedDelivery:
    kind: Literal["alerts", "ignored"]
    signals: list[Signal]
    ignored_reason: str | None
    subscribe_url: str | None = None
    lifecycle: list[LifecycleHint] = field(default_factory=list)


def normalize(source: str, body: bytes | str | Mapping[str, Any], *, catalog: Catalog, received_at: datetime,
              tenant_id: str = "default", delivery_id: str = "", origin_delivery: int | str | None = None,
              max_bytes: int = 262_144, raw_ref: str | None = None) -> NormalizedDelivery:
    """One signal per alert item (origin.item = its index in the delivery), or an ignored delivery.

    A delivery that carries only lifecycle hints (a PagerDuty annotation, an Opsgenie note) is
    `kind="ignored"` with its reason and still carries the hints. `max_bytes` applies to bytes and
    str bodies; a Mapping body was already parsed by the caller.
    """
    parser = _PARSERS.get(source)
    if parser is None:
        raise InvalidPayload(f"unknown source '{source[:40]}'; expected one of {', '.join(SOURCES)}")
    if not 1 <= len(tenant_id) <= 64:
        raise ConfigurationError("tenant_id must be 1 to 64 characters")
    document = decode_json(body, max_bytes=max_bytes, what=LABELS[source])
    if not isinstance(document, dict) and not (source == "generic" and isinstance(document, list)):
        raise InvalidPayload(f"{LABELS[source]} must be a JSON object, not {_json_type(document)}")
    result = parser(document)
    ctx = DeliveryContext(
        source=source, catalog=catalog,
        received_at=millis(received_at if received_at.tzinfo else received_at.replace(tzinfo=UTC)),
        tenant_id=tenant_id, delivery_id=delivery_id[:256], origin_delivery=origin_delivery, raw_ref=raw_ref,
    )
    signals = [build_signal(item, ctx) for item in result.items]
    if signals:
        return NormalizedDelivery(kind="alerts", signals=signals, ignored_reason=None, lifecycle=result.lifecycle)
    return NormalizedDelivery(kind="ignored", signals=[],
                              ignored_reason=result.ignored_reason or f"{LABELS[source]} carries no alerts",
                              subscribe_url=result.subscribe_url, lifecycle=result.lifecycle)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


# One decoder for every call: json.loads with any keyword argument builds a new decoder each time.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def decode_json(body: bytes | str | Mapping[str, Any] | Any, *, max_bytes: int, what: str) -> Any:
    """Size-check, UTF-8-decode and parse a body; a Mapping is returned as a plain dict."""
    if isinstance(body, bytes | bytearray | memoryview):
        raw = bytes(body)
        if len(raw) > max_bytes:
            raise PayloadTooLarge(f"body is {len(raw)} bytes; the limit is {max_bytes} bytes")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidPayload(f"body is not valid UTF-8 (bad byte at offset {exc.start})") from None
    elif isinstance(body, str):
        text = body
        if len(text) > max_bytes or _utf8_length(text) > max_bytes:
            raise PayloadTooLarge(f"body is more than {max_bytes} bytes; the limit is {max_bytes} bytes")
    elif isinstance(body, Mapping):
        return dict(body)
    else:
        raise InvalidPayload(f"{what} body must be JSON text, not {type(body).__name__}")
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        document = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        if not text.strip():
            raise InvalidPayload(f"{what} body is empty") from None
        raise InvalidPayload(f"{what} body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") \
            from None
    except ValueError as exc:
        raise InvalidPayload(f"{what} body is not valid JSON: {exc}") from None
    except RecursionError:
        raise InvalidPayload(f"{what} body is nested too deeply") from None
    if "\\ud" in text or "\\uD" in text:
        # JSON may escape half of a UTF-16 pair; such a string cannot be stored or re-encoded later.
        try:
            json.dumps(document, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidPayload(f"{what} body contains an unpaired UTF-16 surrogate escape") from None
        except RecursionError:
            raise InvalidPayload(f"{what} body is nested too deeply") from None
    return document


def _utf8_length(text: str) -> int:
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidPayload("body is not valid UTF-8 (it contains an unpaired surrogate)") from None


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"
