"""Identity's pure rules for codes, limits, passwords, registration, cards and invitations
(R-ACC-1, R-ACC-2, R-PRIV-1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.identity import domain
from services.runtime.context import Principal
from services.runtime.errors import (
    AlreadyExists,
    Conflict,
    InvalidArgument,
    PermissionDenied,
    RateLimited,
    Unauthenticated,
)

NOW = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)


def field_of(error: pytest.ExceptionInfo[InvalidArgument]) -> str:
    return error.value.violations[0].field


def test_codes_are_six_random_digits() -> None:
    codes = {domain.new_otp() for _ in range(200)}
    assert all(len(code) == 6 and code.isdigit() for code in codes)
    assert len(codes) > 150  # random, not a counter or a constant


def test_otp_requests_name_the_bad_field() -> None:
    assert domain.validate_otp_request("sms", "+86 138-0013-8000") == ("phone", "+8613800138000")
    assert domain.validate_otp_request("email", " Li@Example.COM ") == ("email", "li@example.com")
    with pytest.raises(InvalidArgument) as caught:
        domain.validate_otp_request("fax", "13800138000")
    assert field_of(caught) == "channel"
    with pytest.raises(InvalidArgument) as caught:
        domain.validate_otp_request("sms", "12345")
    assert field_of(caught) == "destination"
    with pytest.raises(InvalidArgument) as caught:
        domain.validate_otp_request("email", "13800138000")
    assert field_of(caught) == "destination"


def test_a_limit_allows_up_to_its_count_then_says_how_long_to_wait() -> None:
    limit = domain.Limit(3, timedelta(hours=1))
    domain.check_limit(limit, [NOW - timedelta(minutes=5)] * 2, NOW, "codes")
    hits = [NOW - timedelta(minutes=50), NOW - timedelta(minutes=20), NOW - timedelta(minutes=1)]
    with pytest.raises(RateLimited) as caught:
        domain.check_limit(limit, hits, NOW, "codes")
    # The oldest hit leaves the window in 10 minutes.
    assert caught.value.retry_after_seconds == 600
    # Hits older than the window do not count.
    domain.check_limit(limit, [NOW - timedelta(hours=2)] * 10, NOW, "codes")


@pytest.mark.parametrize(
    "password", ["short1!", "onlylowercase", "Password1!", "lowercase123", "Li-13800138000x"]
)
def test_weak_passwords_are_refused_naming_the_field(password: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        domain.check_password_strength(password, "+8613800138000", "Li Lei")
    assert field_of(caught) == "password"


@pytest.mark.parametrize("password", ["Demo-Passw0rd!", "correct horse battery staple", "Zx9!kq2Lm"])
def test_strong_passwords_pass(password: str) -> None:
    assert domain.check_password_strength(password, "li@example.com", "Li Lei") == password


def test_registration_needs_exactly_one_identifier_and_a_code() -> None:
    reg = domain.validate_registration(
        "", "Li@Example.com", "123456", "", " Li Lei ", " 李氏科技 ", "v1", True
    )
    assert reg == domain.Registration(
        "email", "li@example.com", "123456", "", "Li Lei", "李氏科技", "v1", True
    )
    cases = [
        (("13800138000", "li@example.com", "123456", "", "Li", ""), "email"),
        (("", "", "123456", "", "Li", ""), "phone"),
        (("1380013", "", "123456", "", "Li", ""), "phone"),
        (("13800138000", "", "12ab56", "", "Li", ""), "code"),
        (("13800138000", "", "123456", "weak", "Li", ""), "password"),
        (("13800138000", "", "123456", "", "  ", ""), "display_name"),
    ]
    for args, field in cases:
        with pytest.raises(InvalidArgument) as caught:
            domain.validate_registration(*args)
        assert field_of(caught) == field, args


POLICY = domain.PrivacyPolicy("2027-01-01", "https://counsel.example/privacy")


def test_registering_accepts_the_privacy_policy_in_force() -> None:
    domain.check_policy_accepted_at_registration("2027-01-01", POLICY)
    for given in ("", "2026-12-01"):
        with pytest.raises(InvalidArgument) as caught:
            domain.check_policy_accepted_at_registration(given, POLICY)
        assert field_of(caught) == "privacy_policy_version"
        assert "2027-01-01" in caught.value.message and POLICY.url in caught.value.message


def test_a_new_policy_version_is_accepted_at_the_next_login_or_the_login_is_refused() -> None:
    assert domain.consent_at_login("2027-01-01", "", POLICY) is False  # in force: nothing to record
    assert domain.consent_at_login("2026-12-01", "2027-01-01", POLICY) is True  # accepted with this login
    assert domain.consent_at_login(None, "2027-01-01", POLICY) is True
    for accepted, given in (("2026-12-01", ""), (None, ""), ("2026-12-01", "2026-12-01")):
        with pytest.raises(Conflict) as refused:
            domain.consent_at_login(accepted, given, POLICY)
        assert refused.value.reason == "consent_required"
        assert [v.field for v in refused.value.violations] == ["privacy_policy_version"]
        assert "2027-01-01" in refused.value.message and POLICY.url in refused.value.message


def test_who_registers_an_enterprise_administers_it() -> None:
    assert domain.registration_roles("李氏科技") == ("client_admin",)
    assert domain.registration_roles("") == ("client",)


def test_card_numbers_and_pins() -> None:
    assert domain.normalize_card_number(" lf 2026-0001 ") == "LF20260001"
    with pytest.raises(InvalidArgument) as caught:
        domain.normalize_card_number("ab1")
    assert field_of(caught) == "card_number"
    with pytest.raises(InvalidArgument) as caught:
        domain.validate_pin("12a4")
    assert field_of(caught) == "pin"
    assert domain.validate_pin("0042") == "0042"


def test_cards_are_managed_by_a_firm_admin_or_the_firms_system_only() -> None:
    """R-ACC-2, R-OPS-3, issue 17 item 4: the firm a card belongs to is the caller's own — a firm admin's, or
    the firm whose system calls with its service token; nobody else issues, lists or revokes cards — not a
    caller without a token (an internal call), not another role, not an admin or a system of no firm."""
    admin = Principal("u1", roles=frozenset({"firm_admin"}), firm_id="firm-1")
    assert domain.card_firm_of(admin) == "firm-1"
    system = Principal("client-9", roles=frozenset({"firm_service"}), firm_id="firm-2")
    assert domain.card_firm_of(system) == "firm-2"
    for principal in (
        None,
        Principal("u2", roles=frozenset({"firm_admin"})),
        Principal("u3", roles=frozenset({"supervisor"})),
        Principal("u4", roles=frozenset({"firm_service"})),
        Principal("u5", "tenant-1", frozenset({"client_admin"})),
    ):
        with pytest.raises(PermissionDenied):
            domain.card_firm_of(principal)


def test_linking_a_card_replaces_the_pin_the_issuing_firm_knows() -> None:
    """R-ACC-2: the holder's own PIN, or a generated one; never the issued one, which the firm saw."""
    assert domain.holder_pin("2468", "86420") == domain.HolderPin("86420", generated=False)
    assert domain.holder_pin("2468", "").generated
    generated = {domain.holder_pin("2468", "").pin for _ in range(200)}
    assert all(len(pin) == 6 and pin.isdigit() for pin in generated) and len(generated) > 150
    with pytest.raises(InvalidArgument) as caught:
        domain.holder_pin("2468", "2468")
    assert field_of(caught) == "new_pin"
    with pytest.raises(InvalidArgument) as caught:
        domain.holder_pin("2468", "12a4")
    assert field_of(caught) == "new_pin"


