"""Coin packages: derived figures, admin management, promo and PRO quotes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ledger import InvalidRequest
from ledger.economy.config import load_config
from ledger.economy.errors import NotFound, PromoRejected
from ledger.economy.packages import CoinPackage, PackageCatalog, quote_purchase


def test_the_five_packages_match_the_seed_table():
    catalog = PackageCatalog(load_config())
    rows = [(p.name, p.price_cents, p.base_coins, p.bonus_coins, p.total_coins, p.bonus_percent, p.value_per_usd)
            for p in catalog.list()]
    D = Decimal
    assert rows == [
        ("Starter", 499, 499, 1, 500, D("0.2"), D("100.2")),
        ("Small", 999, 999, 25, 1024, D("2.5"), D("102.5")),
        ("Medium", 1999, 1999, 100, 2099, D("5.0"), D("105.0")),
        ("Large", 4999, 4999, 500, 5499, D("10.0"), D("110.0")),
        ("XL", 9999, 9999, 1500, 11499, D("15.0"), D("115.0")),
    ]


def test_base_coins_follow_the_exchange_rate():
    catalog = PackageCatalog(load_config(overrides={"coin": {"coins_per_usd": 120}}))
    assert catalog.get("starter").base_coins == 598


def test_api_shape_has_the_seed_fields():
    d = PackageCatalog(load_config()).get("large").to_dict()
    assert d["priceUSD"] == 49.99 and d["totalCoins"] == 5499 and d["bonusPercent"] == 10.0


def test_admin_create_edit_disable_reorder(make_economy):
    catalog = make_economy().catalog
    created = catalog.create("mega", "Mega", 19999, 4000)
    assert created.base_coins == 19999 and created.display_order == 6
    catalog.edit("mega", bonus_coins=5000, name="Mega Pack")
    assert catalog.get("mega").bonus_coins == 5000 and catalog.get("mega").name == "Mega Pack"
    catalog.disable("small")
    assert "small" not in [p.id for p in catalog.list()]
    assert "small" in [p.id for p in catalog.list(include_inactive=True)]
    catalog.reorder(["xl", "mega"])
    assert [p.id for p in catalog.list()] == ["xl", "mega", "starter", "medium", "large"]
    with pytest.raises(NotFound):
        catalog.get("small", active_only=True)


@pytest.mark.parametrize("change", [{"price_cents": 0}, {"bonus_coins": -1}, {"base_coins": 1.5}, {"name": ""},
                                    {"colour": "red"}])
def test_a_bad_edit_is_refused_and_changes_nothing(change):
    catalog = PackageCatalog(load_config())
    before = catalog.get("small")
    with pytest.raises(InvalidRequest):
        catalog.edit("small", **change)
    assert catalog.get("small") == before


def test_creating_an_existing_id_is_refused():
    with pytest.raises(InvalidRequest):
        PackageCatalog(load_config()).create("xl", "XL again", 100)


PKG = CoinPackage("large", "Large", 4999, 4999, 500)


def test_first50_adds_half_the_base_coins_on_a_first_purchase():
    q = quote_purchase(load_config(), PKG, promo_code="first50", first_purchase=True)
    assert (q.promo_bonus, q.bonus_coins, q.total_coins) == (2499, 2999, 7998)
    with pytest.raises(PromoRejected):
        quote_purchase(load_config(), PKG, promo_code="FIRST50", first_purchase=False)


def test_welcome100_adds_100_coins_once_per_user():
    q = quote_purchase(load_config(), PKG, promo_code="WELCOME100", first_purchase=False)
    assert q.promo_bonus == 100
    with pytest.raises(PromoRejected):
        quote_purchase(load_config(), PKG, promo_code="WELCOME100", promo_used_before=True)


def test_pro_subscribers_get_ten_percent_more():
    assert quote_purchase(load_config(), PKG, is_pro=True).pro_bonus == 499
    cfg = load_config(overrides={"purchases": {"pro_bonus_bps": 2000}})
    assert quote_purchase(cfg, PKG, is_pro=True).pro_bonus == 999


def test_promo_numbers_come_from_the_config():
    cfg = load_config(overrides={"promos": {"FIRST50": {"bonus_bps": 2500}, "WELCOME100": {"bonus_coins": 7}}})
    assert quote_purchase(cfg, PKG, promo_code="FIRST50").promo_bonus == 1249
    assert quote_purchase(cfg, PKG, promo_code="WELCOME100").promo_bonus == 7


def test_an_unknown_promo_is_rejected():
    with pytest.raises(PromoRejected):
        quote_purchase(load_config(), PKG, promo_code="FREE")
