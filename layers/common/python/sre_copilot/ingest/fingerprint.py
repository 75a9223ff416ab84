"""Alert fingerprints: one stable identity per alert, whatever delivery carried it.

Definition (also in docs/sources.md):

- When the tool names the alert itself (Alertmanager/Grafana `fingerprint`, PagerDuty
  `incident_key` or incident id, the CloudWatch alarm ARN (+ contributor id), Opsgenie `alias`,
  Datadog `alert_id` + scope, the generic schema's `fingerprint`), the fingerprint is a digest of
  the source family and that key.
- Otherwise it is a digest of the source family, the labels (minus values that change between
  notifications of one alert), the resolved service and entity, and the title with digit runs
  collapsed (so 'CPU at 91%' and 'CPU at 97%' are the same alert).

`cloudwatch` and `cloudwatch-sns` share a family, so one alarm wired both ways deduplicates.
The status is not part of the fingerprint; the dedup store keys on fingerprint + status.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping

FAMILIES: dict[str, str] = {"cloudwatch-sns": "cloudwatch"}

VOLATILE_LABELS = frozenset({
    "value", "metric_value", "current_value", "timestamp", "time", "date", "duration", "age", "count",
    "actions_suppressed_by", "actions_suppressed_reason", "muted_by", "muted_until",
})

_DIGITS = re.compile(r"\d+(?:[.,]\d+)?")


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def fingerprint(source: str, source_key: str | None, labels: Mapping[str, str], service: str | None,
                entity: str | None, title: str) -> str:
    """'fp-' + 32 hex characters; equal for every re-delivery or re-notification of one alert."""
    family = FAMILIES.get(source, source)
    if source_key:
        return "fp-" + _digest(f"{family}\x1fkey\x1f{source_key}")
    stable = sorted((k, v) for k, v in labels.items() if k not in VOLATILE_LABELS)
    basis = json.dumps([family, stable, service or "", entity or "", _DIGITS.sub("#", title.strip().lower())],
                       separators=(",", ":"), ensure_ascii=False)
    return "fp-" + _digest(basis)


def signal_id(tenant_id: str, source: str, delivery_key: str, item: int) -> str:
    """Deterministic signal id: a retried delivery yields the same ids, so stores stay idempotent."""
    return "sig-" + _digest(f"{tenant_id}\x1f{source}\x1f{delivery_key}\x1f{item}")
