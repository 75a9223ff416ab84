"""Which deliveries of an alert are repeats: the key ingestion's dedup window is claimed under.

Alertmanager and Grafana identify one *firing* by fingerprint and `startsAt`: re-notifications of
a firing alert repeat its `startsAt`, while the same fingerprint with a new `startsAt` is the alert
firing again (it resolved in between, perhaps without a resolved notice ever being sent). So for
those sources a firing's key carries its start time, and a new firing is never folded into an
older one as a repeat, however close they are. Other sources stamp an item with the time of the
notification, not of the firing, so their repeats can only be recognised by fingerprint and status
within the dedup window.
"""

from __future__ import annotations

from sre_copilot.domain.signal import Signal
from sre_copilot.domain.types import SignalStatus, format_time

# Sources whose `event_time` is the firing's own start, repeated on every re-notification.
STARTS_AT_SOURCES = frozenset({"alertmanager", "grafana"})


def dedup_key(signal: Signal) -> str:
    """`fingerprint:status`, plus `:startsAt` for a firing from a source that sends one."""
    key = f"{signal.fingerprint}:{signal.status.value}"
    if signal.status is SignalStatus.FIRING and signal.source in STARTS_AT_SOURCES:
        key += f":{format_time(signal.event_time)}"
    return key
