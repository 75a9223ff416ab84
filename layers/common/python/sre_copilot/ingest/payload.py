"""Base class and error wording for the per-source payload models."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from sre_copilot.errors import InvalidPayload

MAX_ALERTS = 1000
"""Alerts per delivery. Alertmanager truncates groups itself (max_alerts); far more is not a real sender."""

LABELS = {
    "pagerduty": "PagerDuty v3 webhook",
    "cloudwatch": "CloudWatch EventBridge event",
    "cloudwatch-sns": "SNS notification",
    "alertmanager": "Alertmanager webhook",
    "grafana": "Grafana webhook",
    "datadog": "Datadog webhook",
    "opsgenie": "Opsgenie webhook",
    "generic": "generic alert",
    "changes": "change event",
}


class PayloadModel(BaseModel):
    """Payload models read only what we use and ignore the rest, as senders add fields over time."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


def describe(what: str, exc: ValidationError, prefix: str = "") -> str:
    """One sentence naming the first bad field, e.g. "... 'alerts.0.status': Input should be ..."."""
    errors = exc.errors(include_url=False, include_context=False, include_input=False)
    if not errors:
        return f"{what} is invalid"
    first = errors[0]
    loc = ".".join(str(part) for part in (*((prefix,) if prefix else ()), *first["loc"]))
    message = str(first["msg"]).removeprefix("Value error, ")
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    where = f" at '{loc}'" if loc else ""
    return f"{what} is invalid{where}: {message}{more}"


def validate[M: BaseModel](model: type[M], data: Any, source: str, prefix: str = "") -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidPayload(describe(LABELS.get(source, source), exc, prefix)) from None
    except RecursionError:
        raise InvalidPayload(f"{LABELS.get(source, source)} is nested too deeply") from None


class reading:
    """`with reading("grafana"): ...` turns a field helper's ValueError ("'startsAt' is not a
    time: ...") into InvalidPayload. A small class rather than @contextmanager, which costs about a
    microsecond per use on the hot path."""

    __slots__ = ("source",)

    def __init__(self, source: str) -> None:
        self.source = source

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if isinstance(exc, ValueError) and not isinstance(exc, ValidationError):
            raise InvalidPayload(f"{LABELS.get(self.source, self.source)} is invalid: {exc}") from None
