"""Identity persistence, one store per aggregate over one base (`base`: the database, the outbox, the
person's data keys, the secret-key cipher and the audit trail): one transaction per change, its outbox event
and audit entry included. Personal fields are sealed with the person's data key on the way in and opened on
the way out (`sealed`); callers see `UserView`s in clear."""

from __future__ import annotations

from dataclasses import dataclass

from services.identity import domain
from services.identity.config import IdentitySettings
from services.identity.geo import GeoResolver, resolver_for
from services.identity.store.accounts import Accounts
from services.identity.store.base import IdentityBase
from services.identity.store.cards import Cards
from services.identity.store.enterprises import Enterprises
from services.identity.store.firm_admins import FirmAdmins
from services.identity.store.keys import SigningKeys
from services.identity.store.limits import Lockout
from services.identity.store.login import Logins
from services.identity.store.oidc import OidcSignIns
from services.identity.store.otp import OneTimeCodes
from services.identity.store.privacy import Privacy
from services.identity.store.retention import Retention
from services.identity.store.service_clients import ServiceClients
from services.identity.store.sessions import Sessions
from services.runtime.crypto import FieldCipher
from services.runtime.db import Database
from services.runtime.events import Outbox
from services.runtime.keys import DataKeys


@dataclass(frozen=True)
class IdentityStores:
    """The identity service's stores, built over one base."""

    keys: SigningKeys
    codes: OneTimeCodes
    sessions: Sessions
    logins: Logins
    oidc: OidcSignIns
    accounts: Accounts
    enterprises: Enterprises
    cards: Cards
    service_clients: ServiceClients
    privacy: Privacy
    retention: Retention
    firm_admins: FirmAdmins

    @classmethod
    def build(
        cls,
        db: Database,
        outbox: Outbox,
        cipher: FieldCipher,
        data_keys: DataKeys,
        settings: IdentitySettings,
        passwords: domain.Passwords | None = None,
        policy: domain.AuthPolicy | None = None,
        geo: GeoResolver | None = None,
    ) -> IdentityStores:
        """`policy` narrows the code and lockout limits (tests); `geo` places login addresses
        (COUNSEL_GEOIP_DATABASE by default)."""
        base = IdentityBase(db, outbox, cipher, data_keys, settings, passwords or domain.Passwords())
        policy = policy or domain.AuthPolicy()
        lockout = Lockout(base, policy)
        codes = OneTimeCodes(base, policy)
        keys = SigningKeys(base)
        sessions = Sessions(base, keys, geo or resolver_for(settings.geoip_database))
        accounts = Accounts(base, lockout, codes)
        return cls(
            keys=keys,
            codes=codes,
            sessions=sessions,
            logins=Logins(base, lockout, codes, sessions),
            oidc=OidcSignIns(base, sessions),
            accounts=accounts,
            enterprises=Enterprises(base),
            cards=Cards(base, lockout),
            service_clients=ServiceClients(base, lockout, keys),
            privacy=Privacy(base, accounts),
            retention=Retention(db),
            firm_admins=FirmAdmins(base),
        )
