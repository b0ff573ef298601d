"""Demo accounts for local development (API.md, "Local development only"). Idempotent: run it at every
start. Ids are deterministic so other services' seeds (e.g. catalog's lawyer profiles) can refer to
these users without asking identity."""

from __future__ import annotations

import logging
import uuid
from typing import Protocol

from services.identity.config import IdentitySettings
from services.identity.models import DATA_KEYS, TABLES
from services.identity.store import IdentityStores
from services.runtime.config import Settings
from services.runtime.crypto import FieldCipher
from services.runtime.db import Database
from services.runtime.events import Outbox
from services.runtime.keys import DataKeys, master_key

log = logging.getLogger(__name__)

DEMO_PASSWORD = "Demo-Passw0rd!"
DEMO_DOMAIN = "demo.counsel.test"
DEMO_ENTERPRISE_NAME = "演示科技有限公司"
DEMO_ENTERPRISE_INDUSTRY = "technology"  # its columns come first for the demo clients (issue 24 item 5)
DEMO_LAWYER_COUNT = 10


def _demo_uuid(name: str) -> str:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"counsel-demo:{name}").hex


def demo_user_id(email: str) -> str:
    """The id the demo seed gives the user with this e-mail address (lower-case, as in the seed)."""
    return _demo_uuid(email)


DEMO_ENTERPRISE_ID = _demo_uuid("enterprise")
# The demo law firm its lawyers, reviewer and firm_admin work for: the catalog's demo firm that
# firm_admin@ administers (services/catalog/seed.py), so both services name the same firm.
DEMO_FIRM_ID = "firm-beijing-zhengda"
FIRM_STAFF_ROLES = ("lawyer", "reviewer", "firm_admin")


def demo_email(local_part: str) -> str:
    return f"{local_part}@{DEMO_DOMAIN}"


LAWYER_EMAILS = tuple(demo_email(f"lawyer{n}") for n in range(1, DEMO_LAWYER_COUNT + 1))

# (e-mail, display name, roles, tenant): every demo account.
DEMO_USERS: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    (demo_email("client"), "演示客户管理员", ("client_admin",), DEMO_ENTERPRISE_ID),
    (demo_email("member"), "演示企业成员", ("client",), DEMO_ENTERPRISE_ID),
    *((email, f"演示律师{n}", ("lawyer",), "") for n, email in enumerate(LAWYER_EMAILS, start=1)),
    (demo_email("reviewer"), "演示审核律师", ("reviewer", "lawyer"), ""),
    (demo_email("agent"), "演示客服", ("agent",), ""),
    (demo_email("editor"), "演示编辑", ("editor",), ""),
    (demo_email("supervisor"), "演示质量监督", ("supervisor",), ""),
    (demo_email("firm_admin"), "演示律所管理员", ("firm_admin",), ""),
    # The platform operator (issue 24): onboards firms and verifies lawyers' credentials.
    (demo_email("operator"), "演示平台运营", ("operator",), ""),
)


class Creation(Protocol):
    @property
    def created(self) -> bool: ...


class SeedStore(Protocol):
    """The part of `store.accounts.Accounts` the seed uses (tests pass a fake)."""

    async def hash_password(self, password: str) -> str: ...
    async def create_enterprise(
        self, name: str, enterprise_id: str | None = None, industry: str = ""
    ) -> Creation: ...
    async def create_user(
        self,
        *,
        email: str,
        display_name: str,
        roles: tuple[str, ...],
        password_hash: str,
        tenant_id: str = "",
        user_id: str | None = None,
        firm_id: str = "",
        privacy_policy_accepted: bool = False,
    ) -> Creation: ...


async def seed_demo(store: SeedStore) -> None:
    """Create the demo enterprise and every demo account (password `DEMO_PASSWORD`) unless they exist."""
    await store.create_enterprise(
        DEMO_ENTERPRISE_NAME, enterprise_id=DEMO_ENTERPRISE_ID, industry=DEMO_ENTERPRISE_INDUSTRY
    )
    password_hash = await store.hash_password(DEMO_PASSWORD)  # one hash, shared: same password for all
    created = 0
    for email, display_name, roles, tenant_id in DEMO_USERS:
        user = await store.create_user(
            email=email,
            display_name=display_name,
            roles=roles,
            password_hash=password_hash,
            tenant_id=tenant_id,
            user_id=demo_user_id(email),
            firm_id=DEMO_FIRM_ID if set(roles) & set(FIRM_STAFF_ROLES) else "",
            privacy_policy_accepted=True,  # fixtures, not people: they log in without being asked
        )
        created += user.created
    log.info("identity demo data seeded", extra={"users_created": created, "users_total": len(DEMO_USERS)})


async def seed(db: Database, settings: Settings) -> None:
    """The local stack's seed of identity (deploy/local/bootstrap.py); `user.registered` events wait in the
    outbox until identity's relay publishes them."""
    stores = IdentityStores.build(
        db,
        Outbox("identity", settings, TABLES),
        FieldCipher(settings.secret_key),
        DataKeys(db, master_key(settings), DATA_KEYS),
        IdentitySettings.from_settings(settings),
    )
    await seed_demo(stores.accounts)
