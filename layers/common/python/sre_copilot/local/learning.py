"""What a replay learned, carried to the next replay: human verdicts and confirmed precedents.

Each replay runs on a fresh embedded backend, so what people taught the copilot in one run (the
validation history behind factor 5, the confirmed incidents behind factor 3) is exported at the end
of the run and loaded at the start of the next. Verdicts are applied through the same
`FeedbackService` the Slack and CLI paths use, inside the deployment, after the replay settled.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sre_copilot.services.feedback import PRECEDENTS, FeedbackService

LEARNING_FORMAT = "sre-copilot/learning@1"
EARLIER = " (earlier replay)"


def empty() -> dict[str, Any]:
    return {"format": LEARNING_FORMAT, "validations": {}, "precedents": {}}


def load(path: Path | None) -> dict[str, Any]:
    if path is None or not path.exists():
        return empty()
    document = json.loads(path.read_text(encoding="utf-8"))
    if document.get("format") != LEARNING_FORMAT:
        from sre_copilot.errors import InvalidPayload

        raise InvalidPayload(f"{path} is not a {LEARNING_FORMAT} file")
    return dict(document)


def save(path: Path, learning: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(learning, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def import_learning(container: Any, learning: dict[str, Any]) -> None:
    tenant = container.settings.tenant_id
    for key, (accepted, total) in sorted(learning.get("validations", {}).items()):
        for i in range(int(total)):
            container.store.record_validation(tenant, key, i < int(accepted))
    for doc_id, entry in sorted(learning.get("precedents", {}).items()):
        document = dict(entry["document"])
        # Replay gives an incident the same id every run; the one learned from is an earlier one.
        if not str(document.get("incident_id", "")).endswith(EARLIER):
            document["incident_id"] = f"{document.get('incident_id')}{EARLIER}"
        container.vector_index.upsert(PRECEDENTS, f"{doc_id}{EARLIER}" if EARLIER not in doc_id else doc_id,
                                      entry["vector"], document)


def export_learning(container: Any) -> dict[str, Any]:
    history = container.store.validation_history(container.settings.tenant_id)
    documents = getattr(container.vector_index, "documents", None)
    precedents = {} if documents is None else {
        doc_id: {"vector": vector, "document": document}
        for doc_id, (vector, document) in documents(PRECEDENTS).items() if document.get("validated")}
    return {"format": LEARNING_FORMAT, "validations": {k: [a, t] for k, (a, t) in sorted(history.items())},
            "precedents": precedents}


def apply_verdicts(container: Any, verdicts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    service = FeedbackService(container)
    out = []
    for verdict in verdicts:
        act = service.confirm if verdict["accepted"] else service.reject
        out.append(act(verdict["incident_id"], actor=verdict.get("actor", "replay"), rank=int(verdict.get("rank", 1))))
    return out


def record_local_verdict(learning_path: Path, scenario_path: Path | None, incident_id: str, accepted: bool, *,
                         rank: int, actor: str) -> str:
    """Replay the scenario with what was learned so far, apply the verdict, keep what was learned."""
    from sre_copilot.errors import InvalidPayload
    from sre_copilot.local.replay import Scenario, replay

    if scenario_path is None:
        raise InvalidPayload("--learning needs --scenario: the scenario whose replay holds the incident")
    run = replay(Scenario.load(scenario_path), approve="all", learning=load(learning_path),
                 verdicts=[{"incident_id": incident_id, "accepted": accepted, "rank": rank, "actor": actor}])
    save(learning_path, run.learning)
    outcome = run.verdicts[0]
    return (f"{incident_id}: {'confirmed' if accepted else 'rejected'} "
            f"{outcome.get('confirmed') or outcome.get('rejected')}; learning saved to {learning_path}")
