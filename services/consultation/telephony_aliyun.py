"""Alibaba Cloud number privacy protection (号码隐私保护, Dypls API 2017-05-25) as the telephony provider:
an AXB binding gives the client (A) and the lawyer (B) one privacy number X that either dials to reach the
other, neither seeing the other's number; the binding is undone when the agent ends the call.

Outgoing calls are the documented RPC API at `dyplsapi.aliyuncs.com`, form-encoded POSTs signed with Alibaba
Cloud's RPC signature version 1.0 (services/runtime/aliyun.py). An answer is believed only with `Code` "OK".

Receipts come by the provider's HTTP batch push (HTTP + JSON, a JSON array of records, acknowledged with
`{"code": 0, ...}`; the provider pushes again after a failure, and its documentation warns that network
trouble can repeat a push). The push carries no signature of its own — the provider documents none — so a
push is believed when it comes to the receipt URL configured in the provider's console, which carries this
deployment's secret receipt token, and names our number pool; records are matched to our calls by
`out_id`, the call id given at binding. SecretReport (after each call on the binding: its talk time and
`record_url`) and SecretRecording (the recording is ready: its download URL is asked for with
QueryRecordFileDownloadUrl) are read; every record's provider id makes a repeated push harmless."""

from __future__ import annotations

import hmac
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx

from services.consultation.telephony import BadReceipt, CallParties, CallReceipt
from services.runtime.aliyun import aliyun_signature, provider_number
from services.runtime.errors import Unavailable

API_URL = "https://dyplsapi.aliyuncs.com/"
API_VERSION = "2017-05-25"
# The provider's time fields (Expiration, call_time, start_time, release_time) are China Standard Time.
BEIJING = timezone(timedelta(hours=8))
PROVIDER_TIME = "%Y-%m-%d %H:%M:%S"
# The receipt types read; another type pushed to the receipt URL is refused, never silently dropped.
SECRET_REPORT = "SecretReport"
SECRET_RECORDING = "SecretRecording"


@dataclass(frozen=True)
class AliyunNumberPrivacyConfig:
    """The deployment's account at the provider: an AccessKey allowed to call Dypls, the number pool's key
    (号码池Key) from the console, the secret token in the receipt URL set in the console, and how long a
    binding lives unless the agent ends the call first."""

    access_key_id: str
    access_key_secret: str
    pool_key: str
    receipt_token: str
    binding_minutes: int = 120
    api_url: str = API_URL


PhoneOf = Callable[[str], Awaitable[str]]


