"""Catalog persistence, one store per aggregate over one base (`base`: search, paging and the firm scoping a
firm admin's call meets in every query it reaches): one transaction per change, its outbox event included."""

from __future__ import annotations

from dataclasses import dataclass

from services.catalog.files import QualificationFiles
from services.catalog.store.articles import Articles
from services.catalog.store.assessments import Assessments
from services.catalog.store.columns import Columns
from services.catalog.store.firms import Firms
from services.catalog.store.lawyers import Lawyers
from services.catalog.store.onboarding import Onboarding
from services.catalog.store.product_versions import ProductVersions
from services.catalog.store.products import Products
from services.catalog.store.quality import Quality
from services.catalog.store.recommendations import EnterpriseHistories
from services.catalog.store.reviews import OrderRecords, Reviews
from services.catalog.store.views import Views
from services.runtime.db import Database
from services.runtime.events import Outbox
from services.runtime.keys import DataKeys


@dataclass(frozen=True)
class CatalogStores:
    """The catalog service's stores, built over one database and one outbox; `keys` seal the reviews' texts
    (the erasure consumer destroys them)."""

    db: Database
    keys: DataKeys
    products: Products
    product_versions: ProductVersions
    firms: Firms
    lawyers: Lawyers
    articles: Articles
    columns: Columns
    reviews: Reviews
    orders: OrderRecords
    views: Views
    onboarding: Onboarding

    quality: Quality
    assessments: Assessments

    histories: EnterpriseHistories

    @classmethod
    def build(
        cls, db: Database, outbox: Outbox, keys: DataKeys, files: QualificationFiles | None = None
    ) -> CatalogStores:
        """`files`: the qualifications bucket; without it (the seed, tests of other things) uploads fail."""
        firms = Firms(db)
        return cls(
            db=db,
            keys=keys,
            products=Products(db, keys),
            product_versions=ProductVersions(db, outbox),
            firms=firms,
            lawyers=Lawyers(db, outbox, firms),
            articles=Articles(db, outbox),
            columns=Columns(db),
            reviews=Reviews(db, outbox, keys),
            orders=OrderRecords(),
            views=Views(db, outbox),
            onboarding=Onboarding(db, outbox, files),
            quality=Quality(db, outbox),
            assessments=Assessments(db, outbox),
            histories=EnterpriseHistories(db, outbox),
        )
