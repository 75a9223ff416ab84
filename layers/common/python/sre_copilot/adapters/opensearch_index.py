"""`VectorIndex` on OpenSearch Serverless (k-NN), and an `Embedder` on Amazon Bedrock Titan.

One index per collection (`<prefix><collection>`), created on first write with a `knn_vector`
field sized to the first vector. OpenSearch Serverless vector collections do not accept custom
document ids or upserts, so `upsert` keeps our id in a `doc_id` keyword field: it deletes earlier
copies found by a term query, then posts the new document. Queries may briefly see a duplicate
while deletes propagate; results are de-duplicated by `doc_id`.

Scores: the index uses faiss HNSW with L2 distance on unit vectors, whose OpenSearch score is
1 / (1 + d^2). Since d^2 = 2 - 2 cos for unit vectors, `query` converts back to cosine similarity,
the same scale `LocalVectorIndex` returns.
"""

from __future__ import annotations

import json
import re
from typing import Any

FIELD = "vector"


def _index_name(prefix: str, collection: str) -> str:
    return re.sub(r"[^a-z0-9_-]", "-", f"{prefix}{collection}".lower())


def score_to_cosine(score: float) -> float:
    if score <= 0:
        return -1.0
    distance_sq = 1.0 / score - 1.0
    return max(-1.0, min(1.0, 1.0 - distance_sq / 2.0))


class OpenSearchVectorIndex:
    def __init__(self, *, endpoint: str = "", region: str = "us-east-1", client: Any | None = None,
                 credentials: Any | None = None, service: str = "aoss", index_prefix: str = "sre-copilot-",
                 timeout: float = 10.0) -> None:
        self.index_prefix = index_prefix
        self.client = client or self._client(endpoint, region, credentials, service, timeout)
        self._ready: set[str] = set()

    @staticmethod
    def _client(endpoint: str, region: str, credentials: Any | None, service: str, timeout: float) -> Any:
        from urllib.parse import urlparse

        from opensearchpy import AWSV4SignerAuth, OpenSearch, RequestsHttpConnection

        from sre_copilot.services.observability import trace_requests

        trace_requests()

        if not endpoint:
            from sre_copilot.errors import ConfigurationError

            raise ConfigurationError("set SRE_COPILOT_OPENSEARCH_ENDPOINT to the collection endpoint (https://...aoss.amazonaws.com)")
        parsed = urlparse(endpoint if "://" in endpoint else f"https://{endpoint}")
        if credentials is None:
            import boto3

            credentials = boto3.Session().get_credentials()
        secure = parsed.scheme == "https"
        return OpenSearch(
            hosts=[{"host": parsed.hostname, "port": parsed.port or (443 if secure else 80)}],
            http_auth=AWSV4SignerAuth(credentials, region, service), use_ssl=secure, verify_certs=secure,
            connection_class=RequestsHttpConnection, timeout=timeout, pool_maxsize=10,
        )

    def _ensure(self, name: str, dimensions: int) -> None:
        if name in self._ready:
            return
        if not self.client.indices.exists(index=name):
            self.client.indices.create(index=name, body={
                "settings": {"index": {"knn": True}},
                "mappings": {"properties": {
                    FIELD: {"type": "knn_vector", "dimension": dimensions,
                            "method": {"name": "hnsw", "engine": "faiss", "space_type": "l2"}},
                    "doc_id": {"type": "keyword"},
                    "tenant_id": {"type": "keyword"},
                    "document": {"type": "object", "enabled": False},
                }},
            })
        self._ready.add(name)

    def upsert(self, collection: str, doc_id: str, vector: list[float], document: dict[str, Any]) -> None:
        name = _index_name(self.index_prefix, collection)
        self._ensure(name, len(vector))
        found = self.client.search(index=name, body={"size": 50, "_source": False,
                                                     "query": {"term": {"doc_id": doc_id}}})
        for hit in found.get("hits", {}).get("hits", []):
            self.client.delete(index=name, id=hit["_id"])
        body = {FIELD: list(vector), "doc_id": doc_id, "document": json.loads(json.dumps(document, default=str))}
        if document.get("tenant_id"):
            body["tenant_id"] = str(document["tenant_id"])
        self.client.index(index=name, body=body)

    def query(self, collection: str, vector: list[float], k: int, *,
              tenant_id: str | None = None) -> list[tuple[float, dict[str, Any]]]:
        from opensearchpy.exceptions import NotFoundError

        name = _index_name(self.index_prefix, collection)
        knn: dict[str, Any] = {"vector": list(vector), "k": k}
        if tenant_id is not None:
            # Efficient k-NN filtering (faiss): the filter applies during the search, not after it.
            knn["filter"] = {"term": {"tenant_id": tenant_id}}
        try:
            found = self.client.search(index=name, body={
                "size": k, "_source": ["doc_id", "document"], "query": {"knn": {FIELD: knn}},
            })
        except NotFoundError:
            return []
        out: list[tuple[float, dict[str, Any]]] = []
        seen: set[str] = set()
        for hit in found.get("hits", {}).get("hits", []):
            source = hit.get("_source", {})
            key = str(source.get("doc_id", hit.get("_id")))
            if key in seen:
                continue
            seen.add(key)
            out.append((round(score_to_cosine(float(hit.get("_score", 0.0))), 6), dict(source.get("document", {}))))
        return sorted(out, key=lambda pair: -pair[0])[:k]


class BedrockEmbedder:
    """`Embedder` on Titan Text Embeddings V2 (256, 512 or 1024 dimensions, normalised)."""

    MODEL_ID = "amazon.titan-embed-text-v2:0"

    def __init__(self, client: Any | None = None, *, region: str = "us-east-1", dimensions: int = 512,
                 model_id: str = MODEL_ID) -> None:
        if dimensions not in (256, 512, 1024):
            raise ValueError("Titan Text Embeddings V2 supports 256, 512 or 1024 dimensions")
        if client is None:
            import boto3

            client = boto3.client("bedrock-runtime", region_name=region)
        self.client = client
        self.dimensions = dimensions
        self.model_id = model_id

    def embed(self, texts: list[str]) -> list[list[float]]:
        out = []
        for text in texts:
            # Titan V2 accepts up to 8k tokens; 20k characters stays well inside that.
            body = json.dumps({"inputText": text[:20_000] or " ", "dimensions": self.dimensions, "normalize": True})
            response = self.client.invoke_model(modelId=self.model_id, body=body, contentType="application/json",
                                                accept="application/json")
            payload = json.loads(response["body"].read())
            out.append([float(v) for v in payload["embedding"]])
        return out
