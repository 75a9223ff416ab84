"""Small value helpers shared by the source parsers: times, text, tags, severities, label hints.

Every helper here is total: it returns a value or None (or raises ValueError that the caller turns
into InvalidPayload); none lets a TypeError, OverflowError or endless loop escape on odd input.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sre_copilot.domain.types import Severity, parse_time

TITLE_MAX = 1024
DESCRIPTION_MAX = 8192
SOURCE_ID_MAX = 512
LABEL_VALUE_MAX = 1024
LABELS_MAX = 128

_SEVERITY_WORDS: dict[str, Severity] = {
    "critical": Severity.CRITICAL, "crit": Severity.CRITICAL, "fatal": Severity.CRITICAL,
    "emergency": Severity.CRITICAL, "emerg": Severity.CRITICAL, "alert": Severity.CRITICAL,
    "page": Severity.CRITICAL, "sev0": Severity.CRITICAL, "sev1": Severity.CRITICAL, "p0": Severity.CRITICAL,
    "p1": Severity.CRITICAL, "disaster": Severity.CRITICAL,
    "error": Severity.ERROR, "err": Severity.ERROR, "major": Severity.ERROR, "high": Severity.ERROR,
    "sev2": Severity.ERROR, "p2": Severity.ERROR, "severe": Severity.ERROR,
    "warning": Severity.WARNING, "warn": Severity.WARNING, "minor": Severity.WARNING,
    "medium": Severity.WARNING, "moderate": Severity.WARNING, "average": Severity.WARNING,
    "sev3": Severity.WARNING, "p3": Severity.WARNING,
    "info": Severity.INFO, "informational": Severity.INFO, "information": Severity.INFO,
    "notice": Severity.INFO, "low": Severity.INFO, "none": Severity.INFO, "debug": Severity.INFO,
    "ok": Severity.INFO, "sev4": Severity.INFO, "sev5": Severity.INFO, "p4": Severity.INFO, "p5": Severity.INFO,
}

# Numeric levels as PagerDuty/Opsgenie priorities count them: 1 is the most urgent.
_PRIORITY_LEVELS: dict[int, Severity] = {
    0: Severity.CRITICAL, 1: Severity.CRITICAL, 2: Severity.ERROR, 3: Severity.WARNING, 4: Severity.INFO,
    5: Severity.INFO,
}


def severity_from_word(value: Any) -> Severity | None:
    """Map a tool's severity/priority word ('crit', 'P2', 'warning', 3) to our four levels."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return _PRIORITY_LEVELS.get(value)
    if not isinstance(value, str):
        return None
    word = value.strip().lower()
    if word.isdigit():
        return _PRIORITY_LEVELS.get(int(word)) if len(word) < 3 else None
    return _SEVERITY_WORDS.get(word)


_YEAR_1971_MS = 31_536_000_000


def time_or_none(value: Any) -> datetime | None:
    """Parse a payload time, or None when it is absent, a zero time or not a time at all.

    Alertmanager writes the zero Go time for "not set"; Datadog writes seconds or milliseconds;
    unrendered template placeholders ('$DATE') are treated as absent.
    """
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, int | float):
        if value <= 0 or value > 1e22:
            return None
        # Epoch seconds (10 digits) appear next to epoch milliseconds; parse_time assumes ms.
        if value < 1e11:
            value = value * 1000
        if value < _YEAR_1971_MS:
            return None
        if value < 1e14:
            try:
                return datetime.fromtimestamp(value / 1000, tz=UTC)
            except (ValueError, OverflowError, OSError):
                return None
    elif isinstance(value, str):
        text = value.strip()
        if not text or is_placeholder(text) or text.startswith("0001-01-01"):
            return None
        if text.isdigit():
            if len(text) > 22:
                return None
            return time_or_none(int(text))
        if len(text) > 64:
            return None
        try:
            # Fast path: Python 3.12 reads Z, +0000 and nanosecond fractions itself.
            fast = datetime.fromisoformat(text)
        except ValueError:
            pass
        else:
            zone = fast.tzinfo
            if zone is None:
                fast = fast.replace(tzinfo=UTC)
            elif zone is not UTC:
                fast = fast.astimezone(UTC)
            return fast if fast.year >= 1971 else None
    elif not isinstance(value, datetime):
        return None
    try:
        parsed = parse_time(value)
    except (ValueError, OverflowError, OSError):
        return None
    if parsed.year < 1971:
        return None
    return parsed.astimezone(UTC)


def require_time(value: Any, field: str, index: int | None = None) -> datetime | None:
    """Like time_or_none, but a present value that is not a time is an error naming the field
    (`alerts.<index>.<field>` when the alert's index is given)."""
    parsed = time_or_none(value)
    text = value.strip() if isinstance(value, str) else ""
    # Epoch numbers out of range and zero/placeholder times read as absent; other text is an error.
    if parsed is None and text and not text.isdigit() and not is_placeholder(text) \
            and not text.startswith("0001-01-01"):
        where = f"alerts.{index}.{field}" if index is not None else field
        raise ValueError(f"'{where}' is not a time: {value[:60]!r}")
    return parsed


_PLACEHOLDER = re.compile(r"^\$[A-Z][A-Z0-9_]*$")


def is_placeholder(text: str) -> bool:
    """An unrendered template variable such as Datadog's '$EVENT_TITLE'."""
    return bool(_PLACEHOLDER.match(text))


