"""Demo catalog (API.md "Demo data"): products of every category (demo_products.py), firms in Beijing,
Shanghai and Shenzhen, the demo lawyers `lawyer1@demo.counsel.test` … `lawyer10@…` and a few approved
articles. The catalog's demo lawyers are the only ones: consultation and documents copy them from the
`lawyer.changed` events this seed publishes. Idempotent: ids are fixed, rows are merged."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from services.catalog.demo_products import demo_products
from services.catalog.models import (
    DATA_KEYS,
    TABLES,
    ArticleRow,
    ArticleVersionRow,
    ColumnIssueRow,
    ColumnRow,
    FirmRow,
    LawyerRow,
    ProductRow,
    ProductVersionRow,
)
from services.catalog.qualifications import today_in_china
from services.catalog.seed_questions import demo_questions
from services.catalog.store import CatalogStores
from services.runtime.config import Settings
from services.runtime.db import Database
from services.runtime.events import Outbox
from services.runtime.keys import DataKeys, master_key
from services.runtime.records import utcnow

DEMO_DOMAIN = "demo.counsel.test"


def demo_user_id(email: str) -> str:
    """The id identity's demo seed gives the account `email` (same derivation as
    services.identity.seed.demo_user_id; a unit test keeps the two in step)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"counsel-demo:{email}").hex


# Firms open Monday to Friday 09:00-18:00, some also Saturday 10:00-16:00.
WEEKDAYS_9_TO_18 = [{"weekday": day, "opens": "09:00", "closes": "18:00"} for day in range(1, 6)] + [
    {"weekday": 6, "opens": "10:00", "closes": "16:00"}
]


# Every demo firm has a cooperation agreement in force for ten years and every demo lawyer verified
# credentials, so the demo journeys find them assignable (§4.1.2, §4.2.1).
DEMO_AGREEMENT = (date(2026, 1, 1), date(2036, 12, 31))


def next_inspection_due(today: date) -> date:
    """The demo lawyers' annual inspection date: the next 31 May (the inspections' usual deadline)."""
    this_year = date(today.year, 5, 31)
    return this_year if today <= this_year else date(today.year + 1, 5, 31)


def demo_firms() -> list[FirmRow]:
    firms = _demo_firm_profiles()
    for firm in firms:
        firm.status = "active"
        firm.agreement_starts_on, firm.agreement_ends_on = DEMO_AGREEMENT
    return firms


def _demo_firm_profiles() -> list[FirmRow]:
    created = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        FirmRow(
            id="firm-beijing-zhengda",
            name="北京正大律师事务所 Zhengda Law Firm (Beijing)",
            city="北京",
            address="北京市朝阳区建国门外大街1号国贸大厦A座20层",
            lat=39.9087,
            lng=116.4605,
            phone="010-65050000",
            description="专注公司、合同与劳动法律服务。Corporate, contract and employment law.",
            opening_hours=WEEKDAYS_9_TO_18,
            transit_routes=[
                "地铁1号线、10号线国贸站 B 口 Metro lines 1/10, Guomao, exit B",
                "公交 1 路 Bus 1",
            ],
            staff=[
                {"name": "王建国 Wang Jianguo", "role": "主任律师 Managing partner", "lawyer_id": "lawyer-1"},
                {"name": "李静 Li Jing", "role": "行政主管 Office manager", "lawyer_id": ""},
            ],
            admin_user_ids=[demo_user_id(f"firm_admin@{DEMO_DOMAIN}")],
            created_at=created,
        ),
        FirmRow(
            id="firm-beijing-zhixin",
            name="北京知信律师事务所 Zhixin IP Law Firm (Beijing)",
            city="北京",
            address="北京市海淀区中关村大街27号中关村大厦12层",
            lat=39.9834,
            lng=116.3164,
            phone="010-62620000",
            description="知识产权与科技企业法律服务。IP and technology companies.",
            opening_hours=WEEKDAYS_9_TO_18[:5],
            transit_routes=["地铁4号线中关村站 A 口 Metro line 4, Zhongguancun, exit A"],
            staff=[{"name": "赵敏 Zhao Min", "role": "合伙人 Partner", "lawyer_id": "lawyer-4"}],
            admin_user_ids=[],
            created_at=created,
        ),
        FirmRow(
            id="firm-shanghai-hengtai",
            name="上海恒泰律师事务所 Hengtai Law Firm (Shanghai)",
            city="上海",
            address="上海市浦东新区陆家嘴环路1000号恒生银行大厦35层",
            lat=31.2397,
            lng=121.4998,
            phone="021-68880000",
            description="税务、金融与争议解决。Tax, finance and dispute resolution.",
            opening_hours=WEEKDAYS_9_TO_18,
            transit_routes=["地铁2号线陆家嘴站 1 号口 Metro line 2, Lujiazui, exit 1"],
            staff=[
                {"name": "陈志强 Chen Zhiqiang", "role": "主任律师 Managing partner", "lawyer_id": "lawyer-6"}
            ],
            admin_user_ids=[],
            created_at=created,
        ),
        FirmRow(
            id="firm-shenzhen-nanshan",
            name="深圳南山律师事务所 Nanshan Law Firm (Shenzhen)",
            city="深圳",
            address="深圳市南山区科技园科苑路15号科兴科学园B栋8层",
            lat=22.5431,
            lng=113.9446,
            phone="0755-86860000",
            description="科技企业、劳动用工与诉讼。Tech companies, employment and litigation.",
            opening_hours=WEEKDAYS_9_TO_18[:5],
            transit_routes=["地铁1号线高新园站 D 口 Metro line 1, Hi-Tech Park, exit D"],
            staff=[{"name": "刘洋 Liu Yang", "role": "合伙人 Partner", "lawyer_id": "lawyer-9"}],
            admin_user_ids=[],
            created_at=created,
        ),
    ]


