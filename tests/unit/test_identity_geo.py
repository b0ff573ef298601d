"""Login locations (§6.1.1.2, R-ACC-3): non-routable addresses are the local network, the bundled registry
data gives countries, and a MaxMind DB (here a tiny one built in the test) gives province and city."""

from __future__ import annotations

from pathlib import Path

import pytest
from maxminddb.errors import InvalidDatabaseError
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from services.identity.geo import (
    LOCAL_NETWORK,
    Location,
    MmdbResolver,
    RegistryCountryResolver,
    resolver_for,
)

LOCAL = [
    "127.0.0.1",
    "10.1.2.3",
    "172.16.0.9",
    "192.168.1.20",
    "100.64.0.1",
    "169.254.1.1",
    "::1",
    "fe80::1",
    "fd00::5",
    "::ffff:192.168.0.1",
]


@pytest.fixture(scope="module")
def city_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A MaxMind DB in the GeoLite2-City layout with one Chinese and one Japanese network."""
    writer = MMDBWriter(
        ip_version=6, ipv4_compatible=True, database_type="GeoLite2-City", languages=["zh-CN", "en"]
    )
    writer.insert_network(
        IPSet(["113.88.0.0/16"]),
        {
            "country": {"iso_code": "CN", "names": {"zh-CN": "中国", "en": "China"}},
            "subdivisions": [{"iso_code": "GD", "names": {"zh-CN": "广东省", "en": "Guangdong"}}],
            "city": {"names": {"zh-CN": "深圳市", "en": "Shenzhen"}},
        },
    )
    writer.insert_network(
        IPSet(["1.0.16.0/20"]),
        {"country": {"iso_code": "JP", "names": {"en": "Japan"}}},  # no Chinese name, no city
    )
    path = tmp_path_factory.mktemp("geo") / "city.mmdb"
    writer.to_db_file(str(path))
    return path


@pytest.mark.parametrize("ip", LOCAL)
def test_non_routable_addresses_are_the_local_network(ip: str, city_database: Path) -> None:
    for resolver in (RegistryCountryResolver(), MmdbResolver(city_database)):
        assert resolver.locate(ip).label() == LOCAL_NETWORK


def test_what_is_not_an_address_has_no_place() -> None:
    assert RegistryCountryResolver().locate("not-an-ip") == Location()
    assert Location().label() == ""


def test_the_bundled_registry_data_gives_countries() -> None:
    resolver = RegistryCountryResolver()
    assert resolver.locate("114.114.114.114").label() == "CN"
    assert resolver.locate("1.0.16.1").label() == "JP"
    assert resolver.locate("8.8.8.8").country_code == "US"


def test_a_maxmind_database_gives_province_and_city_in_chinese(city_database: Path) -> None:
    resolver = resolver_for(str(city_database))
    assert isinstance(resolver, MmdbResolver)
    shenzhen = resolver.locate("113.88.12.34")
    assert (shenzhen.country_code, shenzhen.province, shenzhen.city) == ("CN", "广东省", "深圳市")
    assert shenzhen.label() == "中国 广东省 深圳市"
    assert resolver.locate("1.0.16.1").label() == "Japan"  # English when there is no Chinese name
    assert resolver.locate("8.8.8.8") == Location()  # not in this database


def test_a_configured_database_that_cannot_be_read_fails_at_start(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        resolver_for(str(tmp_path / "missing.mmdb"))
    broken = tmp_path / "broken.mmdb"
    broken.write_bytes(b"not a maxmind db")
    with pytest.raises(InvalidDatabaseError):
        resolver_for(str(broken))
    assert isinstance(resolver_for(""), RegistryCountryResolver)