def test_an_invitation_says_only_the_enterprises_registered_name_and_the_role() -> None:
    """R-PRIV-2: fixed words around the registered name and a fixed role label; no inviter's text."""
    message = domain.invitation_message("李氏科技有限公司", "client_admin")
    assert message.params == {"enterprise": "李氏科技有限公司", "role": "管理员"}
    assert message.body == (
        "【counsel】李氏科技有限公司 邀请您以管理员身份加入 counsel。请用本手机号或邮箱获取验证码后注册或登录。"
        " 李氏科技有限公司 invited you to counsel as administrator: register or log in with a code sent here."
    )
    assert message.subject == "You are invited to counsel"
    # A name registered before names were checked, holding a link and a number, never goes out.
    lure = "中奖请访问 evil.example 或致电 13800138000"
    spoofed = domain.invitation_message(lure, "client")
    assert "evil" not in spoofed.body and "13800138000" not in spoofed.body
    assert spoofed.params == {"enterprise": "一家企业", "role": "成员"}


@pytest.mark.parametrize(
    "name",
    ["李氏科技有限公司", "Acme Trading Co., Ltd.", "北京（中关村）3M 科技·服务中心", "O'Neil & Partners"],
)
def test_plain_enterprise_names_register(name: str) -> None:
    assert domain.enterprise_name_problem(name) == ""
    assert domain.validate_registration("13800138000", "", "123456", "", "李雷", name).enterprise_name == name


