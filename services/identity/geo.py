"""Where a login came from (§6.1.1.2, R-ACC-3: the activity record keeps login locations), resolved offline
from the client's IP address — no request leaves the platform with a user's address.

Two resolvers behind one interface:
* `MmdbResolver` — a MaxMind DB file (`COUNSEL_GEOIP_DATABASE`): GeoLite2-City / GeoIP2-City, or any database
  in that layout (e.g. ip2region data converted to MMDB). Gives country, province and city, in Chinese where
  the database has Chinese names.
* `RegistryCountryResolver` — the default, needing no file: the country the Regional Internet Registries
  allocated the address block to (the `iptocc` wheel bundles that data; registries agree with commercial
  databases for about 95 % of IPv4 addresses). Country only: no public PyPI package ships province or city
  data that is current and redistributable, so those need the configured database.

Private, loopback, link-local and other non-routable addresses are "local network" without any lookup."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import maxminddb
from iptocc import country_code

LOCAL_NETWORK = "local network"
# Chinese first: the platform's users read Chinese; English when the database has no Chinese name.
NAME_LANGUAGES = ("zh-CN", "en")


@dataclass(frozen=True)
class Location:
    """A resolved place; empty fields are unknown. `country_code` is ISO 3166-1 alpha-2."""

    country_code: str = ""
    country: str = ""
    province: str = ""
    city: str = ""
    local: bool = False

    def label(self) -> str:
        """What the activity record shows: "中国 广东省 深圳市", "CN", "local network" or ""."""
        if self.local:
            return LOCAL_NETWORK
        return " ".join(
            part for part in (self.country or self.country_code, self.province, self.city) if part
        )


class GeoResolver(Protocol):
    def locate(self, ip: str) -> Location:
        """The place of `ip`; an empty Location when it is unknown or not an address."""


def local_or_none(ip: str) -> Location | None:
    """`Location(local=True)` for a non-routable address, an empty Location for text that is not an address,
    None for a public address (which a resolver looks up)."""
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return Location()
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if not address.is_global:
        return Location(local=True)
    return None


def _name(record: Mapping[str, Any] | None) -> str:
    names = (record or {}).get("names") or {}
    return next((str(names[lang]) for lang in NAME_LANGUAGES if names.get(lang)), "")


class MmdbResolver:
    """Looks addresses up in a MaxMind DB file (City or Country layout)."""

    def __init__(self, path: str | Path) -> None:
        # Opening reads the metadata: a missing or corrupt file fails here, at start.
        self.reader = maxminddb.open_database(str(path))

    def locate(self, ip: str) -> Location:
        local = local_or_none(ip)
        if local is not None:
            return local
        record: Any = self.reader.get(ip.strip())  # a JSON-like tree whose layout the database decides
        if not isinstance(record, Mapping):
            return Location()
        country = record.get("country") or record.get("registered_country") or {}
        subdivisions = record.get("subdivisions") or [{}]
        return Location(
            country_code=str(country.get("iso_code", "")),
            country=_name(country),
            province=_name(subdivisions[0]),
            city=_name(record.get("city")),
        )


class RegistryCountryResolver:
    """The country the registries allocated the address to (bundled data, no file, no network)."""

    def locate(self, ip: str) -> Location:
        local = local_or_none(ip)
        if local is not None:
            return local
        code = country_code(ip.strip())
        return Location(country_code=code or "")


def resolver_for(database: str) -> GeoResolver:
    """The MaxMind DB at `database` (`COUNSEL_GEOIP_DATABASE`) when given, else registry countries."""
    return MmdbResolver(database) if database else RegistryCountryResolver()
