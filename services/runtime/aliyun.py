"""Alibaba Cloud's RPC-style API signature, version 1.0 (HMAC-SHA1), exactly as Alibaba Cloud publishes it —
shared by every adapter of an Alibaba Cloud product (notification's SMS, consultation's privacy numbers):
1. every parameter but `Signature`, sorted by name, each name and value percent-encoded per RFC 3986 (UTF-8;
   only A-Z a-z 0-9 - _ . ~ stay as they are; a space is %20), joined as `name=value` with `&`;
2. StringToSign = `<HTTP method>` + `&` + percentEncode(`/`) + `&` + percentEncode(the string of step 1);
3. Signature = Base64(HMAC-SHA1(key = AccessKeySecret + `&`, StringToSign))."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import quote


def percent_encode(value: str) -> str:
    """RFC 3986 percent-encoding of UTF-8 text, as Alibaba Cloud's signature v1 requires."""
    return quote(value, safe="")  # Python keeps exactly A-Z a-z 0-9 - _ . ~ unencoded


def aliyun_string_to_sign(method: str, params: Mapping[str, str]) -> str:
    canonical = "&".join(
        f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items()) if k != "Signature"
    )
    return f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"


def aliyun_signature(method: str, params: Mapping[str, str], access_key_secret: str) -> str:
    """Alibaba Cloud RPC signature v1 (HMAC-SHA1) of `params` for an HTTP `method` request."""
    digest = hmac.new(
        f"{access_key_secret}&".encode(), aliyun_string_to_sign(method, params).encode(), hashlib.sha1
    ).digest()
    return base64.b64encode(digest).decode()


def provider_number(to: str) -> str:
    """A mainland number as its 11 digits; any other international number as country code + number."""
    to = to.strip().replace(" ", "")
    if to.startswith("+86"):
        return to[3:]
    return to.removeprefix("+")
