"""Local stand-ins for WeChat Pay's and a UnionPay-style bank's server APIs, served over real HTTP on a free
port. Each checks the merchant's request signature the way the provider documents it (written here from the
providers' rules, not with the code under test) and signs its answers with its own locally generated key.

- WeChat Pay APIv3: `Authorization: WECHATPAY2-SHA256-RSA2048 mchid=…,nonce_str=…,signature=…,timestamp=…,
  serial_no=…`, the signature being SHA256withRSA over `METHOD\\nPATH?QUERY\\nTIMESTAMP\\nNONCE\\nBODY\\n`;
  answers signed over `TIMESTAMP\\nNONCE\\nBODY\\n` in Wechatpay-Timestamp/-Nonce/-Signature/-Serial.
  Every message from WeChat Pay also carries `Wechatpay-Signature-Type: WECHATPAY2-SHA256-RSA2048`.
- Alipay: a request is signed over its non-empty parameters but `sign`, sorted by name, `k=v` joined by `&`
  (`sign_type` included); a notification over all its parameters but `sign` and `sign_type`; an OpenAPI
  answer over the exact text of its `<method>_response` object. RSA2 is SHA256withRSA, Base64.
- Bank (signMethod 01): SHA256withRSA over the lowercase hex SHA-256 of the form's fields sorted by name as
  `k=v&…` (empty values and `signature` left out); the answer is a form signed the same way."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import secrets
import threading
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from deploy.local.servers import free_port


def rsa_pair() -> tuple[str, str]:
    """(private PEM, public PEM) of a fresh 2048-bit RSA key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def _sign(private_pem: str, message: bytes) -> str:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def _verifies(public_pem: str, message: bytes, signature_b64: str) -> bool:
    key = serialization.load_pem_public_key(public_pem.encode())
    assert isinstance(key, rsa.RSAPublicKey)
    try:
        key.verify(base64.b64decode(signature_b64), message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


# -- the providers' side of Alipay's and WeChat Pay's signatures (not the SDKs the providers use) -------------
def alipay_sign_notification(params: dict[str, str], alipay_private_pem: str) -> str:
    """The `sign` Alipay puts on an asynchronous notification."""
    content = "&".join(f"{k}={params[k]}" for k in sorted(params) if k not in ("sign", "sign_type"))
    return _sign(alipay_private_pem, content.encode())


def alipay_request_verifies(params: dict[str, str], merchant_public_pem: str) -> bool:
    """Whether a request's `sign` is the merchant's, as Alipay's gateway checks it."""
    content = "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "sign" and params[k] != "")
    return _verifies(merchant_public_pem, content.encode(), params.get("sign", ""))


def alipay_sign_response(content: str, alipay_private_pem: str) -> str:
    """The `sign` of an OpenAPI answer, over the exact text of its response object."""
    return _sign(alipay_private_pem, content.encode())


def wechat_sign(platform_private_pem: str, timestamp: str, nonce: str, body: bytes) -> str:
    """Wechatpay-Signature of an answer or callback, by WeChat Pay's platform key."""
    return _sign(platform_private_pem, timestamp.encode() + b"\n" + nonce.encode() + b"\n" + body + b"\n")


def wechat_encrypt_resource(api_v3_key: str, plaintext: bytes, nonce: str, associated_data: str) -> str:
    """Base64 AEAD_AES_256_GCM ciphertext of a callback resource, as WeChat Pay sends it."""
    sealed = AESGCM(api_v3_key.encode()).encrypt(nonce.encode(), plaintext, associated_data.encode())
    return base64.b64encode(sealed).decode()


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve `handler` on 127.0.0.1 in a thread; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# -- WeChat Pay ---------------------------------------------------------------------------------------------
@dataclass
class FakeWechatPay:
    mch_id: str
    merchant_public_pem: str  # of the merchant certificate `merchant_serial`
    merchant_serial: str
    platform_private_pem: str
    platform_serial: str
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)  # why requests were refused

    def _refuse(self, why: str) -> tuple[int, dict[str, Any]]:
        self.refused.append(why)
        return 401, {"code": "SIGN_ERROR", "message": why}

    def handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any]]:
        auth = headers.get("authorization", "")
        if not auth.startswith("WECHATPAY2-SHA256-RSA2048 "):
            return self._refuse("no WECHATPAY2-SHA256-RSA2048 authorization")
        fields = dict(re.findall(r'(\w+)="([^"]*)"', auth))
        if fields.get("mchid") != self.mch_id or fields.get("serial_no") != self.merchant_serial:
            return self._refuse("unknown merchant or certificate serial")
        if abs(time.time() - int(fields.get("timestamp", "0") or 0)) > 300:
            return self._refuse("timestamp expired")
        message = f"{method}\n{path}\n{fields['timestamp']}\n{fields['nonce_str']}\n".encode() + body + b"\n"
        if not _verifies(self.merchant_public_pem, message, fields.get("signature", "")):
            return self._refuse("signature does not verify")
        if method == "POST" and path == "/v3/pay/transactions/native":
            order = json.loads(body)
            if order.get("mchid") != self.mch_id or not order.get("appid"):
                return 400, {"code": "PARAM_ERROR", "message": "mchid/appid"}
            if not re.fullmatch(r"[0-9A-Za-z_\-*|]{6,32}", str(order.get("out_trade_no", ""))):
                return 400, {"code": "PARAM_ERROR", "message": "out_trade_no"}
            known = self.orders.setdefault(
                order["out_trade_no"],
                order | {"code_url": f"weixin://wxpay/bizpayurl?pr={secrets.token_hex(6)}"},
            )
            return 200, {"code_url": known["code_url"]}
        return 404, {"code": "NOT_FOUND", "message": path}

    def signed_answer(self, payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(payload).encode()
        timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
        signature = wechat_sign(self.platform_private_pem, timestamp, nonce, body)
        return body, {
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": signature,
            "Wechatpay-Serial": self.platform_serial,
            "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
        }

    @contextmanager
    def running(self) -> Iterator[str]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, payload = fake.handle("POST", self.path, headers, body)
                answer, answer_headers = fake.signed_answer(payload)
                self.send_response(status)
                for name, value in answer_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        with serving(Handler) as url:
            yield url


# -- bank ---------------------------------------------------------------------------------------------------
def bank_digest(params: dict[str, str]) -> bytes:
    signed = "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "signature" and params[k] != "")
    return hashlib.sha256(signed.encode()).hexdigest().encode()


@dataclass
class FakeBank:
    mer_id: str
    merchant_public_pem: str
    bank_private_pem: str
    # orderId → {"txnAmt", "queryId", "origRespCode", "refunded"}
    trades: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: list[dict[str, str]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def paid(self, order_id: str, amount_fen: int, status: str = "00") -> str:
        query_id = f"Q{secrets.token_hex(10)}"
        self.trades[order_id] = {
            "txnAmt": amount_fen,
            "queryId": query_id,
            "origRespCode": status,
            "refunded": 0,
        }
        return query_id

    def handle(self, path: str, form: dict[str, str]) -> dict[str, str]:
        base = {k: form.get(k, "") for k in ("version", "encoding", "txnType", "txnSubType", "bizType")}
        answer = base | {"merId": self.mer_id, "signMethod": "01", "orderId": form.get("orderId", "")}
        if form.get("signMethod") != "01" or not _verifies(
            self.merchant_public_pem, bank_digest(form), form.get("signature", "")
        ):
            self.refused.append(f"{path}: signature")
            return answer | {"respCode": "11", "respMsg": "验证签名失败"}
        if form.get("merId") != self.mer_id:
            self.refused.append(f"{path}: merchant")
            return answer | {"respCode": "12", "respMsg": "商户不存在"}
        if path.endswith("/queryTrans.do") and form.get("txnType") == "00":
            trade = self.trades.get(form.get("orderId", ""))
            if trade is None:
                return answer | {"respCode": "34", "respMsg": "查无此交易"}
            return answer | {
                "respCode": "00",
                "origRespCode": trade["origRespCode"],
                "queryId": trade["queryId"],
                "txnAmt": str(trade["txnAmt"]),
            }
        if path.endswith("/backTransReq.do") and form.get("txnType") == "04":
            trade = next((t for t in self.trades.values() if t["queryId"] == form.get("origQryId")), None)
            amount = int(form.get("txnAmt", "0") or 0)
            if trade is None or amount <= 0 or trade["refunded"] + amount > trade["txnAmt"]:
                return answer | {"respCode": "25", "respMsg": "退货金额超限或原交易不存在"}
            trade["refunded"] += amount
            self.refunds.append(form)
            return answer | {"respCode": "00", "queryId": f"R{secrets.token_hex(8)}", "txnAmt": str(amount)}
        return answer | {"respCode": "10", "respMsg": "报文格式错误"}

    @contextmanager
    def running(self) -> Iterator[str]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
                answer = fake.handle(self.path, dict(parse_qsl(body, keep_blank_values=True)))
                answer["signature"] = _sign(fake.bank_private_pem, bank_digest(answer))
                encoded = urlencode(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")
                self.send_header("Content-Length", str(len(encoded)))
                self.end_headers()
                self.wfile.write(encoded)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        with serving(Handler) as url:
            yield url


# -- Alipay bill download -----------------------------------------------------------------------------------
BILL_HEADER = (
    "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,"
    "订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,"
    "券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注"
)


def alipay_trade_bill(day: str, rows: list[tuple[str, str, str]]) -> bytes:
    """A trade bill as Alipay's download URL serves it: a zip of two GBK CSVs (details and summary), the
    details framed by `#` lines, values with trailing tabs. `rows` are (商户订单号, 业务类型, 订单金额（元）)."""
    lines = [
        "#支付宝业务明细查询",
        "#账号：[20881234567890120156]",
        f"#起始日期：[{day} 00:00:00]   终止日期：[{day} 23:59:59]",
        "#-----------------------------------------业务明细列表----------------------------------------",
        BILL_HEADER,
    ]
    for i, (order_id, kind, amount) in enumerate(rows):
        cells = [
            f"2026112922001{i:06d}\t",
            f"{order_id}\t",
            kind,
            "合同审查",
            f"{day} 10:00:00",
            f"{day} 10:00:05",
        ]
        cells += ["", "", "", "", "buyer@example.com", amount, amount, "0.00", "0.00", "0.00", "0.00", "0.00"]
        cells += ["", "0.00", "0.00", "", "-0.60", "0.00", ""]
        lines.append(",".join(cells))
    lines += [
        "#-----------------------------------------业务明细列表结束------------------------------------",
        f"#交易合计：{len(rows)}笔",
        f"#导出时间：[{day} 23:59:59]",
    ]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr(
            f"20881234567890120156_{day.replace('-', '')}_业务明细.csv", "\r\n".join(lines).encode("gbk")
        )
        bundle.writestr(
            f"20881234567890120156_{day.replace('-', '')}_业务明细(汇总).csv", "#汇总\r\n".encode("gbk")
        )
    return archive.getvalue()


def alipay_bill_gateway(alipay_private_pem: str, bill: bytes) -> httpx.MockTransport:
    """Alipay's gateway answering `alipay.data.dataservice.bill.downloadurl.query` (signed with Alipay's
    key over the response object's exact text) and the download URL serving `bill`."""

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.host == "dwbillcenter.alipay.com":
            return httpx.Response(200, content=bill)
        form = dict(parse_qsl(request.content.decode()))
        assert form["method"] == "alipay.data.dataservice.bill.downloadurl.query"
        biz = json.loads(form["biz_content"])
        content = json.dumps(
            {
                "code": "10000",
                "msg": "Success",
                "bill_download_url": f"https://dwbillcenter.alipay.com/downloadBillFile.resource?bizType=trade&date={biz['bill_date']}",
            },
            separators=(",", ":"),
        )
        signature = alipay_sign_response(content, alipay_private_pem)
        return httpx.Response(
            200,
            text='{"alipay_data_dataservice_bill_downloadurl_query_response":'
            + content
            + ',"sign":"'
            + signature
            + '"}',
        )

    return httpx.MockTransport(handle)
