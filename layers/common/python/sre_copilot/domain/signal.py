"""`Signal`: one normalised alert item, whatever tool sent it."""

from __future__ import annotations

from functools import cache

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from sre_copilot.domain.types import EntityKind, Priority, Severity, SignalStatus, UtcDateTime


class Origin(BaseModel):
    """Where a signal came from: the delivery (replay index or webhook delivery id) and the item in it."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    delivery: int | str | None = None
    item: int = 0


class Signal(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")

    id: str = Field(min_length=1, max_length=128)
    tenant_id: str = Field(default="default", min_length=1, max_length=64)
    source: str = Field(min_length=1, max_length=32)
    source_id: str = Field(default="", max_length=512, description="the tool's own id or key for this alert")
    delivery_id: str = Field(default="", max_length=256)
    origin: Origin = Field(default_factory=Origin)
    status: SignalStatus
    severity: Severity
    priority: Priority = Priority.P3
    event_time: UtcDateTime
    received_at: UtcDateTime
    title: str = Field(max_length=1024)
    description: str = Field(default="", max_length=8192)
    labels: dict[str, str] = Field(default_factory=dict)
    links: list[str] = Field(default_factory=list)
    raw_ref: str | None = None
    service: str | None = None
    entity: str | None = None
    entity_kind: EntityKind | None = None
    host: str | None = None
    fingerprint: str = Field(min_length=1, max_length=128)
    duplicate_of: str | None = None
    duplicate_count: int = 0
    incident_id: str | None = None
    suppressed_by: str | None = None
    background: bool = Field(default=False, description="informational noise: recorded, never opens or pages")
    metric_value: float | None = None
    sigma: float | None = Field(default=None, description="deviation from baseline in standard deviations")

    @property
    def is_alert(self) -> bool:
        return self.status is SignalStatus.FIRING


@cache
def _signal_list() -> TypeAdapter[list[Signal]]:
    # Built on first use, not at import: `Signal` defers its schema to keep cold starts short.
    return TypeAdapter(list[Signal])


def signals_to_documents(signals: list[Signal]) -> list[dict[str, object]]:
    """The signals as JSON-ready documents, as an analysis pass stores the set it works on."""
    documents: list[dict[str, object]] = _signal_list().dump_python(signals, mode="json")
    return documents


def signals_from_documents(documents: object) -> list[Signal]:
    """`signals_to_documents` read back, every signal validated."""
    return _signal_list().validate_python(documents)
