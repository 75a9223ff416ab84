"""How usual each alert is: a per-key firing history, learned online from the alert stream.

Real monitoring re-raises the same anomalies (a memory-hungry pod, a chatty call) in almost every
incident. They are true anomalies but say nothing about this incident's cause, and by count alone
they outrank the injected fault. Like IDF in text retrieval, an alert's weight here falls with the
share of past time windows in which its key (the entity, metric and direction, or the call) fired
before the incident started:

    p = (windows with the key + 1) / (active windows + PRIOR_WINDOWS)
    weight = clamp(log(1/p) / log(1/RARE_SHARE), FLOOR, 1)

- Only what was seen before the incident's first alert counts (`before`), never labels and never
  later alerts, so a replay scores it exactly as production would have at that moment.
- With no history (a new tenant, a new key) every weight is 1: the prior says "rare" until the
  stream shows otherwise, so the ranking degrades to the unweighted one, never below it.
- Windows are WINDOW_S of event time (the alert's own `startsAt`); a window counts as active when
  any alert fired in it, so a quiet night does not make every key look rare.

Memory is bounded: per key a count, and the last RECENT window indexes (to subtract windows at or
after `before` exactly while fewer than RECENT of them are that recent), at most MAX_KEYS keys
(least recently fired dropped first). The engine keeps it in its persisted state.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sre_copilot.domain.signal import Signal

WINDOW_S = 600
PRIOR_WINDOWS = 20.0
RARE_SHARE = 0.05
FLOOR = 0.05
RECENT = 8
MAX_KEYS = 20_000
HISTORY_FORMAT = "sre-copilot/alert-history@1"


def alert_key(signal: Signal) -> str | None:
    """What makes two firings 'the same anomaly': a call (client -> server) or an entity's metric
    and direction, else the entity and alert name. None for alerts about nothing in particular."""
    labels = signal.labels
    if labels.get("client") and labels.get("server"):
        return f"call|{labels['client']}|{labels['server']}"
    subject = signal.entity or signal.service
    if not subject:
        return None
    what = labels.get("metric") or labels.get("alertname") or signal.title
    return f"{subject}|{what}|{labels.get('direction', '')}"


@dataclass
class _Seen:
    count: int = 0
    recent: list[int] = field(default_factory=list)  # ascending window indexes, at most RECENT

    def add(self, window: int) -> bool:
        if self.recent and self.recent[-1] >= window:
            if window in self.recent:
                return False
            bisect.insort(self.recent, window)  # a late alert: insert in order
        else:
            self.recent.append(window)
        self.count += 1
        if len(self.recent) > RECENT:
            del self.recent[0]
        return True

    def before(self, window: int) -> int:
        """Windows seen before `window` (exact while fewer than RECENT windows are >= it)."""
        later = len(self.recent) - bisect.bisect_left(self.recent, window)
        return max(0, self.count - later)


class AlertHistory:
    """Online per-key window counts; `weights` turns them into IDF-like alert weights."""

    def __init__(self) -> None:
        self._keys: dict[str, _Seen] = {}
        self._active = _Seen()

    def observe(self, signal: Signal) -> None:
        if not signal.is_alert or signal.background or signal.suppressed_by:
            return
        key = alert_key(signal)
        if key is None:
            return
        window = _window(signal.event_time)
        self._active.add(window)
        seen = self._keys.pop(key, None) or _Seen()
        seen.add(window)
        self._keys[key] = seen  # re-inserted: dict order is least recently fired first
        if len(self._keys) > MAX_KEYS:
            del self._keys[next(iter(self._keys))]

    def observe_all(self, signals: Iterable[Signal]) -> None:
        for signal in signals:
            self.observe(signal)

    def windows_before(self, before: datetime) -> int:
        return self._active.before(_window(before))

    def share(self, key: str, before: datetime) -> float:
        """Smoothed share of active windows before `before` in which `key` fired."""
        window = _window(before)
        seen = self._keys.get(key)
        df = seen.before(window) if seen else 0
        return (df + 1.0) / (self._active.before(window) + PRIOR_WINDOWS)

    def weight(self, key: str | None, before: datetime) -> float:
        if key is None:
            return 1.0
        p = min(1.0, self.share(key, before))
        return max(FLOOR, min(1.0, math.log(1.0 / p) / math.log(1.0 / RARE_SHARE)))

    def weights(self, signals: Iterable[Signal], before: datetime | None = None) -> dict[str, float]:
        """Each signal's weight given the history before `before` (default: its earliest alert)."""
        signals = list(signals)
        if before is None:
            before = min((s.event_time for s in signals), default=None)
        if before is None:
            return {}
        return {s.id: self.weight(alert_key(s), before) for s in signals}

    # -- persistence -------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {"format": HISTORY_FORMAT, "window_s": WINDOW_S,
                "active": [self._active.count, self._active.recent],
                "keys": {k: [v.count, v.recent] for k, v in self._keys.items()}}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> AlertHistory:
        history = cls()
        if not data or data.get("format") != HISTORY_FORMAT or data.get("window_s") != WINDOW_S:
            return history  # an unknown or re-bucketed history restarts: every weight is 1 again
        count, recent = data.get("active") or [0, []]
        history._active = _Seen(int(count), [int(w) for w in recent])
        for key, (count, recent) in (data.get("keys") or {}).items():
            history._keys[str(key)] = _Seen(int(count), [int(w) for w in recent])
        return history


def _window(at: datetime) -> int:
    return int(at.timestamp() // WINDOW_S)


def weights_from_state(state: dict[str, Any] | None, signals: Iterable[Signal]) -> dict[str, float]:
    """The incident's alert weights from the correlation engine's persisted state (its
    `alert_history`), as of the incident's first alert. No state: every alert weighs 1."""
    return AlertHistory.from_json((state or {}).get("alert_history")).weights(signals)