def _hours(*days: int, start: str = "09:00", end: str = "17:30") -> list[dict[str, Any]]:
    return [{"weekday": day, "start": start, "end": end} for day in days]


# The demo lawyers on duty around the clock, every day: between them they practise every legal field, so a
# question is assigned to someone on duty whatever the hour or the day, and a meeting can start within the
# next 30 minutes (the journeys run at any time).
ON_CALL = (5, 6, 8, 9, 10)
AROUND_THE_CLOCK = _hours(1, 2, 3, 4, 5, 6, 7, start="00:00", end="24:00")


def _lawyer_hours(n: int) -> list[dict[str, Any]]:
    if n in ON_CALL:
        return AROUND_THE_CLOCK
    return _hours(1, 2, 3, 4, 5) if n % 2 else _hours(1, 3, 5, start="10:00", end="19:00")


# (firm, name, specialty, fields, years, online, bio)
_LAWYERS: list[tuple[str, str, str, list[str], int, bool, str]] = [
    (
        "firm-beijing-zhengda",
        "王建国 Wang Jianguo",
        "合同纠纷与公司并购 Contracts and M&A",
        ["contract", "company"],
        18,
        True,
        "擅长合同审查、股权转让与公司治理。",
    ),
    (
        "firm-beijing-zhengda",
        "孙丽 Sun Li",
        "劳动争议与人事合规 Employment disputes and HR compliance",
        ["labour"],
        9,
        True,
        "处理劳动合同纠纷、工伤赔偿、竞业限制与裁员方案。",
    ),
    (
        "firm-beijing-zhengda",
        "周磊 Zhou Lei",
        "商事诉讼与仲裁 Commercial litigation and arbitration",
        ["litigation", "contract"],
        12,
        False,
        "代理买卖合同、借款合同纠纷诉讼与仲裁。",
    ),
    (
        "firm-beijing-zhixin",
        "赵敏 Zhao Min",
        "知识产权 专利与商标 IP: patents and trademarks",
        ["ip"],
        11,
        True,
        "专利侵权诉讼、商标注册与维权、软件著作权。",
    ),
    (
        "firm-beijing-zhixin",
        "吴芳 Wu Fang",
        "数据合规与技术合同 Data compliance and tech contracts",
        ["ip", "contract"],
        6,
        False,
        "个人信息保护合规、技术许可合同、开源协议审查。",
    ),
    (
        "firm-shanghai-hengtai",
        "陈志强 Chen Zhiqiang",
        "税务筹划与税务争议 Tax planning and disputes",
        ["tax", "finance"],
        15,
        True,
        "企业所得税筹划、税务稽查应对、跨境税务。",
    ),
    (
        "firm-shanghai-hengtai",
        "黄婷 Huang Ting",
        "金融与融资 Finance and financing",
        ["finance", "company"],
        7,
        False,
        "股权融资、私募基金、融资租赁合同。",
    ),
    (
        "firm-shanghai-hengtai",
        "林涛 Lin Tao",
        "房地产与建设工程 Real estate and construction",
        ["real_estate", "litigation"],
        10,
        True,
        "商业地产租赁、建设工程施工合同纠纷。",
    ),
    (
        "firm-shenzhen-nanshan",
        "刘洋 Liu Yang",
        "劳动用工与股权激励 Employment and equity incentives",
        ["labour", "company"],
        8,
        True,
        "劳动用工合规、股权激励方案、员工持股平台。",
    ),
    (
        "firm-shenzhen-nanshan",
        "郑凯 Zheng Kai",
        "刑事合规与诉讼 Criminal compliance and litigation",
        ["litigation", "other"],
        4,
        False,
        "企业刑事合规、经济犯罪辩护、民事诉讼。",
    ),
]


