"""Erasure reaches everything (issue 20, "Done when"), against the platform of `counsel up`: a client who
registered by SMS and linked an e-mail types a marker phrase into a consultation, a chat message, a paid
document order's requirement answer and — through their lawyer — an uploaded document, then erases their
account. Afterwards their phone, their e-mail and the marker are readable nowhere: not in PostgreSQL's data
files and WAL after a CHECKPOINT, Temporal's database, the JetStream store (event streams and object store),
nor in any payload of the workflow histories their orders and cases ran, opened with the platform's own
payload key (which no erasure destroys, so a workflow must carry references, never what the client typed)."""

from __future__ import annotations

import asyncio
import os
import secrets
import string
import time
import uuid
from datetime import UTC, datetime

import httpx

from deploy.local.launcher import StackProcess
from deploy.local.servers import PostgresServer, TemporalDevServer
from services.identity.seed import LAWYER_EMAILS, demo_user_id
from services.runtime.erasure import ERASED_TEXT
from tests.support.data_files import checkpoint, files_holding, opened_history_payloads
from tests.support.journeys import latest_code, login, register_by_sms, wait_for
from tests.support.platform import platform_temporal

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
LAWYER_BY_ID = {demo_user_id(email): email for email in LAWYER_EMAILS}
# How long the services' erasure consumers may take, the scan repeated until then.
ERASURE_WITHIN = 60.0


def test_an_erased_client_is_readable_in_no_data_file_and_no_workflow_history(
    http: httpx.Client,
    platform: StackProcess,
    postgres_server: PostgresServer,
    temporal_dev_server: TemporalDevServer,
) -> None:
    started = datetime.now(UTC)
    marker = f"erasure{secrets.token_hex(8)}"
    name = "".join(secrets.choice(string.ascii_lowercase) for _ in range(8))  # names hold no long numbers
    phone, account = register_by_sms(http, f"擦除测试{name}有限公司")
    client = {"Authorization": f"Bearer {account['access_token']}"}
    email = f"erase-{secrets.token_hex(4)}@example.com"
    assert http.post("/api/v1/auth/otp", json={"channel": "email", "destination": email}).status_code == 202
    linked = http.patch("/api/v1/me", headers=client, json={"email": email, "code": latest_code(http, email)})
    assert linked.status_code == 200 and linked.json()["login_methods"]["email"] == email, linked.text

    consultation = http.post(
        "/api/v1/consultations",
        headers=client,
        json={"kind": "general", "subject": "合同纠纷", "question": f"我的案子 {marker} 怎么办？"},
    )
    assert consultation.status_code == 201, consultation.text
    chat = http.post("/api/v1/chat/messages", headers=client, json={"body": f"你好 {marker}"})
    assert chat.status_code == 201, chat.text

    requirements = {"contract_type": "买卖 Sale", "parties": ["甲方", "乙方"], "key_terms": f"价款 {marker}"}
    order = http.post(
        "/api/v1/orders",
        headers=client | {"Idempotency-Key": uuid.uuid4().hex},
        json={"product_id": "doc-contract-drafting", "tier": "simple", "requirements": requirements},
    )
    assert order.status_code == 201, order.text
    order_id = order.json()["id"]
    paying = http.post(
        f"/api/v1/orders/{order_id}/payments",
        headers=client | {"Idempotency-Key": uuid.uuid4().hex},
        json={"method": "sandbox"},
    )
    assert paying.status_code == 201, paying.text
    assert http.post(f"/api/v1/dev/sandbox-pay/{paying.json()['payment_id']}").status_code == 202

    def fulfilled() -> dict | None:
        current = http.get(f"/api/v1/orders/{order_id}", headers=client).json()
        return current if current["status"] == "in_service" and current["fulfilment"] else None

    document_order_id = wait_for(fulfilled, timeout=60)["fulfilment"]["id"]
    document = f"/api/v1/document-orders/{document_order_id}"
    agent = login(http, "agent@demo.counsel.test")
    assert http.get(document, headers=agent).json()["requirements"]["key_terms"] == f"价款 {marker}"
    assert http.post(f"{document}/acknowledge", headers=agent, json={}).status_code == 200
    lawyer = login(http, LAWYER_BY_ID[http.get(document, headers=agent).json()["assigned_lawyer_id"]])
    draft = f"买卖合同 {marker}\n".encode() + os.urandom(100 * 1024) + marker.encode()
    uploaded = http.post(f"{document}/drafts", headers=lawyer, files={"file": ("合同.docx", draft, DOCX)})
    assert uploaded.status_code == 200, uploaded.text

    erased = http.delete("/api/v1/me", headers=client)
    assert erased.status_code == 202, erased.text
    again = http.delete("/api/v1/me", headers=client)
    assert again.status_code == 404, again.text  # issue 20: an erased person is not there to erase
    assert again.headers["content-type"].startswith("application/problem+json")
    wait_for(
        lambda: (
            http.get(f"/api/v1/consultations/{consultation.json()['id']}", headers=agent).json()["question"]
            == ERASED_TEXT
        ),
        timeout=ERASURE_WITHIN,
    )

    needles = {"their phone": phone.encode(), "their e-mail": email.encode(), "the marker": marker.encode()}
    stores = {
        "PostgreSQL (data and WAL)": postgres_server.pgdata,
        "Temporal's database": temporal_dev_server.data_dir,
        "the JetStream store (streams, object store)": platform.data_dir / "nats",
    }

    def readable() -> list[str]:
        asyncio.run(checkpoint(postgres_server))
        return [
            f"{what} in {where}: {', '.join(str(p) for p in files_holding(root, needle)[:3])}"
            for where, root in stores.items()
            for what, needle in needles.items()
            if files_holding(root, needle)
        ]

    deadline = time.monotonic() + ERASURE_WITHIN
    while (found := readable()) and time.monotonic() < deadline:
        time.sleep(2)
    assert not found, "readable after the erasure:\n" + "\n".join(found)

    in_histories = asyncio.run(histories_holding(platform, started, list(needles.values())))
    assert not in_histories, "in workflow histories (opened with the platform's key):\n" + "\n".join(
        in_histories
    )
    # The scan looks where the data is: the histories of this client's order were read.
    assert asyncio.run(history_count(platform, started, f"order-{order_id}")) == 1


async def histories_holding(platform: StackProcess, since: datetime, needles: list[bytes]) -> list[str]:
    """The workflows started since `since` whose opened payloads hold one of `needles`."""
    temporal = await platform_temporal(platform)
    found = []
    async for execution in temporal.list_workflows(f"StartTime >= '{since.isoformat()}'"):
        payloads = await opened_history_payloads(temporal, execution.id)
        found += [execution.id for needle in needles if any(needle in data for data in payloads)]
    return found


async def history_count(platform: StackProcess, since: datetime, workflow_id: str) -> int:
    temporal = await platform_temporal(platform)
    query = f"StartTime >= '{since.isoformat()}' AND WorkflowId = '{workflow_id}'"
    return len([execution async for execution in temporal.list_workflows(query)])
