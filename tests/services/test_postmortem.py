"""The postmortem draft from plain recorded facts: every section, derived figures and retrospective."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sre_copilot.cli.postmortem_pdf import write_pdf
from sre_copilot.domain.action import ActionPlan
from sre_copilot.domain.change import ChangeEvent
from sre_copilot.domain.incident import Incident, IncidentState
from sre_copilot.domain.notification import AuditRecord, Notification
from sre_copilot.domain.signal import Signal
from sre_copilot.domain.types import (
    ActionStatus,
    Approval,
    ChangeKind,
    Channel,
    NotificationKind,
    Priority,
    Risk,
    Severity,
    SignalStatus,
)
from sre_copilot.services.postmortem import (
    PostmortemFacts,
    render_postmortem,
    response_figures,
    retrospective,
)

T0 = datetime(2026, 4, 1, 10, 0, tzinfo=UTC)
S = IncidentState


def _at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _signal(i: int, minutes: float, status: SignalStatus = SignalStatus.FIRING) -> Signal:
    return Signal(id=f"sig-{i}", source="alertmanager", status=status, severity=Severity.CRITICAL,
                  priority=Priority.P1, event_time=_at(minutes), received_at=_at(minutes),
                  title="HighErrorRate checkout", service="checkout", entity="checkout", fingerprint=f"fp-{i % 2}")


def _facts(ack_after: float = 2.0) -> PostmortemFacts:
    incident = Incident.open(incident_id="inc-1", tenant_id="default", priority=Priority.P1, title="HighErrorRate checkout",
                             service="checkout", at=_at(3), actor="copilot:correlation", reason="open")
    incident.services = ["checkout", "payments"]
    incident.transition(S.ACKNOWLEDGED, at=_at(3 + ack_after), actor="phone:+1555", reason="keypress")
    incident.transition(S.INVESTIGATING, at=_at(6), actor="slack:U1", reason="acting on rollback")
    incident.transition(S.MITIGATED, at=_at(9), actor="copilot:workflow", reason="rollback verified")
    incident.transition(S.RESOLVED, at=_at(25), actor="copilot:resolution", reason="clear for 5 min")
    factors = {"signal_strength": 0.9, "temporal_correlation": 0.95, "precedent_frequency": 0.3,
               "evidence_quality": 0.95, "human_validation": 0.5}
    incident.hypotheses = [
        {"id": "h1", "rank": 1, "entity": "checkout", "entity_kind": "service", "service": "checkout",
         "change_id": "deploy-42", "fault": "bad deploy", "confidence": 0.81, "confidence_range": [0.74, 0.88],
         "factors": factors, "summary": "Deploy deploy-42 of checkout 2 min before the errors."},
        {"id": "h2", "rank": 2, "entity": "payments", "entity_kind": "service", "service": "payments",
         "change_id": None, "fault": "dependency outage", "confidence": 0.42, "confidence_range": [0.3, 0.5],
         "factors": {**factors, "temporal_correlation": 0.3, "evidence_quality": 0.4}, "summary": "payments down"}]
    plan = ActionPlan(id="plan-1", incident_id="inc-1", action="rollback", target="deployment/checkout",
                      risk=Risk.MEDIUM, approval=Approval.APPROVED, approver="slack:U1", status=ActionStatus.VERIFIED,
                      detail="error rate back under 1 %", created_at=_at(4), updated_at=_at(9))
    notifications = [
        Notification(id="n1", incident_id="inc-1", at=_at(3), channel=Channel.PHONE, target="+1555",
                     kind=NotificationKind.PAGE, status="acknowledged"),
        Notification(id="n2", incident_id="inc-1", at=_at(3), channel=Channel.SLACK, target="#inc",
                     kind=NotificationKind.APPROVAL_REQUEST, status="sent", text="Approval needed: plan-1")]
    audit = [AuditRecord(at=_at(6), actor="slack:U1", action="approval.approved", subject="inc-1",
                         details={"plan": "plan-1", "action": "rollback", "target": "deployment/checkout"}),
             AuditRecord(at=_at(7), actor="copilot:workflow", action="action.executed", subject="inc-1",
                         details={"plan": "plan-1", "status": "executed"}),
             AuditRecord(at=_at(9), actor="copilot:workflow", action="action.verified", subject="inc-1",
                         details={"plan": "plan-1", "why": "error rate back under 1 %"})]
    change = ChangeEvent(id="deploy-42", service="checkout", kind=ChangeKind.DEPLOY, at=_at(-1), version="v2",
                         previous_version="v1", summary="bump grpc", author="ci")
    evidence = [{"kind": "temporal", "subject": "deploy-42", "summary": "deploy 2 min before the first alert",
                 "source": "changes", "strength": 0.95, "supports": True}]
    return PostmortemFacts(incident=incident, signals=[_signal(1, 1), _signal(2, 2), _signal(3, 20, SignalStatus.RESOLVED)],
                           actions=[plan], notifications=notifications, audit=audit, changes=[change],
                           evidence=evidence, customer_facing=["checkout"])


def test_postmortem_has_every_section_with_the_recorded_facts() -> None:
    # Given the recorded facts of a deploy-caused incident that a verified rollback mitigated
    text = render_postmortem(_facts())
    # Then every section is there, in order
    sections = ["## Summary", "## Impact", "## Detection and response", "## Timeline", "## Root cause",
                "## What was done", "## What went well", "## What went badly", "## Follow-ups"]
    assert [text.index(s) for s in sections] == sorted(text.index(s) for s in sections)
    # And it names the change, the top hypothesis, its evidence and why the other was ruled out
    assert "Change: deploy `deploy-42` on checkout from v1 to v2" in text
    assert "**bad deploy** on **checkout**" in text and "[temporal] deploy 2 min before the first alert" in text
    assert "dependency outage on payments" in text and "weaker temporal correlation 0.3 vs 0.95" in text
    # And the timeline is merged from signals, changes, lifecycle, notifications, approvals and actions
    for line in ("change: deploy `deploy-42`", "signal: [alertmanager] HighErrorRate checkout",
                 "lifecycle: incident MITIGATED", "notification: page via phone", "approval: approved rollback",
                 "action: verified plan-1"):
        assert line in text, line
    # And the action is listed with its result, and customer-facing symptoms are named
    assert "**rollback deployment/checkout** (risk medium): approval approved by slack:U1; result **verified**" in text
    assert "Customer-facing symptoms: HighErrorRate checkout" in text


def test_response_figures_are_derived_from_recorded_times() -> None:
    figures = response_figures(_facts())
    assert figures == {"detect": 120.0, "acknowledge": 120.0, "mitigate": 360.0, "resolve": 1320.0}


def test_retrospective_comes_from_the_timeline() -> None:
    well, _, follow = retrospective(_facts())
    assert "rollback deployment/checkout verified on first try" in well
    assert any("canary" in f and "deploy-42" in f for f in follow)
    # Given a page that waited 9 minutes for its acknowledgement
    _, badly, follow = retrospective(_facts(ack_after=9.0))
    assert "page acknowledged 9.0 min after it was sent" in badly
    assert any("unacknowledged for 9 min" in f for f in follow)


def _pdf_text(pdf: bytes) -> str:
    """The text-showing operands of every (Flate-compressed) content stream, as one string."""
    import re
    import zlib

    shown = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, flags=re.S):
        try:
            content = zlib.decompress(stream)
        except zlib.error:
            continue
        shown += [m.decode("latin-1") for m in re.findall(rb"\((.*?)(?<!\\)\)\s*Tj", content)]
    return " ".join(shown)


def test_the_postmortem_renders_as_a_pdf_with_its_sections(tmp_path: Path) -> None:
    # Given the Markdown postmortem of a deploy-caused incident
    markdown = render_postmortem(_facts())
    # When it is written as a PDF (sre-copilot postmortem ID --pdf FILE)
    path = write_pdf(markdown, tmp_path / "pm" / "inc.pdf", title="Postmortem inc-1")
    data = path.read_bytes()
    # Then it is a PDF whose pages show every section heading and the named change
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    text = _pdf_text(data)
    for heading in ("Summary", "Impact", "Detection and response", "Timeline", "Root cause", "What was done",
                    "What went well", "What went badly", "Follow-ups"):
        assert heading in text, heading
    assert "deploy-42" in text and "rollback deployment/checkout" in text


def test_grouping_names_alerts_by_title_not_signal_id() -> None:
    from sre_copilot.domain.incident import GroupingExplanation

    # Given an incident whose grouping explanation refers to another alert by its signal id
    facts = _facts()
    facts.signals[0].id, facts.signals[1].id = "sig-00aa11bb22", "sig-33cc44dd55"
    facts.signals[1].title = "KubePodCrashLooping checkout-1"
    facts.incident.grouping = [GroupingExplanation(
        signal_id="sig-33cc44dd55", rule="service",
        evidence="both alerts are on checkout; sig-00aa11bb22 on checkout alerted 23s earlier")]
    # When the postmortem is drafted
    grouping = render_postmortem(facts).split("## Grouping", 1)[1]
    # Then both alerts are named by their titles, as people know them
    assert ("- KubePodCrashLooping checkout-1 [service]: both alerts are on checkout; "
            "'HighErrorRate checkout' on checkout alerted 23s earlier") in grouping
    assert "sig-" not in grouping