def demo_lawyers() -> list[LawyerRow]:
    """`lawyer-<n>` is the profile of the account lawyer<n>@demo.counsel.test."""
    created = datetime(2026, 1, 1, tzinfo=UTC)
    rows = []
    for n, (firm, name, specialty, fields, years, online, bio) in enumerate(_LAWYERS, start=1):
        rows.append(
            LawyerRow(
                id=f"lawyer-{n}",
                user_id=demo_user_id(f"lawyer{n}@{DEMO_DOMAIN}"),
                firm_id=firm,
                name=name,
                specialty=specialty,
                bio=bio,
                fields=fields,
                service_hours=_lawyer_hours(n),
                service_exceptions=[
                    {
                        "date": "2027-01-01",
                        "available": False,
                        "start": "",
                        "end": "",
                        "note": "元旦 New Year",
                    }
                ],
                years_of_practice=years,
                licence_number=f"1101{2008 + n:04d}{n:09d}",
                online=online,
                active=True,
                verification="verified",
                inspection_due_on=next_inspection_due(today_in_china(utcnow())),
                created_at=created,
                updated_at=created,
            )
        )
    return rows


# Editorial columns (§4.2.2): (id, kind, name, description, industries).
_COLUMNS = [
    ("column-laws", "laws_regulations", "法律法规", "新法速递与条文解读。", []),
    ("column-developments", "legal_developments", "法律动态", "立法、司法与监管的最新动向。", []),
    ("column-cases", "cases", "案例精选", "典型判例与律师点评。", []),
    ("column-templates", "contract_templates", "合同范本", "常用合同范本，附律师逐条注释。", []),
    ("column-risk-tech", "risk_alerts", "科技企业风险提示", "数据合规、知识产权与用工风险。", ["technology"]),
    (
        "column-risk-manufacturing",
        "risk_alerts",
        "制造业风险提示",
        "安全生产、劳务派遣与供应链合同风险。",
        ["manufacturing"],
    ),
]

# A column's planned issues, the editors' calendar: (id, column, date, title).
_PLANNED_ISSUES = [
    ("issue-risk-tech-2027-01", "column-risk-tech", date(2027, 1, 5), "个人信息出境合规要点"),
    ("issue-risk-tech-2027-02", "column-risk-tech", date(2027, 1, 19), "开源软件许可的侵权风险"),
    ("issue-laws-2027-01", "column-laws", date(2027, 1, 12), "新《公司法》出资期限规定解读"),
]

# (id, kind, column, industries, author (a demo account), title, body)
_ARTICLES = [
    (
        "article-labour-contract-law",
        "news",
        "column-laws",
        [],
        "editor",
        "劳动合同试用期的最新规定解读 Probation periods under the Labour Contract Law",
        "《劳动合同法》第十九条规定：劳动合同期限三个月以上不满一年的，试用期不得超过一个月；"
        "一年以上不满三年的，试用期不得超过二个月；三年以上固定期限和无固定期限的劳动合同，试用期不得超过六个月。"
        "同一用人单位与同一劳动者只能约定一次试用期。",
    ),
    (
        "article-trademark-case",
        "case",
        "column-cases",
        [],
        "editor",
        "经典案例：商标侵权与不正当竞争纠纷 Case: trademark infringement and unfair competition",
        "某科技公司未经许可在同类商品上使用与他人注册商标近似的标识，法院认定构成商标侵权，"
        "判决停止侵权并赔偿经济损失。本案对企业品牌保护与知识产权维权具有参考意义。",
    ),
    (
        "article-sales-contract-template",
        "contract_template",
        "column-templates",
        [],
        "lawyer1",
        "买卖合同范本（附律师注释）Sales contract template with annotations",
        "第一条 标的物：名称、规格、数量。【律师注释：标的物描述应具体明确，避免歧义。】"
        "第二条 价款与支付：总价款及支付方式。【律师注释：约定分期付款时应明确每期金额与期限。】"
        "第三条 违约责任。【律师注释：违约金不宜过分高于实际损失。】",
    ),
    (
        "article-personal-information-risk",
        "news",
        "column-risk-tech",
        ["technology"],
        "lawyer1",
        "风险提示：收集敏感个人信息须取得单独同意",
        "依据《个人信息保护法》第二十九条，处理敏感个人信息应当取得个人的单独同意。"
        "App 与 SaaS 企业不得以一揽子授权代替单独同意，否则可能被责令改正、没收违法所得并处罚款。"
        "建议企业梳理数据清单，对人脸、位置、金融账户等信息设置单独的同意弹窗并留存记录。",
    ),
    (
        "article-workplace-safety",
        "news",
        "column-developments",
        ["manufacturing"],
        "editor",
        "安全生产法要点：企业主要负责人对本单位安全生产全面负责",
        "《安全生产法》明确生产经营单位的主要负责人是本单位安全生产第一责任人。"
        "未履行安全生产管理职责导致事故的，主要负责人可能被处以罚款，构成犯罪的依法追究刑事责任。"
        "制造企业应建立全员安全生产责任制并定期开展隐患排查。",
    ),
    (
        "article-labour-dispatch-risk",
        "news",
        "column-risk-manufacturing",
        ["manufacturing"],
        "lawyer1",
        "风险提示：劳务派遣用工不得超过用工总量的百分之十",
        "依据《劳务派遣暂行规定》，用工单位使用的被派遣劳动者数量不得超过其用工总量的百分之十，"
        "且只能在临时性、辅助性或者替代性的工作岗位上使用。超比例用工可能被责令限期改正并处以罚款。",
    ),
]