class AliyunNumberPrivacy:
    """The AXB privacy-number provider. `phone_of` gives a user's phone number (identity's contact details);
    the provider's call id is `<SubsId>:<SecretNo>` — the binding and its privacy number, both needed to
    undo it."""

    name = "aliyun_pls"
    # What the provider expects back from a receipt push (it checks only that `code` is a number).
    receipt_ack = json.dumps({"code": 0, "msg": "接收成功"}, ensure_ascii=False)

    def __init__(
        self,
        config: AliyunNumberPrivacyConfig,
        phone_of: PhoneOf,
        http: httpx.AsyncClient | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config = config
        self.phone_of = phone_of
        self._http = http
        self._now = now

    async def bridge(self, call_id: str, parties: CallParties) -> str:
        client_phone = await self.phone_of(parties.client_id)
        lawyer_phone = await self.phone_of(parties.lawyer_id)
        if not client_phone or not lawyer_phone:
            raise Unavailable("the client and the lawyer both need a phone number to be bridged")
        expiration = self._now() + timedelta(minutes=self.config.binding_minutes)
        answer = await self.call(
            "BindAxb",
            {
                "PoolKey": self.config.pool_key,
                "PhoneNoA": provider_number(client_phone),
                "PhoneNoB": provider_number(lawyer_phone),
                "Expiration": expiration.astimezone(BEIJING).strftime(PROVIDER_TIME),
                "IsRecordingEnabled": "true",
                "OutId": call_id,
            },
        )
        binding = answer.get("SecretBindDTO") or {}
        if not binding.get("SubsId") or not binding.get("SecretNo"):
            raise Unavailable("the privacy-number provider answered a binding without its number")
        return f"{binding['SubsId']}:{binding['SecretNo']}"

    async def hang_up(self, provider_call_id: str) -> str:
        subs_id, _, secret_no = provider_call_id.partition(":")
        await self.call(
            "UnbindSubscription",
            {"PoolKey": self.config.pool_key, "SubsId": subs_id, "SecretNo": secret_no},
        )
        return ""  # the recording comes later, by receipt

    async def read_receipts(self, message_type: str, credential: str, body: bytes) -> list[CallReceipt]:
        if not hmac.compare_digest(credential.encode(), self.config.receipt_token.encode()):
            raise BadReceipt("the receipt URL's token is not this deployment's")
        if message_type not in (SECRET_REPORT, SECRET_RECORDING):
            raise BadReceipt(f"receipts of type {message_type!r} are not read")
        try:
            records = json.loads(body)
        except ValueError:
            raise BadReceipt("the receipt push is not JSON") from None
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise BadReceipt("the receipt push is not a JSON array of records")
        if any(str(r.get("pool_key", "")) != self.config.pool_key for r in records):
            raise BadReceipt("a receipt names another number pool")
        # A record without out_id is a call on a binding made elsewhere (the console): not one of ours.
        ours = [r for r in records if r.get("out_id")]
        if message_type == SECRET_REPORT:
            return [call_report(r) for r in ours]
        return [await self._recording(r) for r in ours]

    async def _recording(self, record: Mapping[str, Any]) -> CallReceipt:
        try:
            call_time = datetime.fromtimestamp(int(record["call_time"]) / 1000, BEIJING)
            provider_call = str(record["call_id"])
        except (KeyError, TypeError, ValueError):
            raise BadReceipt("a recording receipt without its call id and time") from None
        answer = await self.call(
            "QueryRecordFileDownloadUrl",
            {
                "PoolKey": self.config.pool_key,
                "CallId": provider_call,
                "CallTime": call_time.strftime(PROVIDER_TIME),
            },
        )
        return CallReceipt(
            call_id=str(record["out_id"]),
            report_id=f"recording:{provider_call}",
            talk_seconds=None,
            recording_ref=str(answer.get("DownloadUrl") or ""),
        )

    async def call(self, action: str, params: Mapping[str, str]) -> dict[str, Any]:
        """One signed API call; its JSON answer when `Code` is "OK". Unavailable otherwise (the provider's
        code and message say why), or when the provider cannot be reached."""
        signed = {
            "Action": action,
            "Version": API_VERSION,
            "Format": "JSON",
            "AccessKeyId": self.config.access_key_id,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureVersion": "1.0",
            "SignatureNonce": uuid.uuid4().hex,
            "Timestamp": self._now().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            **params,
        }
        signed["Signature"] = aliyun_signature("POST", signed, self.config.access_key_secret)
        http = self._http or httpx.AsyncClient(timeout=10.0)
        try:
            response = await http.post(self.config.api_url, data=signed)
        except httpx.HTTPError as exc:
            raise Unavailable(f"the privacy-number provider cannot be reached ({action})") from exc
        finally:
            if self._http is None:
                await http.aclose()
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if not isinstance(answer, dict) or answer.get("Code") != "OK":
            code = (
                answer.get("Code", response.status_code) if isinstance(answer, dict) else response.status_code
            )
            message = answer.get("Message", "") if isinstance(answer, dict) else ""
            raise Unavailable(f"the privacy-number provider refused {action}: {code} {message}".rstrip())
        return answer


def call_report(record: Mapping[str, Any]) -> CallReceipt:
    """A SecretReport record: one call on the binding; talk time is release_time − start_time (0 when the
    call did not connect)."""
    try:
        started = datetime.strptime(str(record["start_time"]), PROVIDER_TIME)
        released = datetime.strptime(str(record["release_time"]), PROVIDER_TIME)
        provider_call = str(record["call_id"])
    except (KeyError, ValueError):
        raise BadReceipt("a call report without its call id, start or release time") from None
    return CallReceipt(
        call_id=str(record["out_id"]),
        report_id=f"report:{provider_call}",
        talk_seconds=max(0, int((released - started).total_seconds())),
        recording_ref=str(record.get("record_url") or ""),
    )
