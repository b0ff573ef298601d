"""The telephony provider behind phone consultations (R-CON-3, §6.2.1.3): one interface, a local simulated
implementation. A real provider (a cloud call-centre API) implements the same two calls; its end-of-call
report carries the recording's object-storage key, which the call record keeps (§6.2.4.4)."""

from __future__ import annotations

from typing import Protocol


class TelephonyProvider(Protocol):
    name: str

    async def bridge(self, call_id: str, agent_id: str, lawyer_id: str) -> str:
        """Connect the client's line to the lawyer; returns the provider's id of the call."""
        ...

    async def hang_up(self, provider_call_id: str) -> str:
        """End the call; returns the recording's object-storage key."""
        ...


class SimulatedTelephony:
    """Local stand-in: every bridge connects at once and every hang-up reports a recording key under the
    `recordings` bucket. It records no audio: the key names where a real provider's recording would be
    stored. Durations come from the call record's own timestamps, not from the provider."""

    name = "simulated"

    async def bridge(self, call_id: str, agent_id: str, lawyer_id: str) -> str:
        return f"sim-{call_id}"

    async def hang_up(self, provider_call_id: str) -> str:
        return f"recordings/{provider_call_id}.wav"
