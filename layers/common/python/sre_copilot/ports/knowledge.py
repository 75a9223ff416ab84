"""Vector search (runbooks, past incidents), embeddings and the optional LLM assistant."""

from __future__ import annotations

from typing import Protocol


class Embedder(Protocol):
    dimensions: int

    def embed(self, texts: list[str]) -> list[list[float]]: ...


class VectorIndex(Protocol):
    def upsert(self, collection: str, doc_id: str, vector: list[float], document: dict[str, object]) -> None: ...
    def query(self, collection: str, vector: list[float], k: int) -> list[tuple[float, dict[str, object]]]: ...


class HypothesisAssistant(Protocol):
    def propose(self, context: dict[str, object]) -> list[dict[str, object]]:
        """Return raw candidate hypotheses (untrusted; the caller validates and grounds them)."""
        ...
