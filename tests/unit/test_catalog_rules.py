"""Catalog rules without servers: product tiers (R-INFO-1, §6.2.2.2-§6.2.2.4), lawyer profiles and activation
(§4.2.1, §6.2.4.2), the article review gate's transitions (R-INFO-3, §9.5), search query building and the
demo data's consistency with identity's demo accounts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from services.catalog import demo_products, domain, editorial, search, seed
from services.identity.seed import LAWYER_EMAILS, demo_email
from services.identity.seed import demo_user_id as identity_demo_user_id
from services.legal_fields import LEGAL_FIELDS
from services.runtime.context import Principal
from services.runtime.errors import Conflict, InvalidArgument, PermissionDenied, Unauthenticated


def field_of(error: pytest.ExceptionInfo[InvalidArgument]) -> str:
    return error.value.violations[0].field


def document_tiers() -> list[dict[str, Any]]:
    return [dict(tier, price=10000) for tier in demo_products.DOCUMENT_TIERS]


# --- tiers -----------------------------------------------------------------------------------------------


def test_every_demo_product_obeys_the_tier_rules() -> None:
    products = demo_products.demo_products()
    assert {p.category for p in products} == set(domain.CATEGORIES)
    for product in products:
        domain.validate_product(product.category, product.price_fen, product.tiers, product.consultation_kind)


def test_document_tiers_carry_the_clocks_of_their_complexity() -> None:
    """R-DOC-2/3/5: 30 min acknowledgement, 24/48/72 h delivery, 3/5/7-day revision window."""
    domain.validate_tiers("document", document_tiers())
    for index, field, wrong in [
        (0, "delivery_hours", 48),
        (1, "revision_days", 7),
        (2, "acknowledge_minutes", 60),
    ]:
        tiers = document_tiers()
        tiers[index][field] = wrong
        with pytest.raises(InvalidArgument) as error:
            domain.validate_tiers("document", tiers)
        assert field_of(error) == f"tiers[{index}].{field}"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda t: t[0].pop("complexity"), "tiers[0].complexity"),
        (lambda t: t[1].update(complexity="epic"), "tiers[1].complexity"),
        (lambda t: t[2].update(price=-1), "tiers[2].price"),
        (lambda t: t[0].update(price="100"), "tiers[0].price"),
        (lambda t: t[1].update(id=t[0]["id"]), "tiers[1].id"),
        (lambda t: t[0].update(name=" "), "tiers[0].name"),
    ],
)
def test_bad_document_tiers_are_refused_naming_the_field(change: Any, field: str) -> None:
    tiers = document_tiers()
    change(tiers)
    with pytest.raises(InvalidArgument) as error:
        domain.validate_tiers("document", tiers)
    assert field_of(error) == field


def test_product_level_rules() -> None:
    with pytest.raises(InvalidArgument) as error:
        domain.validate_product("document", -1, document_tiers())
    assert field_of(error) == "price"
    with pytest.raises(InvalidArgument) as error:
        domain.validate_product("document", 100, [])
    assert field_of(error) == "tiers"
    with pytest.raises(InvalidArgument) as error:
        domain.validate_product(
            "booking", 100, [{"id": "a", "name": "A", "price": 1, "complexity": "simple"}]
        )
    assert field_of(error) == "tiers[0].complexity"
    # A professional consultation promises its 24 h reply (R-CON-2).
    with pytest.raises(InvalidArgument) as error:
        domain.validate_product(
            "consultation", 100, [{"id": "a", "name": "A", "price": 1, "reply_hours": 48}], "professional"
        )
    assert field_of(error) == "tiers[0].reply_hours"
    with pytest.raises(InvalidArgument) as error:
        domain.validate_product("consultation", 100, [{"id": "a", "name": "A", "price": 1}], "chat")
    assert field_of(error) == "consultation_kind"


def test_price_range() -> None:
    domain.validate_price_range(None, None)
    domain.validate_price_range(0, 0)
    for low, high, field in [(-1, None, "min_price"), (None, -5, "max_price"), (10, 9, "max_price")]:
        with pytest.raises(InvalidArgument) as error:
            domain.validate_price_range(low, high)
        assert field_of(error) == field


# --- lawyers ---------------------------------------------------------------------------------------------


def profile(**overrides: Any) -> domain.Profile:
    values: dict[str, Any] = {
        "name": "孙丽 Sun Li",
        "specialty": "劳动争议",
        "fields": ["labour"],
        "service_hours": [{"weekday": 1, "start": "09:00", "end": "12:00"}],
        "service_exceptions": [],
        "years_of_practice": 3,
        "licence_number": "11012015123456789",
        "bio": "",
        "user_id": "u1",
        "online": False,
    }
    values.update(overrides)
    return domain.validate_profile(**values)


def test_service_hours_may_touch_but_not_overlap() -> None:
    ok = profile(
        service_hours=[
            {"weekday": 1, "start": "13:00", "end": "17:00"},
            {"weekday": 1, "start": "09:00", "end": "13:00"},
            {"weekday": 2, "start": "09:00", "end": "17:00"},
        ]
    )
    assert [w["start"] for w in ok.service_hours] == ["09:00", "13:00", "09:00"]  # sorted by day and time
    with pytest.raises(InvalidArgument) as error:
        profile(
            service_hours=[
                {"weekday": 1, "start": "09:00", "end": "13:00"},
                {"weekday": 1, "start": "12:59", "end": "14:00"},
            ]
        )
    assert field_of(error) == "service_hours[1]"
    for window, field in [
        ({"weekday": 0, "start": "09:00", "end": "10:00"}, "service_hours[0].weekday"),
        ({"weekday": 1, "start": "9am", "end": "10:00"}, "service_hours[0].start"),
        ({"weekday": 1, "start": "10:00", "end": "10:00"}, "service_hours[0].end"),
    ]:
        with pytest.raises(InvalidArgument) as error:
            profile(service_hours=[window])
        assert field_of(error) == field


def test_profile_fields_and_exceptions() -> None:
    for overrides, field in [
        ({"fields": []}, "fields"),
        ({"fields": ["labour", "astrology"]}, "fields[1]"),
        ({"name": "  "}, "name"),
        ({"years_of_practice": 71}, "years_of_practice"),
        ({"licence_number": "1234"}, "licence_number"),
        ({"service_exceptions": [{"date": "2027-13-01", "available": False}]}, "service_exceptions[0].date"),
        (
            {
                "service_exceptions": [
                    {"date": "2027-01-02", "available": True, "start": "12:00", "end": "11:00"}
                ]
            },
            "service_exceptions[0].end",
        ),
        (
            {
                "service_exceptions": [
                    {"date": "2027-01-02", "available": False},
                    {"date": "2027-01-02", "available": False},
                ]
            },
            "service_exceptions[1].date",
        ),
    ]:
        with pytest.raises(InvalidArgument) as error:
            profile(**overrides)
        assert field_of(error) == field, overrides
    assert profile(fields=["ip", "ip", "tax"]).fields == ("ip", "tax")


def test_activation_needs_a_licence_and_two_years() -> None:
    """§4.2.1."""
    domain.check_activation("11012015123456789", 2)
    with pytest.raises(InvalidArgument) as error:
        domain.check_activation("", 10)
    assert field_of(error) == "licence_number"
    with pytest.raises(InvalidArgument) as error:
        domain.check_activation("11012015123456789", 1)
    assert field_of(error) == "years_of_practice"


def test_firm_admin_and_licence_visibility() -> None:
    admin = Principal("admin-1", roles=frozenset({"firm_admin"}))
    assert domain.administers(admin, "firm-1", ["admin-1"])
    assert not domain.administers(admin, "firm-1", ["admin-2"])
    assert not domain.administers(Principal("admin-1", roles=frozenset({"lawyer"})), "firm-1", ["admin-1"])
    with pytest.raises(Unauthenticated):
        domain.require_firm_manager(None)
    with pytest.raises(PermissionDenied):
        domain.require_firm_manager(Principal("c", "t", frozenset({"client_admin"})))
    assert not domain.sees_licence(None)
    assert not domain.sees_licence(Principal("c", "t", frozenset({"client"})))
    assert domain.sees_licence(Principal("a", roles=frozenset({"agent"})))


def test_a_firm_system_manages_its_own_firm_only() -> None:
    """Issue 17 item 4: a firm's service token manages its own firm's profile and lawyers, whatever the
    firm's admin list says, and never another firm's."""
    system = Principal("client-1", roles=frozenset({"firm_service"}), firm_id="firm-1")
    assert domain.require_firm_manager(system) is system
    assert domain.administers(system, "firm-1", [])
    assert not domain.administers(system, "firm-2", ["client-1"])
    assert not domain.administers(Principal("client-1", roles=frozenset({"firm_service"})), "", [])


# --- articles --------------------------------------------------------------------------------------------


def test_article_transitions() -> None:
    """R-INFO-3: draft/rejected → submitted → approved|rejected; editing an approved one starts a new version;
    a version under review is frozen."""
    assert editorial.edit_plan("draft") == "in_place"
    assert editorial.edit_plan("rejected") == "in_place"
    assert editorial.edit_plan("approved") == "new_version"
    with pytest.raises(Conflict):
        editorial.edit_plan("submitted")
    editorial.check_submit("draft")
    editorial.check_submit("rejected")
    for status in ("submitted", "approved"):
        with pytest.raises(Conflict):
            editorial.check_submit(status)
    assert editorial.check_review("submitted", "approve", "", "editor", "reviewer") == ""
    for status in ("draft", "rejected", "approved"):
        with pytest.raises(Conflict):
            editorial.check_review(status, "approve", "", "editor", "reviewer")
    with pytest.raises(InvalidArgument) as error:
        editorial.check_review("submitted", "reject", "  ", "editor", "reviewer")
    assert field_of(error) == "comment"
    with pytest.raises(InvalidArgument) as error:
        editorial.check_review("submitted", "maybe", "", "editor", "reviewer")
    assert field_of(error) == "decision"
    with pytest.raises(PermissionDenied):
        editorial.check_review("submitted", "approve", "", "same-person", "same-person")


def test_article_input() -> None:
    assert editorial.validate_article("news", " 标题 ", " 正文 ") == ("news", "标题", "正文")
    for args, field in [
        (("blog", "t", "b"), "kind"),
        (("case", "", "b"), "title"),
        (("case", "t" * 201, "b"), "title"),
        (("case", "t", " "), "body"),
    ]:
        with pytest.raises(InvalidArgument) as error:
            editorial.validate_article(*args)
        assert field_of(error) == field
    with pytest.raises(PermissionDenied):
        editorial.require_article_author(Principal("r", roles=frozenset({"reviewer"})), "")
    # A lawyer writes risk alerts and annotated contract templates (§4.2.1), nothing else.
    lawyer = Principal("l", roles=frozenset({"lawyer"}))
    assert editorial.require_article_author(lawyer, "risk_alerts") is lawyer
    assert editorial.require_article_author(lawyer, "contract_templates") is lawyer
    for column_kind in ("", "laws_regulations", "cases"):
        with pytest.raises(PermissionDenied):
            editorial.require_article_author(lawyer, column_kind)
    assert editorial.may_edit_article(lawyer, "l") and not editorial.may_edit_article(lawyer, "someone-else")
    with pytest.raises(PermissionDenied):
        editorial.require_reviewer(Principal("e", roles=frozenset({"editor"})))


# --- search ----------------------------------------------------------------------------------------------


def test_chinese_queries_become_safe_tsqueries() -> None:
    # A compound word matches whole or as all of its parts.
    assert search.tsquery("劳动合同") == "('劳动合同' | ('劳动' & '合同'))"
    assert search.tsquery("Contract  drafting") == "'contract' & 'drafting'"
    # Operators and quotes in user input never reach the tsquery.
    assert search.tsquery("x' | !y & (z)") == "'x' & 'y' & 'z'"
    assert search.tsquery("!!! ???") == ""
    words = search.segment("劳动合同纠纷 Labour").split()
    assert {"劳动", "合同", "纠纷", "labour"} <= set(words)


# --- demo data -------------------------------------------------------------------------------------------


def test_demo_lawyers_are_the_demo_accounts_and_activatable() -> None:
    """API.md: lawyer1@… lawyerN@… log in; catalog derives their ids like identity does (no import)."""
    lawyers = seed.demo_lawyers()
    assert len(lawyers) >= 10
    assert [lawyer.user_id for lawyer in lawyers[: len(LAWYER_EMAILS)]] == [
        identity_demo_user_id(email) for email in LAWYER_EMAILS
    ]
    firms = {firm.id: firm for firm in seed.demo_firms()}
    assert len({firm.city for firm in firms.values()}) >= 2
    assert identity_demo_user_id(demo_email("firm_admin")) in firms["firm-beijing-zhengda"].admin_user_ids
    fields = set()
    for lawyer in lawyers:
        assert lawyer.firm_id in firms
        checked = profile(
            name=lawyer.name,
            fields=lawyer.fields,
            service_hours=lawyer.service_hours,
            service_exceptions=lawyer.service_exceptions,
            years_of_practice=lawyer.years_of_practice,
            licence_number=lawyer.licence_number,
        )
        domain.check_activation(checked.licence_number, checked.years_of_practice)
        fields.update(lawyer.fields)
    assert {"contract", "labour", "company", "ip", "tax", "litigation"} <= fields
    articles = seed.demo_articles()
    assert {article.kind for article, _ in articles} == set(editorial.ARTICLE_KINDS)
    for article, versions in articles:
        published = [v for v in versions if v.version == article.published_version]
        assert published and published[0].status == "approved" and published[0].reviewer_id
    # Every column kind is seeded; articles sit in seeded columns, aimed at known industries; a lawyer's
    # are risk alerts or annotated templates (§4.2.1, §4.2.2).
    columns = {column.id: column for column in seed.demo_columns()}
    assert {column.kind for column in columns.values()} == set(editorial.COLUMN_KINDS)
    lawyers = {seed.demo_user_id(email) for email in LAWYER_EMAILS}
    for article, _ in articles:
        assert article.column_id in columns or (article.kind == "faq" and not article.column_id)
        assert editorial.validate_industries(article.industries) == article.industries
        if article.author_id in lawyers:
            assert columns[article.column_id].kind in editorial.LAWYER_COLUMNS
    assert {issue.column_id for issue in seed.demo_column_issues()} <= set(columns)


# --- reviews ---------------------------------------------------------------------------------------------


def test_order_status_only_moves_forward_and_ends_stay_ended() -> None:
    """R-Q-1 eligibility from events that may come late or twice."""
    assert domain.next_order_status("", "created") == "created"
    assert domain.next_order_status("created", "paid") == "paid"
    assert domain.next_order_status("completed", "paid") == "completed"  # a late `paid`
    assert domain.next_order_status("", "completed") == "completed"  # completion before creation
    assert domain.next_order_status("completed", "created") == "completed"
    assert domain.next_order_status("paid", "refunded") == "refunded"
    assert domain.next_order_status("cancelled", "completed") == "cancelled"
    domain.check_reviewable("completed")
    for status in ("", "created", "paid", "cancelled", "refunded"):
        with pytest.raises(Conflict):
            domain.check_reviewable(status)


def test_review_input() -> None:
    assert domain.validate_review(5, "  很好 ") == "很好"
    for rating in (0, 6, -1):
        with pytest.raises(InvalidArgument) as error:
            domain.validate_review(rating, "")
        assert field_of(error) == "rating"
    with pytest.raises(InvalidArgument) as error:
        domain.validate_review(3, "x" * 2001)
    assert field_of(error) == "comment"
    with pytest.raises(PermissionDenied):
        domain.require_client(Principal("l", roles=frozenset({"lawyer"})))
    assert domain.require_client(Principal("c", "t", frozenset({"client_admin"}))).user_id == "c"


# --- managed products and firms --------------------------------------------------------------------------


def test_product_content_rules() -> None:
    process = [{"stage": "paid", "title": "已支付"}]
    domain.validate_product_content("doc-x", "名称", "描述", [], process, [])
    for args, field in [
        (("Doc X", "n", "d", [], process, []), "id"),
        (("doc-x", "n", "d", [{"kind": "gif", "url": "u"}], process, []), "media[0].kind"),
        (("doc-x", "n", "d", [{"kind": "image", "url": ""}], process, []), "media[0].url"),
        (("doc-x", "n", "d", [], [], []), "process"),
        (
            ("doc-x", "n", "d", [], process, [{"name": "a", "type": "choice", "choices": []}]),
            "requirement_fields[0].choices",
        ),
        (
            ("doc-x", "n", "d", [], process, [{"name": "a", "type": "text"}, {"name": "a", "type": "text"}]),
            "requirement_fields[1].name",
        ),
        (("doc-x", "n", "d", [], process, [{"name": "a", "type": "blob"}]), "requirement_fields[0].type"),
    ]:
        with pytest.raises(InvalidArgument) as error:
            domain.validate_product_content(*args)
        assert field_of(error) == field


def test_firm_rules() -> None:
    hours = [{"weekday": 1, "opens": "09:00", "closes": "18:00"}]
    domain.validate_firm(
        "律所", "北京", "地址", 39.9, 116.4, hours, ["地铁1号线"], [{"name": "王", "role": "主任"}]
    )
    for overrides, field in [
        ({"name": ""}, "name"),
        ({"city": " "}, "city"),
        ({"lat": 100.0}, "location.lat"),
        ({"lng": -181.0}, "location.lng"),
        (
            {"opening_hours": [*hours, {"weekday": 1, "opens": "17:00", "closes": "19:00"}]},
            "opening_hours[1]",
        ),
        ({"opening_hours": [{"weekday": 2, "opens": "18:00", "closes": "09:00"}]}, "opening_hours[0].closes"),
        ({"transit_routes": [""]}, "transit_routes[0]"),
        ({"staff": [{"name": ""}]}, "staff[0].name"),
    ]:
        values: dict[str, Any] = {
            "name": "律所",
            "city": "北京",
            "address": "地址",
            "lat": 39.9,
            "lng": 116.4,
            "opening_hours": hours,
            "transit_routes": [],
            "staff": [],
        }
        values.update(overrides)
        with pytest.raises(InvalidArgument) as error:
            domain.validate_firm(**values)
        assert field_of(error) == field, overrides


# --- decisions the stores act on ---------------------------------------------------------------------------


def test_a_repeated_activation_changes_nothing_but_activation_is_always_checked() -> None:
    assert domain.changes_activation(False, True, "11012015123456789", 2)
    assert not domain.changes_activation(True, True, "11012015123456789", 2)
    assert domain.changes_activation(True, False, "", 0) and not domain.changes_activation(
        False, False, "", 0
    )
    with pytest.raises(InvalidArgument):
        domain.changes_activation(True, True, "", 2)  # an active profile that lost its licence


def test_a_repeated_submit_changes_nothing() -> None:
    assert editorial.submits("draft") and editorial.submits("rejected")
    assert not editorial.submits("submitted")
    with pytest.raises(Conflict):
        editorial.submits("approved")


def test_an_approval_publishes_and_a_rejection_keeps_its_reason() -> None:
    approved = editorial.review_article("submitted", "approve", " fine ", "editor", "reviewer")
    assert approved == editorial.ArticleReview("approved", "fine", publishes=True)
    rejected = editorial.review_article("submitted", "reject", "too vague", "editor", "reviewer")
    assert rejected == editorial.ArticleReview("rejected", "too vague", publishes=False)


def test_order_facts_fold_without_losing_what_was_known() -> None:
    record = domain.fold_order_fact(
        domain.OrderFacts(), "created", domain.OrderFacts(client_id="c", tenant_id="t", product_id="p")
    )
    assert record == domain.OrderFacts("created", "c", "t", "p", "", "")
    record = domain.fold_order_fact(record, "", domain.OrderFacts(consultation_id="k"))
    record = domain.fold_order_fact(record, "completed", domain.OrderFacts(lawyer_id="l"))
    assert record == domain.OrderFacts("completed", "c", "t", "p", "k", "l")
    assert domain.fold_order_fact(record, "paid", domain.OrderFacts()).status == "completed"  # a late `paid`


def test_one_review_per_order_and_a_resent_review_is_the_same() -> None:
    sent = domain.Rating(5, "good")
    assert domain.reviews_order("completed", None, sent)
    assert not domain.reviews_order("completed", domain.Rating(5, "good"), sent)
    with pytest.raises(Conflict):
        domain.reviews_order("completed", domain.Rating(4, "ok"), sent)
    with pytest.raises(Conflict):
        domain.reviews_order("paid", None, sent)


def test_some_demo_lawyer_of_every_field_is_on_duty_around_the_clock() -> None:
    """The journeys assign demo lawyers at any hour of any day (the copies take the catalog's hours)."""
    windows = [
        (set(lawyer.fields), [(w["weekday"], w["start"], w["end"]) for w in lawyer.service_hours])
        for lawyer in seed.demo_lawyers()
    ]
    for legal_field in LEGAL_FIELDS:
        for weekday in range(1, 8):
            assert any(
                legal_field in fields and (weekday, "00:00", "24:00") in hours for fields, hours in windows
            ), (legal_field, weekday)


# --- editorial columns (§4.2.2) ----------------------------------------------------------------------------


def test_a_readers_industry_puts_its_columns_first() -> None:
    assert editorial.industry_rank(["technology"], "technology") == 0
    assert editorial.industry_rank([], "technology") == 1
    assert editorial.industry_rank(["finance"], "technology") == 2
    assert editorial.industry_rank(["finance"], "") == 2 and editorial.industry_rank([], "") == 1
    assert editorial.validate_industries(["technology", "finance", "technology"]) == ["technology", "finance"]
    with pytest.raises(InvalidArgument) as error:
        editorial.validate_industries(["technology", "mining"])
    assert field_of(error) == "industries[1]"


def test_a_columns_calendar_window() -> None:
    today = date(2026, 12, 6)
    assert editorial.plan_window("", "", today) == (today, date(2027, 3, 6))
    assert editorial.plan_window("2027-01-01", "2027-01-31", today) == (date(2027, 1, 1), date(2027, 1, 31))
    for args, field in [
        (("2027-01-31", "2027-01-01"), "to_date"),
        (("2027-01-01", "2028-06-01"), "to_date"),
        (("next week", ""), "from_date"),
    ]:
        with pytest.raises(InvalidArgument) as error:
            editorial.plan_window(*args, today)
        assert field_of(error) == field


def test_a_next_purchase_pass_runs_at_most_once_a_minute_and_an_event_within_it_is_owed_a_pass() -> None:
    start, minute = datetime(2026, 12, 6, 12, 0, tzinfo=UTC), timedelta(minutes=1)
    assert domain.suggestion_pass_due(None, None, start, minute) is None  # never ran: now
    assert domain.suggestion_pass_due(start, None, start + minute, minute) is None  # a minute on: now
    owed = domain.suggestion_pass_due(start, None, start + timedelta(seconds=5), minute)
    assert owed == start + minute  # within the minute: at its end
    assert domain.suggestion_pass_due(start, owed, start + timedelta(seconds=50), minute) == owed
