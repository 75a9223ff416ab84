"""Changes, the append-only audit trail, notifications and action plans."""

from __future__ import annotations

from datetime import timedelta

import pytest
from aws_test_support import START, raw_item, raw_query

from sre_copilot.adapters.dynamodb_store import DynamoStore
from sre_copilot.domain.action import ActionPlan
from sre_copilot.domain.change import ChangeEvent
from sre_copilot.domain.notification import AuditRecord, Notification
from sre_copilot.domain.types import ActionStatus, Approval, ChangeKind, Channel, NotificationKind, Risk
from sre_copilot.errors import ConcurrentUpdate


def make_change(change_id: str, service: str, at_s: float, tenant: str = "acme") -> ChangeEvent:
    return ChangeEvent(id=change_id, tenant_id=tenant, service=service, kind=ChangeKind.DEPLOY,
                       at=START + timedelta(seconds=at_s), version="v2", previous_version="v1",
                       summary=f"deploy {service}", target=f"deployment/{service}")


def test_changes_between_two_times_in_time_order(store: DynamoStore) -> None:
    # Given changes of several services, one in another tenant, written out of order
    for change in (make_change("c3", "payments", 3600), make_change("c1", "checkout", 0),
                   make_change("c2", "checkout", 1800), make_change("c0", "checkout", -60),
                   make_change("cx", "checkout", 900, tenant="other")):
        store.put_change(change)
    # When the tenant's changes from START to START+1h (both ends included) are listed
    changes = store.changes_between("acme", START, START + timedelta(hours=1))
    # Then they come in time order, bounded on both sides
    assert [c.id for c in changes] == ["c1", "c2", "c3"]
    assert changes[0] == make_change("c1", "checkout", 0)


def test_changes_of_one_service(store: DynamoStore) -> None:
    # Given changes of two services
    for change in (make_change("c1", "checkout", 0), make_change("c2", "payments", 60),
                   make_change("c3", "checkout", 120)):
        store.put_change(change)
    # When one service's changes in a window are listed
    changes = store.changes_for_service("acme", "checkout", START, START + timedelta(minutes=1))
    # Then only that service's changes in the window come back
    assert [c.id for c in changes] == ["c1"]
    assert [c.id for c in store.changes_for_service("acme", "checkout", START, START + timedelta(hours=1))] == [
        "c1", "c3"]


def test_audit_trail_is_per_subject_in_time_order(store: DynamoStore) -> None:
    # Given records of two subjects, two of them in the same millisecond
    at = START + timedelta(minutes=5)
    records = [AuditRecord(at=at, tenant_id="acme", actor="copilot", action=f"step.{n}", subject="inc-1",
                           details={"n": n, "ratio": 0.5}) for n in range(3)]
    records.insert(0, AuditRecord(at=START, tenant_id="acme", actor="sre", action="incident.opened", subject="inc-1"))
    for record in records:
        store.append(record)
    store.append(AuditRecord(at=START, tenant_id="acme", actor="sre", action="other", subject="inc-2"))
    # When one subject's trail is read
    trail = store.for_subject("acme", "inc-1")
    # Then it holds exactly its records, in the order they were appended
    assert trail == records
    assert store.for_subject("other", "inc-1") == []


def test_audit_records_can_never_be_overwritten(store: DynamoStore) -> None:
    # Given an appended record
    store.append(AuditRecord(at=START, tenant_id="acme", actor="sre", action="approve", subject="inc-1"))
    [item] = raw_query("TENANT#acme#AUDIT#inc-1")
    key = {"pk": item["pk"]["S"], "sk": item["sk"]["S"]}
    assert key["sk"].startswith("AUDIT#2024-05-14T09:00:00.000Z#")
    # When a write aims at the same key
    # Then it is refused and the original stays
    with pytest.raises(ConcurrentUpdate, match="never replaced"):
        store.put_audit_item(key, {"at": "2024-05-14T09:00:00.000Z", "tenant_id": "acme", "actor": "mallory",
                                   "action": "approve", "subject": "inc-1", "details": {}})
    assert [r.actor for r in store.for_subject("acme", "inc-1")] == ["sre"]
    assert int(raw_item(key["pk"], key["sk"])["ttl"]["N"]) == int((START + timedelta(days=400)).timestamp())


def make_notification(notification_id: str, at_s: float, status: str = "sent") -> Notification:
    return Notification(id=notification_id, incident_id="inc-1", at=START + timedelta(seconds=at_s),
                        channel=Channel.PHONE, target="+15550100", kind=NotificationKind.PAGE, status=status,
                        text="checkout is down", provider_id="CA123")


def test_notifications_per_incident_in_time_order_and_updatable(store: DynamoStore) -> None:
    # Given two notifications of inc-1, the page later acknowledged
    store.record_notification(make_notification("n-2", 60))
    store.record_notification(make_notification("n-1", 0))
    sent = store.get_notification("acme", "inc-1", make_notification("n-1", 0))
    assert sent is not None and sent.version == 1
    store.record_notification(sent.model_copy(update={"status": "acknowledged"}))
    # When the incident's notifications are listed
    notifications = store.notifications_for("acme", "inc-1")
    # Then each appears once, in time order, with its latest status
    assert [(n.id, n.status) for n in notifications] == [("n-1", "acknowledged"), ("n-2", "sent")]
    assert store.notifications_for("acme", "inc-2") == []


