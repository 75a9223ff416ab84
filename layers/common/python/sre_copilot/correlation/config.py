"""Correlation settings: folding window, graph reach, and when a group of signals becomes an incident.

The defaults come from the labelled samples and are explained in docs/correlation.md: every alert of
a fault arrives within about four minutes of a related alert of the same fault, while the next fault
in the same estate starts thirteen minutes or more after the previous one's last alert, so an
eight-minute window folds the first and keeps the second apart with room on both sides.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sre_copilot.domain.types import Priority, Severity


class OpenRule(BaseModel):
    """When a group whose highest priority is `priority` opens an incident.

    It opens once `min_signals` distinct alerts (different fingerprints; duplicates never count) have
    fired within `within_s` of each other, or, if `after_s` is set, once its first alert has kept
    firing for `after_s` without resolving. `min_signals=1` opens at once.
    """

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    priority: Priority
    min_signals: int = Field(default=1, ge=1, le=1000)
    within_s: int = Field(default=600, gt=0, le=86_400)
    after_s: int | None = Field(default=None, gt=0, le=7 * 86_400)


GROUP_WAIT_S = 300
P2_PERSISTENCE_S = 900


def default_open_rules() -> list[OpenRule]:
    # Ingestion's classifier makes a critical alert on a tier-1/2 service P0 and a warning or error P1.
    # A lone critical is its owner's call to page now (the labelled samples have real incidents made
    # of one critical alert); a lone warning is how one-off noise looks, two related alerts are a pattern.
    return [
        OpenRule(priority=Priority.P0, min_signals=1),
        OpenRule(priority=Priority.P1, min_signals=2, within_s=600, after_s=GROUP_WAIT_S),
        OpenRule(priority=Priority.P2, min_signals=2, within_s=600, after_s=P2_PERSISTENCE_S),
        OpenRule(priority=Priority.P3, min_signals=3, within_s=600),
    ]


class CorrelationConfig(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    window_s: int = Field(default=480, ge=10, le=86_400,
                          description="two alerts fold only if their event times are at most this far apart")
    max_hops: int = Field(default=2, ge=0, le=6, description="dependency-graph reach of the graph rule")
    open_rules: list[OpenRule] = Field(default_factory=default_open_rules)
    merge: bool = Field(default=True, description="merge incidents when a later alert connects them")
    merge_min_score: float = Field(
        default=0.6, ge=0.0, le=1.0,
        description="weakest link (see docs: graph at 1 hop scores 0.6, at 2 hops 0.5) allowed to merge two incidents")
    causal_paths_only: bool = Field(
        default=True,
        description="graph links follow call chains or a shared dependency, not two callees of one caller")
    cascade_s: int | None = Field(
        default=900, ge=0,
        description="an incident whose first alert is older than this takes new alerts only on direct "
                    "evidence (fingerprint, instance, host, alert name), not by service or graph: failures "
                    "cascade within minutes, and a busy estate otherwise chains fault after fault; "
                    "None: no age limit")
    quiet_s: int | None = Field(
        default=300, ge=10,
        description="a group none of whose alerts started (or fired again) in this long stops absorbing "
                    "signals, whether or not a resolve ever arrived: a fault firing after such a silence "
                    "is a new incident (None: only window_s limits links)")
    quiet_min_alerts: int = Field(default=10, ge=2, description="alerts before a group's own rhythm sets its silence")
    quiet_rhythm: float = Field(default=3.0, gt=1.0, le=100.0,
                                description="a steady group goes quiet after this many times its longest pause")
    quiet_min_s: int = Field(default=120, ge=10, description="the shortest silence that ends a steady group")
    burst_s: int | None = Field(
        default=60, ge=1,
        description="an alert with no link to any group joins the open incident (younger than cascade_s) "
                    "with an alert this close in time, while it is the only incident in progress; never "
                    "merges (None: off)")
    burst_min_alerts: int = Field(default=2, ge=1, description="alerts an incident needs before bursts join it")
    shared_dependency_max_callers: int | None = Field(
        default=8, ge=0,
        description="two callers of a silent shared dependency link only if it has at most this many callers "
                    "(None: always): a database half the estate calls would link everything to everything, "
                    "while an alert on the dependency itself still links each caller directly")
    host_attribution: bool = Field(
        default=True,
        description="an instance alert on a failing host links by host only, not through its service's graph")
    suspect_host_services: int = Field(
        default=2, ge=1, le=100,
        description="instances of at least this many services alerting on one host make the host the "
                    "suspect, when more of the group's services alert there than the host's share of the "
                    "catalog's services explains")
    background_severities: list[Severity] = Field(
        default_factory=lambda: [Severity.INFO],
        description="severities treated like Signal.background: recorded, never open, join or page")
    expire_factor: int = Field(default=4, ge=1, le=1000,
                               description="forget groups idle for window_s * expire_factor (bounds state)")
    max_group_members: int = Field(
        default=200, ge=10, le=100_000,
        description="signals a group remembers in full; beyond it repeats and idle members are compacted "
                    "(the incident store keeps the complete list)")

    @field_validator("open_rules")
    @classmethod
    def _one_rule_per_priority(cls, rules: list[OpenRule]) -> list[OpenRule]:
        seen = [r.priority for r in rules]
        duplicated = sorted({p for p in seen if seen.count(p) > 1})
        if duplicated:
            raise ValueError(f"open_rules has more than one rule for {', '.join(duplicated)}; keep one per priority")
        return rules

    @model_validator(mode="after")
    def _rules_fit_memory(self) -> CorrelationConfig:
        horizon = self.window_s * self.expire_factor
        if "open_rules" not in self.model_fields_set:
            # The default persistence times shorten to fit a shorter memory chosen without them.
            fitted = [r if r.after_s is None or r.after_s <= horizon else r.model_copy(update={"after_s": horizon})
                      for r in self.open_rules]
            object.__setattr__(self, "open_rules", fitted)
        for rule in self.open_rules:
            if rule.after_s is not None and rule.after_s > horizon:
                raise ValueError(
                    f"open rule for {rule.priority} waits {rule.after_s}s but groups are forgotten after "
                    f"{horizon}s (window_s * expire_factor); raise expire_factor or lower after_s")
        return self

    def rule_for(self, priority: Priority) -> OpenRule | None:
        return next((r for r in self.open_rules if r.priority is priority), None)

    @property
    def horizon_s(self) -> int:
        return self.window_s * self.expire_factor
