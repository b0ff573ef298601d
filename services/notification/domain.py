"""Who hears about which stage event, and what they read, in Chinese and English (R-Q-3, §9.2). Pure but for
the texts, which are data (templates.toml, read once by services/notification/templates.py).

Recipients come from the event itself, or from the participants this service learned from earlier events
about the same thing (`Fact`s: the consultation's client from `consultation.submitted`, the document's author
from `docorder.drafted`, …): the durable consumer sees a subject's events in stream order. Recipients
that no event names are groups: the enterprise's admins, the agents, the supervisors, the operators
(`Notice.group`); the
store resolves their members through identity's `ListUsersByRole` (services/notification/directory.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC
from zoneinfo import ZoneInfo

from google.protobuf.message import Message as ProtoMessage
from google.protobuf.timestamp_pb2 import Timestamp

from counsel.booking.v1 import events_pb2 as booking_events
from counsel.catalog.v1 import events_pb2 as catalog_events
from counsel.common.v1.event_pb2 import EventEnvelope
from counsel.consultation.v1 import events_pb2 as consultation_events
from counsel.documents.v1 import events_pb2 as documents_events
from counsel.payment.v1 import events_pb2 as payment_events
from services.legal_fields import FALLBACK_FIELD, LEGAL_FIELD_LABELS, LEGAL_FIELDS
from services.notification.policy import DEFAULT_TIME_ZONE, Category
from services.notification.templates import OPTIONAL_PART, PLACEHOLDER, templates
from services.rules.reasons import reason_words
from services.runtime.events import unpack


def reason_params(reason: str) -> dict[str, str]:
    """`reason` as the templates' `{reason}` (Chinese) and `{reason_en}` (services/rules/reasons.py)."""
    words = reason_words(reason)
    return {"reason": words.chinese, "reason_en": words.english}


@dataclass(frozen=True)
class Fact:
    """`user_id` plays `role` (client, lawyer, author) in the thing `subject_type`/`subject_id`."""

    subject_type: str
    subject_id: str
    role: str
    user_id: str


@dataclass(frozen=True)
class Notice:
    """One message to one recipient: `user_id` when the event names them, else `role` to look up among
    the subject's learned participants. `params` fill the template `kind`."""

    kind: str
    category: Category
    subject_type: str
    subject_id: str
    params: Mapping[str, str]
    user_id: str = ""
    role: str = ""
    # Recipients who must not hear about their own action (e.g. the author of a reply).
    exclude: frozenset[str] = field(default_factory=frozenset)
    # Every member of a group instead of one person: a staff role (agent, supervisor) or, with the event's
    # tenant, an enterprise role (client_admin). Members are looked up in identity.
    group: str = ""


@dataclass(frozen=True)
class Plan:
    facts: list[Fact]
    notices: list[Notice]


@dataclass(frozen=True)
class Rendered:
    title: str
    body: str


def _legal_field(key: str) -> str:
    """The field of an event; one this version does not know reads as "other" rather than as its key."""
    return key if key in LEGAL_FIELDS else FALLBACK_FIELD


def render(kind: str, params: Mapping[str, str], language: str) -> Rendered:
    """The title and body of `kind` in `language` (zh or en; anything else falls back to zh)."""
    by_language = templates()[kind]
    title, body = by_language.get(language, by_language["zh"])
    values = _Defaults(params)

    def optional(match: re.Match[str]) -> str:
        part = match.group(1)
        return part if all(values[name] for name in PLACEHOLDER.findall(part)) else ""

    return Rendered(title.format_map(values), OPTIONAL_PART.sub(optional, body).format_map(values).strip())


def render_digest(titles: list[str], language: str) -> Rendered:
    lines = "\n".join(f"· {title}" for title in titles)
    return render("digest", {"count": str(len(titles)), "lines": lines}, language)


