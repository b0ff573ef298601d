"""Document orders in the chaos load (issue 19 item 4): each one goes the whole way through review — an agent
creates and acknowledges it, the assigned lawyer uploads a draft, the reviewer approves it, the client accepts
it — and the invariant checker proves that every acknowledged step is in the documents service's data and that
every version's bytes, downloaded through the gateway, match the SHA-256 recorded beside them."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from services.identity.seed import DEMO_ENTERPRISE_ID, LAWYER_EMAILS, demo_email, demo_user_id

CLIENT = demo_email("client")
AGENT = demo_email("agent")
REVIEWER = demo_email("reviewer")
LAWYER_BY_ID = {demo_user_id(email): email for email in LAWYER_EMAILS}
PRODUCT = "doc-contract-drafting"
REQUIREMENTS = {
    "contract_type": "买卖 Sale",
    "parties": "甲方 演示科技有限公司；乙方 某供应商",
    "key_terms": "货物、价款、交付、违约责任",
}
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
# The stages an order passes on the way the load drives it, in order: an acknowledged step's stage or a later
# one must be what the service holds.
STAGES = ("awaiting_acknowledgement", "drafting", "in_review", "delivered", "completed")

# (kind, path, http keyword arguments) → the acknowledged response, None when the write failed.
Write = Callable[..., Awaitable[httpx.Response | None]]
# e-mail → the Authorization header of that demo account.
Auth = Callable[[httpx.AsyncClient, str], Awaitable[dict[str, str]]]


@dataclass
class DocumentOrders:
    """The document orders one chaos load drove, and how far each acknowledged step took them."""

    stage: dict[str, str] = field(default_factory=dict)  # order id → the stage its last acknowledged step set
    drafts: dict[tuple[str, int], str] = field(default_factory=dict)  # (order id, version) → SHA-256 uploaded

    async def drive(self, http: httpx.AsyncClient, write: Write, auth: Auth, rng: random.Random) -> None:
        """One document order through review to acceptance; it stops at the first step that is not
        acknowledged (a failed step is the fault's; the order stays where the service has it)."""
        body = {
            "order_id": f"chaos-{rng.randbytes(8).hex()}",
            "tenant_id": DEMO_ENTERPRISE_ID,
            "client_id": demo_user_id(CLIENT),
            "product_id": PRODUCT,
            "complexity": "simple",
            "requirements": REQUIREMENTS,
        }
        agent = await auth(http, AGENT)
        created = await write(http, "document order", "/api/v1/document-orders", headers=agent, json=body)
        if created is None:
            return
        order = created.json()
        path = f"/api/v1/document-orders/{order['id']}"
        self.stage[order["id"]] = order["stage"]
        if (
            await write(http, "acknowledge", f"{path}/acknowledge", headers=agent, json={"note": "混沌"})
            is None
        ):
            return
        self.stage[order["id"]] = "drafting"
        lawyer = LAWYER_BY_ID.get(order["assigned_lawyer_id"])
        if (
            lawyer is None
        ):  # assigned to the reviewer, who may not review their own draft: the load stops here
            return
        draft = "合同（混沌测试）\n".encode() + rng.randbytes(rng.randrange(64, 4096))
        uploaded = await write(
            http,
            "draft",
            f"{path}/drafts",
            headers=await auth(http, lawyer),
            files={"file": ("合同.docx", draft, DOCX)},
            data={"note": "初稿"},
        )
        if uploaded is None:
            return
        self.stage[order["id"]] = "in_review"
        self.drafts[(order["id"], uploaded.json()["versions"][-1]["number"])] = hashlib.sha256(
            draft
        ).hexdigest()
        reviewer = await auth(http, REVIEWER)
        review = {"decision": "approve", "comment": "同意"}
        if await write(http, "review", f"{path}/review", headers=reviewer, json=review) is None:
            return
        self.stage[order["id"]] = "delivered"
        if await write(http, "accept", f"{path}/accept", headers=await auth(http, CLIENT)) is None:
            return
        self.stage[order["id"]] = "completed"


Fetch = Callable[..., Awaitable[list[Any]]]


async def document_violations(
    orders: DocumentOrders, fetch: Fetch, http: httpx.AsyncClient, reviewer: dict[str, str]
) -> dict[str, int]:
    """The documents' invariants: acknowledged steps lost (an order missing or behind its last acknowledged
    stage, an acknowledged draft missing or recorded with other bytes' digest), and versions whose bytes, as
    the gateway serves them to staff, do not match their recorded SHA-256 (or cannot be read)."""
    ids = list(orders.stage)
    held = {r["id"]: r["stage"] for r in await fetch("documents", "SELECT id, stage FROM document_orders WHERE id = ANY($1)", ids)}  # fmt: skip
    versions = await fetch(
        "documents",
        "SELECT document_order_id, number, sha256 FROM document_versions WHERE document_order_id = ANY($1)",
        ids,
    )
    recorded = {(r["document_order_id"], r["number"]): r["sha256"] for r in versions}
    behind = sum(
        order_id not in held or _rank(held[order_id]) < _rank(stage)
        for order_id, stage in orders.stage.items()
    )
    drafts_lost = sum(recorded.get(key) != digest for key, digest in orders.drafts.items())
    mismatched = 0
    for (order_id, number), digest in recorded.items():
        path = f"/api/v1/document-orders/{order_id}/versions/{number}/file"
        response = await http.get(path, headers=reviewer)
        mismatched += response.status_code != 200 or hashlib.sha256(response.content).hexdigest() != digest
    return {
        "acknowledged document steps lost": behind + drafts_lost,
        "document versions whose bytes do not match their SHA-256": mismatched,
    }


def _rank(stage: str) -> int:
    """Where `stage` lies on the load's path; a stage off it (a revision, a breach) counts as past its end."""
    return STAGES.index(stage) if stage in STAGES else len(STAGES)
