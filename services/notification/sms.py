"""SMS providers. Chinese SMS gateways send only pre-approved templates signed with an approved sign name, so a
message goes out as a template code plus its variables: identity's codes as template "otp" ({"code"}),
invitations as "invitation" ({"enterprise", "role"}), anything else as "default" ({"content"}) — mapped to the
provider's template codes by `COUNSEL_SMS_TEMPLATES`.

Alibaba Cloud SMS (`COUNSEL_SMS_PROVIDER=aliyun`): the `SendSms` action (API version 2017-05-25) of the RPC
style API, signed with Alibaba Cloud's RPC signature version 1.0 (services/runtime/aliyun.py).
The answer is JSON; `Code` "OK" is success, flow-control and system codes are worth a retry, anything else
(a bad number, template or key) is not. Phone numbers and texts are personal data: never logged."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

import httpx
from sqlmodel.ext.asyncio.session import AsyncSession

from services.notification.channels import SendError
from services.notification.config import NotificationSettings
from services.runtime.aliyun import aliyun_signature, provider_number

ALIYUN_API_VERSION = "2017-05-25"
# Answers worth a retry: flow control (per number / per minute limits) and the provider's own failures.
ALIYUN_RETRYABLE = ("isv.BUSINESS_LIMIT_CONTROL", "isp.SYSTEM_ERROR", "Throttling", "ServiceUnavailable")
TEMPLATE_VARIABLES = {"otp": ("code",), "invitation": ("enterprise", "role"), "default": ("content",)}


def parse_templates(raw: str) -> dict[str, str]:
    """`COUNSEL_SMS_TEMPLATES` as {kind: template code}; ValueError names what is wrong."""
    if not raw.strip():
        return {}
    value = json.loads(raw)
    if not isinstance(value, dict) or not all(isinstance(v, str) and v for v in value.values()):
        raise ValueError('COUNSEL_SMS_TEMPLATES must be a JSON object like {"otp": "SMS_123"}')
    unknown = set(value) - set(TEMPLATE_VARIABLES)
    if unknown:
        raise ValueError(f"COUNSEL_SMS_TEMPLATES: unknown kinds {sorted(unknown)}")
    return dict(value)


class AliyunSmsSender:
    """SMS through Alibaba Cloud's SendSms."""

    def __init__(self, settings: NotificationSettings, client: httpx.AsyncClient | None = None) -> None:
        missing = [
            name
            for name, value in (
                ("COUNSEL_SMS_ACCESS_KEY_ID", settings.sms_access_key_id),
                ("COUNSEL_SMS_ACCESS_KEY_SECRET", settings.sms_access_key_secret.get_secret_value()),
                ("COUNSEL_SMS_SIGN_NAME", settings.sms_sign_name),
                ("COUNSEL_SMS_TEMPLATES", settings.sms_templates),
            )
            if not value
        ]
        if missing:
            raise ValueError(f"COUNSEL_SMS_PROVIDER=aliyun needs {', '.join(missing)}")
        self.settings = settings
        self.templates = parse_templates(settings.sms_templates)
        self.client = client or httpx.AsyncClient(timeout=settings.sms_timeout_seconds)

    def request_params(
        self, to: str, template: str, variables: Mapping[str, str], *, nonce: str, timestamp: datetime
    ) -> dict[str, str]:
        """The signed form of one SendSms call."""
        params = {
            "AccessKeyId": self.settings.sms_access_key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "PhoneNumbers": provider_number(to),
            "RegionId": self.settings.sms_region,
            "SignName": self.settings.sms_sign_name,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": nonce,
            "SignatureVersion": "1.0",
            "TemplateCode": template,
            "TemplateParam": json.dumps(dict(variables), ensure_ascii=False, separators=(",", ":")),
            "Timestamp": timestamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": ALIYUN_API_VERSION,
        }
        params["Signature"] = aliyun_signature(
            "POST", params, self.settings.sms_access_key_secret.get_secret_value()
        )
        return params

    def template_for(self, kind: str, params: Mapping[str, str], text: str) -> tuple[str, dict[str, str]]:
        """The approved template code and its variables for a message; SendError(permanent) without one."""
        if kind in self.templates:
            variables = {name: params.get(name, "") for name in TEMPLATE_VARIABLES[kind]}
            if all(variables.values()):
                return self.templates[kind], variables
        if "default" in self.templates:
            return self.templates["default"], {"content": text}
        raise SendError(f"no approved SMS template for {kind or 'this message'}", permanent=True)

    async def send(
        self,
        session: AsyncSession,
        to: str,
        subject: str,
        body: str,
        *,
        template: str = "",
        params: Mapping[str, str] | None = None,
    ) -> None:
        code, variables = self.template_for(template, params or {}, f"{subject}\n{body}" if subject else body)
        form = self.request_params(to, code, variables, nonce=str(uuid.uuid4()), timestamp=datetime.now(UTC))
        try:
            response = await self.client.post(self.settings.sms_endpoint, data=form)
        except httpx.HTTPError as exc:
            raise SendError(f"SMS provider unreachable: {type(exc).__name__}") from exc
        if response.status_code >= 500:
            raise SendError(f"SMS provider answered {response.status_code}")
        try:
            answer = response.json()
            result = str(answer.get("Code", ""))
        except (ValueError, AttributeError) as exc:
            raise SendError(f"SMS provider answered {response.status_code} without JSON") from exc
        if result != "OK":
            raise SendError(f"SMS refused: {result}", permanent=not result.startswith(ALIYUN_RETRYABLE))
