"""ConsultationService over gRPC: proto in → domain/store → proto out. No SQL here."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

import grpc

from counsel.common.v1 import paging_pb2, timeline_pb2
from counsel.consultation.v1 import consultation_service_pb2 as pb
from counsel.consultation.v1.consultation_service_pb2_grpc import (
    ConsultationInternalServiceServicer,
    ConsultationServiceServicer,
)
from counsel.payment.v1 import payment_service_pb2
from services.consultation import chat, domain
from services.consultation.complaint_rpcs import ComplaintRpcs, complaint_proto
from services.consultation.faq import FaqSource
from services.consultation.major_rpcs import MajorMatterRpcs, major_proto
from services.consultation.models import (
    STAFF_READS,
    CallRecordRow,
    ChatConversationRow,
    ChatMessageRow,
    ConsultationRow,
)
from services.consultation.online_call_rpcs import OnlineCallRpcs
from services.consultation.store import ConsultationStores, ConsultationView
from services.consultation.telephony import BadReceipt, SimulatedTelephony, TelephonyProvider
from services.legal_fields.classifier import LegalClassifier, default_classifier
from services.runtime.context import current_principal
from services.runtime.errors import Conflict, InvalidArgument, Unauthenticated
from services.runtime.firm_roster import with_firm_lawyers
from services.runtime.records import (
    MAX_PAGE_SIZE,
    from_timestamp,
    page_size,
    to_timestamp,
    utcnow,
)
from services.runtime.tenancy import own_records, signed_in

if TYPE_CHECKING:
    from counsel.booking.v1.booking_service_pb2_grpc import BookingInternalServiceAsyncStub
    from counsel.catalog.v1.catalog_service_pb2_grpc import CatalogServiceAsyncStub
    from counsel.payment.v1.payment_service_pb2_grpc import PaymentServiceAsyncStub


def consultation_proto(
    row: ConsultationRow, view: ConsultationView | None = None, *, staff: bool = False
) -> pb.Consultation:
    message = pb.Consultation(
        id=row.id,
        tenant_id=row.tenant_id,
        client_id=row.client_id,
        kind=row.kind,
        status=row.status,
        subject=row.subject,
        question=row.question,
        legal_field=row.legal_field,
        assigned_lawyer_id=row.assigned_lawyer_id,
        reply_due_at=to_timestamp(row.reply_due_at),
        created_at=to_timestamp(row.created_at),
        order_id=row.order_id,
        needs_manual_classification=row.needs_manual_classification,
        current_due_at=to_timestamp(row.current_due_at),
        escalations=row.escalations,
        assignment_reason=row.assignment_reason,
        rating=row.rating,
        rating_comment=row.rating_comment,
        answered_at=to_timestamp(row.answered_at),
    )
    if view is not None:
        last = len(view.stages) - 1
        for i, stage in enumerate(view.stages):
            status = "done" if i < last or row.status == "closed" else "current"
            message.stages.append(
                timeline_pb2.TimelineStage(
                    stage=stage.stage,
                    status=status,
                    entered_at=to_timestamp(stage.entered_at),
                    due_at=to_timestamp(stage.due_at),
                    actor=stage.actor,
                )
            )
        if staff:
            message.history.extend(
                pb.ConsultationHistoryEntry(
                    stage=stage.stage,
                    actor=stage.actor,
                    entered_at=to_timestamp(stage.entered_at),
                    due_at=to_timestamp(stage.due_at),
                    detail=stage.detail,
                )
                for stage in view.stages
            )
        message.call_records.extend(call_proto(c) for c in view.calls)
        if view.major is not None:
            # As the caller of the RPC being answered may read it (the conclusion waits for every signature).
            message.major.CopyFrom(major_proto(view.major, current_principal()))
        for m in view.messages:
            message.messages.append(
                pb.ConsultationMessage(
                    id=m.id,
                    author_id=m.author_id,
                    author_role=m.author_role,
                    body=m.body,
                    created_at=to_timestamp(m.created_at),
                )
            )
    return message


def call_proto(row: CallRecordRow) -> pb.CallRecord:
    return pb.CallRecord(
        id=row.id,
        consultation_id=row.consultation_id,
        agent_id=row.agent_id,
        lawyer_id=row.lawyer_id,
        status=row.status,
        started_at=to_timestamp(row.started_at),
        ended_at=to_timestamp(row.ended_at),
        duration_seconds=row.duration_seconds,
        outcome=row.outcome,
        recording_ref=row.recording_ref,
        provider=row.provider,
        provider_call_id=row.provider_call_id,
    )


def chat_message_proto(row: ChatMessageRow) -> pb.ChatMessage:
    return pb.ChatMessage(
        id=row.id,
        conversation_id=row.conversation_id,
        seq=row.seq,
        author_id=row.author_id,
        author_role=row.author_role,
        body=row.body,
        created_at=to_timestamp(row.created_at),
        faq_article_id=row.faq_article_id,
        faq_score=row.faq_score,
        client_message_id=row.client_message_id,
    )


def conversation_proto(
    row: ChatConversationRow, intent: pb.PurchaseIntent | None = None
) -> pb.ChatConversation:
    return pb.ChatConversation(
        id=row.id,
        tenant_id=row.tenant_id,
        client_id=row.client_id,
        status=row.status,
        agent_id=row.agent_id,
        last_seq=row.last_seq,
        queued_at=to_timestamp(row.queued_at),
        created_at=to_timestamp(row.created_at),
        updated_at=to_timestamp(row.updated_at),
        purchase_intent=intent,
    )


class ConsultationServicer(
    ComplaintRpcs,
    MajorMatterRpcs,
    OnlineCallRpcs,
    ConsultationServiceServicer,
    ConsultationInternalServiceServicer,
):
    def __init__(
        self,
        stores: ConsultationStores,
        payments: PaymentServiceAsyncStub,
        classifier: Callable[[], LegalClassifier] = default_classifier,
        telephony: TelephonyProvider | None = None,
        faq: FaqSource | None = None,
        catalog: CatalogServiceAsyncStub | None = None,
        booking: BookingInternalServiceAsyncStub | None = None,
    ) -> None:
        self.catalog = catalog
        self.booking = booking
        self.telephony: TelephonyProvider = telephony or SimulatedTelephony()
        self.faq = faq
        self.stores = stores
        self.payments = payments
        self.classifier = classifier

    async def ClassifyConsultation(
        self, request: pb.ClassifyConsultationRequest, context: grpc.aio.ServicerContext
    ) -> pb.ClassifyConsultationResponse:
        domain.require_internal(current_principal())
        # The first call trains the model (a few seconds of CPU): keep it off the event loop.
        classifier = await asyncio.to_thread(self.classifier)
        row = await self.stores.assignments.classify(
            request.consultation_id,
            request.idempotency_key or f"classified:{request.consultation_id}",
            classifier.classify,
        )
        return pb.ClassifyConsultationResponse(
            legal_field=row.legal_field,
            confidence=row.classification_confidence,
            needs_manual_classification=row.needs_manual_classification,
        )

    async def AssignLawyer(
        self, request: pb.AssignLawyerRequest, context: grpc.aio.ServicerContext
    ) -> pb.AssignLawyerResponse:
        domain.require_internal(current_principal())
        assigned = await self.stores.assignments.assign(
            request.consultation_id,
            list(request.exclude_lawyer_ids),
            from_timestamp(request.due_at) if request.HasField("due_at") else None,
            request.idempotency_key or f"assigned:{request.consultation_id}",
        )
        return pb.AssignLawyerResponse(lawyer_id=assigned.lawyer_id, reason=assigned.reason)

    async def EscalateConsultation(
        self, request: pb.EscalateConsultationRequest, context: grpc.aio.ServicerContext
    ) -> pb.EscalateConsultationResponse:
        domain.require_internal(current_principal())
        if not request.idempotency_key:
            raise InvalidArgument.for_field("idempotency_key", "must not be empty")
        escalation = await self.stores.assignments.escalate(
            request.consultation_id,
            request.from_lawyer_id,
            from_timestamp(request.missed_due_at) if request.HasField("missed_due_at") else None,
            list(request.exclude_lawyer_ids),
            from_timestamp(request.next_due_at) if request.HasField("next_due_at") else None,
            request.idempotency_key,
        )
        return pb.EscalateConsultationResponse(
            already_answered=escalation.already_answered,
            to_lawyer_id=escalation.to_lawyer_id,
            reason=escalation.reason,
        )

    async def PostMessage(
        self, request: pb.PostMessageRequest, context: grpc.aio.ServicerContext
    ) -> pb.PostMessageResponse:
        view = await self.stores.consultations.post_message(
            current_principal(), request.consultation_id, request.body
        )
        return pb.PostMessageResponse(consultation=consultation_proto(view.row, view))

    async def ListLawyerQueue(
        self, request: pb.ListLawyerQueueRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListLawyerQueueResponse:
        lawyer = domain.require_lawyer(current_principal())
        rows, next_cursor = await self.stores.consultations.lawyer_queue(
            lawyer.user_id, page_size(request.page.limit), request.page.cursor
        )
        return pb.ListLawyerQueueResponse(
            consultations=[consultation_proto(row) for row in rows],
            page=paging_pb2.PageResponse(next_cursor=next_cursor),
        )

    async def ListAtRisk(
        self, request: pb.ListAtRiskRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListAtRiskResponse:
        window = domain.at_risk_window(current_principal(), request.within_minutes)
        rows = await self.stores.consultations.at_risk(window, page_size(request.limit))
        return pb.ListAtRiskResponse(consultations=[consultation_proto(row) for row in rows])

    async def StartCall(
        self, request: pb.StartCallRequest, context: grpc.aio.ServicerContext
    ) -> pb.StartCallResponse:
        row = await self.stores.calls.start_call(
            current_principal(), request.consultation_id, request.lawyer_id, self.telephony
        )
        return pb.StartCallResponse(call=call_proto(row))

    async def EndCall(
        self, request: pb.EndCallRequest, context: grpc.aio.ServicerContext
    ) -> pb.EndCallResponse:
        row = await self.stores.calls.end_call(
            current_principal(), request.consultation_id, request.call_id, request.outcome, self.telephony
        )
        return pb.EndCallResponse(call=call_proto(row))

    async def HandleTelephonyReceipt(
        self, request: pb.HandleTelephonyReceiptRequest, context: grpc.aio.ServicerContext
    ) -> pb.HandleTelephonyReceiptResponse:
        if request.provider != self.telephony.name:
            return pb.HandleTelephonyReceiptResponse(accepted=False, outcome="unknown_provider")
        try:
            receipts = await self.telephony.read_receipts(
                request.message_type, request.credential, request.body
            )
        except BadReceipt:
            return pb.HandleTelephonyReceiptResponse(accepted=False, outcome="bad_credential")
        applied = await self.stores.calls.apply_receipts(self.telephony.name, receipts)
        outcome = "applied" if applied or not receipts else "duplicate"
        return pb.HandleTelephonyReceiptResponse(
            accepted=True, outcome=outcome, applied=applied, ack_body=self.telephony.receipt_ack
        )

    async def ReclassifyConsultation(
        self, request: pb.ReclassifyConsultationRequest, context: grpc.aio.ServicerContext
    ) -> pb.ReclassifyConsultationResponse:
        view = await self.stores.assignments.reclassify(
            current_principal(), request.consultation_id, request.legal_field
        )
        return pb.ReclassifyConsultationResponse(consultation=consultation_proto(view.row, view))

    async def RateConsultation(
        self, request: pb.RateConsultationRequest, context: grpc.aio.ServicerContext
    ) -> pb.RateConsultationResponse:
        view = await self.stores.consultations.rate(
            current_principal(), request.consultation_id, request.rating, request.comment
        )
        return pb.RateConsultationResponse(consultation=consultation_proto(view.row, view))

    async def CreateConsultation(
        self, request: pb.CreateConsultationRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateConsultationResponse:
        principal = domain.require_client(current_principal())
        new = domain.validate_new(request.kind, request.subject, request.question, request.order_id)
        reply_hours: int | None = None
        spends_order = False
        if new.order_id:
            order = await self._order(new.order_id)
            spends_order = domain.spends_order(
                new.kind, order.status, order.category, order.consultation_kind
            )
            reply_hours = order.reply_hours if order.HasField("reply_hours") else None
        created = await self.stores.consultations.create(
            principal,
            new,
            request.idempotency_key,
            domain.reply_within(new.kind, reply_hours),
            spends_order=spends_order,
        )
        return pb.CreateConsultationResponse(consultation=consultation_proto(created.view.row, created.view))

    async def GetConsultation(
        self, request: pb.GetConsultationRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetConsultationResponse:
        principal = await with_firm_lawyers(current_principal(), self.catalog)
        view = await self.stores.consultations.get(principal, request.consultation_id)
        return pb.GetConsultationResponse(
            consultation=consultation_proto(view.row, view, staff=domain.sees_history(principal))
        )

    async def ListStaffAccess(
        self, request: pb.ListStaffAccessRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListStaffAccessResponse:
        entries = await STAFF_READS.of_caller(
            self.stores.consultations.db, current_principal(), page_size(request.limit)
        )
        return pb.ListStaffAccessResponse(entries=entries)

    async def ListConsultations(
        self, request: pb.ListConsultationsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListConsultationsResponse:
        principal = current_principal()
        if principal is None:
            raise Unauthenticated("sign in to list consultations")
        principal = await with_firm_lawyers(principal, self.catalog)
        if request.status and request.status not in domain.STATUSES:
            raise InvalidArgument.for_field("status", f"must be one of {', '.join(domain.STATUSES)}")
        rows, next_cursor = await self.stores.consultations.list(
            principal, request.status, page_size(request.page.limit), request.page.cursor
        )
        return pb.ListConsultationsResponse(
            consultations=[consultation_proto(row) for row in rows],
            page=paging_pb2.PageResponse(next_cursor=next_cursor),
        )

    async def ExportConsultationData(
        self, request: pb.ExportConsultationDataRequest, context: grpc.aio.ServicerContext
    ) -> pb.ExportConsultationDataResponse:
        """The caller's own consultations, chats and complaints; staff are clients of nothing here, so their
        export holds none (the cases they worked on are the clients')."""
        principal = signed_in(current_principal(), "export your data")
        reply = pb.ExportConsultationDataResponse()
        if not principal.is_client:
            return reply
        for row in await own_records(principal, self.stores.consultations.list):
            view = await self.stores.consultations.get(principal, row.id)
            reply.consultations.append(consultation_proto(view.row, view))
        for conversation in await self.stores.conversations.of_client(principal):
            exported = reply.conversations.add(conversation=conversation_proto(conversation))
            after_seq, more = 0, True
            while more:
                page = await self.stores.conversations.messages(
                    principal, conversation.id, after_seq, MAX_PAGE_SIZE
                )
                exported.messages.extend(chat_message_proto(m) for m in page.messages)
                after_seq = page.messages[-1].seq if page.messages else after_seq
                more = page.more
        complaints = await own_records(principal, self.stores.complaints.list_complaints)
        reply.complaints.extend(complaint_proto(c) for c in complaints)
        return reply

    async def RecordStage(
        self, request: pb.RecordStageRequest, context: grpc.aio.ServicerContext
    ) -> pb.RecordStageResponse:
        domain.require_internal(current_principal())
        view = await self.stores.consultations.record_stage(
            request.consultation_id,
            request.stage,
            request.actor or "system",
            from_timestamp(request.due_at) if request.HasField("due_at") else None,
            request.idempotency_key or f"{request.stage}:{request.consultation_id}",
        )
        return pb.RecordStageResponse(consultation=consultation_proto(view.row, view))

    async def CloseConsultation(
        self, request: pb.CloseConsultationRequest, context: grpc.aio.ServicerContext
    ) -> pb.CloseConsultationResponse:
        principal = current_principal()
        reason = request.reason or ("closed_by_client" if principal else "closed")
        # Its `consultation.closed` tells the workflow (services/consultation/workflow_link.py).
        closed = await self.stores.consultations.close(principal, request.consultation_id, reason)
        return pb.CloseConsultationResponse(consultation=consultation_proto(closed.view.row, closed.view))

    async def _order(self, order_id: str) -> payment_service_pb2.Order:
        """The caller's order (the payment service scopes it to the caller's enterprise)."""
        try:
            reply = await self.payments.GetOrder(payment_service_pb2.GetOrderRequest(order_id=order_id))
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                raise Conflict(
                    "order_id is not a paid consultation order of your enterprise", reason="order_not_paid"
                ) from exc
            raise
        return reply.order

    # --- instant chat (R-CS-1, R-CS-2) --------------------------------------------------------------------

    async def PostChatMessage(
        self, request: pb.PostChatMessageRequest, context: grpc.aio.ServicerContext
    ) -> pb.PostChatMessageResponse:
        principal = chat.signed_in(current_principal())
        body = chat.validate_body(request.body)
        client_message_id = chat.validate_client_message_id(request.client_message_id.strip())
        match = None
        if principal.is_client and not request.request_agent and self.faq is not None:
            status = (
                await self.stores.conversations.conversation_status(principal, request.conversation_id)
                if request.conversation_id
                else await self.stores.conversations.client_status(principal)
            )
            if status == "bot":  # only the bot answers from the FAQ; a queued client waits for a person
                match = await self.faq.best(body)
        posted = await self.stores.conversations.post(
            principal, request.conversation_id, body, client_message_id, request.request_agent, match
        )
        return pb.PostChatMessageResponse(
            conversation=conversation_proto(posted.conversation),
            messages=[chat_message_proto(m) for m in posted.messages],
        )

    async def ListChatMessages(
        self, request: pb.ListChatMessagesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListChatMessagesResponse:
        principal = chat.signed_in(current_principal())
        page = await self.stores.conversations.messages(
            principal,
            request.conversation_id,
            chat.validate_after_seq(request.after_seq),
            chat.page_limit(request.limit),
        )
        return pb.ListChatMessagesResponse(
            conversation=conversation_proto(page.conversation) if page.conversation is not None else None,
            messages=[chat_message_proto(m) for m in page.messages],
            more=page.more,
        )

    async def ListChatQueue(
        self, request: pb.ListChatQueueRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListChatQueueResponse:
        chat.require_chat_staff(current_principal())
        if request.status and request.status not in chat.QUEUE_STATUSES:
            raise InvalidArgument.for_field("status", f"must be one of {', '.join(chat.QUEUE_STATUSES)}")
        rows = await self.stores.conversations.queue(request.status, min(request.limit or 50, 200))
        intents: dict[str, pb.PurchaseIntent] = {}
        for row in rows:
            if row.client_id not in intents:
                intents[row.client_id] = await self._intent(row.client_id)
        return pb.ListChatQueueResponse(
            conversations=[conversation_proto(row, intents[row.client_id]) for row in rows]
        )

    async def PickUpChat(
        self, request: pb.PickUpChatRequest, context: grpc.aio.ServicerContext
    ) -> pb.PickUpChatResponse:
        row = await self.stores.conversations.pick_up(
            chat.signed_in(current_principal()), request.conversation_id
        )
        return pb.PickUpChatResponse(conversation=conversation_proto(row, await self._intent(row.client_id)))

    async def CloseChat(
        self, request: pb.CloseChatRequest, context: grpc.aio.ServicerContext
    ) -> pb.CloseChatResponse:
        row = await self.stores.conversations.close(
            chat.signed_in(current_principal()), request.conversation_id
        )
        return pb.CloseChatResponse(conversation=conversation_proto(row))

    async def GetPurchaseIntent(
        self, request: pb.GetPurchaseIntentRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetPurchaseIntentResponse:
        chat.require_chat_staff(current_principal())
        if not request.client_id:
            raise InvalidArgument.for_field("client_id", "must not be empty")
        return pb.GetPurchaseIntentResponse(purchase_intent=await self._intent(request.client_id))

    async def ListPurchaseLeads(
        self, request: pb.ListPurchaseLeadsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListPurchaseLeadsResponse:
        chat.require_chat_staff(current_principal())
        minimum = chat.validate_level(request.min_level)
        limit = min(request.limit or 20, 100)
        now = utcnow()
        leads: list[pb.PurchaseLead] = []
        # The most recently active clients are scored; a few hundred at most per request.
        for client in await self.stores.signals.recent_clients(
            now - chat.INTENT_WINDOW, chat.MAX_LEAD_CANDIDATES
        ):
            intent = await self._intent(client.client_id)
            if chat.LEVELS.index(intent.level) < chat.LEVELS.index(minimum):
                continue
            open_conversation = await self.stores.conversations.open_conversation_of(client.client_id)
            leads.append(
                pb.PurchaseLead(
                    purchase_intent=intent,
                    tenant_id=client.tenant_id,
                    last_signal_at=to_timestamp(client.last_signal_at),
                    open_conversation_id=open_conversation.id if open_conversation else "",
                )
            )
        leads.sort(key=lambda lead: -lead.purchase_intent.score)
        return pb.ListPurchaseLeadsResponse(leads=leads[:limit])

    async def StartChat(
        self, request: pb.StartChatRequest, context: grpc.aio.ServicerContext
    ) -> pb.StartChatResponse:
        principal = chat.require_chat_staff(current_principal())
        if not request.client_id:
            raise InvalidArgument.for_field("client_id", "must not be empty")
        posted = await self.stores.conversations.start_with(
            principal, request.client_id, chat.validate_body(request.body)
        )
        return pb.StartChatResponse(
            conversation=conversation_proto(posted.conversation),
            messages=[chat_message_proto(m) for m in posted.messages],
        )

    async def _intent(self, client_id: str) -> pb.PurchaseIntent:
        now = utcnow()
        inputs = await self.stores.signals.intent_inputs(client_id, now - chat.INTENT_WINDOW)
        intent = chat.purchase_intent(inputs.signals, inputs.chat_bodies, inputs.asked_for_agent, now)
        return pb.PurchaseIntent(
            client_id=client_id, score=intent.score, level=intent.level, reasons=intent.reasons
        )
