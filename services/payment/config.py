"""Payment settings: the shared settings plus each provider's merchant credentials (`COUNSEL_ALIPAY_*`,
`COUNSEL_WECHAT_*`, `COUNSEL_BANK_*`). A provider without credentials is simply not offered; the sandbox
exists only in dev and test."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from pydantic import Field

from services.payment.domain import DEFAULT_CONSULTATION_USE_WITHIN, DEFAULT_PAY_WITHIN
from services.payment.providers.alipay import AlipayConfig, AlipayProvider
from services.payment.providers.bank import BankConfig, BankProvider
from services.payment.providers.base import Provider
from services.payment.providers.sandbox import SandboxProvider, sandbox_key
from services.payment.providers.wechat import WechatConfig, WechatProvider
from services.runtime.config import Settings


class PaymentSettings(Settings):
    # Derived files worth keeping across restarts but safe to lose (the invoice font's common cut).
    cache_dir: Path = Field(default_factory=lambda: Path.home() / ".cache" / "counsel")
    pay_within_minutes: int = int(DEFAULT_PAY_WITHIN.total_seconds() // 60)
    consultation_use_within_days: int = DEFAULT_CONSULTATION_USE_WITHIN.days
    # The seller printed on invoices.
    invoice_seller_name: str = "counsel 企业法律顾问服务平台"
    invoice_seller_tax_id: str = "91310000000000000X"

    alipay_app_id: str = ""
    alipay_app_private_key_pem: str = ""
    alipay_public_key_pem: str = ""
    alipay_gateway_url: str = "https://openapi.alipay.com/gateway.do"

    wechat_mch_id: str = ""
    wechat_api_v3_key: str = ""
    # JSON object: platform certificate serial → public key PEM.
    wechat_platform_public_keys: str = ""
    wechat_merchant_private_key_pem: str = ""
    wechat_merchant_serial: str = ""
    wechat_app_id: str = ""
    wechat_api_base: str = "https://api.mch.weixin.qq.com"

    bank_mer_id: str = ""
    bank_merchant_private_key_pem: str = ""
    bank_public_key_pem: str = ""
    bank_gateway_base: str = "https://gateway.95516.com/gateway/api"

    @property
    def pay_within(self) -> timedelta:
        return timedelta(minutes=self.pay_within_minutes)

    @property
    def consultation_use_within(self) -> timedelta:
        return timedelta(days=self.consultation_use_within_days)

    @property
    def public_url(self) -> str:
        return (self.public_base_url or f"http://{self.gateway_host}:{self.gateway_port}").rstrip("/")

    def notify_url(self, provider: str) -> str:
        return f"{self.public_url}/api/v1/payments/notify/{provider}"


def configured_providers(settings: PaymentSettings) -> dict[str, Provider]:
    providers: dict[str, Provider] = {}
    if settings.dev_routes and settings.secret_key:
        providers["sandbox"] = SandboxProvider(sandbox_key(settings.secret_key), settings.public_url)
    if settings.alipay_app_id and settings.alipay_app_private_key_pem and settings.alipay_public_key_pem:
        providers["alipay"] = AlipayProvider(
            AlipayConfig(
                settings.alipay_app_id,
                settings.alipay_app_private_key_pem,
                settings.alipay_public_key_pem,
                settings.alipay_gateway_url,
            )
        )
    if settings.wechat_mch_id and settings.wechat_api_v3_key:
        providers["wechat"] = WechatProvider(
            WechatConfig(
                settings.wechat_mch_id,
                settings.wechat_api_v3_key,
                json.loads(settings.wechat_platform_public_keys or "{}"),
                settings.wechat_merchant_private_key_pem,
                settings.wechat_merchant_serial,
                api_base=settings.wechat_api_base,
                app_id=settings.wechat_app_id,
            )
        )
    if settings.bank_mer_id and settings.bank_public_key_pem:
        providers["bank"] = BankProvider(
            BankConfig(
                settings.bank_mer_id,
                settings.bank_merchant_private_key_pem,
                settings.bank_public_key_pem,
                front_url=f"{settings.bank_gateway_base}/frontTransReq.do",
                back_url=f"{settings.bank_gateway_base}/backTransReq.do",
                query_url=f"{settings.bank_gateway_base}/queryTrans.do",
            )
        )
    return providers
