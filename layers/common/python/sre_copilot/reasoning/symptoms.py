"""What an alert says is wrong (its symptom class), and what kind of change a change event is.

Alert tools name the same symptom many ways ("KubePodNotReady", "pod not ready", "Readiness probe
failed"), so reasoning works on a small closed vocabulary instead of raw titles. Classification
reads only the signal's own text and labels; it never follows anything written there.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from enum import StrEnum

from sre_copilot.domain.change import ChangeEvent
from sre_copilot.domain.signal import Signal
from sre_copilot.domain.types import ChangeKind, Severity


class Symptom(StrEnum):
    HOST_DOWN = "host_down"
    CRASHLOOP = "crashloop"
    INSTANCE_DOWN = "instance_down"
    UPSTREAM = "upstream_errors"
    SLO_BURN = "slo_burn"
    LATENCY = "latency"
    SATURATION = "saturation"
    ERRORS = "errors"
    AVAILABILITY = "availability"
    CERTIFICATE = "certificate"
    DNS = "dns"
    QUEUE = "queue_backlog"
    OTHER = "other"


# Checked in order: the first class whose pattern matches wins, so specific phrases come first.
# Word boundaries keep short keywords honest ("slo" must not match "slow", "lag" not "flag").
_PATTERNS: tuple[tuple[Symptom, re.Pattern[str]], ...] = tuple((symptom, re.compile(pattern)) for symptom, pattern in (
    (Symptom.HOST_DOWN, r"statuscheckfailed|status ?check|node ?not ?ready|\bhost ?down|\bnode ?down|"
                        r"(node|host|instance) unreachable|\bkubelet|system ?status|node ?pressure"),
    (Symptom.CERTIFICATE, r"certificate|\bcert ?expir|tls handshake|\bssl\b"),
    (Symptom.DNS, r"\bdns\b|nxdomain|name resolution|servfail"),
    (Symptom.CRASHLOOP, r"crash ?loop|oom ?killed|back-?off restarting|container restarts"),
    (Symptom.INSTANCE_DOWN, r"pod ?not ?ready|\bnot ready\b|readiness|unhealthy ?(target|host)|task stopped|"
                            r"replicas? unavailable"),
    (Symptom.UPSTREAM, r"upstream|dependency errors?|downstream errors?|bad gateway|\b50[234]\b"),
    (Symptom.SLO_BURN, r"error budget|burn ?rate|budget burn|\bslo\b"),
    (Symptom.QUEUE, r"queue ?depth|backlog|consumer ?lag|\blag\b|messages visible|\bdlq\b"),
    (Symptom.LATENCY, r"latency|\bp9[059]\b|\bslow|response ?time|duration|timeout|timed out"),
    (Symptom.SATURATION, r"\bcpu|memory|\bpool|thread|saturat|throttl|\bdisk|connections|gc ?pause|\bheap|"
                         r"load average|exhaust"),
    (Symptom.ERRORS, r"error|\b5xx\b|exception|failure ?rate|failures|\bfault"),
    (Symptom.AVAILABILITY, r"health ?check|degraded|\bdown\b|unavailable|outage|unreachable|failing"),
))

# Symptoms a failing dependency causes in its callers. Pod readiness, crash loops and dead nodes
# are local to where they happen, so a callee's failure does not explain them.
PROPAGATING = frozenset({Symptom.UPSTREAM, Symptom.SLO_BURN, Symptom.LATENCY, Symptom.ERRORS,
                         Symptom.AVAILABILITY, Symptom.SATURATION, Symptom.QUEUE, Symptom.OTHER})
LOCAL = frozenset({Symptom.HOST_DOWN, Symptom.INSTANCE_DOWN, Symptom.CRASHLOOP})
SATURATION_LIKE = frozenset({Symptom.LATENCY, Symptom.SATURATION, Symptom.QUEUE, Symptom.CRASHLOOP})

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def signal_text(signal: Signal, ignore: Iterable[str | None] = ()) -> str:
    """Title, description and label values, lower-cased, with CamelCase words split as well as kept.
    Names in `ignore` (the signal's own service, instance, host) are blanked first, so a service
    called "dns-cache" does not make every one of its alerts a DNS symptom."""
    parts = [signal.title, signal.description[:500], *signal.labels.values()]
    raw = " ".join(p for p in parts if p)
    text = f"{raw.lower()} {_CAMEL.sub(' ', raw).lower()}"
    for name in sorted({n.lower() for n in ignore if n and len(n) >= 3}, key=len, reverse=True):
        text = text.replace(name, " ")
    return text


def classify(signal: Signal, ignore: Iterable[str | None] = ()) -> Symptom:
    return _classify_text(signal_text(signal, ignore))


@functools.lru_cache(maxsize=32768)
def _classify_text(text: str) -> Symptom:
    # Each re-analysis classifies every alert of its incident again, and a storm's alerts repeat
    # a few texts: up to a dozen regular-expression searches each, for the same answer.
    for symptom, pattern in _PATTERNS:
        if pattern.search(text):
            return symptom
    return Symptom.OTHER


# Seed 001 factor 1 works on deviations in standard deviations. Without metrics, an alert's
# severity stands in for "how far from normal": a page-worthy alert ~ 3 sigma, a warning ~ 2.5.
SEVERITY_SIGMA: dict[Severity, float] = {
    Severity.CRITICAL: 3.0,
    Severity.ERROR: 3.0,
    Severity.WARNING: 2.5,
    Severity.INFO: 1.0,
}


# -- changes -------------------------------------------------------------------------------------
FAULT_BY_CHANGE_KIND: dict[ChangeKind, str] = {
    ChangeKind.DEPLOY: "bad deploy",
    ChangeKind.CONFIG: "bad config change",
    ChangeKind.FEATURE_FLAG: "bad feature flag",
    ChangeKind.INFRA: "bad infra change",
    ChangeKind.SCALING: "bad scaling change",
    ChangeKind.ROLLBACK: "bad rollback",
}

# Changes that cannot alter what runs in production. Release tooling records them (docs sites,
# READMEs, CI tweaks ship through the same pipeline), but they are not plausible triggers.
_COSMETIC = re.compile(
    r"\b(docs?|documentation|readme|typo|comment|comments|changelog|licen[cs]e|lint|formatting|"
    r"whitespace|copy ?edit|spelling|test[- ]only|tests only|ci only)\b",
    re.IGNORECASE,
)
_RUNTIME_WORDS = re.compile(r"\b(fix|bump|upgrade|enable|disable|timeout|pool|limit|schema|migration|"
                            r"client|driver|memory|cpu|replica|flag)\b", re.IGNORECASE)


def is_cosmetic(change: ChangeEvent | dict[str, object]) -> bool:
    """A docs-only / non-runtime change, judged from its summary (and never for config or flags,
    which by definition change runtime behaviour)."""
    kind = change.kind if isinstance(change, ChangeEvent) else change.get("kind")
    summary = change.summary if isinstance(change, ChangeEvent) else str(change.get("summary") or "")
    if str(kind) not in (ChangeKind.DEPLOY.value, ChangeKind.ROLLBACK.value):
        return False
    return bool(_COSMETIC.search(summary)) and not _RUNTIME_WORDS.search(summary)


FAULTS: tuple[str, ...] = (
    *FAULT_BY_CHANGE_KIND.values(),
    "host failure",
    "dependency outage",
    "saturation",
    "instance failure",
    "memory leak",
    "certificate expiry",
    "dns failure",
    "queue backlog",
)