@pytest.mark.parametrize(
    "name",
    [
        "点击 https://evil.example 领奖",
        "联系 evil.example",
        "客服 a@b.cn",
        "回电 13800138000",
        "验证码 123456",
        "【counsel 官方】账户异常",
        "<b>粗体</b>",
    ],
)
def test_an_enterprise_name_that_carries_a_message_is_refused(name: str) -> None:
    """R-PRIV-2: an enterprise's name goes out in its invitations, so it cannot carry a link, an address,
    a number or markup (422 naming enterprise_name)."""
    with pytest.raises(InvalidArgument) as caught:
        domain.validate_registration("13800138000", "", "123456", "", "李雷", name)
    assert field_of(caught) == "enterprise_name"


def test_invitations_are_limited_per_rolling_day() -> None:
    limit = domain.invitation_limit(3)
    hits = [NOW - timedelta(hours=h) for h in (23, 5, 1)]
    with pytest.raises(RateLimited) as caught:
        domain.check_limit(limit, hits, NOW, "invitations")
    assert caught.value.retry_after_seconds == 3600  # the oldest leaves the day in an hour
    domain.check_limit(limit, hits[1:], NOW, "invitations")


def test_only_client_roles_can_be_invited() -> None:
    assert domain.validate_invitation("13800138000", "", "client") == domain.Invitation(
        "phone", "+8613800138000", "client"
    )
    with pytest.raises(InvalidArgument) as caught:
        domain.validate_invitation("13800138000", "", "lawyer")
    assert field_of(caught) == "role"


def test_messages_carry_the_code_and_its_lifetime() -> None:
    message = domain.otp_message("012345")
    assert "012345" in message.body and "5" in message.body and message.subject
    assert message.params == {"code": "012345"}  # the SMS provider's approved "otp" template


def test_service_credentials_are_managed_by_a_firm_admin_for_their_own_firm_only() -> None:
    admin = Principal("u1", roles=frozenset({"firm_admin"}), firm_id="firm-1")
    assert domain.firm_of_admin(admin) == "firm-1"
    for principal in (
        None,
        Principal("u2", roles=frozenset({"firm_admin"})),  # belongs to no firm
        Principal("u3", roles=frozenset({"lawyer"}), firm_id="firm-1"),
        Principal("u4", "tenant-1", frozenset({"client_admin"})),
    ):
        with pytest.raises(PermissionDenied):
            domain.firm_of_admin(principal)


# --- the decisions the stores carry out -----------------------------------------------------------------


def test_a_lockout_counts_failures_per_identifier_and_per_client_address() -> None:
    policy = domain.AuthPolicy(
        failures_per_identifier=domain.Limit(3, timedelta(minutes=15)),
        failures_per_ip=domain.Limit(5, timedelta(minutes=15)),
    )
    recent = [NOW - timedelta(minutes=m) for m in (1, 2, 3, 4)]
    domain.check_not_locked(policy, recent[:2], recent, NOW)
    with pytest.raises(RateLimited):  # the identifier's third failure locks it
        domain.check_not_locked(policy, recent[:3], [], NOW)
    with pytest.raises(RateLimited):  # one address failing across identifiers (credential stuffing)
        domain.check_not_locked(policy, [], [*recent, NOW], NOW)
    domain.check_not_locked(policy, [NOW - timedelta(minutes=20)] * 3, [], NOW)  # the window passed


