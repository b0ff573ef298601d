"""A law firm's system integrating with counsel over gRPC — the runnable companion of docs/integrating.md.

It does what a firm's practice-management system does every day, through the firm endpoint only:

1. exchanges its client credentials for a service token (IssueServiceToken), and renews it before it expires;
2. reads its firm's profile and roster;
3. adds a lawyer with weekly service hours and a holiday, submits the lawyer's credentials (certificate
   number, inspection date, scans of the practising and degree certificates), records the firm's
   verification of them and activates the profile (idempotent: a rerun finds the same lawyer) — clients
   then see the lawyer and their free slots in the public API;
4. issues a membership card for a walk-in client, lists the firm's cards and revokes the test card;
5. lists the bookings, document orders and consultations of its lawyers;
6. follows what happens to its lawyers' work (WatchFirmEvents) from its saved cursor, reconnecting with
   back-off after any failure, and saves the cursor after each event it has processed.

Every step prints one JSON line, so a person and a test can both read it. Run against `counsel up`:

    export COUNSEL_FIRM_CLIENT_ID=... COUNSEL_FIRM_CLIENT_SECRET=...
    python examples/firm_client.py --endpoint 127.0.0.1:8443 --ca .counsel/run/pki/ca.pem --follow 30

(The secret comes from the environment, never the command line, where other users of the machine see it.)
(The firm admin creates the credentials: `POST /api/v1/firm/service-clients`, see docs/integrating.md.)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar, cast

import grpc

from counsel.booking.v1 import booking_service_pb2 as booking_pb
from counsel.booking.v1.booking_service_pb2_grpc import BookingServiceStub
from counsel.catalog.v1 import catalog_service_pb2 as catalog_pb
from counsel.catalog.v1.catalog_service_pb2_grpc import CatalogServiceStub
from counsel.common.v1 import errors_pb2, paging_pb2
from counsel.consultation.v1 import consultation_service_pb2 as consultation_pb
from counsel.consultation.v1.consultation_service_pb2_grpc import ConsultationServiceStub
from counsel.documents.v1 import documents_service_pb2 as documents_pb
from counsel.documents.v1.documents_service_pb2_grpc import DocumentsServiceStub
from counsel.identity.v1 import identity_service_pb2 as identity_pb
from counsel.identity.v1.identity_service_pb2_grpc import IdentityServiceStub

T = TypeVar("T")
# Status codes worth retrying with back-off; every other error is an answer (fix the request instead).
RETRYABLE = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}
ERROR_DETAILS_KEY = "counsel-error-details-bin"
CALL_TIMEOUT = 10.0
# Stands in for a certificate's scan when none is given (the example's lawyer is not a real one).
SAMPLE_SCAN = b"sample scan of a certificate"


def say(step: str, **fields: Any) -> None:
    print(json.dumps({"step": step, **fields}, ensure_ascii=False), flush=True)


def error_details(error: grpc.RpcError) -> errors_pb2.ErrorDetails:
    """The reason, field violations and retry-after counsel attaches to every error it answers."""
    details = errors_pb2.ErrorDetails()
    call = cast(grpc.Call, error)
    for key, value in call.trailing_metadata() or ():
        if key == ERROR_DETAILS_KEY and isinstance(value, bytes):
            details.ParseFromString(value)
    return details


class Firm:
    """A connection to the firm endpoint with a service token that renews itself."""

    def __init__(self, endpoint: str, ca: bytes, client_id: str, client_secret: str) -> None:
        self.channel = grpc.secure_channel(endpoint, grpc.ssl_channel_credentials(root_certificates=ca))
        self.identity = IdentityServiceStub(self.channel)
        self.catalog = CatalogServiceStub(self.channel)
        self.booking = BookingServiceStub(self.channel)
        self.documents = DocumentsServiceStub(self.channel)
        self.consultation = ConsultationServiceStub(self.channel)
        self.client_id, self.client_secret = client_id, client_secret
        self.token, self.renew_at, self.firm_id = "", 0.0, ""

    def metadata(self) -> tuple[tuple[str, str | bytes], ...]:
        if time.monotonic() >= self.renew_at:
            reply = self.call(
                self.identity.IssueServiceToken,
                identity_pb.IssueServiceTokenRequest(
                    client_id=self.client_id, client_secret=self.client_secret
                ),
                authenticated=False,
            )
            # Renew at two thirds of the lifetime, so a token never expires in the middle of a call.
            self.token, self.firm_id = reply.access_token, reply.firm_id
            self.renew_at = time.monotonic() + reply.expires_in * 2 / 3
            say("token", firm_id=reply.firm_id, expires_in=reply.expires_in)
        return (("authorization", f"Bearer {self.token}"),)

    def call(
        self, method: Callable[..., T], request: Any, *, authenticated: bool = True, attempts: int = 5
    ) -> T:
        """One unary call, retried with exponential back-off and jitter on transient failures only (every
        firm-facing write takes an idempotency key or is idempotent by nature, so a retry is safe)."""
        for attempt in range(attempts):
            try:
                metadata = self.metadata() if authenticated else ()
                return method(request, metadata=metadata, timeout=CALL_TIMEOUT)
            except grpc.RpcError as error:
                code = error.code()  # type: ignore[attr-defined]
                if code == grpc.StatusCode.UNAUTHENTICATED and authenticated and attempt == 0:
                    self.renew_at = 0.0  # revoked or expired early: get a new token once
                    continue
                if code not in RETRYABLE or attempt == attempts - 1:
                    raise
                wait = error_details(error).retry_after_seconds or min(30.0, 0.5 * 2**attempt)
                time.sleep(wait * random.uniform(0.8, 1.2))
        raise AssertionError("unreachable")

    def pages(
        self, method: Callable[..., Any], make: Callable[[paging_pb2.PageRequest], Any], items: str
    ) -> Iterator[Any]:
        cursor = ""
        while True:
            reply = self.call(method, make(paging_pb2.PageRequest(limit=50, cursor=cursor)))
            yield from getattr(reply, items)
            cursor = reply.page.next_cursor
            if not cursor:
                return


def add_lawyer(firm: Firm, name: str, licence: str, scans: tuple[bytes, bytes]) -> catalog_pb.Lawyer:
    """A lawyer with weekday hours 09:00–17:30 and a day off, with verified credentials (`scans`: the
    practising and the degree certificate), activated. Idempotent by the key: a rerun finds the same
    profile, and credentials verified before stay so."""
    holiday = (date.today() + timedelta(days=30)).isoformat()
    profile = catalog_pb.LawyerProfile(
        name=name,
        specialty="劳动与合同 Labour and contracts",
        fields=["labour", "contract"],
        service_hours=[catalog_pb.ServiceHours(weekday=d, start="09:00", end="17:30") for d in range(1, 6)],
        service_exceptions=[
            catalog_pb.ServiceException(date=holiday, available=False, note="年假 Annual leave")
        ],
        years_of_practice=6,
        licence_number=licence,
        bio="示例律师，由律所系统通过 gRPC 维护。Maintained by the firm's own system over gRPC.",
    )
    created = firm.call(
        firm.catalog.CreateLawyer,
        catalog_pb.CreateLawyerRequest(
            firm_id=firm.firm_id, profile=profile, idempotency_key=f"example:{licence}"
        ),
    ).lawyer
    updated = firm.call(
        firm.catalog.UpdateLawyer, catalog_pb.UpdateLawyerRequest(lawyer_id=created.id, profile=profile)
    ).lawyer
    if updated.verification != "verified":
        verify_credentials(firm, updated.id, licence, scans)
    active = firm.call(
        firm.catalog.ActivateLawyer, catalog_pb.ActivateLawyerRequest(lawyer_id=updated.id)
    ).lawyer
    say("lawyer", lawyer_id=active.id, active=active.active, hours=len(active.service_hours))
    return active


def verify_credentials(firm: Firm, lawyer_id: str, licence: str, scans: tuple[bytes, bytes]) -> None:
    """§4.2.1: the credentials go to counsel with the next annual inspection date; the firm then records
    that it checked them against the originals (the platform operator may do so instead)."""
    practice, degree = scans
    submitted = firm.call(
        firm.catalog.SubmitLawyerCredentials,
        catalog_pb.SubmitLawyerCredentialsRequest(
            lawyer_id=lawyer_id,
            certificate_number=licence,
            inspection_due_on=(date.today() + timedelta(days=300)).isoformat(),
            practice_certificate=practice,
            degree_certificate=degree,
        ),
    ).lawyer
    verified = firm.call(
        firm.catalog.VerifyLawyer,
        catalog_pb.VerifyLawyerRequest(
            lawyer_id=submitted.id, decision="verified", notes="原件已核对 Checked against the originals"
        ),
    ).lawyer
    say("credentials", lawyer_id=verified.id, verification=verified.verification)


def cards(firm: Firm) -> None:
    number = f"EX{random.randrange(10**8):08d}"
    issued = firm.call(
        firm.identity.IssueMembershipCard,
        identity_pb.IssueMembershipCardRequest(card_number=number, pin="2468"),
    )
    listed = firm.call(firm.identity.ListMembershipCards, identity_pb.ListMembershipCardsRequest())
    revoked = firm.call(
        firm.identity.RevokeMembershipCard, identity_pb.RevokeMembershipCardRequest(card_id=issued.card.id)
    ).card
    say("cards", issued=issued.card.last4, listed=len(listed.cards), revoked=revoked.status)


def work(firm: Firm) -> None:
    bookings = list(
        firm.pages(
            firm.booking.ListBookings, lambda page: booking_pb.ListBookingsRequest(page=page), "bookings"
        )
    )
    orders = list(
        firm.pages(
            firm.documents.ListDocumentOrders,
            lambda page: documents_pb.ListDocumentOrdersRequest(page=page),
            "document_orders",
        )
    )
    consultations = list(
        firm.pages(
            firm.consultation.ListConsultations,
            lambda page: consultation_pb.ListConsultationsRequest(page=page),
            "consultations",
        )
    )
    say("work", bookings=len(bookings), document_orders=len(orders), consultations=len(consultations))


def follow(firm: Firm, cursor_file: Path, seconds: float, until: str) -> int:
    """Print the firm's events from the saved cursor for `seconds`, resuming after any disconnect; stop early
    at an event of type `until`. Returns how many events were processed."""
    deadline = time.monotonic() + seconds
    cursor = cursor_file.read_text().strip() if cursor_file.exists() else ""
    processed, failures = 0, 0
    while time.monotonic() < deadline:
        stream = firm.catalog.WatchFirmEvents(
            catalog_pb.WatchFirmEventsRequest(after_cursor=cursor),
            metadata=firm.metadata(),
            timeout=max(1.0, deadline - time.monotonic()),
        )
        try:
            for event in stream:
                say(
                    "event",
                    cursor=event.cursor,
                    type=event.type,
                    object_type=event.object_type,
                    object_id=event.object_id,
                    lawyer_id=event.lawyer_id,
                    occurred_at=event.occurred_at.ToDatetime(tzinfo=UTC).isoformat(),
                )
                # Process first, then save: after a crash the event comes again (at least once).
                cursor = event.cursor
                cursor_file.write_text(cursor)
                processed, failures = processed + 1, 0
                if until and event.type == until:
                    stream.cancel()
                    return processed
        except grpc.RpcError as error:
            code = error.code()  # type: ignore[attr-defined]
            if code == grpc.StatusCode.DEADLINE_EXCEEDED and time.monotonic() >= deadline:
                break
            if code == grpc.StatusCode.UNAUTHENTICATED:
                firm.renew_at = 0.0
            elif code not in RETRYABLE:
                raise
            failures += 1
            time.sleep(min(30.0, 0.5 * 2**failures) * random.uniform(0.8, 1.2))
    return processed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", default="127.0.0.1:8443", help="the firm endpoint, host:port")
    parser.add_argument(
        "--ca", type=Path, required=True, help="CA bundle that signed the endpoint's certificate"
    )
    parser.add_argument("--client-id", default=os.environ.get("COUNSEL_FIRM_CLIENT_ID", ""))
    parser.add_argument("--lawyer-name", default="示例律师 Example Lawyer")
    parser.add_argument(
        "--licence", default="11010201812345678", help="the new lawyer's 17-digit licence number"
    )
    parser.add_argument(
        "--practice-certificate",
        type=Path,
        help="scan of the lawyer's practising certificate (default: a sample)",
    )
    parser.add_argument(
        "--degree-certificate", type=Path, help="scan of the lawyer's degree certificate (default: a sample)"
    )
    parser.add_argument("--follow", type=float, default=0.0, help="seconds to follow the firm's events")
    parser.add_argument("--until", default="", help="stop following at the first event of this type")
    parser.add_argument("--cursor-file", type=Path, default=Path(".firm-events.cursor"))
    args = parser.parse_args(argv)
    secret = os.environ.get("COUNSEL_FIRM_CLIENT_SECRET", "")
    if not args.client_id or not secret:
        parser.error("set COUNSEL_FIRM_CLIENT_ID (or --client-id) and COUNSEL_FIRM_CLIENT_SECRET")

    firm = Firm(args.endpoint, args.ca.read_bytes(), args.client_id, secret)
    try:
        firm.metadata()
        profile = firm.call(firm.catalog.GetFirm, catalog_pb.GetFirmRequest(firm_id=firm.firm_id)).firm
        roster = list(
            firm.pages(
                firm.catalog.ListLawyers,
                lambda page: catalog_pb.ListLawyersRequest(firm_id=firm.firm_id, page=page),
                "lawyers",
            )
        )
        say("firm", firm_id=profile.id, name=profile.name, lawyers=len(roster))
        scans = (
            args.practice_certificate.read_bytes() if args.practice_certificate else SAMPLE_SCAN,
            args.degree_certificate.read_bytes() if args.degree_certificate else SAMPLE_SCAN,
        )
        add_lawyer(firm, args.lawyer_name, args.licence, scans)
        cards(firm)
        work(firm)
        if args.follow > 0:
            say("following", since=args.cursor_file.read_text().strip() if args.cursor_file.exists() else "")
            say("followed", events=follow(firm, args.cursor_file, args.follow, args.until))
    except grpc.RpcError as error:
        details = error_details(error)
        say(
            "error",
            code=error.code().name,  # type: ignore[attr-defined]
            message=error.details(),  # type: ignore[attr-defined]
            reason=details.reason,
            fields={v.field: v.message for v in details.field_violations},
        )
        return 1
    finally:
        firm.channel.close()
    say("done", at=datetime.now(UTC).isoformat())
    return 0


if __name__ == "__main__":
    sys.exit(main())
