"""Identity rules: identifier normalisation, login validation, roles, passwords and visibility."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from services.identity import domain
from services.runtime.context import Principal
from services.runtime.errors import Conflict, InvalidArgument, Unauthenticated


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("Client@Demo.Counsel.Test", "client@demo.counsel.test"),
        ("  member@demo.counsel.test\n", "member@demo.counsel.test"),
    ],
)
def test_email_is_trimmed_and_lower_cased(raw: str, canonical: str) -> None:
    assert domain.normalize_email(raw) == canonical


@pytest.mark.parametrize("raw", ["", "   ", "no-at-sign", "a@b", "a@@b.cn", "a b@c.cn", "x" * 250 + "@a.cn"])
def test_bad_email_names_the_field(raw: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        domain.normalize_email(raw)
    assert caught.value.violations[0].field == "email"


@pytest.mark.parametrize(
    "raw",
    [
        "13800138000",
        "+8613800138000",
        "+86 138 0013 8000",
        "8613800138000",
        "008613800138000",
        "138-0013-8000",
    ],
)
def test_mainland_phone_becomes_e164(raw: str) -> None:
    assert domain.normalize_phone(raw) == "+8613800138000"


@pytest.mark.parametrize(
    "raw",
    ["", "1380013800", "138001380000", "23800138000", "+1 415 555 0100", "+8623800138000", "1380013800a"],
)
def test_bad_phone_names_the_field(raw: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        domain.normalize_phone(raw)
    assert caught.value.violations[0].field == "phone"


def test_identifier_kind_follows_the_at_sign() -> None:
    assert domain.parse_identifier(" Agent@Demo.Counsel.Test ") == ("email", "agent@demo.counsel.test")
    assert domain.parse_identifier("+86 13800138000") == ("phone", "+8613800138000")
    with pytest.raises(InvalidArgument) as caught:
        domain.parse_identifier("not a phone")
    assert caught.value.violations[0].field == "identifier"


def test_password_login_is_validated_and_normalised() -> None:
    attempt = domain.validate_login("password", "Client@Demo.Counsel.Test", "Demo-Passw0rd!")
    assert attempt == domain.LoginAttempt("password", "email", "client@demo.counsel.test", "Demo-Passw0rd!")


def test_otp_and_card_logins_are_validated_and_normalised() -> None:
    """R-ACC-2: phone/e-mail + code, and an offline card number + PIN."""
    assert domain.validate_login("otp", "138 0013 8000", " 012345 ") == domain.LoginAttempt(
        "otp", "phone", "+8613800138000", "012345"
    )
    assert domain.validate_login("membership_card", "lf-2026-0001", "4321") == domain.LoginAttempt(
        "membership_card", "card", "LF20260001", "4321"
    )
    with pytest.raises(InvalidArgument) as caught:
        domain.validate_login("otp", "13800138000", "12345")
    assert caught.value.violations[0].field == "secret"
    with pytest.raises(InvalidArgument) as caught:
        domain.validate_login("membership_card", "no!", "4321")
    assert caught.value.violations[0].field == "identifier"


@pytest.mark.parametrize(
    ("method", "identifier", "secret", "field"),
    [
        ("", "a@b.cn", "x", "method"),
        ("magic", "a@b.cn", "x", "method"),
        ("password", "", "x", "identifier"),
        ("password", "a@b.cn", "", "secret"),
        ("password", "a@b.cn", "x" * 1025, "secret"),
    ],
)
def test_bad_login_requests_name_the_field(method: str, identifier: str, secret: str, field: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        domain.validate_login(method, identifier, secret)
    assert caught.value.violations[0].field == field


def test_roles_are_the_eight_of_the_spec_and_the_platform_operator() -> None:
    """The operator (issue 24, §4.1.1) onboards firms and verifies lawyers' credentials."""
    assert set(domain.ROLES) == {
        "client",
        "client_admin",
        "lawyer",
        "reviewer",
        "agent",
        "editor",
        "firm_admin",
        "supervisor",
        "operator",
    }


def test_new_user_is_normalised() -> None:
    new = domain.validate_new_user(" Lawyer1@Demo.Counsel.Test", "", " 演示律师1 ", ["lawyer", "lawyer"], "")
    assert new == domain.NewUser("lawyer1@demo.counsel.test", "", "演示律师1", ("lawyer",), "")


