"""Each service receives events one way: its events.py table (durable consumer → {subject → handler}), from
which its CONSUMERS derive, and the runtime hands each event to the handler of the subject it came on."""

from __future__ import annotations

import importlib

import pytest

from services.runtime.config import SERVICE_NAMES
from services.runtime.events import consumer_subjects, handler_for, subject_matches


@pytest.mark.parametrize(
    ("pattern", "subject", "matches"),
    [
        ("booking.booking.held", "booking.booking.held", True),
        ("booking.booking.held", "booking.booking.held.x", False),
        ("booking.booking.>", "booking.booking.held", True),
        ("booking.booking.>", "booking.booking", False),
        ("booking.>", "booking.booking.held.x", True),
        ("booking.*.held", "booking.booking.held", True),
        ("booking.*.held", "booking.booking.confirmed", False),
        ("catalog.>", "booking.booking.held", False),
    ],
)
def test_subjects_match_by_the_rules_of_nats(pattern: str, subject: str, matches: bool) -> None:
    assert subject_matches(pattern, subject) is matches


async def test_an_event_goes_to_the_handler_of_its_subject() -> None:
    seen: list[str] = []

    async def held(envelope: object, session: object) -> None:
        seen.append("held")

    async def any_document(envelope: object, session: object) -> None:
        seen.append("document")

    handlers = {"booking.booking.held": held, "documents.>": any_document}
    await handler_for(handlers, "booking.booking.held")(None, None)  # type: ignore[arg-type]
    await handler_for(handlers, "documents.docorder.created")(None, None)  # type: ignore[arg-type]
    assert seen == ["held", "document"]
    with pytest.raises(LookupError):
        handler_for(handlers, "booking.booking.confirmed")


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_a_services_consumers_are_its_event_tables(service: str) -> None:
    events = importlib.import_module(f"services.{service}.events")
    assert consumer_subjects(events.TABLE) == events.CONSUMERS
    for name, handlers in events.TABLE.items():
        subjects = list(handlers)
        for subject in subjects:  # JetStream refuses overlapping filters; each event has one handler
            others = [s for s in subjects if s != subject]
            assert not any(subject_matches(o, subject) for o in others), (service, name, subject)
