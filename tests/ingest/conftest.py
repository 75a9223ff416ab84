"""Fixtures for the ingestion tests: the copied webhook payloads and a small catalog naming them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from sre_copilot.domain.catalog import Catalog

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "webhooks"
RECEIVED_AT = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def received_at() -> datetime:
    return RECEIVED_AT


@pytest.fixture(scope="session")
def fixture_catalog() -> Catalog:
    """Names the services and hosts the public fixtures mention, under the names the tools use."""
    return Catalog.model_validate({
        "services": [
            {"name": "pig", "tier": 1, "aliases": ["pig208"]},
            {"name": "api", "tier": 2, "aliases": ["API Service"]},
            {"name": "checkout", "tier": 1, "aliases": ["checkoutservice"],
             "instances": [{"name": "checkout-7f9c-abcde", "host": "ip-10-0-1-12"}]},
            {"name": "batch", "tier": 4},
        ],
        "hosts": [
            {"name": "andromeda"},
            {"name": "ip-10-0-1-12", "aliases": ["i-12345678901234567"]},
        ],
    })
