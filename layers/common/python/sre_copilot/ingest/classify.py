"""Priority classification: which queue a signal rides (P0 immediate ... P3 background batch).

Rules, in order (all configurable through `PriorityRules`):

1. `overrides`: the first rule whose matchers all match the signal decides.
2. Background noise (info severity, `background=True`) is `background_priority` (P3).
3. A CloudWatch alarm whose actions are suppressed or muted (labels `actions_suppressed_by`,
   `muted_by`) is `suppressed_priority` (P3): CloudWatch itself decided not to act on it.
4. Otherwise the severity maps to a base priority (critical P0, error P1, warning P1, info P3).
5. SLO impact (an alert about error-budget burn, burn rate or an SLO, by title/alertname or an
   `slo`-style label) raises the priority one step.
6. The service tier caps how urgent a signal may be: tier 1 and 2 services may page at P0, tier 3
   at most P1, tier 4 and above at most P2. Signals of unknown services are not capped.
"""

from __future__ import annotations

import re
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sre_copilot.domain.catalog import Catalog
from sre_copilot.domain.signal import Signal
from sre_copilot.domain.types import Priority, Severity
from sre_copilot.ingest.silences import Matcher, signal_value

_ORDER = (Priority.P0, Priority.P1, Priority.P2, Priority.P3)


class PriorityOverride(BaseModel):
    model_config = ConfigDict(frozen=True)

    matchers: list[Matcher] = Field(min_length=1)
    priority: Priority
    reason: str = ""

    def matches(self, signal: Signal) -> bool:
        return all(m.matches(signal_value(signal, m.name)) for m in self.matchers)


class PriorityRules(BaseModel):
    model_config = ConfigDict(frozen=True)

    severity_priority: dict[Severity, Priority] = Field(default_factory=lambda: {
        Severity.CRITICAL: Priority.P0, Severity.ERROR: Priority.P1,
        Severity.WARNING: Priority.P1, Severity.INFO: Priority.P3,
    })
    tier_cap: dict[int, Priority] = Field(default_factory=lambda: {
        1: Priority.P0, 2: Priority.P0, 3: Priority.P1, 4: Priority.P2,
    }, description="most urgent priority a service of this tier may get; higher tiers use the last entry")
    slo_patterns: list[str] = Field(default_factory=lambda: [
        r"error[ _-]?budget", r"burn[ _-]?rate", r"\bslo\b", r"\bsli\b",
    ])
    slo_labels: list[str] = Field(default_factory=lambda: ["slo", "slo_name", "sloth_slo", "burn_rate",
                                                           "error_budget"])
    slo_promotion: bool = True
    background_priority: Priority = Priority.P3
    suppressed_priority: Priority = Priority.P3
    suppressed_labels: list[str] = Field(default_factory=lambda: ["actions_suppressed_by", "muted_by"])
    overrides: list[PriorityOverride] = Field(default_factory=list)

    @field_validator("slo_patterns")
    @classmethod
    def _patterns_compile(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"slo pattern {pattern!r} is not a valid regex: {exc}") from None
        return value

    def slo_impact(self, signal: Signal) -> bool:
        if any(signal.labels.get(name) for name in self.slo_labels):
            return True
        regex = _any_of(tuple(self.slo_patterns))
        if regex is None:
            return False
        return bool(regex.search(signal.title) or regex.search(signal.labels.get("alertname", "")))

    def cap_for_tier(self, tier: int) -> Priority | None:
        if not self.tier_cap:
            return None
        eligible = [t for t in self.tier_cap if t <= tier]
        return self.tier_cap[max(eligible)] if eligible else None


@lru_cache(maxsize=64)
def _any_of(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE) if patterns else None


_DEFAULT_RULES = PriorityRules()


def classify(signal: Signal, catalog: Catalog, rules: PriorityRules | None = None) -> Priority:
    rules = rules or _DEFAULT_RULES
    for override in rules.overrides:
        if override.matches(signal):
            return override.priority
    if signal.background or signal.severity is Severity.INFO:
        return rules.background_priority
    if any(signal.labels.get(name) for name in rules.suppressed_labels):
        return rules.suppressed_priority
    rank = _ORDER.index(rules.severity_priority.get(signal.severity, Priority.P1))
    if rules.slo_promotion and rank > 0 and rules.slo_impact(signal):
        rank -= 1
    service = catalog.service(signal.service) if signal.service else None
    if service is not None:
        cap = rules.cap_for_tier(service.tier)
        if cap is not None:
            rank = max(rank, _ORDER.index(cap))
    return _ORDER[rank]