# Frequently asked questions (kind "faq": the title asks, the body answers), approved like every article;
# the instant chat answers a client's general question from these at once (R-CS-1, R-CON-1).
_FAQ = [
    (
        "faq-consultation-price",
        "专业咨询怎么收费？咨询律师要多少钱？ How much does a professional consultation cost? What is the price?",
        "专业咨询按产品和服务档位收费，价格在产品页面明码标示（GET /api/v1/products?category=consultation）。"
        "下单并支付后即可提交问题，律师在所选档位的时限内（如 24 小时）答复。",
    ),
    (
        "faq-reply-time",
        "提交咨询后律师多久回复？ How soon does a lawyer reply to my question?",
        "专业咨询由系统按法律领域分配专业律师，律师须在服务档位规定的时限内首次答复（标准档 24 小时）。"
        "超时未答复会自动升级并重新分配，原定期限保持可见。",
    ),
    (
        "faq-refund",
        "订单可以退款吗？怎么申请退款？ Can I get a refund for an order?",
        "未开始服务的订单可以全额退款；已部分履行的订单可申请部分退款。请在订单详情中申请，"
        "退款原路返回，记录在账本中可查。",
    ),
    (
        "faq-invoice",
        "付款后怎么开发票？ How do I get an invoice after paying?",
        "支付成功后系统自动生成电子发票和数字凭证，可在订单详情中下载发票 PDF，凭证可在线验证真伪。",
    ),
    (
        "faq-payment-methods",
        "支持哪些支付方式？可以用微信或支付宝付款吗？ Which payment methods are supported? Can I pay with WeChat or Alipay?",
        "支持支付宝、微信支付和网上银行支付。下单后在订单页面选择支付方式即可。",
    ),
    (
        "faq-document-delivery",
        "合同文书起草需要多长时间？多久能完成交付？ How long does drafting a contract document take?",
        "文书服务按复杂程度分为简单、标准、复杂三档，分别在 24、48、72 小时内交付，"
        "交付后可在 3、5、7 天内不限次数申请修改。",
    ),
    (
        "faq-booking",
        "怎么预约律师面谈？ How do I book a face-to-face meeting with a lawyer?",
        "在律师或律所页面选择可预约时段并下单，支付后预约确认，系统会在见面前提醒您。",
    ),
    (
        "faq-privacy",
        "我的咨询内容和个人信息会保密吗？个人信息安全吗？ Is my personal information kept confidential and safe?",
        "会。个人敏感信息加密存储，员工访问均有审计记录；您可随时导出或删除个人数据。",
    ),
    (
        "faq-password-reset",
        "忘记密码怎么办？怎么登录？ I forgot my password, how can I sign in?",
        "可以使用手机号或邮箱验证码登录，登录后在个人设置中重新设置密码。",
    ),
    (
        "faq-membership-card",
        "会员卡怎么使用？ How do I use a membership card?",
        "律所发放的会员卡可凭卡号和密码登录，也可以在个人设置中绑定到现有账户。",
    ),
    (
        "faq-service-hours",
        "客服的服务时间是什么时候？客服几点上班？ When is customer service available?",
        "智能客服全天 24 小时即时答复常见问题；人工客服每天 8:00–22:00 在线，其余时间留言会在上班后尽快处理。",
    ),
    (
        "faq-complaint",
        "对服务不满意怎么投诉？ How do I complain about a service?",
        "可以在咨询详情中提交投诉，客服会跟进处理并告知处理结果。",
    ),
]


