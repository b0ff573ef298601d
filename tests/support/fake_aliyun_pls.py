"""A stand-in for Alibaba Cloud's number privacy protection (Dypls 2017-05-25) over real HTTP, following its
published API: RPC requests signed with signature version 1.0 (checked here with its own canonicalisation,
not the adapter's), BindAxb / UnbindSubscription / QueryRecordFileDownloadUrl answering with `Code`, and the
receipt records the provider pushes (SecretReport, SecretRecording) for the tests to deliver."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl

from tests.support.fake_providers import serving

SIGNATURE_MISMATCH = {
    "Code": "SignatureDoesNotMatch",
    "Message": "Specified signature is not matched with our calculation.",
}


def _encode(value: str) -> str:
    # RFC 3986 unreserved characters stay; everything else is %XX of its UTF-8 bytes, upper-case hex.
    unreserved = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")
    return "".join(chr(b) if b in unreserved else f"%{b:02X}" for b in value.encode())


def expected_signature(params: dict[str, str], secret: str) -> str:
    canonical = "&".join(f"{_encode(k)}={_encode(v)}" for k, v in sorted(params.items()) if k != "Signature")
    string_to_sign = "POST&" + _encode("/") + "&" + _encode(canonical)
    return base64.b64encode(
        hmac.new(f"{secret}&".encode(), string_to_sign.encode(), hashlib.sha1).digest()
    ).decode()


@dataclass
class Binding:
    subs_id: str
    secret_no: str
    phone_a: str
    phone_b: str
    out_id: str
    expiration: str
    bound: bool = True


@dataclass
class FakeNumberPrivacy:
    access_key_id: str
    access_key_secret: str
    pool_key: str
    secret_no: str = "17100000001"
    bindings: dict[str, Binding] = field(default_factory=dict)
    actions: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    _nonces: set[str] = field(default_factory=set)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1000043068030001))

    def handle(self, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if params.get("AccessKeyId") != self.access_key_id:
            return self._refuse(
                404, {"Code": "InvalidAccessKeyId.NotFound", "Message": "Specified access key is not found."}
            )
        if params.get("Signature") != expected_signature(params, self.access_key_secret):
            return self._refuse(400, SIGNATURE_MISMATCH)
        if (params.get("SignatureMethod"), params.get("SignatureVersion"), params.get("Version")) != (
            "HMAC-SHA1",
            "1.0",
            "2017-05-25",
        ):
            return self._refuse(400, {"Code": "InvalidParameter", "Message": "signature method or version"})
        sent = datetime.strptime(params.get("Timestamp", ""), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        if abs(datetime.now(UTC) - sent) > timedelta(minutes=15):
            return self._refuse(400, {"Code": "InvalidTimeStamp.Expired", "Message": "timestamp expired"})
        if params["SignatureNonce"] in self._nonces:
            return self._refuse(400, {"Code": "SignatureNonceUsed", "Message": "nonce used"})
        self._nonces.add(params["SignatureNonce"])
        if params.get("PoolKey") != self.pool_key:
            return self._refuse(200, {"Code": "isv.POOL_NOT_EXIST", "Message": "no such number pool"})
        action = params.get("Action", "")
        self.actions.append(action)
        if action == "BindAxb":
            subs_id = str(next(self._ids))
            self.bindings[subs_id] = Binding(
                subs_id,
                self.secret_no,
                params["PhoneNoA"],
                params["PhoneNoB"],
                params.get("OutId", ""),
                params["Expiration"],
            )
            return 200, {
                "Code": "OK",
                "Message": "OK",
                "RequestId": f"req-{subs_id}",
                "SecretBindDTO": {"SubsId": subs_id, "SecretNo": self.secret_no, "Extension": ""},
            }
        if action == "UnbindSubscription":
            binding = self.bindings.get(params.get("SubsId", ""))
            if binding is None or binding.secret_no != params.get("SecretNo"):
                return 200, {"Code": "isv.NO_NOT_EXIST", "Message": "no such binding"}
            binding.bound = False
            return 200, {"Code": "OK", "Message": "OK", "RequestId": "req-unbind"}
        if action == "QueryRecordFileDownloadUrl":
            return 200, {
                "Code": "OK",
                "Message": "OK",
                "DownloadUrl": f"https://record.oss-cn-shanghai.aliyuncs.com/{params['CallId']}.mp3?t={params['CallTime']}",
            }
        return self._refuse(404, {"Code": "InvalidApi.NotFound", "Message": "no such action"})

    def _refuse(self, status: int, answer: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.refused.append(answer["Code"])
        return status, {**answer, "RequestId": "req-refused"}

    def call_report(self, subs_id: str, call_id: str, talk_seconds: int) -> dict[str, Any]:
        """A SecretReport record, as pushed after a call on the binding."""
        binding = self.bindings[subs_id]
        start = datetime(2026, 12, 6, 20, 11, 38)
        return {
            "id": int(subs_id) + 7,
            "pool_key": self.pool_key,
            "sub_id": int(subs_id),
            "out_id": binding.out_id,
            "call_id": call_id,
            "phone_no": binding.phone_a,
            "secret_no": binding.secret_no,
            "peer_no": binding.phone_b,
            "call_type": 0,
            "call_time": "2026-12-06 20:11:29",
            "start_time": start.strftime("%Y-%m-%d %H:%M:%S"),
            "release_time": (start + timedelta(seconds=talk_seconds)).strftime("%Y-%m-%d %H:%M:%S"),
            "release_dir": 1,
            "release_cause": 16,
            "record_url": f"https://record.oss-cn-shanghai.aliyuncs.com/{call_id}.mp3",
            "partner_key": self.pool_key,
        }

    def recording_report(self, subs_id: str, call_id: str) -> dict[str, Any]:
        """A SecretRecording record: the call's recording is ready."""
        return {
            "pool_key": self.pool_key,
            "call_time": 1796559089000,
            "sub_id": int(subs_id),
            "out_id": self.bindings[subs_id].out_id,
            "call_id": call_id,
        }

    @contextmanager
    def running(self) -> Iterator[str]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
                status, answer = fake.handle(dict(parse_qsl(body, keep_blank_values=True)))
                encoded = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json;charset=utf-8")
                self.send_header("Content-Length", str(len(encoded)))
                self.end_headers()
                self.wfile.write(encoded)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        with serving(Handler) as url:
            yield url + "/"
