"""Wording shared by every channel, so Slack, the phone and PagerDuty describe an incident the same way."""

from __future__ import annotations

import re
from collections.abc import Iterable

from sre_copilot.domain.reasoning import ConfidenceFactors, Hypothesis

SIGNAL_ID = re.compile(r"\bsig-[0-9a-f]{8,}\b")


def name_alerts(text: str, titles: dict[str, str]) -> str:
    """People know alerts by their titles, not our signal ids."""
    return SIGNAL_ID.sub(lambda m: f"'{titles[m.group(0)]}'" if m.group(0) in titles else m.group(0), text)

FACTOR_LABELS: dict[str, str] = {
    "signal_strength": "signal strength",
    "temporal_correlation": "temporal correlation",
    "precedent_frequency": "precedent frequency",
    "evidence_quality": "evidence quality",
    "human_validation": "human validation",
}


def ranked(hypotheses: Iterable[Hypothesis]) -> list[Hypothesis]:
    """Best first: by rank where the scorer set one, otherwise by confidence."""
    return sorted(hypotheses, key=lambda h: (h.rank <= 0, h.rank, -h.confidence))


def percent(value: float) -> str:
    return f"{round(value * 100):d}%"


def confidence_phrase(h: Hypothesis) -> str:
    low, high = h.confidence_range
    if h.factors is None and low == high == 0.0:
        return f"{percent(h.confidence)} (not scored)"
    if h.raw_confidence is not None:  # a fitted calibration mapped the weighted score (reasoning.calibrated)
        return (f"{percent(h.confidence)} calibrated, raw score {percent(h.raw_confidence)} "
                f"(range {percent(low)} to {percent(high)})")
    return f"{percent(h.confidence)} (range {percent(low)} to {percent(high)})"


def factor_breakdown(factors: ConfidenceFactors | None) -> str:
    if factors is None:
        return "factors not scored"
    values = factors.model_dump()
    return " · ".join(f"{FACTOR_LABELS[name]} {values[name]:.2f}" for name in FACTOR_LABELS)


def hypothesis_title(h: Hypothesis) -> str:
    via = f" via {h.change_id}" if h.change_id else ""
    owner = f" of {h.service}" if h.service and h.service != h.entity else ""
    return f"{h.entity} ({h.entity_kind.value}{owner}): {h.fault}{via}"


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"
