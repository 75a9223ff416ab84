"""Runbook retrieval accuracy and cost: the labelled retrieval set against the starter runbooks.

Prints top-1 and top-3 accuracy of `RunbookIndex.search` (HashingEmbedder + LocalVectorIndex, i.e.
exactly what runs offline and in replay), the misses, and the time per query.

    .venv/bin/python benchmarks/bench_retrieval.py [--set tests/reasoning/data/retrieval_set.json]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

from sre_copilot.reasoning.recommend import RunbookIndex
from sre_copilot.reasoning.vectors import HashingEmbedder, LocalVectorIndex

DEFAULT_SET = Path(__file__).resolve().parents[1] / "tests" / "reasoning" / "data" / "retrieval_set.json"


@dataclass(frozen=True)
class RetrievalResult:
    cases: int
    runbooks: int
    top1: float
    top3: float
    ms_per_query: float
    misses: list[dict[str, object]]


def evaluate(cases: list[dict[str, str]], k: int = 3) -> RetrievalResult:
    index = RunbookIndex(index=LocalVectorIndex(), embedder=HashingEmbedder())
    index.ensure_indexed()
    top1 = top3 = 0
    misses: list[dict[str, object]] = []
    started = time.perf_counter()
    for case in cases:
        ids = [runbook.id for _, runbook in index.search(case["text"], k)]
        top1 += bool(ids) and ids[0] == case["runbook"]
        top3 += case["runbook"] in ids
        if not ids or ids[0] != case["runbook"]:
            misses.append({"text": case["text"], "expected": case["runbook"], "got": ids})
    elapsed = time.perf_counter() - started
    n = len(cases)
    return RetrievalResult(cases=n, runbooks=len(index.runbooks), top1=top1 / n, top3=top3 / n,
                           ms_per_query=1000 * elapsed / n, misses=misses)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, default=DEFAULT_SET)
    args = parser.parse_args()
    cases = json.loads(args.set.read_text())["cases"]
    result = evaluate(cases)
    print(f"runbook retrieval: {result.cases} queries over {result.runbooks} runbooks")
    print(f"  top-1 accuracy: {result.top1:.3f}")
    print(f"  top-3 accuracy: {result.top3:.3f}")
    print(f"  {result.ms_per_query:.2f} ms per query")
    for miss in result.misses:
        # Fits 100 columns: what was expected and what came first, then the query on its own line.
        print(f"  miss: expected {miss['expected']}, got {', '.join(miss['got'])}"[:100])
        print(f"    query: {miss['text']}"[:100])


if __name__ == "__main__":
    main()
