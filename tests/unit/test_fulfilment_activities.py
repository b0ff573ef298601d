"""The fulfilling services' activities of OrderWorkflow against stand-in stubs: `documents.create_document_order`
turns a paid document product into a CreateDocumentOrder call carrying the order's client, tier,
requirements (read from payment by the order's id: no workflow history carries them) and payment time; `booking.confirm_booking` confirms the held booking named in the
order (R-BK-1); a refusal no retry can change is final (the workflow refunds). A consultation order starts
nothing in another service: its client submits the consultation (tests/workflows/test_order_workflow.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from counsel.booking.v1 import booking_service_pb2 as booking_pb
from counsel.documents.v1 import documents_service_pb2 as docs_pb
from counsel.payment.v1 import payment_service_pb2 as payment_pb
from services.rules.forms import answer_text
from workflows.activities.booking import BookingActivities
from workflows.activities.documents import DocumentsActivities
from workflows.shared import FulfilmentRef, FulfilmentRequest

PAID_AT = datetime(2026, 11, 29, 9, 30, tzinfo=UTC)


class FakeDocuments:
    def __init__(self, refuse: grpc.StatusCode | None = None) -> None:
        self.refuse = refuse
        self.requests: list[docs_pb.CreateDocumentOrderRequest] = []

    async def CreateDocumentOrder(
        self, request: docs_pb.CreateDocumentOrderRequest
    ) -> docs_pb.CreateDocumentOrderResponse:
        self.requests.append(request)
        if self.refuse is not None:
            raise grpc.aio.AioRpcError(
                self.refuse,
                grpc.aio.Metadata(),
                grpc.aio.Metadata(),
                details="requirements.parties: is required",
            )
        return docs_pb.CreateDocumentOrderResponse(
            document_order=docs_pb.DocumentOrder(id="doc-1", order_id=request.order_id)
        )


# The paid order's requirement answers as payment answers them (as text).
ANSWERS = {"contract_type": "服务 Services", "parties": "甲方\n乙方", "key_terms": "费用"}


class FakePayment:
    """Payment's internal service."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def GetOrderRequirements(
        self, request: payment_pb.GetOrderRequirementsRequest
    ) -> payment_pb.GetOrderRequirementsResponse:
        self.asked.append(request.order_id)
        return payment_pb.GetOrderRequirementsResponse(requirements=ANSWERS)


def documents_activities(documents: FakeDocuments, payment: FakePayment | None = None) -> DocumentsActivities:
    return DocumentsActivities(documents, internal=None, payment=payment or FakePayment())  # type: ignore[arg-type]


def request(category: str = "document") -> FulfilmentRequest:
    return FulfilmentRequest(
        order_id="order-1",
        tenant_id="tenant-1",
        product_id="doc-contract-drafting",
        category=category,
        tier={"id": "simple", "complexity": "simple", "price": 49900},
        client_id="client-1",
        paid_at=PAID_AT,
    )


async def test_a_document_product_creates_its_document_order() -> None:
    documents, payment = FakeDocuments(), FakePayment()
    activities = documents_activities(documents, payment)
    ref = await ActivityEnvironment().run(activities.create_document_order, request())
    assert ref == FulfilmentRef(kind="document", id="doc-1")
    [sent] = documents.requests
    assert (sent.order_id, sent.tenant_id, sent.client_id, sent.product_id, sent.complexity) == (
        "order-1",
        "tenant-1",
        "client-1",
        "doc-contract-drafting",
        "simple",
    )
    assert sent.paid_at.ToDatetime(tzinfo=UTC) == PAID_AT
    assert payment.asked == ["order-1"]
    assert dict(sent.requirements) == ANSWERS


class FakeBooking:
    def __init__(self, refuse: grpc.StatusCode | None = None) -> None:
        self.refuse = refuse
        self.requests: list[booking_pb.ConfirmBookingRequest] = []

    async def ConfirmBooking(
        self, request: booking_pb.ConfirmBookingRequest
    ) -> booking_pb.ConfirmBookingResponse:
        self.requests.append(request)
        if self.refuse is not None:
            raise grpc.aio.AioRpcError(
                self.refuse,
                grpc.aio.Metadata(),
                grpc.aio.Metadata(),
                details="a expired booking cannot become confirmed",
            )
        return booking_pb.ConfirmBookingResponse(
            booking=booking_pb.Booking(id=request.booking_id, status="confirmed")
        )


def booking_request() -> FulfilmentRequest:
    return request("booking").model_copy(
        update={"tier": {"id": "60min", "price": 59900}, "booking": {"booking_id": "b-1"}}
    )


async def test_a_booking_product_confirms_the_held_booking_it_names() -> None:
    booking = FakeBooking()
    activities = BookingActivities(stub=None, internal=booking)  # type: ignore[arg-type]
    ref = await ActivityEnvironment().run(activities.confirm_booking, booking_request())
    assert ref == FulfilmentRef(kind="booking", id="b-1")
    [sent] = booking.requests
    assert (sent.booking_id, sent.order_id, sent.tenant_id, sent.paid_fen) == (
        "b-1",
        "order-1",
        "tenant-1",
        59900,
    )


@pytest.mark.parametrize("order_booking", [{}, {"booking_id": "b-1"}])
async def test_a_booking_that_cannot_be_confirmed_is_final(order_booking: dict[str, str]) -> None:
    """No booking named, or one that expired: the order's workflow refunds (compensation)."""
    activities = BookingActivities(stub=None, internal=FakeBooking(grpc.StatusCode.FAILED_PRECONDITION))  # type: ignore[arg-type]
    with pytest.raises(ApplicationError) as error:
        await ActivityEnvironment().run(
            activities.confirm_booking, booking_request().model_copy(update={"booking": order_booking})
        )
    assert error.value.non_retryable


async def test_a_refusal_is_final_and_an_outage_is_retried() -> None:
    refused = documents_activities(FakeDocuments(grpc.StatusCode.INVALID_ARGUMENT))
    with pytest.raises(ApplicationError) as error:
        await ActivityEnvironment().run(refused.create_document_order, request())
    assert error.value.non_retryable and error.value.type == "INVALID_ARGUMENT"
    down = documents_activities(FakeDocuments(grpc.StatusCode.UNAVAILABLE))
    with pytest.raises(grpc.aio.AioRpcError):
        await ActivityEnvironment().run(down.create_document_order, request())


def test_requirement_answers_become_text() -> None:
    assert [answer_text(v) for v in ("a", ["x", "y"], 3, 2.5, True, None, {"k": "值"})] == [
        "a",
        "x\ny",
        "3",
        "2.5",
        "true",
        "",
        '{"k": "值"}',
    ]
