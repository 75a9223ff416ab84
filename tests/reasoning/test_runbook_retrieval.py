"""Runbook corpus, parsing, indexing and retrieval accuracy on the labelled retrieval set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sre_copilot.errors import InvalidPayload
from sre_copilot.reasoning.recommend import (
    ACTION_RISK,
    RunbookIndex,
    index_runbooks,
    load_runbook,
    parse_runbook,
    starter_runbooks,
)
from sre_copilot.reasoning.symptoms import FAULTS
from sre_copilot.reasoning.vectors import HashingEmbedder, LocalVectorIndex

RETRIEVAL_SET = Path(__file__).parent / "data" / "retrieval_set.json"


def test_starter_runbooks_cover_the_common_failure_classes() -> None:
    runbooks = starter_runbooks()
    assert len(runbooks) >= 8
    assert len({r.id for r in runbooks}) == len(runbooks)
    for runbook in runbooks:
        assert runbook.title and runbook.body.startswith("#"), runbook.id
        assert set(runbook.fault_classes) <= set(FAULTS), runbook.id
        assert set(runbook.actions) <= set(ACTION_RISK), runbook.id
    covered = {f for r in runbooks for f in r.fault_classes}
    for fault in ("bad deploy", "bad config change", "bad feature flag", "dependency outage", "saturation",
                  "host failure", "memory leak", "certificate expiry", "dns failure", "queue backlog"):
        assert fault in covered


def test_retrieval_accuracy_floor() -> None:
    # Given the labelled descriptions and a fresh offline index of the starter runbooks
    cases = json.loads(RETRIEVAL_SET.read_text())["cases"]
    assert len(cases) >= 30
    starter = {r.id for r in starter_runbooks()}
    assert {c["runbook"] for c in cases} <= starter
    index = RunbookIndex(index=LocalVectorIndex(), embedder=HashingEmbedder())

    # When each description is searched
    ranked = [[r.id for _, r in index.search(c["text"], 3)] for c in cases]

    # Then the expected runbook is usually first and almost always in the top three
    top1 = sum(ids[0] == c["runbook"] for ids, c in zip(ranked, cases, strict=True)) / len(cases)
    top3 = sum(c["runbook"] in ids for ids, c in zip(ranked, cases, strict=True)) / len(cases)
    assert top1 >= 0.8, top1
    assert top3 >= 0.95, top3


@pytest.mark.parametrize(("text", "message"), [
    ("# just markdown\n", "no front matter"),
    ("---\nid: Bad Id!\ntitle: x\n---\nbody", "needs an id"),
    ("---\nid: [unclosed\n---\nbody", "not valid YAML"),
    ("---\n- a\n- b\n---\nbody", "must be a mapping"),
])
def test_malformed_runbooks_are_rejected_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(InvalidPayload, match=message):
        parse_runbook(text, path="team/rb.md")


def test_user_runbooks_are_indexed_persisted_and_win_over_starter_ids(tmp_path: Path) -> None:
    # Given a team runbook directory with a new runbook and one that replaces a starter runbook
    folder = tmp_path / "runbooks"
    folder.mkdir()
    (folder / "kafka-rebalance.md").write_text(
        "---\nid: kafka-rebalance\ntitle: Kafka consumer group rebalance storm\nfault_classes: [queue backlog]\n"
        "actions: [restart]\n---\n# Rebalance storm\nConsumers keep rebalancing; partitions unassigned; lag grows.\n")
    (folder / "rollback-deploy.md").write_text(
        "---\nid: rollback-deploy\ntitle: Our own deploy rollback via Argo CD\nfault_classes: [bad deploy]\n"
        "actions: [rollback]\n---\n# Argo rollback\nUse argocd app rollback.\n")
    store = tmp_path / "state" / "vectors.json"

    # When indexed through the CLI's path (persisted index)
    count = index_runbooks(sorted(folder.glob("*.md")), LocalVectorIndex(store), HashingEmbedder())

    # Then a fresh process finds them, and starter runbooks never overwrite the team's version
    assert count == 2 and store.exists()
    reopened = RunbookIndex(index=LocalVectorIndex(store), embedder=HashingEmbedder())
    top = reopened.search("kafka consumer group keeps rebalancing, partitions unassigned", 1)[0][1]
    assert top.id == "kafka-rebalance" and top.source == "user"
    rollback = next(r for _, r in reopened.search("roll back the bad deploy", 5) if r.id == "rollback-deploy")
    assert rollback.title.startswith("Our own deploy rollback")
    assert LocalVectorIndex(store).count("runbooks") == len(starter_runbooks()) + 1


def test_a_broken_runbook_file_names_itself(tmp_path: Path) -> None:
    broken = tmp_path / "broken.md"
    broken.write_text("no front matter here")
    with pytest.raises(InvalidPayload, match=r"broken\.md"):
        index_runbooks([broken], LocalVectorIndex(), HashingEmbedder())
    with pytest.raises(InvalidPayload, match=r"broken\.md"):
        load_runbook(broken)


def test_corpus_text_holds_every_runbook() -> None:
    index = RunbookIndex(index=LocalVectorIndex(), embedder=HashingEmbedder())
    corpus = index.corpus_text()
    assert all(f"## {r.id}:" in corpus for r in starter_runbooks())
