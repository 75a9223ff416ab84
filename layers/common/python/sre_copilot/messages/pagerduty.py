"""The note the copilot adds to the PagerDuty incident: ranked hypotheses with their factor breakdown."""

from __future__ import annotations

from sre_copilot.domain.reasoning import Decision, Hypothesis
from sre_copilot.messages.text import confidence_phrase, factor_breakdown, hypothesis_title, ranked, truncate

NOTE_LIMIT = 25_000  # PagerDuty rejects longer note content
TOP_HYPOTHESES = 3


def hypotheses_note(hypotheses: list[Hypothesis], decision: Decision | None) -> str:
    outcome = decision.outcome.value if decision is not None else "pending"
    lines = [f"SRE Copilot analysis (decision: {outcome})"]
    top = ranked(hypotheses)[:TOP_HYPOTHESES]
    if not top:
        lines.append("No hypothesis: the evidence names no cause yet.")
    for position, h in enumerate(top, start=1):
        lines.append(f"{position}. {hypothesis_title(h)} — confidence {confidence_phrase(h)}")
        lines.append(f"   {factor_breakdown(h.factors)}")
        if h.summary:
            lines.append(f"   {h.summary}")
    if decision is not None and decision.reasons:
        lines.append("Why: " + "; ".join(decision.reasons))
    return truncate("\n".join(lines), NOTE_LIMIT)
