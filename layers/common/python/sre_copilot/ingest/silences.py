"""Silences and maintenance windows, with Alertmanager matcher semantics.

A matcher is `name op value` with op `=`, `!=`, `=~` or `!~`; regexes are fully anchored, as in
Alertmanager, and a label the signal lacks matches as the empty string. A silence matches a signal
when every matcher does and `starts_at <= at < ends_at`. A maintenance window is a silence with a
`service` matcher on the catalog service name.

Matchers read the signal's labels, and for a few names the normalised fields first:
`service`, `entity`, `host` (catalog names, when resolved), `source`, `severity`, `status` and
`alertname` (falls back to the title).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator

from sre_copilot.domain.signal import Signal
from sre_copilot.domain.types import UtcDateTime

Op = Literal["=", "!=", "=~", "!~"]
_MATCHER_TEXT = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_.:/-]*)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|(\S*))\s*$')


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(f"^(?:{pattern})$", re.DOTALL)


class Matcher(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    name: str = Field(min_length=1, max_length=256)
    value: str = Field(default="", max_length=1024)
    op: Op = "="

    @model_validator(mode="before")
    @classmethod
    def _alertmanager_api_form(cls, data: Any) -> Any:
        # Alertmanager's API writes {"name", "value", "isRegex", "isEqual"}; accept it as it is.
        if isinstance(data, dict) and "op" not in data and ("isRegex" in data or "isEqual" in data):
            regex, equal = bool(data.get("isRegex")), data.get("isEqual", True) is not False
            op = ("=~" if equal else "!~") if regex else ("=" if equal else "!=")
            return {"name": data.get("name"), "value": data.get("value", ""), "op": op}
        return data

    @model_validator(mode="after")
    def _regex_compiles(self) -> Matcher:
        if self.op in ("=~", "!~"):
            try:
                _compiled(self.value)
            except re.error as exc:
                raise ValueError(f"matcher {self.name}{self.op}{self.value!r} is not a valid regex: {exc}") from None
        return self

    @classmethod
    def parse(cls, text: str) -> Matcher:
        """'service="checkout"', 'alertname=~"High.*"', 'severity!=info'."""
        match = _MATCHER_TEXT.match(text)
        if not match:
            raise ValueError(f"not a matcher: {text!r} (expected name=\"value\", with = != =~ or !~)")
        name, op, quoted, bare = match.groups()
        value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare or ""
        return cls(name=name, op=op, value=value)

    def matches(self, value: str) -> bool:
        if self.op == "=":
            return value == self.value
        if self.op == "!=":
            return value != self.value
        found = _compiled(self.value).match(value) is not None
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        return f'{self.name}{self.op}"{self.value}"'


class Silence(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str = Field(default_factory=lambda: f"sil-{uuid.uuid4().hex[:16]}", min_length=1, max_length=128)
    tenant_id: str = "default"
    matchers: list[Matcher] = Field(min_length=1, max_length=64)
    starts_at: UtcDateTime = Field(validation_alias=AliasChoices("starts_at", "startsAt"))
    ends_at: UtcDateTime = Field(validation_alias=AliasChoices("ends_at", "endsAt"))
    created_by: str = Field(default="", max_length=256, validation_alias=AliasChoices("created_by", "createdBy"))
    comment: str = Field(default="", max_length=2048)
    kind: Literal["silence", "maintenance"] = "silence"

    @field_validator("matchers", mode="before")
    @classmethod
    def _matcher_strings(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [Matcher.parse(m) if isinstance(m, str) else m for m in value]
        return value

    @model_validator(mode="after")
    def _window(self) -> Silence:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self

    @classmethod
    def maintenance(cls, service: str, starts_at: datetime, ends_at: datetime, *, created_by: str = "",
                    comment: str = "", tenant_id: str = "default", silence_id: str | None = None) -> Silence:
        """A maintenance window: every signal of `service` (catalog name) is silenced during it."""
        return cls(id=silence_id or f"mw-{uuid.uuid4().hex[:16]}", tenant_id=tenant_id,
                   matchers=[Matcher(name="service", value=service)], starts_at=starts_at, ends_at=ends_at,
                   created_by=created_by, comment=comment or f"maintenance of {service}", kind="maintenance")

    def active_at(self, at: datetime) -> bool:
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
        return self.starts_at <= at < self.ends_at

    def matches(self, signal: Signal) -> bool:
        return all(m.matches(signal_value(signal, m.name)) for m in self.matchers)


def signal_value(signal: Signal, name: str) -> str:
    """The value a matcher named `name` sees for this signal ('' when absent, as in Alertmanager)."""
    if name in ("service", "entity", "host"):
        found = getattr(signal, name)
        return found if found else signal.labels.get(name, "")
    if name == "source":
        return signal.source
    if name == "severity":
        return signal.severity.value
    if name == "status":
        return signal.status.value
    if name == "alertname":
        return signal.labels.get("alertname") or signal.title
    return signal.labels.get(name, "")


def matching_silence(signal: Signal, silences: Sequence[Silence], at: datetime) -> Silence | None:
    """The first silence (in the given order) that is active at `at` and matches the signal."""
    for silence in silences:
        if silence.tenant_id == signal.tenant_id and silence.active_at(at) and silence.matches(signal):
            return silence
    return None
