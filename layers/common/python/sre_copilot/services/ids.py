"""Short, stable identifiers derived from their inputs (a retry derives the same one)."""

from __future__ import annotations

import hashlib


def short_hash(*parts: str, length: int = 12) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:length]
