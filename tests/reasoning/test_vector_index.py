"""The offline embedder and the embedded vector index."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sre_copilot.reasoning.vectors import DIMENSIONS, HashingEmbedder, LocalVectorIndex, cosine, tokens


def test_embeddings_are_unit_length_fixed_size_and_deterministic_across_processes() -> None:
    text = "checkout error rate spiked after deploy v2.3.1"
    vector = HashingEmbedder().embed([text])[0]
    assert len(vector) == DIMENSIONS
    assert math.isclose(math.sqrt(sum(v * v for v in vector)), 1.0, abs_tol=1e-4)
    # Python salts str hashes per process; the embedder must not depend on that.
    code = ("import json,sys; from sre_copilot.reasoning.vectors import HashingEmbedder; "
            f"print(json.dumps(HashingEmbedder().embed([{text!r}])[0]))")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": "12345"})
    assert json.loads(other.stdout) == vector


def test_related_texts_are_closer_than_unrelated_ones() -> None:
    embed = HashingEmbedder().embed
    a, b, c = embed(["node NotReady, kubelet stopped, pods evicted from the host",
                     "host failure: StatusCheckFailed on the EC2 node and its pods not ready",
                     "feature flag enabled for 10% of users raised checkout exceptions"])
    assert cosine(a, b) > cosine(a, c) + 0.1


def test_synonyms_fold_to_shared_terms_and_filler_is_dropped() -> None:
    assert "memory" in tokens("pods OOMKilled")
    assert "revert" in tokens("rollback the release") and "deploy" in tokens("rollback the release")
    assert "the" not in tokens("the service")
    assert HashingEmbedder().embed([""])[0] == [0.0] * DIMENSIONS


def test_index_ranks_by_cosine_and_limits_k() -> None:
    index = LocalVectorIndex()
    index.upsert("c", "x", [1.0, 0.0, 0.0], {"name": "x"})
    index.upsert("c", "y", [0.7, 0.7, 0.0], {"name": "y"})
    index.upsert("c", "z", [0.0, 0.0, 1.0], {"name": "z"})
    found = index.query("c", [1.0, 0.1, 0.0], 2)
    assert [d["name"] for _, d in found] == ["x", "y"]
    assert found[0][0] == pytest.approx(1.0 / math.sqrt(1.01), abs=1e-6)
    assert index.query("missing", [1.0, 0.0, 0.0], 3) == []
    assert index.query("c", [1.0, 0.0, 0.0], 0) == []
    index.upsert("c", "x", [0.0, 0.0, 1.0], {"name": "x2"})  # upsert replaces
    assert index.count("c") == 3
    assert index.delete("c", "z") and not index.delete("c", "z")


def test_scores_are_cosine_exactly_and_follow_replaced_vectors() -> None:
    # Given random vectors in an index (some of zero length), queried once so lengths are kept
    import random

    from sre_copilot.reasoning.vectors import cosine

    rng = random.Random(4)
    vectors = {f"d{i}": [rng.uniform(-1, 1) if i % 7 else 0.0 for _ in range(32)] for i in range(30)}
    index = LocalVectorIndex()
    for doc_id, vector in vectors.items():
        index.upsert("c", doc_id, vector, {"id": doc_id})
    query = [rng.uniform(-1, 1) for _ in range(32)]
    index.query("c", query, 30)
    # When one vector is replaced and the index is queried again
    vectors["d3"] = [1.0] * 32
    index.upsert("c", "d3", vectors["d3"], {"id": "d3"})
    found = {doc["id"]: score for score, doc in index.query("c", query, 30)}
    # Then every score is cosine() of the current vectors, to the rounding the index reports
    assert found == {doc_id: round(cosine(vector, query), 6) for doc_id, vector in vectors.items()}


def test_index_persists_to_one_json_file(tmp_path: Path) -> None:
    path = tmp_path / "state" / "vectors.json"
    index = LocalVectorIndex(path)
    index.upsert("runbooks", "a", [0.6, 0.8], {"id": "a", "tags": ["x"]})
    reopened = LocalVectorIndex(str(path))
    assert reopened.query("runbooks", [0.6, 0.8], 1) == [(1.0, {"id": "a", "tags": ["x"]})]
    assert not list(path.parent.glob(".vectors-*"))  # temp files renamed away


def test_a_corrupt_index_file_says_how_to_recover(tmp_path: Path) -> None:
    path = tmp_path / "vectors.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="delete it to start over"):
        LocalVectorIndex(path)
