"""Who hears about which event, and what they read. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass

from counsel.common.v1.event_pb2 import EventEnvelope
from counsel.consultation.v1 import events_pb2 as consultation_events
from services.runtime.events import unpack


@dataclass(frozen=True)
class Message:
    user_id: str
    kind: str
    title: str
    body: str
    subject_type: str
    subject_id: str


def messages_for(envelope: EventEnvelope) -> list[Message]:
    """The inbox messages an event causes; events nobody needs to hear about give none."""
    if envelope.type == "consultation.submitted":
        submitted = unpack(envelope, consultation_events.ConsultationSubmitted)
        assert isinstance(submitted, consultation_events.ConsultationSubmitted)
        return [
            Message(
                user_id=submitted.client_id,
                kind="consultation.submitted",
                title="咨询已提交 Consultation received",
                body=f"我们已收到您的咨询“{submitted.subject}”。We have received your consultation “{submitted.subject}”.",
                subject_type="consultation",
                subject_id=submitted.consultation_id,
            )
        ]
    if envelope.type == "consultation.closed":
        closed = unpack(envelope, consultation_events.ConsultationClosed)
        assert isinstance(closed, consultation_events.ConsultationClosed)
        return [
            Message(
                user_id=closed.client_id,
                kind="consultation.closed",
                title="咨询已结束 Consultation closed",
                body="您的咨询已结束，欢迎评价。Your consultation is closed; please rate the answer.",
                subject_type="consultation",
                subject_id=closed.consultation_id,
            )
        ]
    return []
