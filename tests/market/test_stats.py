from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ledger import Ledger, MemoryStore
from market.stats import (
    Ranked,
    all_time,
    by_market_cap,
    by_volume,
    last_price,
    market_cap,
    market_cap_of,
    stats_24h,
    tape,
    top_gainers,
    top_holders,
    top_losers,
)
from market.trades import Trade

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)


def trade(i: int, t: datetime, price: int, qty: int = 1, symbol: str = "HEATHER") -> Trade:
    return Trade(i, symbol, t, price, qty, price * qty, "user:a", "user:b", "buy")


def test_tape_is_newest_first_and_filtered():
    trades = [trade(1, NOW - 3 * H, 10), trade(2, NOW - 2 * H, 11, symbol="BOB"), trade(3, NOW - H, 12),
              trade(4, NOW - H, 13)]
    assert [t.id for t in tape(trades, "HEATHER")] == [4, 3, 1]
    assert [t.id for t in tape(trades, limit=2, offset=1)] == [3, 2]
    assert [t.id for t in tape(trades, "HEATHER", since=NOW - 2 * H)] == [4, 3]


def test_last_price_at_a_time():
    trades = [trade(1, NOW - 3 * H, 10), trade(2, NOW - H, 12)]
    assert last_price(trades, "HEATHER") == 12
    assert last_price(trades, "HEATHER", NOW - 2 * H) == 10
    assert last_price(trades, "HEATHER", NOW - 4 * H) is None


def test_24h_change_is_against_the_last_price_before_the_window():
    trades = [trade(1, NOW - 30 * H, 100), trade(2, NOW - 25 * H, 80), trade(3, NOW - 5 * H, 90, 2),
              trade(4, NOW - H, 120, 3)]
    s = stats_24h(trades, "HEATHER", NOW)
    assert (s.reference, s.last, s.change, s.change_bps) == (80, 120, 40, 5000)
    assert s.change_pct == 50.0
    assert (s.high, s.low, s.volume, s.quote_volume, s.trades) == (120, 90, 5, 540, 2)


def test_24h_of_a_young_coin_starts_at_its_first_trade():
    s = stats_24h([trade(1, NOW - 2 * H, 50), trade(2, NOW - H, 45)], "HEATHER", NOW)
    assert (s.reference, s.change, s.change_bps) == (50, -5, -1000)


def test_24h_without_recent_trades_has_zero_change_and_volume():
    s = stats_24h([trade(1, NOW - 48 * H, 50)], "HEATHER", NOW)
    assert (s.last, s.change, s.volume, s.trades) == (50, 0, 0, 0)


def test_negative_bps_rounds_toward_zero():
    s = stats_24h([trade(1, NOW - 2 * H, 3), trade(2, NOW - H, 2)], "HEATHER", NOW)
    assert s.change_bps == -3333


def test_all_time_high_and_low_keep_first_time_reached():
    trades = [trade(1, NOW - 3 * H, 10), trade(2, NOW - 2 * H, 30), trade(3, NOW - H, 30), trade(4, NOW, 5)]
    x = all_time(trades, "HEATHER")
    assert x is not None
    assert (x.high, x.high_time, x.low, x.low_time) == (30, NOW - 2 * H, 5, NOW)
    assert all_time(trades, "BOB") is None


def _ledger_with_holders() -> Ledger:
    ledger = Ledger(MemoryStore())
    ledger.create_asset("HEATHER", 0)
    ledger.create_asset("BOB", 0)
    ledger.mint("user:alice", 500, "HEATHER")
    ledger.mint("user:bob", 300, "HEATHER")
    ledger.mint("user:carol", 200, "HEATHER")
    ledger.mint("market:curve:HEATHER", 10_000, "HEATHER")
    ledger.mint("seller:heather", 5_000, "HEATHER")
    ledger.burn("user:carol", 100, "HEATHER")
    ledger.mint("user:bob", 1_000, "BOB")
    return ledger


def test_market_cap_uses_circulating_supply_from_the_ledger():
    ledger = _ledger_with_holders()
    assert market_cap(7, 100) == 700
    assert market_cap_of(ledger, "HEATHER", 3) == 3 * (500 + 300 + 200 + 10_000 + 5_000 - 100)


def test_market_cap_leaderboard():
    ledger = _ledger_with_holders()
    board = by_market_cap(ledger, {"HEATHER": 1, "BOB": 100})
    assert board == [Ranked(1, "BOB", 100_000), Ranked(2, "HEATHER", 15_900)]


def test_top_holders_excludes_system_accounts_and_counts_held_coins():
    ledger = _ledger_with_holders()
    ledger.lock("user:bob", 250, "HEATHER")  # a resting sell order
    board = top_holders(ledger, "HEATHER", limit=2)
    assert board == [Ranked(1, "user:alice", 500), Ranked(2, "user:bob", 300)]
    assert [r.key for r in top_holders(ledger, "HEATHER")] == ["user:alice", "user:bob", "user:carol"]


def test_top_holders_from_a_balance_mapping():
    board = top_holders({"user:x": 5, "system:mint": -9, "user:y": 7, "market:fees": 100}, "X")
    assert board == [Ranked(1, "user:y", 7), Ranked(2, "user:x", 5)]


def test_volume_gainers_and_losers():
    trades = [
        trade(1, NOW - 30 * H, 100, symbol="UP"), trade(2, NOW - H, 150, 10, symbol="UP"),
        trade(3, NOW - 30 * H, 100, symbol="DOWN"), trade(4, NOW - H, 60, 100, symbol="DOWN"),
        trade(5, NOW - 30 * H, 100, symbol="FLAT"), trade(6, NOW - H, 100, 1, symbol="FLAT"),
        trade(7, NOW - 30 * H, 100, 1000, symbol="OLD"),
    ]
    assert by_volume(trades, NOW) == [Ranked(1, "DOWN", 6000), Ranked(2, "UP", 1500), Ranked(3, "FLAT", 100)]
    assert top_gainers(trades, NOW) == [Ranked(1, "UP", 5000)]
    assert top_losers(trades, NOW) == [Ranked(1, "DOWN", -4000)]
