"""Consultation settings: the shared settings plus the telephony provider phone consultations are bridged
through. A field only it reads goes here, not into services/runtime/config.py."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator

from services.consultation.telephony_aliyun import API_URL, AliyunNumberPrivacyConfig
from services.runtime.config import Settings


class ConsultationSettings(Settings):
    """The settings `serve()` runs the consultation service with."""

    # `simulated` (dev, tests: connects at once, records nothing) or `aliyun_pls`, Alibaba Cloud's number privacy
    # protection (services/consultation/telephony_aliyun.py), which needs every COUNSEL_ALIYUN_PLS_* below.
    telephony_provider: Literal["simulated", "aliyun_pls"] = "simulated"
    # An AccessKey allowed to call Dypls, the number pool's key from the console, and the secret token in the
    # receipt URL set in the console (`…/api/v1/telephony/receipts/aliyun_pls/<type>?token=<this>`).
    aliyun_pls_access_key_id: str = ""
    aliyun_pls_access_key_secret: SecretStr = SecretStr("")
    aliyun_pls_pool_key: str = ""
    aliyun_pls_receipt_token: SecretStr = SecretStr("")
    # How long a binding lives unless the agent ends the call first.
    aliyun_pls_binding_minutes: int = Field(default=120, ge=5, le=7 * 24 * 60)
    # The provider's own endpoint; another value only for a stand-in outside prod (the tests).
    aliyun_pls_api_url: str = API_URL

    @model_validator(mode="after")
    def _refuse_a_real_provider_without_its_keys(self) -> Self:
        if self.telephony_provider != "aliyun_pls":
            return self
        missing = [
            f"COUNSEL_ALIYUN_PLS_{name.upper()}"
            for name, value in (
                ("access_key_id", self.aliyun_pls_access_key_id),
                ("access_key_secret", self.aliyun_pls_access_key_secret.get_secret_value()),
                ("pool_key", self.aliyun_pls_pool_key),
                ("receipt_token", self.aliyun_pls_receipt_token.get_secret_value()),
            )
            if not value
        ]
        if missing:
            raise ValueError(
                "COUNSEL_TELEPHONY_PROVIDER=aliyun_pls needs its account: set " + ", ".join(missing)
            )
        if len(self.aliyun_pls_receipt_token.get_secret_value()) < 24:
            raise ValueError(
                "COUNSEL_ALIYUN_PLS_RECEIPT_TOKEN must be at least 24 characters (it is the receipts' only credential)"
            )
        # In prod the AccessKey signs requests to Alibaba Cloud and nowhere else.
        if self.env == "prod" and self.aliyun_pls_api_url != API_URL:
            raise ValueError(
                f"COUNSEL_ALIYUN_PLS_API_URL is {API_URL} in prod (COUNSEL_ENV is prod unless set)"
            )
        return self

    def aliyun_pls(self) -> AliyunNumberPrivacyConfig:
        """The privacy-number provider's account (only meaningful with `telephony_provider` aliyun_pls)."""
        return AliyunNumberPrivacyConfig(
            access_key_id=self.aliyun_pls_access_key_id,
            access_key_secret=self.aliyun_pls_access_key_secret.get_secret_value(),
            pool_key=self.aliyun_pls_pool_key,
            receipt_token=self.aliyun_pls_receipt_token.get_secret_value(),
            binding_minutes=self.aliyun_pls_binding_minutes,
            api_url=self.aliyun_pls_api_url,
        )
