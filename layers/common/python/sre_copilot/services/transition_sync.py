"""What a lifecycle move changes for people: paging stops once someone has the incident, the Slack
card shows the new state with a line in its thread, and PagerDuty mirrors the move.

Paging and the card come first and never raise (their failures are recorded); PagerDuty last, so a
PagerDuty error (retried by EventBridge) cannot hold back the card or keep a phone ringing.
"""

from __future__ import annotations

from collections.abc import Mapping

from sre_copilot.services import escalation
from sre_copilot.services.callbacks_service import PagerDutySyncService
from sre_copilot.services.container import Container
from sre_copilot.services.living_card import CardSync
from sre_copilot.services.observability import logger


def on_transition(c: Container, detail: Mapping[str, object]) -> dict[str, object]:
    move = dict(detail)
    out: dict[str, object] = {}
    try:
        out["paging_stopped"] = escalation.on_transition(c, move)
    except Exception as exc:
        logger.warning("stopping the page failed", extra={"error": str(exc)})
        out["paging_stopped"] = f"failed: {exc}"
    try:
        out.update(CardSync(c).on_transition(move))
    except Exception as exc:
        logger.warning("card update failed", extra={"error": str(exc)})
        out["card"] = f"failed: {exc}"
    out.update(PagerDutySyncService(c).on_transition(move))
    return out
