"""The pure rules behind cross-service erasure (R-PRIV-1): what a redaction keeps, which events it answers,
and that the append-only payment ledger only ever records reason codes (never words a person typed)."""

from __future__ import annotations

import importlib

import pytest

from services.rules.reasons import STATED_REASON, reason_code
from services.runtime.erasure import ERASED_TEXT, redact_values
from services.runtime.events import handler_for


def test_redaction_keeps_the_keys_and_only_the_named_facts() -> None:
    booking = {"lawyer_id": "l1", "start": "2026-12-01T09:00", "address": "北京市朝阳区", "needs": "轮椅"}
    assert redact_values(booking, keep=("lawyer_id", "start")) == {
        "lawyer_id": "l1",
        "start": "2026-12-01T09:00",
        "address": ERASED_TEXT,
        "needs": ERASED_TEXT,
    }
    assert redact_values({}) == {}
    assert redact_values({"n": 3}) == {"n": ERASED_TEXT}


@pytest.mark.parametrize(
    "service", ["catalog", "consultation", "documents", "booking", "payment", "notification"]
)
def test_only_user_erased_names_a_user_to_erase(service: str) -> None:
    erasure = importlib.import_module(f"services.{service}.events").TABLE["erasure"]
    assert list(erasure) == ["identity.user.erased"]
    with pytest.raises(LookupError):  # no other identity event reaches an erasure handler
        handler_for(erasure, "identity.user.registered")


def test_the_ledger_records_codes_and_never_free_text() -> None:
    for code in ("client_request", "payment_timeout", "goodwill", "fulfilment_failed", "agent_refund"):
        assert reason_code(code) == code
    for typed in ("我搬家了", "Client asked", "call me at 13800000000", "x" * 41, "", "a-b"):
        assert reason_code(typed) == STATED_REASON
