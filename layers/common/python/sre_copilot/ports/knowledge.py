"""Vector search (runbooks, past incidents), embeddings and the optional LLM assistant."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from sre_copilot.domain.incident import Incident
    from sre_copilot.reasoning.evidence import Precedent


class Embedder(Protocol):
    dimensions: int

    def embed(self, texts: list[str]) -> list[list[float]]: ...


class VectorIndex(Protocol):
    def upsert(self, collection: str, doc_id: str, vector: list[float], document: dict[str, object]) -> None: ...
    def query(self, collection: str, vector: list[float], k: int, *,
              tenant_id: str | None = None) -> list[tuple[float, dict[str, object]]]:
        """The k nearest documents; with `tenant_id`, only documents whose `tenant_id` is that tenant
        (filtered before ranking, so another tenant's documents never take a place in the k)."""
        ...


class HypothesisAssistant(Protocol):
    def propose(self, context: dict[str, object]) -> list[dict[str, object]]:
        """Return raw candidate hypotheses (untrusted; the caller validates and grounds them)."""
        ...


class Precedents(Protocol):
    """Past incidents of one tenant, searched by similarity (evidence) and added when one is learned."""

    def similar(self, text: str, k: int = 20) -> list[Precedent]: ...
    def add(self, incident: Incident) -> bool: ...
