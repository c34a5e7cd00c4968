"""Brand coins: launch, vesting, earn, redeem, transfer, airdrop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ledger import BURN, InsufficientFunds, Ledger, MemoryStore
from market import CoinError, Exchange, MarketConfig, Vesting, vesting_account
from tests.support.clock import Clock

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SYM = "HEATHER"


def make(**cfg) -> tuple[Exchange, Ledger, Clock]:
    clock = Clock(T0)
    ledger = Ledger(MemoryStore(), clock=clock)
    return Exchange(ledger, MarketConfig.bare(**cfg), clock=clock), ledger, clock


def vesting_cfg(cliff: int = 30, days: int = 360) -> dict:
    return {"vesting": Vesting(cliff_days=cliff, duration_days=days)}


def test_launch_creates_the_asset_and_gives_the_seller_its_allocation():
    ex, ledger, _ = make()
    coin = ex.launch(SYM, "Heather's coin", "user:heather", initial_price=5)
    assert coin.max_supply == 1_000_000 and coin.allocation == 100_000
    assert SYM in ledger.store.assets()
    assert ledger.balance("user:heather", SYM) == 100_000
    assert ledger.history("user:heather", asset=SYM)[0].entry_type == "LAUNCH"
    assert ex.last_price(SYM) == 5


def test_launch_with_vesting_parks_the_allocation():
    ex, ledger, _ = make(**vesting_cfg())
    ex.launch(SYM, "Heather's coin", "user:heather", initial_price=5, allocation=3600)
    assert ledger.balance("user:heather", SYM) == 0
    assert ledger.balance(vesting_account(SYM), SYM) == 3600


@pytest.mark.parametrize("symbol", ["heather", "H", "COIN", "USD", "HE ATHER", "X" * 17])
def test_launch_refuses_bad_symbols(symbol):
    ex, ledger, _ = make()
    assets = set(ledger.store.assets())
    with pytest.raises(CoinError):
        ex.launch(symbol, "x", "user:heather", initial_price=5)
    assert set(ledger.store.assets()) == assets and symbol not in ex.coins


def test_symbols_are_unique():
    ex, _, _ = make()
    ex.launch(SYM, "Heather's coin", "user:heather", initial_price=5)
    with pytest.raises(CoinError):
        ex.launch(SYM, "Another", "user:other", initial_price=5)


@pytest.mark.parametrize("kw", [{"initial_price": 0}, {"initial_price": 5, "max_supply": 0},
                                {"initial_price": 5, "allocation": 2_000_000}, {"initial_price": 1.5}])
def test_launch_refuses_bad_numbers(kw):
    ex, ledger, _ = make()
    with pytest.raises(CoinError):
        ex.launch(SYM, "x", "user:heather", **kw)
    assert SYM not in ledger.store.assets() and SYM not in ex.coins


def test_vesting_releases_nothing_before_the_cliff_then_linearly():
    ex, ledger, clock = make(**vesting_cfg(cliff=30, days=360))
    ex.launch(SYM, "Heather's coin", "user:heather", initial_price=5, allocation=3600)
    clock.now = T0 + timedelta(days=29)
    assert ex.release_vested(SYM) == 0
    clock.now = T0 + timedelta(days=90)
    assert ex.release_vested(SYM) == 900
    assert ledger.history("user:heather", asset=SYM)[0].entry_type == "VESTING"
    clock.now = T0 + timedelta(days=400)
    assert ex.release_vested(SYM) == 2700
    assert ledger.balance("user:heather", SYM) == 3600
    assert ex.release_vested(SYM) == 0


def test_earn_gives_one_coin_per_usd_spent_floored():
    ex, ledger, _ = make()
    ex.launch(SYM, "Heather's coin", "user:heather", initial_price=5)
    assert ex.earn(SYM, "user:ann", 10_099) == 100  # $100.99
    assert ledger.balance("user:ann", SYM) == 100
    item = ledger.history("user:ann")[0]
    assert item.entry_type == "EARNED" and item.metadata["usd_cents"] == 10_099


def test_earn_stops_at_max_supply():
    ex, ledger, _ = make()
    ex.launch(SYM, "Heather's coin", "user:heather", initial_price=5, max_supply=1000, allocation=900)
    ex.earn(SYM, "user:ann", 10_000)
    with pytest.raises(CoinError):
        ex.earn(SYM, "user:ann", 100)
    assert ledger.supply(SYM).issued == 1000


def test_earn_from_the_sellers_allocation():
    ex, ledger, _ = make(earn_source="seller")
    ex.launch(SYM, "Heather's coin", "user:heather", initial_price=5, allocation=50)
    ex.earn(SYM, "user:ann", 3000)
    assert ledger.balance("user:heather", SYM) == 20 and ledger.supply(SYM).issued == 50
    with pytest.raises(InsufficientFunds):
        ex.earn(SYM, "user:ann", 3000)


def test_earn_refuses_a_bad_amount():
    ex, _, _ = make()
    ex.launch(SYM, "Heather's coin", "user:heather", initial_price=5)
    for bad in (0, -5, 1.5):
        with pytest.raises(CoinError):
            ex.earn(SYM, "user:ann", bad)


def test_redeem_burns_and_records_the_value_at_the_current_price():
    ex, ledger, _ = make()
    ex.launch(SYM, "Heather's coin", "user:heather", initial_price=5)
    ex.earn(SYM, "user:ann", 10_000)
    ex.limit(SYM, "user:heather", "sell", 100, 8)
    for buyer in ("user:b1", "user:b2", "user:b3", "user:b4", "user:b5"):
        ledger.mint(buyer, 10_000)
        ex.limit(SYM, buyer, "buy", 20, 8)  # 100 coins between six accounts: the price is now 8
    value = ex.redeem(SYM, "user:ann", 40)
    assert value == 320
    assert ledger.balance("user:ann", SYM) == 60 and ledger.balance(BURN, SYM) == 40
    item = ledger.history("user:ann")[0]
    assert item.entry_type == "REDEEM_BURN"
    assert item.metadata["price"] == 8 and item.metadata["value_coin"] == 320
    assert ledger.supply(SYM).burned == 40


def test_redeem_more_than_held_fails_and_changes_nothing():
    ex, ledger, _ = make()
    ex.launch(SYM, "Heather's coin", "user:heather", initial_price=5)
    ex.earn(SYM, "user:ann", 1000)
    with pytest.raises(InsufficientFunds):
        ex.redeem(SYM, "user:ann", 11)
    assert ledger.balance("user:ann", SYM) == 10


def test_transfer_moves_coins_between_users():
    ex, ledger, _ = make()
    ex.launch(SYM, "Heather's coin", "user:heather", initial_price=5)
    ex.transfer(SYM, "user:heather", "user:ann", 25)
    assert ledger.balance("user:ann", SYM) == 25
    assert ledger.history("user:ann")[0].entry_type == "TRANSFER"


def test_airdrop_is_one_atomic_transaction_within_max_supply():
    ex, ledger, _ = make()
    ex.launch(SYM, "Heather's coin", "user:heather", initial_price=5, max_supply=1000, allocation=0)
    assert ex.airdrop(SYM, ["user:a", "user:b", "user:c"], 300) == 900
    entries = ledger.store.entries(entry_type="AIRDROP")
    assert len(entries) == 3 and len({e.tx_id for e in entries}) == 1
    with pytest.raises(CoinError):
        ex.airdrop(SYM, ["user:d", "user:e"], 60)
    assert ledger.supply(SYM).issued == 900


def test_airdrop_from_a_sellers_balance_fails_whole_when_short():
    ex, ledger, _ = make()
    ex.launch(SYM, "Heather's coin", "user:heather", initial_price=5, allocation=100)
    with pytest.raises(InsufficientFunds):
        ex.airdrop(SYM, ["user:a", "user:b", "user:c"], 40, source="user:heather")
    assert ledger.balance("user:a", SYM) == 0 and ledger.balance("user:heather", SYM) == 100
