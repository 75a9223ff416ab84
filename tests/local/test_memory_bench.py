"""`bench_memory.py`: what one invocation allocates, attributed to the invocation that ran."""

from __future__ import annotations

import sys
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from bench_memory import Allocations

MB = 1_000_000


def test_a_nested_invocation_counts_in_its_own_row_and_not_in_its_parents() -> None:
    # Given an invocation that holds 1 MB and starts a nested one that briefly needs 4 MB
    found = Allocations()
    tracemalloc.start()
    try:
        outer = found.enter("outer")
        held = bytearray(MB)
        inner = found.enter("inner")
        scratch = bytearray(4 * MB)
        del scratch
        found.leave(inner)
        # When the parent then needs 2 MB more for a moment, and ends
        scratch = bytearray(2 * MB)
        del scratch
        found.leave(outer)
    finally:
        tracemalloc.stop()
    # Then the nested invocation's peak is its own 4 MB,
    assert 4 * MB <= found.peaks["inner"][0] < 4.2 * MB
    # and the parent's is its own 3 MB (1 held + 2 scratch), without the nested 4 MB on top
    assert 3 * MB <= found.peaks["outer"][0] < 3.2 * MB
    assert len(held) == MB


def test_invocations_in_turn_are_measured_from_their_own_start() -> None:
    # Given a first invocation that leaves 2 MB behind (a warm cache) and a second that needs 1 MB
    found = Allocations()
    tracemalloc.start()
    try:
        first = found.enter("first")
        kept = bytearray(2 * MB)
        found.leave(first)
        second = found.enter("second")
        scratch = bytearray(MB)
        del scratch
        found.leave(second)
    finally:
        tracemalloc.stop()
    # Then each peak is above the level its invocation started from
    assert 2 * MB <= found.peaks["first"][0] < 2.2 * MB
    assert MB <= found.peaks["second"][0] < 1.2 * MB
    assert len(kept) == 2 * MB
