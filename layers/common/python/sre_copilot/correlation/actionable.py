"""No actionable alert is dropped: when a held group (no open rule met yet) opens on its own.

The count rules (`OpenRule.min_signals` within `within_s`) keep one-off noise quiet. On their own
they would also drop a real fault that raises a single alert, so a rule with `after_s` adds a
persistence test, which the engine applies through the two functions here:

- still firing: a held group whose alert is still firing `after_s` after its first alert opens
  (checked by the engine's tick when that time comes);
- fires again: an alert of a held group that fires again (same fingerprint) `after_s` or more after
  the group's first alert opens it at once.

A held group whose alerts all cleared is remembered until one folding window after its persistence
time (or after the clear, if later), and the same alert firing again joins it by fingerprint; if
nothing fires again it is forgotten and opened nothing. The defaults (config.default_open_rules) give P1 a group wait of five
minutes and P2 fifteen; P0 opens at once; background and silenced alerts never reach these rules.
docs/correlation.md ("Opening") states the rule.
"""

from __future__ import annotations

from sre_copilot.correlation.config import OpenRule
from sre_copilot.correlation.groups import ALERT, Group


def held_due_at(group: Group, rule: OpenRule | None, window_s: float, horizon_s: float) -> float:
    """When the engine next looks at a held group: its persistence time while an alert fires, else
    when it may be forgotten."""
    if rule is None or rule.after_s is None:
        return group.last_at + window_s
    if group.n_firing == 0 and group.firing:  # every alert it held has cleared: wait for a re-fire
        return max(group.first_at + rule.after_s, group.last_at) + window_s
    # Waits for persistence rather than idling out: a still-firing alert is not stale.
    return min(group.first_at + rule.after_s, group.last_at + horizon_s)


def keeps_cleared(rule: OpenRule | None) -> bool:
    """Whether a held group whose alerts all cleared is kept (for a re-fire) rather than forgotten."""
    return rule is not None and rule.after_s is not None


def awaits_refire(group: Group, rule: OpenRule | None) -> bool:
    """A held group whose alerts all cleared, kept so that the same alert firing again joins it
    (by fingerprint, however long after its last firing, while the group is remembered)."""
    return not group.opened and group.n_firing == 0 and bool(group.firing) and keeps_cleared(rule)


def fired_again(group: Group, rule: OpenRule | None, fingerprint: str, signal_id: str, t: float) -> str | None:
    """Why the alert `fingerprint` firing again at `t` opens the held group, or None."""
    if rule is None or rule.after_s is None or t - group.first_at < rule.after_s:
        return None
    earlier = [m.t for m in group.members if m.kind == ALERT and m.fp == fingerprint and m.sid != signal_id]
    if not earlier:
        return None
    return (f"the same alert fired again {int(t - min(earlier))}s after it first fired, past the "
            f"{rule.priority.value} open rule's {rule.after_s}s")
