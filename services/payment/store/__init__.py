"""Payment persistence, one store per aggregate over one base (`base`: the order row every writer locks
first): one transaction per change, with its stage, its ledger entry and its outbox event."""

from __future__ import annotations

from dataclasses import dataclass

from services.payment.store.documents_issued import Invoices, Vouchers
from services.payment.store.ledger import Ledger
from services.payment.store.orders import Orders
from services.payment.store.payments import Payments
from services.payment.store.reconciliation import Reconciliation
from services.payment.store.refunds import Refunds
from services.payment.store.sandbox import Sandbox
from services.runtime.db import Database
from services.runtime.events import Outbox
from services.runtime.keys import DataKeys


@dataclass(frozen=True)
class PaymentStores:
    """The payment service's stores, built over one database and one outbox."""

    orders: Orders
    payments: Payments
    refunds: Refunds
    vouchers: Vouchers
    invoices: Invoices
    ledger: Ledger
    sandbox: Sandbox
    reconciliation: Reconciliation

    @classmethod
    def build(cls, db: Database, outbox: Outbox, keys: DataKeys) -> PaymentStores:
        """`keys` seal what clients type into orders (store/sealed.py)."""
        sandbox = Sandbox(db)
        return cls(
            orders=Orders(db, outbox, keys),
            payments=Payments(db, outbox, sandbox),
            refunds=Refunds(db, outbox),
            vouchers=Vouchers(db),
            invoices=Invoices(db, keys),
            ledger=Ledger(db),
            sandbox=sandbox,
            reconciliation=Reconciliation(db, sandbox),
        )
