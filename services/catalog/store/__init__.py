"""Catalog persistence, one store per aggregate over one base (`base`: search, paging and the firm scoping a
firm admin's call meets in every query it reaches): one transaction per change, its outbox event included."""

from __future__ import annotations

from dataclasses import dataclass

from services.catalog.store.articles import Articles
from services.catalog.store.firms import Firms
from services.catalog.store.lawyers import Lawyers
from services.catalog.store.products import Products
from services.catalog.store.recommendations import EnterpriseHistories
from services.catalog.store.reviews import OrderRecords, Reviews
from services.catalog.store.views import Views
from services.runtime.db import Database
from services.runtime.events import Outbox


@dataclass(frozen=True)
class CatalogStores:
    """The catalog service's stores, built over one database and one outbox."""

    db: Database
    products: Products
    firms: Firms
    lawyers: Lawyers
    articles: Articles
    reviews: Reviews
    orders: OrderRecords
    views: Views
    histories: EnterpriseHistories

    @classmethod
    def build(cls, db: Database, outbox: Outbox) -> CatalogStores:
        firms = Firms(db)
        return cls(
            db=db,
            products=Products(db, outbox),
            firms=firms,
            lawyers=Lawyers(db, outbox, firms),
            articles=Articles(db, outbox),
            reviews=Reviews(db, outbox),
            orders=OrderRecords(),
            views=Views(db, outbox),
            histories=EnterpriseHistories(db, outbox),
        )
