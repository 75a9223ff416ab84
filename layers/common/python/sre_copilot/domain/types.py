"""Shared enums and value helpers for the domain models."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer


class Severity(StrEnum):
    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class SignalStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"
    ACKNOWLEDGED = "acknowledged"


class Priority(StrEnum):
    P0 = "P0"
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"


class EntityKind(StrEnum):
    SERVICE = "service"
    INSTANCE = "instance"
    HOST = "host"


class ChangeKind(StrEnum):
    DEPLOY = "deploy"
    CONFIG = "config"
    FEATURE_FLAG = "feature_flag"
    INFRA = "infra"
    SCALING = "scaling"
    ROLLBACK = "rollback"


class DecisionOutcome(StrEnum):
    PRESENT = "present"
    AUTO_ACK = "auto_ack"
    INCONCLUSIVE = "inconclusive"
    NEEDS_HUMAN = "needs_human"


class Risk(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Approval(StrEnum):
    AUTO = "auto"
    APPROVED = "approved"
    REJECTED = "rejected"
    TIMED_OUT = "timed_out"
    BLOCKED = "blocked"
    PENDING = "pending"


class ActionStatus(StrEnum):
    PLANNED = "planned"
    EXECUTED = "executed"
    VERIFIED = "verified"
    ROLLED_BACK = "rolled_back"
    FAILED = "failed"
    SKIPPED = "skipped"


class Channel(StrEnum):
    SLACK = "slack"
    PHONE = "phone"
    SMS = "sms"
    EMAIL = "email"
    TEAMS = "teams"
    PAGERDUTY = "pagerduty"


class NotificationKind(StrEnum):
    PAGE = "page"
    UPDATE = "update"
    APPROVAL_REQUEST = "approval_request"
    ESCALATION = "escalation"
    RESOLUTION = "resolution"


def parse_time(value: Any) -> datetime:
    """Accept RFC 3339 strings, epoch milliseconds (int) or datetimes; always return aware UTC.

    Alert tools disagree on time formats (CloudWatch's `+0000`, Alertmanager's nanoseconds,
    Opsgenie's epoch ms), so every model field that holds a time goes through here.
    """
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, bool):
        raise ValueError("a boolean is not a time")
    if isinstance(value, int | float):
        number = float(value)
        # Nanoseconds and microseconds appear in real payloads (Opsgenie updatedAt); scale them down.
        while number > 1e14:
            number /= 1000.0
        return datetime.fromtimestamp(number / 1000.0, tz=UTC)
    if isinstance(value, str):
        return _parse_text(value)
    raise ValueError(f"not a time: {value!r}")


@functools.lru_cache(maxsize=16384)
def _parse_text(value: str) -> datetime:
    """The text form of `parse_time`. A time is parsed each time a signal or incident document is
    read, so the same strings come back many times; datetimes are immutable, so one parse each."""
    text = value.strip()
    if text.isdigit():
        return parse_time(int(text))
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    # CloudWatch writes offsets as +0000; fromisoformat wants +00:00.
    if len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit() and ":" not in text[-5:]:
        text = f"{text[:-2]}:{text[-2:]}"
    # Go tools emit nanosecond fractions; Python accepts at most microseconds.
    if "." in text:
        head, _, rest = text.partition(".")
        digits = ""
        while rest and rest[0].isdigit():
            digits, rest = digits + rest[0], rest[1:]
        text = f"{head}.{digits[:6].ljust(6, '0')}{rest}" if digits else f"{head}{rest}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"not an RFC 3339 time: {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_time(value: datetime) -> str:
    """RFC 3339 with millisecond precision and a Z suffix, as the scenario contract writes times."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


UtcDateTime = Annotated[
    datetime,
    BeforeValidator(parse_time),
    PlainSerializer(format_time, return_type=str, when_used="json"),
]
