"""Catalog name resolution and dependency-graph paths, on a sample scenario's catalog."""

from __future__ import annotations

import json
from pathlib import Path

from sre_copilot.domain.catalog import Catalog
from sre_copilot.domain.types import EntityKind


def _catalog(scenarios_dir: Path) -> Catalog:
    return Catalog.model_validate(json.loads((scenarios_dir / "sample-1-000.json").read_text())["catalog"])


def test_aliases_and_suffixes_resolve_to_catalog_names(scenarios_dir: Path) -> None:
    catalog = _catalog(scenarios_dir)
    assert catalog.find_service("Quote API") == "quote"
    assert catalog.find_service("cartservice") == "cart"
    assert catalog.find_service("search_os") == "search-os"
    assert catalog.find_service("nonexistent") is None


def test_instance_hint_names_service_entity_and_host(scenarios_dir: Path) -> None:
    resolution = _catalog(scenarios_dir).resolve(instance_hints=["recommend-a1efd-0"], service_hints=["recommend"])
    assert resolution.entity_kind is EntityKind.INSTANCE
    assert (resolution.service, resolution.host) == ("recommend", "ip-10-0-6-183")


def test_host_alone_is_the_entity(scenarios_dir: Path) -> None:
    resolution = _catalog(scenarios_dir).resolve(host_hints=["ip-10-0-6-183"])
    assert (resolution.entity, resolution.entity_kind, resolution.service) == ("ip-10-0-6-183", EntityKind.HOST, None)


def test_path_follows_dependencies_within_hops(scenarios_dir: Path) -> None:
    catalog = _catalog(scenarios_dir)
    assert catalog.path("cart", "search-os", 2) == ["cart", "quote", "search-os"]
    assert catalog.path("cart", "search-os", 1) is None
