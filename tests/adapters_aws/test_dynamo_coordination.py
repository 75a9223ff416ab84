"""Coordination items: wait tokens, correlation state (optimistic locking, S3 spill), silences,
human validation counters and the catalog pointer."""

from __future__ import annotations

import base64
import random
from datetime import timedelta

import pytest
from aws_test_support import BUCKET, START, raw_item, raw_objects

from sre_copilot.adapters.dynamodb_store import DynamoStore
from sre_copilot.errors import ConcurrentUpdate, InvalidPayload
from sre_copilot.ingest.silences import Silence
from sre_copilot.local.clock import SimClock


def test_wait_token_is_taken_exactly_once(store: DynamoStore, clock: SimClock) -> None:
    # Given an execution parked on inc-1 with a five-minute approval deadline
    deadline = START + timedelta(minutes=5)
    store.put_wait_token("acme", "inc-1", "token-1", deadline, "plan-1")
    # When two callers race to take it
    first = store.take_wait_token("acme", "inc-1")
    second = store.take_wait_token("acme", "inc-1")
    # Then one gets the whole item and the other gets nothing
    assert first == {"tenant_id": "acme", "incident_id": "inc-1", "token": "token-1", "deadline": deadline,
                     "plan_id": "plan-1", "parked_at": START}
    assert second is None


def test_taking_a_specific_token_leaves_a_newer_park_alone(store: DynamoStore) -> None:
    # Given the execution re-parked with token-2 after a sweeper listed token-1
    store.put_wait_token("acme", "inc-1", "token-1", START, None)
    store.put_wait_token("acme", "inc-1", "token-2", None, None)
    # When the sweeper takes token-1 specifically
    # Then nothing is taken, and token-2 is still there for its owner
    assert store.take_wait_token("acme", "inc-1", token="token-1") is None
    taken = store.take_wait_token("acme", "inc-1", token="token-2")
    assert taken is not None and taken["deadline"] is None and taken["plan_id"] is None


def test_due_wait_tokens_are_those_past_their_deadline(store: DynamoStore) -> None:
    # Given parks with deadlines at +1m, +5m (exactly now) and +10m, one with no deadline
    store.put_wait_token("acme", "inc-a", "t-a", START + timedelta(minutes=1), "p-a")
    store.put_wait_token("acme", "inc-b", "t-b", START + timedelta(minutes=5), "p-b")
    store.put_wait_token("acme", "inc-c", "t-c", START + timedelta(minutes=10), "p-c")
    store.put_wait_token("acme", "inc-d", "t-d", None, None)
    store.put_wait_token("other", "inc-e", "t-e", START, None)
    # When the tokens due at +5m are listed
    due = store.due_wait_tokens("acme", START + timedelta(minutes=5))
    # Then the ones at or before it come back, earliest first; taking one removes it from the index
    assert [d["incident_id"] for d in due] == ["inc-a", "inc-b"]
    store.take_wait_token("acme", "inc-a")
    assert [d["incident_id"] for d in store.due_wait_tokens("acme", START + timedelta(minutes=5))] == ["inc-b"]


def test_due_work_lists_due_tokens_and_refresh_flags_in_one_read(store: DynamoStore, clock: SimClock) -> None:
    # Given a token due at +1m, one due at +10m, a parked token with no deadline and a flagged incident
    store.put_wait_token("acme", "inc-a", "t-a", START + timedelta(minutes=1), "p-a")
    store.put_wait_token("acme", "inc-c", "t-c", START + timedelta(minutes=10), "p-c")
    store.put_wait_token("acme", "inc-d", "t-d", None, None)
    store.flag_refresh("acme", "inc-r")
    store.flag_refresh("other", "inc-x")
    # When the agenda at +5m is read
    work = store.due_work("acme", START + timedelta(minutes=5))
    # Then it holds the due token and this tenant's flag, and a cleared flag leaves it
    assert [t["incident_id"] for t in work.wait_tokens] == ["inc-a"] and work.refresh == ["inc-r"]
    store.clear_refresh("acme", "inc-r")
    assert store.due_work("acme", START + timedelta(minutes=5)).refresh == []


