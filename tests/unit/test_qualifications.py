"""Who may serve, without servers (issue 24 items 1 and 2, §4.1.1, §4.1.2, §4.2.1): the unified social credit
code's check characters, the practising certificate number's format, the credentials' rules and what keeps
a lawyer assignable."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.catalog import qualifications, seed
from services.runtime.context import Principal
from services.runtime.errors import Conflict, InvalidArgument, PermissionDenied

TODAY = date(2026, 12, 6)
# Published codes whose check characters are right (the second ends in a letter check character).
VALID_CODES = ("91350100M000100Y43", "91110000100005220B")


def field_of(error: pytest.ExceptionInfo[InvalidArgument]) -> str:
    return error.value.violations[0].field


@pytest.mark.parametrize("code", VALID_CODES)
def test_a_credit_code_with_right_check_characters_is_accepted_upper_cased(code: str) -> None:
    assert qualifications.validate_credit_code(f" {code.lower()} ") == code


@pytest.mark.parametrize(
    ("code", "why"),
    [
        ("91350100M000100Y44", "the check character is wrong"),  # last character changed
        ("91350100M000100Y4", "18 characters"),  # too short
        ("91350100M0001O0Y43", "18 characters"),  # O is not in the alphabet
        ("9135010AM000100Y43", "18 characters"),  # the division code is digits
        ("91350100M000101Y43", "organisation code"),  # organisation code digit changed
    ],
)
def test_a_wrong_credit_code_is_refused_naming_credit_code(code: str, why: str) -> None:
    with pytest.raises(InvalidArgument, match=why) as error:
        qualifications.validate_credit_code(code)
    assert field_of(error) == "credit_code"


def test_the_check_character_follows_gb_32100() -> None:
    """Weights 3^i mod 31; 31 - (sum mod 31), 31 → 0."""
    first17 = "91350100M000100Y4"
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    total = sum(alphabet.index(c) * pow(3, i, 31) for i, c in enumerate(first17))
    assert qualifications.credit_code_check_character(first17) == alphabet[(31 - total % 31) % 31] == "3"


def test_a_firm_registration_checks_every_field() -> None:
    registration = qualifications.validate_registration(
        " 测试律所 ", VALID_CODES[0], 1_000_000, "CNY", " 北京市 ", "北京", 39.9, 116.4
    )
    assert (registration.name, registration.address, registration.registered_capital_fen) == (
        "测试律所",
        "北京市",
        1_000_000,
    )
    for args, field in [
        (("", VALID_CODES[0], 1, "CNY", "a", "", 0.0, 0.0), "name"),
        (("x", "123", 1, "CNY", "a", "", 0.0, 0.0), "credit_code"),
        (("x", VALID_CODES[0], 0, "CNY", "a", "", 0.0, 0.0), "registered_capital"),
        (("x", VALID_CODES[0], 1, "USD", "a", "", 0.0, 0.0), "registered_capital"),
        (("x", VALID_CODES[0], -100, "CNY", "a", "", 0.0, 0.0), "registered_capital"),
        (("x", VALID_CODES[0], 10**15 + 1, "CNY", "a", "", 0.0, 0.0), "registered_capital"),
        (("x", VALID_CODES[0], 1, "CNY", " ", "", 0.0, 0.0), "address"),
        (("x", VALID_CODES[0], 1, "CNY", "a", "", 91.0, 0.0), "location"),
    ]:
        with pytest.raises(InvalidArgument) as error:
            qualifications.validate_registration(*args)  # type: ignore[arg-type]
        assert field_of(error) == field


def test_a_registered_capital_may_exceed_an_int32() -> None:
    """¥5 亿 (50,000,000,000 fen) is a firm's realistic capital, far beyond ¥21.47 M; ¥10 万亿 is the bound."""
    for fen in (500_000_000 * 100, qualifications.MAX_REGISTERED_CAPITAL_FEN):
        registration = qualifications.validate_registration(
            "测试律所", VALID_CODES[0], fen, "CNY", "北京市", "北京", 39.9, 116.4
        )
        assert registration.registered_capital_fen == fen


def test_an_agreement_needs_a_file_and_a_term() -> None:
    assert qualifications.validate_agreement("2026-01-01", "2027-12-31", b"pdf") == (
        date(2026, 1, 1),
        date(2027, 12, 31),
    )
    for args, field in [
        (("2026-01-01", "2027-12-31", b""), "file"),
        (("2026-13-01", "2027-12-31", b"x"), "starts_on"),
        (("2026-01-01", "2026-01-01", b"x"), "ends_on"),
    ]:
        with pytest.raises(InvalidArgument) as error:
            qualifications.validate_agreement(*args)
        assert field_of(error) == field


