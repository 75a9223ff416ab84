"""Identifiers. Incident ids double as Step Functions execution names, so they stay within
[A-Za-z0-9-_] and 80 characters and sort by opening time."""

from __future__ import annotations

import hashlib
from datetime import datetime


def incident_id(first_signal_id: str, opened_at: datetime) -> str:
    # Derived from the opening signal so a redelivered SQS batch re-opens the same id (idempotent start).
    digest = hashlib.sha256(first_signal_id.encode()).hexdigest()[:10]
    return f"inc-{opened_at.strftime('%Y%m%dT%H%M%S')}-{digest}"


def short_hash(*parts: str, length: int = 12) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:length]
