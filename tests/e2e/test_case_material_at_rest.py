"""Case material at rest (issue 20, "Done when"), against the platform of `counsel up`: a marker phrase typed
into a consultation (question and follow-up), a chat message, a document order's requirement and an uploaded
document is read back in plaintext through the API, yet after a CHECKPOINT it is in clear in none of the
data files — PostgreSQL's data and WAL, Temporal's SQLite database, the JetStream store (the event stream and
the documents' object store). Values kept in clear on purpose (a consultation's subject, which its event and
lists carry; a workflow's id) are found by the same scan, so it is known to look where the data is."""

from __future__ import annotations

import asyncio
import os
import secrets
import time

import httpx

from deploy.local.launcher import StackProcess
from deploy.local.servers import PostgresServer, TemporalDevServer
from services.identity.seed import LAWYER_EMAILS, demo_user_id
from tests.support.data_files import checkpoint, files_holding
from tests.support.journeys import PASSWORD, login

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
LAWYER_BY_ID = {demo_user_id(email): email for email in LAWYER_EMAILS}


def test_a_marker_phrase_typed_everywhere_is_in_clear_in_no_data_file(
    http: httpx.Client,
    platform: StackProcess,
    postgres_server: PostgresServer,
    temporal_dev_server: TemporalDevServer,
) -> None:
    marker = f"marker{secrets.token_hex(8)}"
    in_clear = f"subject{secrets.token_hex(8)}"
    signed_in = http.post(
        "/api/v1/auth/login",
        json={"method": "password", "identifier": "client@demo.counsel.test", "secret": PASSWORD},
    ).json()
    client = {"Authorization": f"Bearer {signed_in['access_token']}"}
    me = signed_in["user"]
    agent = login(http, "agent@demo.counsel.test")

    created = http.post(
        "/api/v1/consultations",
        headers=client,
        json={"kind": "general", "subject": in_clear, "question": f"我的案子 {marker} 怎么办？"},
    )
    assert created.status_code == 201, created.text
    consultation = f"/api/v1/consultations/{created.json()['id']}"
    followed = http.post(f"{consultation}/messages", headers=client, json={"body": f"补充 {marker}"})
    assert followed.status_code == 200, followed.text
    # The enterprise's other member chats: the chat journey expects the demo client's conversation as it left it.
    member = login(http, "member@demo.counsel.test")
    chat = http.post("/api/v1/chat/messages", headers=member, json={"body": f"你好 {marker}"})
    assert chat.status_code == 201, chat.text

    order = http.post(
        "/api/v1/document-orders",
        headers=agent,
        json={
            "order_id": f"order-{os.urandom(6).hex()}",
            "tenant_id": me["tenant_id"],
            "client_id": me["id"],
            "product_id": "doc-contract-drafting",
            "complexity": "simple",
            "requirements": {"contract_type": "买卖 Sale", "parties": "甲方；乙方", "key_terms": marker},
        },
    )
    assert order.status_code == 201, order.text
    document = f"/api/v1/document-orders/{order.json()['id']}"
    lawyer = login(http, LAWYER_BY_ID[order.json()["assigned_lawyer_id"]])
    assert http.post(f"{document}/acknowledge", headers=agent, json={}).status_code == 200
    draft = f"采购合同 {marker}\n".encode() + os.urandom(200 * 1024) + marker.encode()
    uploaded = http.post(f"{document}/drafts", headers=lawyer, files={"file": ("合同.docx", draft, DOCX)})
    assert uploaded.status_code == 200, uploaded.text

    # Read back in plaintext by those who may see it.
    assert marker in http.get(consultation, headers=client).json()["question"]
    assert http.get(document, headers=agent).json()["requirements"]["key_terms"] == marker
    assert http.get(f"{document}/versions/1/file", headers=lawyer).content == draft

    # The workflows have run their first steps (their histories hold the consultation's id in clear).
    deadline = time.monotonic() + 30
    while not files_holding(temporal_dev_server.data_dir, created.json()["id"].encode()):
        assert time.monotonic() < deadline, "the consultation's workflow never reached Temporal's database"
        time.sleep(0.5)
    asyncio.run(checkpoint(postgres_server))

    stores = {
        "PostgreSQL (data and WAL)": postgres_server.pgdata,
        "Temporal's SQLite database": temporal_dev_server.data_dir,
        "the JetStream store": platform.data_dir / "nats",
    }
    assert files_holding(postgres_server.pgdata, in_clear.encode())  # the scans see what is written
    assert files_holding(platform.data_dir / "nats", in_clear.encode())  # consultation.submitted
    for where, root in stores.items():
        assert not files_holding(root, marker.encode()), f"{marker} is readable in {where}"
