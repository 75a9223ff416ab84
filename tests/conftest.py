"""Shared test configuration: paths to the shared fixtures and scenarios."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return SHARED


@pytest.fixture(scope="session")
def scenarios_dir() -> Path:
    return SHARED / "scenarios"