def make_plan(plan_id: str, created_s: float) -> ActionPlan:
    at = START + timedelta(seconds=created_s)
    return ActionPlan(id=plan_id, incident_id="inc-1", action="rollback", target="deployment/checkout",
                      params={"revision": 41, "approval_timeout_s": 300.0, "ratio": 0.25}, risk=Risk.MEDIUM,
                      preconditions=["change within 24h"], created_at=at, updated_at=at)


def test_action_plans_per_incident_in_creation_order(store: DynamoStore) -> None:
    # Given two plans of inc-1, the first later approved
    first, second = make_plan("plan-b", 0), make_plan("plan-a", 60)
    store.put_action("acme", second)
    store.put_action("acme", first)
    approved = first.model_copy(update={"approval": Approval.APPROVED, "approver": "slack:oncall",
                                        "status": ActionStatus.PLANNED})
    store.put_action("acme", approved)
    # When the plans are listed
    plans = store.actions_for("acme", "inc-1")
    # Then they come in creation order, with the update applied and params intact
    assert plans == [approved, second]
    assert plans[0].params == {"revision": 41, "approval_timeout_s": 300.0, "ratio": 0.25}


def test_records_are_one_document_attribute_and_older_plain_items_still_read(store: DynamoStore) -> None:
    # Given a plan written now, and the same plan as an older release wrote it (one attribute per field)
    from sre_copilot.adapters.dynamodb_store import marshal

    plan = make_plan("plan-new", 0)
    store.put_action("acme", plan)
    old = make_plan("plan-old", 60)
    store.client.put_item(TableName=store.table_name, Item=marshal({
        "pk": "TENANT#acme#INCIDENT#inc-1", "sk": "ACTION#plan-old", **old.model_dump(mode="json"),
        "item_type": "action_plan"}))
    # When both are read back
    plans = store.actions_for("acme", "inc-1")
    # Then the new one is stored as a single JSON document, and both read as they were written
    stored = raw_item("TENANT#acme#INCIDENT#inc-1", "ACTION#plan-new")
    assert set(stored) == {"pk", "sk", "doc", "item_type", "ttl", "version"}
    assert plans == [plan, old]


def test_plans_and_notifications_are_written_only_over_the_version_read(store: DynamoStore) -> None:
    # Given a plan and a notification, each read by two writers
    store.put_action("acme", make_plan("plan-v", 0))
    store.record_notification(make_notification("n-v", 0))
    plan_a, plan_b = (store.get_action("acme", "inc-1", "plan-v") for _ in range(2))
    page_a, page_b = (store.get_notification("acme", "inc-1", make_notification("n-v", 0)) for _ in range(2))
    assert plan_a is not None and plan_b is not None and page_a is not None and page_b is not None
    # When the first writer of each saves its change
    store.put_action("acme", plan_a.model_copy(update={"approval": Approval.APPROVED}))
    store.record_notification(page_a.model_copy(update={"status": "acknowledged"}))
    # Then the second, writing from the copy it read before, is refused, and the first change stays
    with pytest.raises(ConcurrentUpdate):
        store.put_action("acme", plan_b.model_copy(update={"approval": Approval.TIMED_OUT}))
    with pytest.raises(ConcurrentUpdate):
        store.record_notification(page_b.model_copy(update={"status": "no-answer"}))
    # And a new record under an existing id is refused too (a blind insert never replaces)
    with pytest.raises(ConcurrentUpdate):
        store.put_action("acme", make_plan("plan-v", 0))
    stored_plan = store.get_action("acme", "inc-1", "plan-v")
    assert stored_plan is not None and (stored_plan.approval, stored_plan.version) == (Approval.APPROVED, 2)
    assert [n.status for n in store.notifications_for("acme", "inc-1")] == ["acknowledged"]


def test_an_ended_escalation_is_never_brought_back_to_paging(store: DynamoStore) -> None:
    from sre_copilot.adapters.paging_store import PagingStore

    paging = PagingStore(store.client, store.table_name)
    # Given an escalation paging at level 1, then acknowledged
    assert paging.set_status("acme", "inc-1", "paging", level=1, round=1)
    assert paging.set_status("acme", "inc-1", "acknowledged", level=1, round=1)
    # When a late page step (a retry) and a later ending try to write
    late = paging.set_status("acme", "inc-1", "paging", level=2, round=1)
    closed = paging.set_status("acme", "inc-1", "closed", level=1, round=1)
    # Then neither replaces the ending first recorded
    assert (late, closed) == (False, False)
    status = paging.status("acme", "inc-1")
    assert status is not None and (status["status"], status["level"]) == ("acknowledged", 1)