@pytest.mark.parametrize(
    ("email", "phone", "name", "roles", "tenant", "field"),
    [
        ("", "", "n", ["client"], "t1", "email"),
        ("a@b.cn", "", " ", ["client"], "t1", "display_name"),
        ("a@b.cn", "", "n", [], "t1", "roles"),
        ("a@b.cn", "", "n", ["admin"], "", "roles"),
        ("a@b.cn", "", "n", ["client", "lawyer"], "t1", "roles"),
        ("a@b.cn", "", "n", ["client"], "", "tenant_id"),
        ("a@b.cn", "", "n", ["agent"], "t1", "tenant_id"),
        ("a@b.cn", "12", "n", ["agent"], "", "phone"),
    ],
)
def test_bad_new_users_name_the_field(
    email: str, phone: str, name: str, roles: list[str], tenant: str, field: str
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        domain.validate_new_user(email, phone, name, roles, tenant)
    assert caught.value.violations[0].field == field


@pytest.fixture(scope="module")
def passwords() -> domain.Passwords:
    return domain.Passwords()


def test_password_hash_is_argon2id_with_owasp_parameters(passwords: domain.Passwords) -> None:
    stored = passwords.hash("Demo-Passw0rd!")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert "Demo-Passw0rd!" not in stored
    passwords.verify(stored, "Demo-Passw0rd!")
    assert not passwords.needs_rehash(stored)


def test_weaker_old_hashes_ask_for_a_rehash(passwords: domain.Passwords) -> None:
    old = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("Demo-Passw0rd!")
    passwords.verify(old, "Demo-Passw0rd!")
    assert passwords.needs_rehash(old)


def test_wrong_password_missing_user_and_broken_hash_look_the_same(passwords: domain.Passwords) -> None:
    stored = passwords.hash("Demo-Passw0rd!")
    errors = []
    for stored_hash, password in [
        (stored, "wrong"),
        (None, "Demo-Passw0rd!"),
        ("", "x"),
        ("not-a-hash", "x"),
    ]:
        with pytest.raises(Unauthenticated) as caught:
            passwords.verify(stored_hash, password)
        errors.append((caught.value.message, caught.value.reason, caught.value.code))
    assert len(set(errors)) == 1
    assert errors[0][0] == "invalid credentials"


def test_a_missing_user_costs_a_real_verification(
    passwords: domain.Passwords, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No timing side channel: a missing user runs the same argon2 verification, against a hash with the
    same parameters, as an existing one (checked by what is verified, not by a clock)."""
    stored = passwords.hash("Demo-Passw0rd!")
    verified: list[str] = []
    hasher = passwords._hasher

    class RecordingHasher:
        def verify(self, hash_: str, password: str) -> bool:
            verified.append(hash_)
            return hasher.verify(hash_, password)

    monkeypatch.setattr(passwords, "_hasher", RecordingHasher())
    for stored_hash in (stored, None):
        with pytest.raises(Unauthenticated):
            passwords.verify(stored_hash, "wrong")
    existing, missing = verified
    assert existing == stored
    assert missing != stored and missing.startswith("$argon2id$")
    assert missing.split("$")[3] == existing.split("$")[3]  # m=19456,t=2,p=1 for both


def test_new_passwords_have_a_minimum_length() -> None:
    assert domain.validate_new_password("Demo-Passw0rd!") == "Demo-Passw0rd!"
    with pytest.raises(InvalidArgument):
        domain.validate_new_password("short")


TENANT = "t1"
ME = Principal("u1", TENANT, frozenset({"client"}))
ADMIN = Principal("u2", TENANT, frozenset({"client_admin"}))


@pytest.mark.parametrize(
    ("principal", "user_id", "tenant_id", "visible"),
    [
        (ME, "u1", TENANT, True),  # themself
        (ME, "u3", TENANT, False),  # a colleague: only the admin sees members
        (ADMIN, "u3", TENANT, True),
        (ADMIN, "u9", "t2", False),  # another enterprise
        (ADMIN, "lawyer", "", False),
        (Principal("l1", "", frozenset({"lawyer"})), "u1", TENANT, False),
        (Principal("l1", "", frozenset({"lawyer"})), "l1", "", True),
        (Principal("e1", "", frozenset({"editor"})), "u1", TENANT, False),
        (Principal("a1", "", frozenset({"agent"})), "u1", TENANT, True),
        (Principal("s1", "", frozenset({"supervisor"})), "l1", "", True),
        (None, "u1", TENANT, True),  # an internal call without a user token
    ],
)
def test_who_sees_whom(principal: Principal | None, user_id: str, tenant_id: str, visible: bool) -> None:
    assert domain.can_see_user(principal, user_id, tenant_id) is visible


def test_an_invitation_wins_unless_the_registrant_asks_for_another_enterprise() -> None:
    """R-ACC-4: joining the inviter is what an invited employee means, even when they type its name."""
    domain.check_invited_registration("", "甲公司")
    domain.check_invited_registration("甲公司", "甲公司")
    domain.check_invited_registration(" Acme  Ltd ", "acme ltd")
    with pytest.raises(Conflict) as other:
        domain.check_invited_registration("乙公司", "甲公司")
    assert other.value.reason == "invitation_pending" and "甲公司" in str(other.value)