def test_a_presented_code_spends_the_code_it_matches_or_counts_against_every_live_one() -> None:
    live = [domain.OtpCandidate("a", "h-a", "x-a"), domain.OtpCandidate("b", "h-b", "h-b")]
    assert domain.check_otp(live) == domain.OtpCheck("b")
    wrong = [domain.OtpCandidate("a", "h-a", "x-a"), domain.OtpCandidate("b", "h-b", "x-b")]
    assert domain.check_otp(wrong) == domain.OtpCheck(None, ("a", "b"))
    assert domain.check_otp([]) == domain.OtpCheck(None)


def test_only_an_active_account_signs_in_and_a_code_activates_an_invited_one() -> None:
    assert domain.signs_in("active")
    assert not any(domain.signs_in(status) for status in ("disabled", "invited", "erased", None))
    assert domain.code_sign_in("active") is domain.CodeSignIn.SIGN_IN
    assert domain.code_sign_in("invited") is domain.CodeSignIn.ACTIVATE
    assert domain.code_sign_in("disabled") is domain.CodeSignIn.REFUSED
    assert domain.code_sign_in(None) is domain.CodeSignIn.REFUSED
    assert domain.card_signs_in("active", "u1")
    assert not domain.card_signs_in("active", None)  # issued but not linked: logs nobody in
    assert not domain.card_signs_in("revoked", "u1")


def test_a_refresh_token_rotates_once_and_a_second_use_is_reuse() -> None:
    later = NOW + timedelta(days=1)
    assert domain.refresh_outcome(None, later, None, NOW) is domain.RefreshOutcome.ROTATE
    assert domain.refresh_outcome(None, later, NOW, NOW) is domain.RefreshOutcome.REUSED
    assert domain.refresh_outcome(NOW, later, None, NOW) is domain.RefreshOutcome.INVALID  # revoked
    assert domain.refresh_outcome(None, NOW, None, NOW) is domain.RefreshOutcome.INVALID  # expired


def test_a_sign_in_state_finishes_one_callback_of_its_provider_before_it_expires() -> None:
    later = NOW + domain.OIDC_STATE_TTL
    assert domain.oidc_state_usable("wechat", "wechat", None, later, NOW)
    assert not domain.oidc_state_usable("wechat", "alipay", None, later, NOW)  # another provider's
    assert not domain.oidc_state_usable("wechat", "wechat", NOW, later, NOW)  # spent: a replay
    assert not domain.oidc_state_usable("wechat", "wechat", None, NOW, NOW)  # expired


def test_a_proven_card_links_to_its_holder_unless_revoked_or_someone_elses() -> None:
    assert domain.card_link("active", None, "u1") is domain.CardLink.LINK
    assert domain.card_link("active", "u1", "u1") is domain.CardLink.LINKED_ALREADY
    with pytest.raises(Conflict) as linked:
        domain.card_link("active", "u2", "u1")
    assert linked.value.reason == "card_linked"
    with pytest.raises(Conflict) as revoked:
        domain.card_link("revoked", None, "u1")
    assert revoked.value.reason == "card_revoked"
    assert domain.wrong_card_pin(card_known=False).violations[0].field == "card_number"
    assert domain.wrong_card_pin(card_known=True).violations[0].field == "pin"


def test_a_phone_or_email_registers_once_unless_an_invitation_waits_for_it() -> None:
    domain.check_registrable(None)
    domain.check_registrable("invited")
    for status in ("active", "disabled", "erased"):
        with pytest.raises(AlreadyExists):
            domain.check_registrable(status)


def test_members_are_managed_by_their_client_admin_who_cannot_demote_themself() -> None:
    admin = Principal("u1", "tenant-1", frozenset({"client_admin"}))
    assert domain.client_admin_of(admin) == admin
    with pytest.raises(PermissionDenied):
        domain.client_admin_of(Principal("u2", "tenant-1", frozenset({"client"})))
    with pytest.raises(Unauthenticated):
        domain.client_admin_of(None)
    domain.check_role_change("u1", "u2", "client")
    domain.check_role_change("u1", "u1", "client_admin")
    with pytest.raises(Conflict):
        domain.check_role_change("u1", "u1", "client")


def test_only_agents_and_supervisors_see_a_clients_activity() -> None:
    for role in ("agent", "supervisor"):
        staff = Principal("s1", roles=frozenset({role}))
        assert domain.staff_serving_clients(staff) == staff
    with pytest.raises(PermissionDenied):
        domain.staff_serving_clients(Principal("l1", roles=frozenset({"lawyer"})))