class _Defaults(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def _when(stamp: Timestamp, has: bool) -> str:
    """A deadline as the client reads it: China time, minutes (templates are the same in both languages)."""
    if not has:
        return ""
    moment = stamp.ToDatetime(tzinfo=UTC).astimezone(ZoneInfo(DEFAULT_TIME_ZONE))
    return moment.strftime("%Y-%m-%d %H:%M") + " (UTC+8)"


def _money(message: ProtoMessage, name: str) -> str:
    if not message.HasField(name):
        return ""
    money = getattr(message, name)
    return f"{money.amount / 100:.2f} {money.currency}"


def _consultation(envelope: EventEnvelope) -> Plan:
    kind = envelope.type
    subject = ("consultation", envelope.aggregate_id)
    if kind == "consultation.submitted":
        e = unpack(envelope, consultation_events.ConsultationSubmitted)
        subject = ("consultation", e.consultation_id)
        due = _when(e.reply_due_at, e.HasField("reply_due_at"))
        return Plan(
            [Fact(*subject, "client", e.client_id)],
            [
                Notice(
                    kind,
                    Category.STATUS,
                    *subject,
                    {"subject": e.subject, "due": due},
                    user_id=e.client_id,
                )
            ],
        )
    if kind == "consultation.assigned":
        a = unpack(envelope, consultation_events.ConsultationAssigned)
        subject = ("consultation", a.consultation_id)
        return Plan(
            [Fact(*subject, "lawyer", a.lawyer_id)],
            [
                Notice("consultation.assigned.lawyer", Category.STATUS, *subject, {}, user_id=a.lawyer_id),
                Notice("consultation.assigned.client", Category.STATUS, *subject, {}, role="client"),
            ],
        )
    if kind == "consultation.replied":
        r = unpack(envelope, consultation_events.ConsultationReplied)
        subject = ("consultation", r.consultation_id)
        others = frozenset({r.author_id})
        return Plan(
            [],
            [
                Notice(kind, Category.STATUS, *subject, {}, role="client", exclude=others),
                Notice(kind, Category.STATUS, *subject, {}, role="lawyer", exclude=others),
            ],
        )
    if kind == "consultation.escalated":
        x = unpack(envelope, consultation_events.ConsultationEscalated)
        subject = ("consultation", x.consultation_id)
        params = {"due": _when(x.original_due_at, x.HasField("original_due_at"))}
        notices = [
            Notice("consultation.escalated.client", Category.TRANSACTIONAL, *subject, params, role="client"),
            # SPEC §6.1.3.5: a missed reply is escalated to the supervisors.
            Notice(
                "consultation.escalated.supervisor",
                Category.TRANSACTIONAL,
                *subject,
                params,
                group="supervisor",
            ),
            Notice(
                "consultation.escalated.missed",
                Category.TRANSACTIONAL,
                *subject,
                params,
                user_id=x.from_lawyer_id,
            ),
        ]
        facts = []
        if x.to_lawyer_id:
            facts.append(Fact(*subject, "lawyer", x.to_lawyer_id))
            notices.append(
                Notice(
                    "consultation.escalated.new_lawyer",
                    Category.TRANSACTIONAL,
                    *subject,
                    params,
                    user_id=x.to_lawyer_id,
                )
            )
        return Plan(facts, notices)
    if kind == "consultation.classified":
        k = unpack(envelope, consultation_events.ConsultationClassified)
        subject = ("consultation", k.consultation_id)
        zh, en = LEGAL_FIELD_LABELS[_legal_field(k.legal_field)]
        params = {"field": zh, "field_en": en}
        return Plan([], [Notice(kind, Category.STATUS, *subject, params, role="client")])
    if kind == "consultation.rated":
        rated = unpack(envelope, consultation_events.ConsultationRated)
        subject = ("consultation", rated.consultation_id)
        params = {"rating": str(rated.rating)}
        return Plan([], [Notice(kind, Category.STATUS, *subject, params, user_id=rated.lawyer_id)])
    if kind in ("consultation.major_escalated", "consultation.major_concluded"):
        # R-CON-4: the team hears it is on the matter (or that it is concluded), the client that a team
        # took the matter on and a meeting waits to be confirmed (or that the conclusion is ready).
        m = unpack(envelope, consultation_events.MajorMatterChanged)
        subject = ("consultation", m.consultation_id)
        params = {"team": str(len(m.team))}
        notices = [Notice(f"{kind}.client", Category.TRANSACTIONAL, *subject, params, user_id=m.client_id)]
        notices.extend(
            Notice(f"{kind}.lawyer", Category.TRANSACTIONAL, *subject, params, user_id=lawyer)
            for lawyer in m.team
        )
        return Plan([], notices)
    if kind == "consultation.closed":
        c = unpack(envelope, consultation_events.ConsultationClosed)
        subject = ("consultation", c.consultation_id)
        return Plan([], [Notice(kind, Category.STATUS, *subject, {}, user_id=c.client_id)])
    return Plan([], [])


def _documents(envelope: EventEnvelope) -> Plan:
    kind = envelope.type
    if kind == "docorder.created":
        n = unpack(envelope, documents_events.DocOrderCreated)
        subject = ("document_order", n.document_order_id)
        params = {"due": _when(n.acknowledge_due_at, n.HasField("acknowledge_due_at"))}
        notices = [Notice(kind, Category.STATUS, *subject, params, user_id=n.client_id)]
        if n.assigned_lawyer_id:
            notices.append(
                Notice("docorder.created.lawyer", Category.STATUS, *subject, {}, user_id=n.assigned_lawyer_id)
            )
        return Plan([Fact(*subject, "client", n.client_id)], notices)
    if kind == "docorder.assigned":
        # An agent gave an order nobody was assigned to a lawyer: theirs from now on.
        g = unpack(envelope, documents_events.DocOrderAssigned)
        subject = ("document_order", g.document_order_id)
        return Plan([], [Notice(kind, Category.STATUS, *subject, {}, user_id=g.lawyer_id)])
    if kind == "docorder.rejected":
        r = unpack(envelope, documents_events.DocOrderRejected)
        subject = ("document_order", r.document_order_id)
        return Plan(
            [], [Notice(kind, Category.STATUS, *subject, {"version": str(r.version_number)}, role="author")]
        )
    if kind == "docorder.accepted":
        accepted = unpack(envelope, documents_events.DocOrderAccepted)
        subject = ("document_order", accepted.document_order_id)
        return Plan(
            [Fact(*subject, "client", accepted.client_id)],
            [Notice(kind, Category.STATUS, *subject, {}, role="author")],
        )
    if kind == "docorder.sla_breached":
        b = unpack(envelope, documents_events.DocOrderSlaBreached)
        subject = ("document_order", b.document_order_id)
        params = {"due": _when(b.new_due_at, b.HasField("new_due_at"))}
        notices = [Notice(kind, Category.TRANSACTIONAL, *subject, params, user_id=b.client_id)]
        # R-DOC-2/3: a breach alerts the agent team and the supervisors.
        staff_params = {**params, "kind": b.kind}
        notices.extend(
            Notice("docorder.sla_breached.staff", Category.TRANSACTIONAL, *subject, staff_params, group=group)
            for group in ("agent", "supervisor")
        )
        if b.assigned_lawyer_id:
            notices.append(
                Notice(
                    "docorder.sla_breached.lawyer",
                    Category.TRANSACTIONAL,
                    *subject,
                    params,
                    user_id=b.assigned_lawyer_id,
                )
            )
        # The lawyer whose draft was late hears it themselves (as consultation's `escalated.missed`) once the
        # order went to someone else; still assigned, the notice above is theirs.
        if b.missed_by_lawyer_id and b.missed_by_lawyer_id != b.assigned_lawyer_id:
            missed = {"due": _when(b.due_at, b.HasField("due_at"))}
            notices.append(
                Notice(
                    "docorder.sla_breached.missed",
                    Category.TRANSACTIONAL,
                    *subject,
                    missed,
                    user_id=b.missed_by_lawyer_id,
                )
            )
        return Plan([Fact(*subject, "client", b.client_id)], notices)
    if kind == "docorder.acknowledged":
        a = unpack(envelope, documents_events.DocOrderAcknowledged)
        subject = ("document_order", a.document_order_id)
        params = {"due": _when(a.draft_due_at, a.HasField("draft_due_at"))}
        return Plan([], [Notice(kind, Category.STATUS, *subject, params, role="client")])
    if kind == "docorder.drafted":
        d = unpack(envelope, documents_events.DocOrderDrafted)
        subject = ("document_order", d.document_order_id)
        params = {"version": str(d.version_number)}
        return Plan(
            [Fact(*subject, "author", d.author_id)],
            [Notice(kind, Category.STATUS, *subject, params, role="client")],
        )
    if kind == "docorder.approved":
        p = unpack(envelope, documents_events.DocOrderApproved)
        subject = ("document_order", p.document_order_id)
        params = {"version": str(p.version_number)}
        return Plan([], [Notice(kind, Category.STATUS, *subject, params, role="author")])
    if kind == "docorder.delivered":
        v = unpack(envelope, documents_events.DocOrderDelivered)
        subject = ("document_order", v.document_order_id)
        params = {
            "version": str(v.version_number),
            "due": _when(v.revision_window_ends_at, v.HasField("revision_window_ends_at")),
        }
        return Plan(
            [Fact(*subject, "client", v.client_id)],
            [Notice(kind, Category.TRANSACTIONAL, *subject, params, user_id=v.client_id)],
        )
    if kind == "docorder.revision_requested":
        q = unpack(envelope, documents_events.DocOrderRevisionRequested)
        subject = ("document_order", q.document_order_id)
        return Plan(
            [Fact(*subject, "client", q.requested_by)],
            [
                Notice("docorder.revision_requested.lawyer", Category.STATUS, *subject, {}, role="author"),
                Notice(
                    "docorder.revision_requested.client",
                    Category.STATUS,
                    *subject,
                    {},
                    user_id=q.requested_by,
                ),
            ],
        )
    if kind == "docorder.cancelled":
        x = unpack(envelope, documents_events.DocOrderCancelled)
        subject = ("document_order", x.document_order_id)
        params = reason_params(x.reason)
        notices = [Notice(kind, Category.TRANSACTIONAL, *subject, params, user_id=x.client_id)]
        if x.assigned_lawyer_id:
            notices.append(
                Notice(
                    "docorder.cancelled.lawyer",
                    Category.TRANSACTIONAL,
                    *subject,
                    params,
                    user_id=x.assigned_lawyer_id,
                )
            )
        return Plan([], notices)
    if kind == "docorder.completed":
        c = unpack(envelope, documents_events.DocOrderCompleted)
        subject = ("document_order", c.document_order_id)
        params = {"version": str(c.final_version_number)}
        return Plan([], [Notice(kind, Category.STATUS, *subject, params, role="client")])
    return Plan([], [])


def _booking(envelope: EventEnvelope) -> Plan:
    kind = envelope.type
    if kind == "booking.held":
        h = unpack(envelope, booking_events.BookingHeld)
        subject = ("booking", h.booking_id)
        params = {
            "start": _when(h.start, h.HasField("start")),
            "due": _when(h.hold_expires_at, h.HasField("hold_expires_at")),
        }
        facts = [Fact(*subject, "client", h.client_id), Fact(*subject, "lawyer", h.lawyer_id)]
        return Plan(facts, [Notice(kind, Category.STATUS, *subject, params, user_id=h.client_id)])
    if kind == "booking.confirmed":
        c = unpack(envelope, booking_events.BookingConfirmed)
        subject = ("booking", c.booking_id)
        params = {"start": _when(c.start, c.HasField("start"))}
        facts = [Fact(*subject, "client", c.client_id), Fact(*subject, "lawyer", c.lawyer_id)]
        return Plan(
            facts,
            [
                Notice(kind, Category.STATUS, *subject, params, user_id=c.client_id),
                Notice(kind, Category.STATUS, *subject, params, user_id=c.lawyer_id),
            ],
        )
    if kind == "booking.reminded":
        r = unpack(envelope, booking_events.BookingReminded)
        subject = ("booking", r.booking_id)
        params = {"start": _when(r.start, r.HasField("start"))}
        # A reminder that waits for quiet hours to end can arrive after the meeting: it is transactional.
        notices = [Notice(kind, Category.TRANSACTIONAL, *subject, params, user_id=r.client_id)]
        if r.lawyer_id:  # the lawyer is reminded too
            notices.append(Notice(kind, Category.TRANSACTIONAL, *subject, params, user_id=r.lawyer_id))
        return Plan([], notices)
    if kind == "booking.rescheduled":
        m = unpack(envelope, booking_events.BookingRescheduled)
        subject = ("booking", m.booking_id)
        params = {"start": _when(m.start, m.HasField("start"))}
        notices = [Notice(kind, Category.TRANSACTIONAL, *subject, params, user_id=m.client_id)]
        if m.lawyer_id:
            notices.append(Notice(kind, Category.TRANSACTIONAL, *subject, params, user_id=m.lawyer_id))
        return Plan([], notices)
    if kind == "booking.checked_in":
        checked_in = unpack(envelope, booking_events.BookingCheckedIn)
        subject = ("booking", checked_in.booking_id)
        return Plan([], [Notice(kind, Category.STATUS, *subject, {}, user_id=checked_in.client_id)])
    if kind == "booking.cancelled":
        x = unpack(envelope, booking_events.BookingCancelled)
        subject = ("booking", x.booking_id)
        params = reason_params(x.reason or x.status)
        return Plan(
            [],
            [
                Notice(kind, Category.TRANSACTIONAL, *subject, params, user_id=x.client_id),
                Notice(kind, Category.TRANSACTIONAL, *subject, params, role="lawyer"),
            ],
        )
    if kind == "booking.completed":
        d = unpack(envelope, booking_events.BookingCompleted)
        subject = ("booking", d.booking_id)
        return Plan([], [Notice(kind, Category.STATUS, *subject, {}, user_id=d.client_id)])
    return Plan([], [])


def _payment(envelope: EventEnvelope) -> Plan:
    kind = envelope.type
    if kind == "order.created":
        c = unpack(envelope, payment_events.OrderCreated)
        subject = ("order", c.order_id)
        params = {"amount": _money(c, "amount"), "due": _when(c.pay_before, c.HasField("pay_before"))}
        return Plan(
            [Fact(*subject, "client", c.client_id)],
            [Notice(kind, Category.STATUS, *subject, params, user_id=c.client_id)],
        )
    if kind == "order.paid":
        p = unpack(envelope, payment_events.OrderPaid)
        subject = ("order", p.order_id)
        params = {"amount": _money(p, "amount")}
        return Plan(
            [],
            [
                Notice(kind, Category.TRANSACTIONAL, *subject, params, user_id=p.client_id),
                # The enterprise's admins follow what their members buy (the payer is told already).
                Notice(
                    "order.paid.admin",
                    Category.STATUS,
                    *subject,
                    params,
                    group="client_admin",
                    exclude=frozenset({p.client_id}),
                ),
            ],
        )
    if kind == "order.cancelled":
        x = unpack(envelope, payment_events.OrderCancelled)
        subject = ("order", x.order_id)
        return Plan(
            [], [Notice(kind, Category.STATUS, *subject, reason_params(x.reason), user_id=x.client_id)]
        )
    if kind == "order.refunded":
        r = unpack(envelope, payment_events.OrderRefunded)
        subject = ("order", r.order_id)
        params = {"amount": _money(r, "amount"), **reason_params(r.reason)}
        return Plan([], [Notice(kind, Category.TRANSACTIONAL, *subject, params, user_id=r.client_id)])
    return Plan([], [])


def _chat(envelope: EventEnvelope) -> Plan:
    """An agent's chat message reaches the client's inbox too (they may have left the page); the client's
    own messages, FAQ answers and queue notices notify nobody."""
    posted = unpack(envelope, consultation_events.ChatMessagePosted)
    if posted.author_role != "agent" or not posted.client_id:
        return Plan([], [])
    notice = Notice(
        envelope.type, Category.STATUS, "chat", posted.conversation_id, {}, user_id=posted.client_id
    )
    return Plan([], [notice])


def _recommendation(envelope: EventEnvelope) -> Plan:
    """The next purchase catalog suggests to an enterprise's member (§5.5): marketing, so only with the
    member's recorded consent, outside quiet hours and within the rate limits (policy.py)."""
    suggested = unpack(envelope, catalog_events.RecommendationSuggested)
    params = {"product": suggested.product_name, "reason": suggested.reason}
    notice = Notice(
        envelope.type,
        Category.MARKETING,
        "product",
        suggested.product_id,
        params,
        user_id=suggested.client_id,
    )
    return Plan([], [notice])


# What a complaint is about, as the client reads it in a message.
_COMPLAINT_SUBJECT_NAMES = {
    "consultation": ("咨询", "consultation"),
    "document_order": ("文书订单", "document order"),
    "booking": ("预约", "booking"),
    "order": ("订单", "order"),
}


def _complaint(envelope: EventEnvelope) -> Plan:
    """R-CS-3: agents hear of a new or reopened complaint, the client of its resolution, the supervisors of
    a response clock that ran out (the complaint is about `subject_type`, but the message is about it)."""
    kind = envelope.type
    c = unpack(envelope, consultation_events.ComplaintChanged)
    subject = ("complaint", c.complaint_id)
    zh_name, en_name = _COMPLAINT_SUBJECT_NAMES.get(c.subject_type, (c.subject_type, c.subject_type))
    params = {"what": zh_name, "what_en": en_name, "due": _when(c.due_at, c.HasField("due_at"))}
    if kind == "complaint.raised":
        return Plan(
            [Fact(*subject, "client", c.client_id)],
            [
                Notice(kind, Category.STATUS, *subject, params, user_id=c.client_id),
                Notice("complaint.raised.agent", Category.TRANSACTIONAL, *subject, params, group="agent"),
            ],
        )
    if kind == "complaint.reopened":
        return Plan(
            [], [Notice("complaint.reopened.agent", Category.TRANSACTIONAL, *subject, params, group="agent")]
        )
    if kind == "complaint.resolved":
        return Plan([], [Notice(kind, Category.TRANSACTIONAL, *subject, params, user_id=c.client_id)])
    if kind == "complaint.escalated":
        # The response clock ran out before a resolution: the supervisors take it up (§6.1.4.4).
        return Plan(
            [],
            [
                Notice(
                    "complaint.escalated.supervisor",
                    Category.TRANSACTIONAL,
                    *subject,
                    params,
                    group="supervisor",
                )
            ],
        )
    return Plan([], [])


# What a sampled output was, and what a risk control saw, as people read it in a message (catalog's
# quality.SAMPLE_KINDS and its flags' kinds).
_SAMPLE_NAMES = {
    "consultation_reply": ("咨询回复", "consultation reply"),
    "document_version": ("交付文书", "delivered document"),
    "meeting": ("会面", "meeting"),
    "visit": ("上门走访", "visit"),
}
_RISK_NAMES = {
    "visit_without_check_in": (
        "上门会面结束时律师未签到",
        "an on-site meeting ended without the lawyer's check-in",
    ),
    "two_low_ratings": ("连续两次低分评价", "two low ratings in a row"),
    "reply_past_due_twice": ("第二次回复超时", "a reply past due for the second time"),
}


def _quality(envelope: EventEnvelope) -> Plan:
    """R-Q-4/R-Q-5: the lawyer hears that a supervisor failed a sample of their work and what to follow up;
    the supervisors hear of a risk control's flag."""
    kind = envelope.type
    if kind == "quality.follow_up_opened":
        f = unpack(envelope, catalog_events.QualityFollowUpOpened)
        zh, en = _SAMPLE_NAMES.get(f.kind, (f.kind, f.kind))
        params = {"what": zh, "what_en": en, "score": str(f.score), "findings": f.findings}
        notice = Notice(kind, Category.STATUS, "qc_sample", f.sample_id, params, user_id=f.lawyer_id)
        return Plan([], [notice])
    if kind == "quality.risk_flagged":
        r = unpack(envelope, catalog_events.QualityRiskFlagged)
        zh, en = _RISK_NAMES.get(r.kind, (r.kind, r.kind))
        params = {"risk": zh, "risk_en": en}
        notice = Notice(
            "quality.risk_flagged.supervisor",
            Category.TRANSACTIONAL,
            "risk_flag",
            r.flag_id,
            params,
            group="supervisor",
        )
        return Plan([], [notice])
    return Plan([], [])


def _firm(envelope: EventEnvelope) -> Plan:
    """§4.1.1: every platform operator hears, at once, that a firm's cooperation agreement is about to end (the
    QualificationDeadlineWorkflow's warning), so that a new one is recorded before the firm stops taking work."""
    if envelope.type == "firm.agreement_ending":
        ending = unpack(envelope, catalog_events.FirmAgreementEnding)
        params = {"firm": ending.name, "ends_on": ending.agreement_ends_on}
        notice = Notice(
            "firm.agreement_ending.operator",
            Category.TRANSACTIONAL,
            "firm",
            ending.firm_id,
            params,
            group="operator",
        )
        return Plan([], [notice])
    return Plan([], [])


_BY_PREFIX: dict[str, Callable[[EventEnvelope], Plan]] = {
    "chat.": _chat,
    "complaint.": _complaint,
    "consultation.": _consultation,
    "docorder.": _documents,
    "booking.": _booking,
    "firm.": _firm,
    "order.": _payment,
    "quality.": _quality,
    "recommendation.": _recommendation,
}


def plan_for(envelope: EventEnvelope) -> Plan:
    """The participants an event reveals and the notices it causes; unknown events cause none."""
    for prefix, planner in _BY_PREFIX.items():
        if envelope.type.startswith(prefix):
            return planner(envelope)
    return Plan([], [])
