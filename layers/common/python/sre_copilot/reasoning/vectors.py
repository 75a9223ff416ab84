"""The embedded vector index and an offline embedder: runbook and precedent search with no network.

`HashingEmbedder` turns text into a fixed-size vector by hashing features (word unigrams and
bigrams, character trigrams of each word, SRE synonyms folded to one term) into 384 buckets, with
sub-linear term frequency, down-weighted filler words and L2 normalisation. It needs no model
download, is deterministic across processes (blake2b, not Python's salted `hash`) and is good at
the lexical overlap runbook search needs. `LocalVectorIndex` keeps vectors in memory, optionally
persisted to one JSON file, and ranks by cosine similarity (numpy when installed).
"""

from __future__ import annotations

import hashlib
import json
import math
import operator
import os
import re
import tempfile
from collections import Counter, defaultdict
from itertools import pairwise
from pathlib import Path
from typing import Any

try:  # optional acceleration; the pure-Python path gives identical rankings
    import numpy as _np
except ImportError:  # pragma: no cover - numpy is not a dependency
    _np = None  # type: ignore[assignment]

DIMENSIONS = 384

_STOP = frozenset(str.split("""a an and are as at be been by for from has have in into is it its of on or that the this to was
were will with when what which who why how our we you your they them their there then than so if not no do does
did can could should would may might must all any each per via vs after before over under about"""))
# Words that appear in nearly every alert or runbook and so say little about which one matches.
_FILLER = frozenset(str.split("""service services alert alerts alerting high low is on production prod issue incident check
checks step steps first then use using run"""))

# Different words for the same thing, folded to one canonical term (the original is kept too).
_SYNONYMS: dict[str, str] = {
    "rollback": "revert", "roll": "revert", "undo": "revert", "reverted": "revert", "reverting": "revert",
    "deployment": "deploy", "deployed": "deploy", "release": "deploy", "released": "deploy", "rollout": "deploy",
    "version": "deploy", "build": "deploy", "image": "deploy",
    "configuration": "config", "configmap": "config", "setting": "config", "settings": "config",
    "parameter": "config", "env": "config",
    "flag": "featureflag", "flags": "featureflag", "toggle": "featureflag", "launchdarkly": "featureflag",
    "experiment": "featureflag",
    "oom": "memory", "oomkilled": "memory", "heap": "memory", "leak": "memory", "rss": "memory",
    "5xx": "error", "errors": "error", "exception": "error", "exceptions": "error", "failures": "error",
    "p99": "latency", "p95": "latency", "slow": "latency", "slowness": "latency", "response": "latency",
    "cpu": "saturation", "throttling": "saturation", "saturated": "saturation", "overloaded": "saturation",
    "load": "saturation", "capacity": "saturation", "traffic": "saturation",
    "node": "host", "nodes": "host", "ec2": "host", "vm": "host", "kubelet": "host",
    "statuscheckfailed": "host", "hardware": "host",
    "cert": "certificate", "certs": "certificate", "tls": "certificate", "ssl": "certificate",
    "x509": "certificate", "expiry": "expire", "expired": "expire", "expiring": "expire", "expires": "expire",
    "nxdomain": "dns", "resolve": "dns", "resolution": "dns", "resolver": "dns", "coredns": "dns",
    "route53": "dns", "servfail": "dns",
    "kafka": "queue", "sqs": "queue", "rabbitmq": "queue", "backlog": "queue", "lag": "queue", "consumer": "queue",
    "consumers": "queue", "messages": "queue",
    "database": "datastore", "db": "datastore", "rds": "datastore", "postgres": "datastore", "mysql": "datastore",
    "redis": "datastore", "dynamodb": "datastore", "opensearch": "datastore", "elasticsearch": "datastore",
    "cache": "datastore", "aurora": "datastore",
    "crashloop": "crash", "crashloopbackoff": "crash", "crashing": "crash", "restarts": "crash",
    "restarting": "crash", "panic": "crash",
    "pool": "connections", "connection": "connections",
    "disk": "storage", "volume": "storage", "inode": "storage", "inodes": "storage",
    "failover": "failover", "replica": "replicas",
    "scale": "scaleout", "scaling": "scaleout", "autoscale": "scaleout", "hpa": "scaleout", "replicas": "scaleout",
}

