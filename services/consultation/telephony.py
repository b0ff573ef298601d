"""The telephony provider behind phone consultations (R-CON-3, §6.2.1.3): one interface, two implementations —
a local simulated one for dev and tests, and Alibaba Cloud's number privacy protection
(`telephony_aliyun.py`), chosen by `COUNSEL_TELEPHONY_PROVIDER`. A provider may report what happened on the
line later, in receipts it pushes to the gateway (`read_receipts`); the call record keeps their facts
(§6.2.4.4)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class CallParties:
    """Who a call connects (identity user ids): the consultation's client and the lawyer, bridged by an agent."""

    client_id: str
    agent_id: str
    lawyer_id: str


@dataclass(frozen=True)
class CallReceipt:
    """One fact a provider reported about a bridged call. `call_id` is ours (the id the provider was given
    when bridging), so only an authenticated push may name it; `report_id` is the provider's id of the report, the same on a repeated push, so a
    duplicate changes nothing. `talk_seconds` is None on a recording report; `recording_ref` is "" until the
    provider names the recording."""

    call_id: str
    report_id: str
    talk_seconds: int | None
    recording_ref: str


class BadReceipt(Exception):
    """A pushed receipt that is not provably the provider's (wrong credential, another number pool) or not
    readable; nothing is applied and the provider may push it again."""


class TelephonyProvider(Protocol):
    name: str
    # The JSON body the provider expects in the answer to a receipt push it made.
    receipt_ack: str

    async def bridge(self, call_id: str, parties: CallParties) -> str:
        """Connect the client's line to the lawyer; returns the provider's id of the call.
        Unavailable when the provider refuses or cannot be reached."""
        ...

    async def hang_up(self, provider_call_id: str) -> str:
        """End the call; returns the recording's reference, or "" when the provider reports it later."""
        ...

    async def read_receipts(self, message_type: str, credential: str, body: bytes) -> list[CallReceipt]:
        """The receipts in one push from the provider. BadReceipt when the push is not provably the
        provider's or not readable."""
        ...


class SimulatedTelephony:
    """Local stand-in: every bridge connects at once and every hang-up reports a recording key under the
    `recordings` bucket. It records no audio: the key names where a real provider's recording would be
    stored. Durations come from the call record's own timestamps, not from the provider."""

    name = "simulated"
    receipt_ack = "{}"

    async def bridge(self, call_id: str, parties: CallParties) -> str:
        return f"sim-{call_id}"

    async def hang_up(self, provider_call_id: str) -> str:
        return f"recordings/{provider_call_id}.wav"

    async def read_receipts(self, message_type: str, credential: str, body: bytes) -> list[CallReceipt]:
        raise BadReceipt("the simulated provider pushes no receipts")
