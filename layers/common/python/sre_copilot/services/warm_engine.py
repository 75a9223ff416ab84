"""The correlation engine a warm correlate function keeps between batches.

Every batch used to load the tenant's state, rebuild the engine from it and save it again. When this
process saved the current version itself, the engine it holds is that state already: a small read
of the stored version replaces the document's read, decompression, parse and rebuild (about a
quarter of a correlate batch on an alert storm). The conditional save on the version stays as it
was, so a batch another process saved first still makes this one reload and re-run.

A held engine decides as one restored from its state (`test_an_engine_restored_before_every_alert_
decides_as_one_kept_in_memory`), except after it compacts a group: it still links the alerts it
dropped. So a batch that compacted a group, failed, or lost the race leaves nothing held, and the
next batch restores from the stored state as before.
"""

from __future__ import annotations

from dataclasses import dataclass

from sre_copilot.correlation.config import CorrelationConfig
from sre_copilot.correlation.engine import CorrelationEngine
from sre_copilot.domain.catalog import Catalog


@dataclass
class _Held:
    version: int
    engine: CorrelationEngine
    catalog: Catalog
    config: CorrelationConfig


class WarmEngines:
    """Per tenant, the engine of the state version this process saved last."""

    def __init__(self) -> None:
        self._held: dict[str, _Held] = {}

    def take(self, tenant_id: str, version: int, catalog: Catalog, config: CorrelationConfig) -> CorrelationEngine | None:
        """The held engine if it is the stored `version`, built on this catalog and configuration;
        it is no longer held (a batch that fails must not leave a half-applied engine behind)."""
        held = self._held.pop(tenant_id, None)
        if held is None or held.version != version or held.config != config:
            return None
        if held.catalog is not catalog and held.catalog != catalog:
            return None
        return held.engine

    def keep(self, tenant_id: str, version: int, engine: CorrelationEngine, catalog: Catalog,
             config: CorrelationConfig, *, compactions_before: int) -> None:
        """Hold `engine` as saved at `version`, unless it compacted a group in this batch."""
        if engine.compactions != compactions_before:
            self._held.pop(tenant_id, None)
            return
        self._held[tenant_id] = _Held(version, engine, catalog, config)