_WORD = re.compile(r"[a-z0-9%]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > 4 + len(suffix) and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def tokens(text: str) -> list[str]:
    words = _WORD.findall(_CAMEL.sub(" ", text).lower())
    out: list[str] = []
    for word in words:
        if word in _STOP or len(word) < 2:
            continue
        out.append(_stem(word))
        canonical = _SYNONYMS.get(word)
        if canonical and canonical != word:
            out.append(canonical)
    return out


class HashingEmbedder:
    """Offline, deterministic text embedder (see module docstring)."""

    def __init__(self, dimensions: int = DIMENSIONS) -> None:
        if dimensions < 16:
            raise ValueError("dimensions must be at least 16")
        self.dimensions = dimensions

    def _bucket(self, feature: str) -> tuple[int, float]:
        digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
        value = int.from_bytes(digest, "big")
        return value % self.dimensions, (1.0 if (value >> 63) & 1 else -1.0)

    def features(self, text: str) -> dict[str, float]:
        words = tokens(text)
        weights: defaultdict[str, float] = defaultdict(float)
        counts = Counter(words)
        for word, count in counts.items():
            scale = 0.3 if word in _FILLER else 1.0
            weights[f"w:{word}"] += scale * (1.0 + math.log(count))
            grams = [f"#{word}#"[i:i + 3] for i in range(len(word))]
            for gram in grams:
                weights[f"c:{gram}"] += scale * 0.35 / max(1, len(grams))
        for left, right in pairwise(words):
            weights[f"b:{left}_{right}"] += 0.6
        return weights

    def embed(self, texts: list[str]) -> list[list[float]]:
        out = []
        for text in texts:
            vector = [0.0] * self.dimensions
            for feature, weight in self.features(text).items():
                index, sign = self._bucket(feature)
                vector[index] += sign * weight
            norm = math.sqrt(sum(v * v for v in vector))
            out.append([round(v / norm, 6) for v in vector] if norm else vector)
        return out


def _norm(vector: list[float]) -> float:
    return math.sqrt(sum(x * x for x in vector))


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=False))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0


class LocalVectorIndex:
    """In-memory `VectorIndex`; with `path`, loaded from and saved to one JSON file on each change."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path else None
        self._data: dict[str, dict[str, tuple[list[float], dict[str, Any]]]] = {}
        self._norms: dict[tuple[str, str], float] = {}  # stored vectors' lengths, for cosine without numpy
        if self.path and self.path.exists():
            self._load(self.path)

    def _load(self, path: Path) -> None:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"vector index file {path} is not readable JSON ({exc}); delete it to start over") from exc
        for collection, docs in (raw.get("collections") or {}).items():
            self._data[collection] = {doc_id: (list(map(float, d["vector"])), dict(d["document"]))
                                      for doc_id, d in docs.items()}

    def save(self) -> None:
        if not self.path:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"version": 1, "collections": {
            c: {i: {"vector": v, "document": d} for i, (v, d) in docs.items()} for c, docs in self._data.items()}}
        # Write then rename, so a crash mid-write never leaves a truncated index behind.
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".vectors-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, separators=(",", ":"))
        os.replace(tmp, self.path)

    def upsert(self, collection: str, doc_id: str, vector: list[float], document: dict[str, Any]) -> None:
        self._data.setdefault(collection, {})[doc_id] = (list(vector), dict(document))
        self._norms.pop((collection, doc_id), None)
        self.save()

    def delete(self, collection: str, doc_id: str) -> bool:
        removed = self._data.get(collection, {}).pop(doc_id, None) is not None
        self._norms.pop((collection, doc_id), None)
        if removed:
            self.save()
        return removed

    def count(self, collection: str) -> int:
        return len(self._data.get(collection, {}))

    def documents(self, collection: str) -> dict[str, tuple[list[float], dict[str, Any]]]:
        """Every stored (vector, document) of a collection by id (exports, e.g. replay learning)."""
        return {doc_id: (list(v), dict(d)) for doc_id, (v, d) in self._data.get(collection, {}).items()}

    def query(self, collection: str, vector: list[float], k: int, *,
              tenant_id: str | None = None) -> list[tuple[float, dict[str, Any]]]:
        stored = self._data.get(collection, {})
        if tenant_id is not None:
            stored = {doc_id: entry for doc_id, entry in stored.items() if entry[1].get("tenant_id") == tenant_id}
        docs = list(stored.values())
        if not docs or k <= 0:
            return []
        if _np is not None:
            matrix = _np.asarray([v for v, _ in docs], dtype=float)
            q = _np.asarray(vector, dtype=float)
            norms = _np.linalg.norm(matrix, axis=1) * (_np.linalg.norm(q) or 1.0)
            norms[norms == 0] = 1.0
            scores = [float(s) for s in (matrix @ q) / norms]
        else:
            # cosine() term for term, with each stored vector's length computed once
            query_norm = _norm(vector)
            scores = []
            for doc_id, (v, _) in stored.items():
                doc_norm = self._norms.get((collection, doc_id))
                if doc_norm is None:
                    doc_norm = self._norms[(collection, doc_id)] = _norm(v)
                dot = sum(map(operator.mul, v, vector))
                scores.append(dot / (doc_norm * query_norm) if doc_norm and query_norm else 0.0)
        ranked = sorted(zip(scores, range(len(docs)), strict=True), key=lambda p: (-p[0], p[1]))[:k]
        return [(round(score, 6), dict(docs[i][1])) for score, i in ranked]
