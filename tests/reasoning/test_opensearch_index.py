"""OpenSearchVectorIndex with the real opensearch-py client (SigV4 "aoss") against a local server
that answers index creation, document writes/deletes, term searches and k-NN searches the way
OpenSearch Serverless does (generated ids, faiss L2 scores); and BedrockEmbedder with a real boto3
bedrock-runtime client against the same kind of server."""

from __future__ import annotations

import itertools
import json
import math
import re
from typing import Any
from urllib.parse import unquote

import boto3
import pytest
from botocore.credentials import Credentials
from reasoning_http import LocalServer, Reply, Request, json_reply, local_server

from sre_copilot.adapters.opensearch_index import BedrockEmbedder, OpenSearchVectorIndex, score_to_cosine
from sre_copilot.reasoning.recommend import RunbookIndex
from sre_copilot.reasoning.vectors import HashingEmbedder


class FakeServerless:
    """Just enough of an OpenSearch Serverless vector collection."""

    def __init__(self) -> None:
        self.indices: dict[str, dict[str, Any]] = {}
        self.docs: dict[str, dict[str, dict[str, Any]]] = {}
        self.ids = itertools.count(1)

    def __call__(self, request: Request) -> Reply:
        path = request.path.split("?", 1)[0]
        parts = [unquote(p) for p in path.strip("/").split("/")]
        index = parts[0]
        if request.method == "HEAD" and len(parts) == 1:
            return (200 if index in self.indices else 404), {}, b""
        if request.method == "PUT" and len(parts) == 1:
            self.indices[index] = request.json
            self.docs[index] = {}
            return json_reply(200, {"acknowledged": True, "index": index})
        if index not in self.indices:
            return json_reply(404, {"error": {"type": "index_not_found_exception", "reason": f"no such index [{index}]"},
                                    "status": 404})
        if request.method == "POST" and parts[1:] == ["_doc"]:
            doc_id = f"1%{next(self.ids)}"  # serverless-style generated id
            self.docs[index][doc_id] = request.json
            return json_reply(201, {"_index": index, "_id": doc_id, "result": "created"})
        if request.method == "DELETE" and parts[1] == "_doc":
            found = self.docs[index].pop(parts[2], None)
            return json_reply(200 if found else 404, {"_id": parts[2], "result": "deleted" if found else "not_found"})
        if request.method in ("POST", "GET") and parts[1:] == ["_search"]:
            return json_reply(200, self._search(index, request.json))
        return json_reply(400, {"error": f"unsupported {request.method} {path}"})

    def _search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        query = body["query"]
        docs = self.docs[index]
        if "term" in query:
            wanted = query["term"]["doc_id"]
            hits = [{"_id": i, "_score": 1.0} for i, d in docs.items() if d["doc_id"] == wanted]
        else:
            spec = query["knn"]["vector"]
            q = spec["vector"]
            scored = []
            wanted_tenant = spec.get("filter", {}).get("term", {}).get("tenant_id")
            for doc_id, doc in docs.items():
                if wanted_tenant is not None and doc.get("tenant_id") != wanted_tenant:
                    continue  # efficient k-NN filtering: applied during the search
                d2 = sum((a - b) ** 2 for a, b in zip(doc["vector"], q, strict=True))
                scored.append((1.0 / (1.0 + d2), doc_id))  # faiss l2 score
            scored.sort(reverse=True)
            wanted_fields = body.get("_source", True)
            hits = []
            for score, doc_id in scored[: min(spec["k"], body.get("size", 10))]:
                source = docs[doc_id] if wanted_fields is True else {f: docs[doc_id][f] for f in wanted_fields}
                hits.append({"_id": doc_id, "_score": score, "_source": source})
        return {"took": 1, "timed_out": False, "hits": {"total": {"value": len(hits)}, "hits": hits}}


@pytest.fixture
def serverless() -> Any:
    fake = FakeServerless()
    with local_server(fake) as server:
        yield fake, server