def text_or_none(value: Any) -> str | None:
    """A present, rendered, non-empty string (numbers become their decimal text)."""
    if value is None:
        return None
    if type(value) is str:
        text = value.strip()
        if not text or (text[0] == "$" and _PLACEHOLDER.match(text)):
            return None
        return text
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return str(value)
    if isinstance(value, str):
        return text_or_none(str(value))
    return None


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def finite_or_none(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:
            return None
        return number if math.isfinite(number) else None
    if isinstance(value, str):
        try:
            number = float(value)
        except (ValueError, OverflowError):
            return None
        return number if math.isfinite(number) else None
    return None


def label_value(value: Any) -> str | None:
    """Render a tag/detail/dimension value as a label string; nested structures are skipped."""
    if isinstance(value, str):
        return clip(value, LABEL_VALUE_MAX)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return text_or_none(value)
    return None


def merge_labels(target: dict[str, str], extra: Mapping[Any, Any], *, prefix: str = "") -> None:
    """Flatten a mapping of tags/dimensions into labels without overwriting existing keys."""
    for key, value in extra.items():
        if len(target) >= LABELS_MAX:
            return
        if not isinstance(key, str) or not key:
            continue
        rendered = label_value(value)
        if rendered is None:
            continue
        target.setdefault(f"{prefix}{key}"[:256], rendered)


def split_tags(tags: Iterable[str]) -> tuple[dict[str, str], list[str]]:
    """'key:value' tags become labels (first value wins); bare tags are returned separately."""
    pairs: dict[str, str] = {}
    bare: list[str] = []
    for raw in tags:
        tag = raw.strip()
        if not tag or is_placeholder(tag):
            continue
        key, sep, value = tag.partition(":")
        if sep and key.strip():
            pairs.setdefault(key.strip()[:256], clip(value.strip(), LABEL_VALUE_MAX))
        else:
            bare.append(clip(tag, LABEL_VALUE_MAX))
    return pairs, bare


def comma_tags(value: str | None) -> list[str]:
    return [t for t in value.split(",") if t.strip()] if value else []


# -- hints: which labels name a service, an instance or a host ----------------------------------
SERVICE_LABELS = ("service", "service_name", "app", "app.kubernetes.io/name", "app_kubernetes_io_name",
                  "k8s_app", "k8s-app", "application", "component", "container", "container_name",
                  "kube_deployment", "kube_service", "deployment", "job")
# A call alert (trace latency or errors between two instances) is about its callee: `server`,
# `destination_pod` and `destination_workload` name it, after every label naming the subject itself.
INSTANCE_LABELS = ("pod", "pod_name", "kube_pod", "container", "container_name", "task", "task_id",
                   "instance", "instance_id", "entity", "server", "destination_pod", "destination_workload")
HOST_LABELS = ("node", "host", "hostname", "nodename", "node_name", "kubernetes_node", "kube_node",
               "instance", "instance_id")


def _strip_port(value: str) -> str:
    # Prometheus `instance` is host:port; catalogs name hosts without ports.
    head, sep, tail = value.rpartition(":")
    return head if sep and tail.isdigit() and head else value


def ranked(keys: tuple[str, ...]) -> dict[str, int]:
    return {key: rank for rank, key in enumerate(keys)}


def pick(values: Mapping[str, str], rank: Mapping[str, int]) -> list[str]:
    """Values of the keys in `rank`, most significant key first.

    Iterates the (small) mapping rather than the key list: alert label sets hold a handful of
    labels while the lists of meaningful keys are long.
    """
    found = [(rank[k], v) for k, v in values.items() if k in rank and v and isinstance(v, str)]
    if len(found) > 1:
        found.sort()
    return [v for _, v in found]


# label name -> the hint lists it feeds (0 service, 1 instance, 2 host) with its rank in each
_LABEL_ROLES: dict[str, list[tuple[int, int]]] = {}
for _role, _keys in enumerate((SERVICE_LABELS, INSTANCE_LABELS, HOST_LABELS)):
    for _rank, _key in enumerate(_keys):
        _LABEL_ROLES.setdefault(_key, []).append((_role, _rank))


def hints_from_labels(labels: Mapping[str, str]) -> tuple[list[str], list[str], list[str]]:
    """(service, instance, host) hints from alert labels, each most significant label first."""
    found: tuple[list[tuple[int, str]], ...] = ([], [], [])
    for key, value in labels.items():
        roles = _LABEL_ROLES.get(key)
        if roles is None or not value:
            continue
        for role, rank in roles:
            found[role].append((rank, value if role == 0 else _strip_port(value)))
    services, instances, hosts = ([v for _, v in (sorted(f) if len(f) > 1 else f)] for f in found)
    return services, instances, hosts


_WORD_SPLIT = re.compile(r"[\s,;:()\[\]{}<>\"'/|!?]+")


def title_words(title: str, limit: int = 8) -> list[str]:
    """Leading words of a title as resolution hints ('cartservice is degraded' -> 'cartservice', ...)."""
    words = [w.strip(".-_") for w in _WORD_SPLIT.split(title[:200])]
    return [w for w in words if len(w) > 1][:limit]


_NAME_SEPARATORS = re.compile(r"[-_. ]")


def name_prefixes(name: str, limit: int = 16) -> list[str]:
    """Prefixes of a resource name at separator boundaries, longest first.

    Alarm names follow '<service>-<metric>-<direction>' or '<host>-<check>-<direction>'
    ('search-os-cpuutilization-high', 'ip-10-0-6-183-statuscheckfailed-high'), so each
    prefix is tried as a service or host name, the longest (most specific) first.
    """
    text = name[:200]
    cuts = [m.start() for m in _NAME_SEPARATORS.finditer(text)]
    prefixes = [text]
    for cut in reversed(cuts):
        if cut > 0:
            prefixes.append(text[:cut])
    return prefixes[:limit]