def test_a_deferred_refresh_flag_waits_for_its_time_and_never_delays_a_due_one(
        store: DynamoStore, clock: SimClock) -> None:
    # Given inc-s flagged for more alerts of known kinds (due in five minutes), inc-n flagged now
    store.flag_refresh("acme", "inc-s", due=START + timedelta(minutes=5))
    store.flag_refresh("acme", "inc-n")
    # And inc-n then flagged for later evidence too, and inc-s for a new kind of alert after all
    store.flag_refresh("acme", "inc-n", due=START + timedelta(minutes=5))
    # When the agenda is read now and at +5m
    # Then inc-s is not due before its time, and inc-n's flag was not pushed later
    assert store.due_work("acme", START).refresh == ["inc-n"]
    assert store.refresh_flagged("acme", "inc-n") and not store.refresh_flagged("acme", "inc-s")
    assert sorted(store.due_work("acme", START + timedelta(minutes=5)).refresh) == ["inc-n", "inc-s"]
    # And a second deferral of inc-s does not push it later either (one analysis per window)
    clock.advance(240)
    store.flag_refresh("acme", "inc-s", due=clock.now() + timedelta(minutes=5))
    assert store.due_work("acme", START + timedelta(minutes=5)).refresh.count("inc-s") == 1
    clock.advance(60)
    assert store.refresh_flagged("acme", "inc-s")
    # And a flag due now replaces a deferred one (sooner)
    store.flag_refresh("acme", "inc-t", due=clock.now() + timedelta(minutes=5))
    store.flag_refresh("acme", "inc-t")
    assert store.refresh_flagged("acme", "inc-t")


def test_a_deferred_refresh_flag_is_brought_forward_by_evidence_due_sooner(store: DynamoStore) -> None:
    # Given inc-s flagged for more alerts of known kinds, due in five minutes
    store.flag_refresh("acme", "inc-s", due=START + timedelta(minutes=5))
    # When new evidence on it is due in two minutes (the re-analysis schedule's next pass)
    store.flag_refresh("acme", "inc-s", due=START + timedelta(minutes=2))
    # Then the flag is due at two minutes, not five
    assert store.due_work("acme", START + timedelta(minutes=2)).refresh == ["inc-s"]
    # And evidence due later again (seven minutes) leaves it at two
    store.flag_refresh("acme", "inc-s", due=START + timedelta(minutes=7))
    assert store.due_work("acme", START + timedelta(minutes=2)).refresh == ["inc-s"]


def test_correlation_state_is_on_the_agenda_from_its_next_tick(store: DynamoStore) -> None:
    # Given no state, then a state whose tick next has work at +5m
    assert store.due_work("acme", START).tick is False
    version = store.save_correlation_state("acme", {"groups": []}, 0, next_tick=START + timedelta(minutes=5))
    # When the sweeper reads its agenda before, at and after that time
    # Then only at and after it is the tick due
    assert store.due_work("acme", START + timedelta(minutes=4)).tick is False
    assert store.due_work("acme", START + timedelta(minutes=5)).tick is True
    # And a state with nothing to tick leaves the agenda
    store.save_correlation_state("acme", {"groups": []}, version, next_tick=None)
    assert store.due_work("acme", START + timedelta(days=365)).tick is False


def test_the_agenda_index_carries_no_state_document(store: DynamoStore) -> None:
    # Given a saved state due now
    store.save_correlation_state("acme", {"groups": [{"id": "inc-1"}]}, 0, next_tick=START)
    # When the agenda index is read raw
    items = store.client.query(TableName=store.table_name, IndexName="gsi2", KeyConditionExpression="gsi2pk = :pk",
                               ExpressionAttributeValues={":pk": {"S": "TENANT#acme#DUE"}})["Items"]
    # Then the state is there with its keys, type and tenant only: not its document
    assert [sorted(item) for item in items] == [["gsi2pk", "gsi2sk", "item_type", "pk", "sk", "tenant_id"]]