def _index(server: LocalServer) -> OpenSearchVectorIndex:
    return OpenSearchVectorIndex(endpoint=server.url, region="us-east-1",
                                 credentials=Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"))


def _unit(values: list[float]) -> list[float]:
    norm = math.sqrt(sum(v * v for v in values))
    return [v / norm for v in values]


def test_upsert_creates_a_knn_index_and_replaces_by_doc_id(serverless: Any) -> None:
    fake, server = serverless
    index = _index(server)
    index.upsert("runbooks", "a", _unit([1.0, 0.0, 0.0, 0.0]), {"id": "a", "v": 1})
    index.upsert("runbooks", "b", _unit([0.0, 1.0, 0.0, 0.0]), {"id": "b"})
    index.upsert("runbooks", "a", _unit([1.0, 0.1, 0.0, 0.0]), {"id": "a", "v": 2})

    mapping = fake.indices["sre-copilot-runbooks"]
    assert mapping["settings"]["index"]["knn"] is True
    vector_field = mapping["mappings"]["properties"]["vector"]
    assert vector_field["type"] == "knn_vector" and vector_field["dimension"] == 4
    assert vector_field["method"]["engine"] == "faiss"
    stored = list(fake.docs["sre-copilot-runbooks"].values())
    assert sorted(d["doc_id"] for d in stored) == ["a", "b"]  # the first "a" was deleted
    assert next(d for d in stored if d["doc_id"] == "a")["document"]["v"] == 2

    # Every request is SigV4-signed for OpenSearch Serverless
    for request in server.requests:
        assert request.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
        assert re.search(r"/us-east-1/aoss/aws4_request", request.headers["authorization"])
        assert "x-amz-content-sha256" in request.headers
    assert any(r.method == "HEAD" for r in server.requests)
    assert sum(1 for r in server.requests if r.method == "PUT") == 1


def test_knn_query_returns_cosine_similarities_best_first(serverless: Any) -> None:
    _, server = serverless
    index = _index(server)
    index.upsert("incidents", "x", _unit([1.0, 0.0, 0.0]), {"name": "x"})
    index.upsert("incidents", "y", _unit([1.0, 1.0, 0.0]), {"name": "y"})
    index.upsert("incidents", "z", _unit([0.0, 0.0, 1.0]), {"name": "z"})

    found = index.query("incidents", _unit([1.0, 0.2, 0.0]), 2)

    assert [doc["name"] for _, doc in found] == ["x", "y"]
    expected_x = _unit([1.0, 0.2, 0.0])[0]
    assert found[0][0] == pytest.approx(expected_x, abs=1e-5)
    knn = server.requests[-1].json["query"]["knn"]["vector"]
    assert knn["k"] == 2 and len(knn["vector"]) == 3


def test_tenant_filter_is_part_of_the_knn_search_and_tenants_are_indexed_as_keywords(serverless: Any) -> None:
    # Given the same vector indexed for two tenants
    fake, server = serverless
    index = _index(server)
    index.upsert("incidents", "acme:1", _unit([1.0, 0.0]), {"incident_id": "1", "tenant_id": "acme"})
    index.upsert("incidents", "globex:1", _unit([1.0, 0.0]), {"incident_id": "1", "tenant_id": "globex"})
    # When globex searches, then only its document comes back, and the filter was sent inside the k-NN query
    found = index.query("incidents", _unit([1.0, 0.0]), 5, tenant_id="globex")
    assert [doc["tenant_id"] for _, doc in found] == ["globex"]
    assert server.requests[-1].json["query"]["knn"]["vector"]["filter"] == {"term": {"tenant_id": "globex"}}
    mapping = fake.indices["sre-copilot-incidents"]["mappings"]["properties"]
    assert mapping["tenant_id"] == {"type": "keyword"}


def test_query_on_a_missing_index_is_empty(serverless: Any) -> None:
    _, server = serverless
    assert _index(server).query("never-written", [1.0, 0.0], 3) == []


def test_score_conversion_round_trips() -> None:
    for cos in (-1.0, -0.3, 0.0, 0.42, 1.0):
        d2 = 2.0 - 2.0 * cos
        assert score_to_cosine(1.0 / (1.0 + d2)) == pytest.approx(cos)


def test_runbook_search_works_end_to_end_on_opensearch(serverless: Any) -> None:
    _, server = serverless
    runbooks = RunbookIndex(index=_index(server), embedder=HashingEmbedder())
    best = runbooks.search("node ip-10-0-3-4 StatusCheckFailed, pods of several services NotReady", 3)
    assert best[0][1].id == "host-failure-drain"
    # A second index object on the same collection finds the runbooks already there: one probe, no rewrites.
    before = len(server.requests)
    again = RunbookIndex(index=_index(server), embedder=HashingEmbedder())
    again.ensure_indexed()
    assert [r.method for r in server.requests[before:]].count("POST") == 1  # the probe k-NN search only


def _bedrock_server(request: Request) -> Reply:
    body = request.json
    text = body["inputText"]
    vector = _unit([float(len(text)), 1.0] + [0.0] * (body["dimensions"] - 2))
    return json_reply(200, {"embedding": vector, "inputTextTokenCount": len(text.split())})


def test_bedrock_embedder_calls_titan_v2() -> None:
    with local_server(_bedrock_server) as server:
        client = boto3.client("bedrock-runtime", region_name="us-east-1", endpoint_url=server.url,
                              aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret")
        embedder = BedrockEmbedder(client, dimensions=256)
        vectors = embedder.embed(["checkout error rate", "host down"])
        sent = [r for r in server.requests if r.method == "POST"]
    assert len(vectors) == 2 and all(len(v) == 256 for v in vectors)
    assert unquote(sent[0].path) == "/model/amazon.titan-embed-text-v2:0/invoke"
    assert json.loads(sent[0].raw) == {"inputText": "checkout error rate", "dimensions": 256, "normalize": True}
    assert sent[0].headers["authorization"].startswith("AWS4-HMAC-SHA256")
    with pytest.raises(ValueError, match="256, 512 or 1024"):
        BedrockEmbedder(client, dimensions=384)