def test_a_certificate_number_is_17_digits() -> None:
    assert qualifications.validate_certificate_number(" 11012010100000001 ") == "11012010100000001"
    for number in ("1101201010000000", "110120101000000012", "1101201010000000X", "１1012010100000001"):
        with pytest.raises(InvalidArgument) as error:
            qualifications.validate_certificate_number(number)
        assert field_of(error) == "certificate_number", number


def test_credentials_need_both_scans_a_current_inspection_and_two_years() -> None:
    good = ("11012010100000001", "2027-05-31", b"scan", b"scan", 3, TODAY)
    assert qualifications.validate_credentials(*good).inspection_due_on == date(2027, 5, 31)
    for changed, field in [
        ({1: "2026-12-05"}, "inspection_due_on"),
        ({2: b""}, "practice_certificate"),
        ({3: b""}, "degree_certificate"),
        ({4: 1}, "years_of_practice"),
        ({0: "123"}, "certificate_number"),
    ]:
        args = list(good)
        for index, value in changed.items():
            args[index] = value
        with pytest.raises(InvalidArgument) as error:
            qualifications.validate_credentials(*args)  # type: ignore[arg-type]
        assert field_of(error) == field


def test_only_the_operator_role_onboards() -> None:
    operator = Principal(user_id="o", roles=frozenset({"operator"}))
    assert qualifications.require_operator(operator, "onboard a firm") is operator
    with pytest.raises(PermissionDenied):
        qualifications.require_operator(Principal(user_id="a", roles=frozenset({"firm_admin"})), "onboard")


def test_a_lawyer_takes_new_work_only_verified_under_an_agreement_in_force_with_a_current_inspection() -> (
    None
):
    ends, due = date(2026, 12, 31), date(2027, 5, 31)
    assert qualifications.why_not_assignable(True, "verified", ends, due, TODAY) == ""
    assert qualifications.why_not_assignable(True, "verified", ends, due, ends) == ""  # the last day counts
    assert "not active" in qualifications.why_not_assignable(False, "verified", ends, due, TODAY)
    assert "not verified" in qualifications.why_not_assignable(True, "pending", ends, due, TODAY)
    assert "agreement" in qualifications.why_not_assignable(True, "verified", date(2026, 12, 5), due, TODAY)
    assert "agreement" in qualifications.why_not_assignable(True, "verified", None, due, TODAY)
    assert "inspection" in qualifications.why_not_assignable(True, "verified", ends, date(2026, 12, 5), TODAY)
    with pytest.raises(Conflict, match="agreement") as refused:
        qualifications.check_assignable(True, "verified", date(2026, 1, 1), due, TODAY)
    assert refused.value.reason == "not_assignable"


def test_dates_are_beijing_days() -> None:
    assert qualifications.today_in_china(datetime(2026, 12, 6, 16, 30, tzinfo=UTC)) == date(2026, 12, 7)
    assert qualifications.day_ends(date(2026, 12, 31)) == datetime(2026, 12, 31, 16, 0, tzinfo=UTC)


def test_the_demo_firms_and_lawyers_are_qualified() -> None:
    """Every existing journey still finds the demo lawyers assignable."""
    firms = {firm.id: firm for firm in seed.demo_firms()}
    for lawyer in seed.demo_lawyers():
        firm = firms[lawyer.firm_id]
        assert firm.status == "active"
        assert (
            qualifications.why_not_assignable(
                lawyer.active, lawyer.verification, firm.agreement_ends_on, lawyer.inspection_due_on, TODAY
            )
            == ""
        ), lawyer.id
        qualifications.validate_certificate_number(lawyer.licence_number)
    assert seed.next_inspection_due(date(2026, 5, 31)) == date(2026, 5, 31)
    assert seed.next_inspection_due(date(2026, 6, 1)) == date(2027, 5, 31)


def test_a_firm_with_no_agreement_on_record_works_to_its_grace_periods_end() -> None:
    """Issue 24: an agreement on record decides alone; without one, the grace period of migration 0011."""
    agreement, grace = date(2027, 6, 30), date(2027, 3, 6)
    assert qualifications.takes_work_until(agreement, grace) == agreement
    assert qualifications.takes_work_until(None, grace) == grace
    assert qualifications.takes_work_until(None, None) is None
