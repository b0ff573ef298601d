"""The demo seed: deterministic ids, the accounts API.md promises, idempotence, one password hash."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from services.identity import domain, seed


@dataclass(frozen=True)
class Made:
    """What the fake created (or found), as the store's CreatedUser and CreatedEnterprise say it."""

    value: object
    created: bool


@dataclass
class FakeStore:
    enterprises: dict[str, str] = field(default_factory=dict)
    users: dict[str, dict[str, object]] = field(default_factory=dict)
    hashes: int = 0

    async def hash_password(self, password: str) -> str:
        self.hashes += 1
        return f"hash-of-{password}"

    async def create_enterprise(
        self, name: str, enterprise_id: str | None = None, industry: str = ""
    ) -> Made:
        assert enterprise_id is not None
        created = enterprise_id not in self.enterprises
        self.enterprises.setdefault(enterprise_id, name)
        return Made(enterprise_id, created)

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
    ) -> Made:
        if email in self.users:
            return Made(self.users[email], False)
        self.users[email] = {
            "id": user_id,
            "name": display_name,
            "roles": roles,
            "tenant": tenant_id,
            "hash": password_hash,
            "firm": firm_id,
            "privacy_policy_accepted": privacy_policy_accepted,
        }
        return Made(self.users[email], True)


def test_demo_ids_are_uuid5_of_the_address() -> None:
    email = "lawyer1@demo.counsel.test"
    assert seed.demo_user_id(email) == uuid.uuid5(uuid.NAMESPACE_URL, "counsel-demo:" + email).hex
    assert uuid.uuid5(uuid.NAMESPACE_URL, "counsel-demo:enterprise").hex == seed.DEMO_ENTERPRISE_ID
    assert seed.demo_user_id(email) != seed.demo_user_id("lawyer2@demo.counsel.test")


async def test_seed_creates_every_demo_account_once() -> None:
    store = FakeStore()
    await seed.seed_demo(store)
    assert store.enterprises == {seed.DEMO_ENTERPRISE_ID: "演示科技有限公司"}
    users = store.users
    client = users["client@demo.counsel.test"]
    assert client["roles"] == ("client_admin",) and client["tenant"] == seed.DEMO_ENTERPRISE_ID
    assert client["name"] == "演示客户管理员"
    assert users["member@demo.counsel.test"]["roles"] == ("client",)
    for n in range(1, 11):
        lawyer = users[f"lawyer{n}@demo.counsel.test"]
        assert lawyer["roles"] == ("lawyer",) and lawyer["tenant"] == ""
    assert set(users["reviewer@demo.counsel.test"]["roles"]) == {"reviewer", "lawyer"}  # type: ignore[call-overload]
    for role in ("agent", "editor", "supervisor", "firm_admin"):
        assert users[f"{role}@demo.counsel.test"]["roles"] == (role,)
        assert users[f"{role}@demo.counsel.test"]["tenant"] == ""
    assert all(u["id"] == seed.demo_user_id(email) for email, u in users.items())
    assert {u["hash"] for u in users.values()} == {"hash-of-Demo-Passw0rd!"}
    assert store.hashes == 1
    assert all(u["privacy_policy_accepted"] for u in users.values())  # fixtures log in without being asked

    before = dict(users)
    await seed.seed_demo(store)
    assert store.users == before


def test_every_demo_account_passes_the_domain_rules() -> None:
    for email, name, roles, tenant in seed.DEMO_USERS:
        new = domain.validate_new_user(email, "", name, roles, tenant)
        assert new.email == email  # already canonical, so demo_user_id(email) is what a login finds
    assert len(seed.LAWYER_EMAILS) >= 10


async def test_firm_staff_work_for_the_demo_firm() -> None:
    """Service credentials are scoped to the firm_admin's own firm, so the demo firm staff have one."""
    store = FakeStore()
    await seed.seed_demo(store)
    firms = {email: user["firm"] for email, user in store.users.items()}
    assert firms[seed.demo_email("firm_admin")] == seed.DEMO_FIRM_ID == firms[seed.demo_email("lawyer1")]
    assert firms[seed.demo_email("agent")] == "" == firms[seed.demo_email("client")]


def test_identity_and_catalog_name_the_same_demo_firm() -> None:
    """The firm in firm_admin@'s token (identity) is the catalog firm that firm_admin@ administers."""
    from services.catalog.seed import demo_firms

    administered = [
        f.id for f in demo_firms() if seed.demo_user_id(seed.demo_email("firm_admin")) in f.admin_user_ids
    ]
    assert administered == [seed.DEMO_FIRM_ID]


def test_identity_and_documents_name_the_same_demo_reviewer() -> None:
    """Documents records the demo reviewer's licence under the id identity gives reviewer@ (no import)."""
    from services.documents import seed as documents_seed

    reviewer = seed.demo_email("reviewer")
    assert reviewer == documents_seed.DEMO_REVIEWER_EMAIL
    assert documents_seed.demo_user_id(reviewer) == seed.demo_user_id(reviewer)
