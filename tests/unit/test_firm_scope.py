"""What a law firm's system may read and follow (issue 17 item 4, R-OPS-3): the work of its own firm's lawyers
— by their identity accounts or, for a lawyer without one, the catalog profile — and nothing else; the
firm endpoint's method table; the event stream's cursor."""

from __future__ import annotations

import pytest

from counsel.booking.v1 import booking_service_pb2 as booking_pb
from counsel.catalog.v1 import catalog_service_pb2 as catalog_pb
from services.booking import domain as booking
from services.catalog.firm_events import OBJECT_TYPES, parse_cursor
from services.consultation import domain as consultation
from services.documents import domain as documents
from services.gateway.firm_endpoint import firm_methods, owning_service, unstorable_field
from services.runtime.context import Principal
from services.runtime.errors import InvalidArgument
from services.runtime.limits import NUL_MESSAGE
from services.runtime.policy import FIRM_ENDPOINT

SYSTEM = Principal(
    "client-1",
    roles=frozenset({"firm_service"}),
    firm_id="firm-1",
    firm_lawyers=frozenset({"lawyer-7", "account-7"}),
)


def test_a_firm_system_sees_its_lawyers_work_and_nothing_else() -> None:
    assert booking.can_see(SYSTEM, "tenant-1", "account-7")
    assert booking.can_see(SYSTEM, "tenant-1", "", "lawyer-7")  # a lawyer without an account
    assert not booking.can_see(SYSTEM, "tenant-1", "account-8", "lawyer-8")
    assert not booking.can_see(SYSTEM, "tenant-1", "", "")
    for can_see in (documents.can_see, consultation.can_see):
        assert can_see(SYSTEM, "tenant-1", "account-7")
        assert not can_see(SYSTEM, "tenant-1", "account-8")
        assert not can_see(SYSTEM, "tenant-1", "")  # not yet assigned: nobody's work


def test_a_firm_system_without_its_roster_sees_nothing() -> None:
    """Fails closed: the roster is filled in by the service that answers; an empty one reads nothing."""
    bare = Principal("client-1", roles=frozenset({"firm_service"}), firm_id="firm-1")
    assert not bare.reads_work_of("account-7")
    assert not booking.can_see(bare, "tenant-1", "account-7", "lawyer-7")


def test_a_roster_does_not_widen_anyone_elses_view() -> None:
    lawyer = Principal("account-9", roles=frozenset({"lawyer"}), firm_lawyers=frozenset({"account-7"}))
    assert not lawyer.reads_work_of("account-7")
    assert not documents.can_see(lawyer, "tenant-1", "account-7")


def test_the_endpoint_forwards_each_firm_rpc_to_its_owner_streaming_where_the_proto_says() -> None:
    methods = firm_methods()
    assert len(methods) == sum(len(m) for m in FIRM_ENDPOINT.values())
    assert methods["/counsel.catalog.v1.CatalogService/WatchFirmEvents"].server_streaming is True
    assert methods["/counsel.booking.v1.BookingService/GetBooking"].server_streaming is False
    assert {owning_service(m) for m in methods} == {
        "identity",
        "catalog",
        "booking",
        "documents",
        "consultation",
    }


def test_cursors_are_the_streams_own() -> None:
    assert parse_cursor("") == 0
    assert parse_cursor("42") == 42
    for wrong in ("-1", "4.2", "abc", "１２", "9" * 19, "0x10"):
        with pytest.raises(InvalidArgument):
            parse_cursor(wrong)


def test_every_event_kind_a_firm_follows_names_an_object_type() -> None:
    assert set(OBJECT_TYPES.values()) == {"booking", "document_order", "consultation"}


def test_text_no_service_can_store_is_named_by_its_field_path() -> None:
    """What the firm endpoint refuses before forwarding (INVALID_ARGUMENT naming the field): a NUL anywhere in
    a request, nested and repeated fields and map entries included."""
    fine = catalog_pb.CreateLawyerRequest(firm_id="firm-1", profile=catalog_pb.LawyerProfile(name="王律师"))
    assert unstorable_field(fine) is None
    assert unstorable_field(booking_pb.GetBookingRequest(booking_id="b\x00")) == ("booking_id", NUL_MESSAGE)
    nested = catalog_pb.CreateLawyerRequest(profile=catalog_pb.LawyerProfile(fields=["labour", "x\x00"]))
    assert unstorable_field(nested) == ("profile.fields.1", NUL_MESSAGE)
    hours = catalog_pb.LawyerProfile(service_hours=[catalog_pb.ServiceHours(weekday=1, start="09\x00")])
    assert unstorable_field(hours) == ("service_hours.0.start", NUL_MESSAGE)
