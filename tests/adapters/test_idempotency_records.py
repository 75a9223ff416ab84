"""The ingest answer kept in an idempotency record: packed small, returned unchanged."""

from __future__ import annotations

import json

from sre_copilot.adapters.dynamo.idempotency_records import PACKED_KEY, pack_answer, unpack_answer


def _grouped_answer(alerts: int) -> dict[str, object]:
    return {"status": 202, "delivery_id": "alertmanager:sha256:ab12", "received_at": "2026-03-10T20:00:00Z",
            "raw_ref": "raw/2026/03/10/ab12.json",
            "signals": [{"id": f"sig-{i:04d}", "source": "alertmanager", "status": "firing", "severity": "warning",
                         "priority": "P2", "service": "checkout", "entity": f"checkout-{i % 3}",
                         "entity_kind": "pod", "title": "HighErrorRate on checkout", "fingerprint": f"fp-{i}",
                         "duplicate_of": None, "suppressed_by": None, "background": False,
                         "origin": "default", "event_time": "2026-03-10T19:59:00Z"} for i in range(alerts)]}


def test_a_grouped_answer_round_trips_and_is_stored_in_fewer_kilobytes() -> None:
    # Given the answer to an Alertmanager delivery grouping eight alerts
    answer = _grouped_answer(8)
    # When it is packed for the record and read back
    packed = pack_answer(answer)
    # Then the retry gets exactly the first answer, and the stored form is under half the plain size
    assert unpack_answer(packed) == answer
    assert len(json.dumps(packed)) * 2 < len(json.dumps(answer))


def test_a_record_saved_before_packing_is_returned_as_it_is() -> None:
    # Given a record written by the previous release (the plain answer)
    plain = _grouped_answer(1)
    # When a retry reads it
    # Then it is answered unchanged, even an answer that happens to carry the packed key among others
    assert unpack_answer(plain) == plain
    assert unpack_answer({PACKED_KEY: "x", "status": 202}) == {PACKED_KEY: "x", "status": 202}