def demo_columns() -> list[ColumnRow]:
    created = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        ColumnRow(
            id=column_id,
            kind=kind,
            name=name,
            description=description,
            industries=industries,
            created_at=created,
        )
        for column_id, kind, name, description, industries in _COLUMNS
    ]


def demo_column_issues() -> list[ColumnIssueRow]:
    editor = demo_user_id(f"editor@{DEMO_DOMAIN}")
    return [
        ColumnIssueRow(
            id=issue_id,
            column_id=column_id,
            planned_for=planned_for,
            title=title,
            planned_by=editor,
            created_at=datetime(2026, 12, 1, tzinfo=UTC),
        )
        for issue_id, column_id, planned_for, title in _PLANNED_ISSUES
    ]


def demo_articles() -> list[tuple[ArticleRow, list[ArticleVersionRow]]]:
    """Approved (published) articles, each reviewed by reviewer@demo.counsel.test (§9.5); the risk alerts and
    the annotated template are written by a lawyer (lawyer1@), as §4.2.1 lets them."""
    published = datetime(2026, 2, 1, tzinfo=UTC)
    reviewer = demo_user_id(f"reviewer@{DEMO_DOMAIN}")
    result = []
    faqs: list[tuple[str, str, str, list[str], str, str, str]] = [
        (article_id, "faq", "", [], "editor", title, body) for article_id, title, body in _FAQ
    ]
    for article_id, kind, column_id, industries, account, title, body in [*_ARTICLES, *faqs]:
        author = demo_user_id(f"{account}@{DEMO_DOMAIN}")
        article = ArticleRow(
            id=article_id,
            kind=kind,
            author_id=author,
            column_id=column_id,
            industries=industries,
            latest_version=1,
            published_version=1,
            published_at=published,
            created_at=published,
            updated_at=published,
        )
        version = ArticleVersionRow(
            article_id=article_id,
            version=1,
            status="approved",
            title=title,
            body=body,
            author_id=author,
            reviewer_id=reviewer,
            review_comment="内容准确，同意发布。Accurate; approved.",
            reviewed_at=published,
            created_at=published,
        )
        result.append((article, [version]))
    return result


def demo_product_versions() -> list[tuple[ProductRow, ProductVersionRow]]:
    """The demo products, each as its version 1 written by editor@ and approved by reviewer@ (§9.5)."""
    editor = demo_user_id(f"editor@{DEMO_DOMAIN}")
    reviewer = demo_user_id(f"reviewer@{DEMO_DOMAIN}")
    return [
        (
            product,
            ProductVersionRow(
                product_id=product.id,
                version=1,
                status="approved",
                author_id=editor,
                reviewer_id=reviewer,
                review_comment="内容与价格准确，同意发布。",
                reviewed_at=product.created_at,
                created_at=product.created_at,
                updated_at=product.created_at,
            ),
        )
        for product in demo_products()
    ]


async def seed_demo(stores: CatalogStores) -> None:
    """Merge the demo catalog into the catalog's tables through its stores; each demo lawyer's
    `lawyer.changed` goes to the outbox, from which consultation and documents fill their copies."""
    for product, version in demo_product_versions():
        await stores.product_versions.seed_product(product, version)
    for firm in demo_firms():
        await stores.firms.upsert_firm(firm)
    await stores.assessments.upsert_questions(demo_questions())
    # Qualified before their `lawyer.changed` goes out, so the rosters assign the demo lawyers at once.
    await stores.assessments.seed_qualifications(demo_lawyers())
    for lawyer in demo_lawyers():
        await stores.lawyers.upsert_lawyer(lawyer)
    for column in demo_columns():
        await stores.columns.upsert_column(column)
    for article, versions in demo_articles():
        await stores.articles.upsert_article(article, versions)
    for issue in demo_column_issues():
        await stores.columns.upsert_issue(issue)


async def seed(db: Database, settings: Settings) -> None:
    """The local stack's seed of the catalog (deploy/local/bootstrap.py)."""
    keys = DataKeys(db, master_key(settings), DATA_KEYS)
    await seed_demo(CatalogStores.build(db, Outbox("catalog", settings, TABLES), keys))