def test_correlation_state_saves_with_optimistic_locking(store: DynamoStore) -> None:
    # Given no state yet
    assert store.load_correlation_state("acme") == (None, 0)
    # When a worker saves version 1 and two workers then save on top of version 1
    assert store.save_correlation_state("acme", {"groups": [{"id": "inc-1", "score": 0.5}]}, 0) == 1
    state, version = store.load_correlation_state("acme")
    assert (state, version) == ({"groups": [{"id": "inc-1", "score": 0.5}]}, 1)
    assert store.save_correlation_state("acme", {"groups": [], "winner": True}, version) == 2
    # Then the second is refused, and the first's state is what is stored
    with pytest.raises(ConcurrentUpdate, match="load it again"):
        store.save_correlation_state("acme", {"groups": [], "winner": False}, version)
    assert store.load_correlation_state("acme") == ({"groups": [], "winner": True}, 2)
    # And a first save racing an existing state is refused too
    with pytest.raises(ConcurrentUpdate):
        store.save_correlation_state("acme", {}, 0)


def _objects() -> list[str]:
    return raw_objects()


def _incompressible(size: int) -> str:
    """Text zlib cannot shrink much: base64 of seeded random bytes."""
    return base64.b64encode(random.Random(7).randbytes(size * 3 // 4)).decode()


def test_correlation_state_is_stored_compressed(store: DynamoStore) -> None:
    # Given a state of over 900 KB of repetitive JSON, as an alert storm's groups are
    state = {"groups": [{"id": f"inc-{i}", "members": [["sig", "fp", 1.5, "svc", "host"]] * 20} for i in range(1500)]}
    # When it is saved
    version = store.save_correlation_state("acme", state, 0)
    # Then the item holds it compressed, inline, far under its text's size, and it loads back whole
    item = raw_item("TENANT#acme#CORRELATION", "STATE")
    text_size = int(item["size_bytes"]["N"])
    assert "document_z" in item and "document_ref" not in item and "document" not in item
    assert text_size > 900_000 and len(item["document_z"]["B"]) < text_size / 10
    assert store.load_correlation_state("acme") == (state, version)
    assert _objects() == []


def test_a_state_saved_as_text_by_an_earlier_version_still_loads(store: DynamoStore) -> None:
    # Given the state item as earlier versions wrote it: the JSON text in `document`
    store.client.put_item(TableName=store.table_name, Item={
        "pk": {"S": "TENANT#acme#CORRELATION"}, "sk": {"S": "STATE"}, "item_type": {"S": "correlation_state"},
        "tenant_id": {"S": "acme"}, "version": {"N": "4"}, "document": {"S": '{"groups": [{"id": "inc-1"}]}'}})
    # When it is loaded and saved on top
    # Then it reads as before, and the next save (conditional on its version) stores it compressed
    assert store.load_correlation_state("acme") == ({"groups": [{"id": "inc-1"}]}, 4)
    assert store.save_correlation_state("acme", {"groups": []}, 4) == 5
    assert "document_z" in raw_item("TENANT#acme#CORRELATION", "STATE")
    assert store.load_correlation_state("acme") == ({"groups": []}, 5)


def test_large_correlation_state_spills_to_s3(store: DynamoStore) -> None:
    # Given a state over 350 KB even compressed
    big = {"windows": [_incompressible(500_000)], "version": "big"}
    # When it is saved
    version = store.save_correlation_state("acme", big, 0)
    # Then the item keeps a pointer to S3 instead of the document, and loading returns the state
    item = raw_item("TENANT#acme#CORRELATION", "STATE")
    assert "document" not in item and item["document_ref"]["S"].startswith(f"s3://{BUCKET}/snapshots/acme/")
    assert store.load_correlation_state("acme") == (big, version)
    # And a small state saved next is inline again and the superseded object is deleted
    store.save_correlation_state("acme", {"windows": []}, version)
    assert store.load_correlation_state("acme") == ({"windows": []}, 2)
    assert _objects() == []


def test_refused_spill_leaves_no_object_behind(store: DynamoStore) -> None:
    # Given version 1 is stored
    store.save_correlation_state("acme", {}, 0)
    store.save_correlation_state("acme", {"a": 1}, 1)
    # When a stale worker tries to save a large state on version 1
    with pytest.raises(ConcurrentUpdate):
        store.save_correlation_state("acme", {"windows": [_incompressible(500_000)]}, 1)
    # Then its spilled object was removed
    assert _objects() == []


def test_silences_are_listed_per_tenant_and_expire_after_they_end(store: DynamoStore) -> None:
    # Given a maintenance window and an Alertmanager-style silence, and one of another tenant
    window = Silence.maintenance("checkout", START, START + timedelta(hours=2), created_by="sre", tenant_id="acme",
                                 silence_id="mw-1")
    silence = Silence.model_validate({"id": "s-1", "tenant_id": "acme", "startsAt": "2024-05-14T08:00:00Z",
                                      "endsAt": "2024-05-14T10:00:00Z", "createdBy": "oncall",
                                      "matchers": ['alertname=~"Disk.*"', {"name": "env", "value": "prod"}]})
    store.put_silence("acme", window)
    store.put_silence("acme", silence)
    store.put_silence("other", Silence.maintenance("search", START, START + timedelta(hours=1), tenant_id="other"))
    # When the tenant's silences are listed
    listed = store.list_silences("acme")
    # Then both come back as they were, earliest start first, and each expires a day after it ends
    assert listed == [silence, window]
    assert int(raw_item("TENANT#acme", "SILENCE#mw-1")["ttl"]["N"]) == int(
        (START + timedelta(hours=2, days=1)).timestamp())
    store.delete_silence("acme", "s-1")
    assert [s.id for s in store.list_silences("acme")] == ["mw-1"]


def test_silence_of_another_tenant_is_refused(store: DynamoStore) -> None:
    # Given a silence made for the default tenant
    silence = Silence.maintenance("checkout", START, START + timedelta(hours=1), silence_id="mw-x")
    # When it is stored for acme
    # Then it is refused (it could never match acme's signals)
    with pytest.raises(InvalidPayload, match="belongs to tenant default"):
        store.put_silence("acme", silence)


def test_validation_history_counts_human_verdicts(store: DynamoStore) -> None:
    # Given verdicts on two hypothesis keys
    for accepted in (True, True, False):
        store.record_validation("acme", "checkout:bad_deploy", accepted)
    store.record_validation("acme", "db:saturation", False)
    store.record_validation("other", "checkout:bad_deploy", False)
    # When the tenant's history is read
    # Then each key has its (accepted, total) counts, as the confidence factor reads them
    assert store.validation_history("acme") == {"checkout:bad_deploy": (2, 3), "db:saturation": (0, 1)}


def test_catalog_pointer_per_tenant(store: DynamoStore) -> None:
    # Given no catalog imported yet
    assert store.catalog_pointer("acme") is None
    # When one is imported
    store.put_catalog_pointer("acme", f"s3://{BUCKET}/catalog/acme.json", version="7")
    # Then the tenant points at it, other tenants do not
    assert store.catalog_pointer("acme") == f"s3://{BUCKET}/catalog/acme.json"
    assert store.catalog_pointer("other") is None


def test_tenant_ids_cannot_reach_into_other_keys(store: DynamoStore) -> None:
    # Given a tenant id that would forge another tenant's key prefix
    # When it is used
    # Then it is refused with the rule it broke
    with pytest.raises(InvalidPayload, match="contains '#'"):
        store.get_incident("acme#INCIDENT#x", "inc-1")
