"""Notification settings: the shared settings plus the e-mail and SMS providers' (`COUNSEL_SMTP_*`,
`COUNSEL_SMS_*`) and the digest window."""

from __future__ import annotations

from pydantic import Field, SecretStr

from services.runtime.config import Settings


class NotificationSettings(Settings):
    # Outbound e-mail. Empty host: e-mails are captured in the dev outbox instead (dev and test only; in prod
    # an empty host means e-mail deliveries fail and fall back to the inbox).
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_sender: str = "noreply@counsel.local"
    smtp_timeout_seconds: float = 10.0
    smtp_starttls: bool = False
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    # Outbound SMS. "" = none: captured in the dev outbox in dev/test; elsewhere codes fail with 503 and SMS
    # deliveries fall back to the inbox. "aliyun" = Alibaba Cloud SMS (SendSms, RPC signature v1) with the
    # key pair, the approved sign name and the approved templates below.
    sms_provider: str = ""
    sms_access_key_id: str = ""
    sms_access_key_secret: SecretStr = SecretStr("")
    sms_sign_name: str = ""
    # Approved template codes by message kind, a JSON object: {"otp": "SMS_1", "invitation": "SMS_2",
    # "default": "SMS_3"}; "otp" gets ${code}, "invitation" ${enterprise} and ${role}, "default" (any other
    # message) ${content}. A message without a template fails for good (and falls back to the inbox).
    sms_templates: str = ""
    sms_endpoint: str = "https://dysmsapi.aliyuncs.com/"
    sms_region: str = "cn-hangzhou"
    sms_timeout_seconds: float = 10.0
    # How long a status e-mail or SMS waits for others to join it in one digest (R-PRIV-2); tests shorten it.
    notification_digest_seconds: float = Field(default=60.0, ge=0)
