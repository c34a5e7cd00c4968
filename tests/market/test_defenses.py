"""Each defense: one scripted pump (or dump) it stops, with an alert saying when and why,
and one honest flow it lets through without a word."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ledger import Ledger, MemoryStore
from market import (
    CircuitBreaker,
    CoinError,
    DailyLimit,
    DefenseAlert,
    Exchange,
    HoldingCap,
    MarketConfig,
    MinHold,
    OrderStatus,
    PriceBand,
    PriceFloor,
    RateLimit,
    Vesting,
)
from tests.support.clock import Clock

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SYM = "HEATHER"
SELLER = "user:heather"
MAKER = "user:mm"
PUMPER = "user:pump"
HONEST = "user:ann"


def make(allocation: int = 0, **cfg) -> tuple[Exchange, Ledger, Clock]:
    clock = Clock(T0)
    ledger = Ledger(MemoryStore(), clock=clock)
    ex = Exchange(ledger, MarketConfig.bare(**cfg), clock=clock)
    for u in (MAKER, PUMPER, HONEST, "platform:buyback"):
        ledger.mint(u, 100_000_000)
    ex.launch(SYM, "Heather's coin", SELLER, initial_price=100, allocation=allocation)
    ex.airdrop(SYM, [MAKER, PUMPER, HONEST], 40_000)
    clock.advance(days=2)  # the airdrop is old news for the minimum hold
    return ex, ledger, clock


def alerts(ex: Exchange, defense: str) -> list:
    return [a for a in ex.alerts if a.defense == defense]


# -- price band ---------------------------------------------------------------------------
BAND = {"price_band": PriceBand(width_bps=1000)}


def test_band_rejects_a_buy_limit_far_above_the_reference():
    ex, _, clock = make(**BAND)
    order = ex.limit(SYM, PUMPER, "buy", 10, 150)
    assert order.status == OrderStatus.REJECTED and order.reason == "price_band"
    [alert] = alerts(ex, "price_band")
    assert alert.action == "rejected" and alert.time == clock.now and "90..110" in alert.reason


def test_band_stops_a_sweep_at_its_edge():
    ex, _, _ = make(**BAND)
    for p in (105, 108, 115, 130):
        ex.limit(SYM, MAKER, "sell", 10, p)
    order = ex.market_order(SYM, PUMPER, "buy", 40, protection=200)
    assert [t.price for t in order.trades] == [105, 108]
    assert order.status == OrderStatus.CANCELLED and order.reason == "price_band"
    assert alerts(ex, "price_band")[0].action == "stopped"


def test_band_lets_trading_within_it_pass():
    ex, _, _ = make(**BAND)
    ex.limit(SYM, MAKER, "sell", 10, 104)
    ex.limit(SYM, MAKER, "buy", 10, 96)
    assert ex.limit(SYM, HONEST, "buy", 10, 104).status == OrderStatus.FILLED
    assert ex.limit(SYM, HONEST, "sell", 10, 96).status == OrderStatus.FILLED
    assert ex.alerts == []


def test_band_follows_the_robust_price():
    ex, ledger, clock = make(**BAND)
    ex.limit(SYM, MAKER, "sell", 100, 108)
    for i in range(5):
        ledger.mint(f"user:buyer{i}", 100_000)
        ex.limit(SYM, f"user:buyer{i}", "buy", 20, 108)  # 100 coins, six accounts: the band is now 98..118
    clock.advance(minutes=1)
    assert ex.limit(SYM, HONEST, "buy", 1, 117).status == OrderStatus.OPEN
    assert ex.limit(SYM, HONEST, "buy", 1, 119).reason == "price_band"


def test_band_does_not_follow_trades_between_too_few_accounts():
    ex, _, clock = make(**BAND)
    ex.limit(SYM, MAKER, "sell", 100, 108)
    ex.limit(SYM, HONEST, "buy", 100, 108)
    clock.advance(minutes=1)
    assert ex.limit(SYM, HONEST, "buy", 1, 111).reason == "price_band"  # still 90..110


# -- circuit breaker ------------------------------------------------------------------------
def breaker(mode: str = "reject") -> dict:
    return {"circuit_breaker": CircuitBreaker(move_bps=2000, window_seconds=300, pause_seconds=900, mode=mode)}


def pump(ex: Exchange, clock: Clock, prices: list[int]) -> list:
    out = []
    for p in prices:
        ex.limit(SYM, MAKER, "sell", 10, p)
        out.append(ex.limit(SYM, PUMPER, "buy", 10, p, tif="IOC"))
        clock.advance(seconds=30)
    return out


def test_breaker_pauses_matching_when_the_price_jumps():
    ex, _, clock = make(**breaker())
    orders = pump(ex, clock, [100, 110, 119, 125])
    assert [o.status for o in orders[:3]] == [OrderStatus.FILLED] * 3
    assert orders[3].trades == [] and orders[3].reason == "circuit_breaker"
    [paused] = alerts(ex, "circuit_breaker")
    assert paused.action == "paused" and "until" in paused.reason
    # while paused, new orders are refused
    late = ex.limit(SYM, PUMPER, "buy", 10, 125)
    assert late.status == OrderStatus.REJECTED and late.reason == "circuit_breaker"
    clock.advance(minutes=16)
    after = ex.limit(SYM, PUMPER, "buy", 10, 125, tif="IOC")
    assert after.status == OrderStatus.FILLED
    assert [a.action for a in alerts(ex, "circuit_breaker")] == ["paused", "rejected", "resumed"]


@pytest.mark.parametrize("mode", ["reject", "queue"])
@pytest.mark.parametrize("side", ["buy", "sell"])
def test_fok_fills_completely_or_not_at_all_when_the_breaker_would_stop_its_sweep(mode, side):
    ex, ledger, _ = make(**breaker(mode))
    maker_side, far = ("sell", 125) if side == "buy" else ("buy", 79)
    ex.limit(SYM, MAKER, maker_side, 5, 100)
    ex.limit(SYM, MAKER, maker_side, 5, far)  # 100 -> 125 (or 79) moves more than 20%
    before = (ledger.balance(PUMPER, "COIN"), ledger.balance(PUMPER, SYM))
    fok = ex.limit(SYM, PUMPER, side, 10, far, tif="FOK")
    assert fok.status == OrderStatus.REJECTED and fok.reason == "fok_unfillable"
    assert fok.trades == [] and fok.filled == 0 and fok.id not in ex.live
    assert (ledger.balance(PUMPER, "COIN"), ledger.balance(PUMPER, SYM)) == before
    assert ex.markets[SYM].guards.paused_until is None  # nothing traded, nothing tripped
    ok = ex.limit(SYM, PUMPER, side, 5, far, tif="FOK")  # what the breaker allows still fills
    assert ok.status == OrderStatus.FILLED and [t.price for t in ok.trades] == [100]


def test_fok_fills_up_to_the_breaker_bound_exactly():
    ex, _, _ = make(**breaker())
    ex.limit(SYM, MAKER, "sell", 5, 100)
    ex.limit(SYM, MAKER, "sell", 5, 120)  # 100 * 1.2: the edge, allowed
    fok = ex.limit(SYM, PUMPER, "buy", 10, 120, tif="FOK")
    assert fok.status == OrderStatus.FILLED and [t.price for t in fok.trades] == [100, 120]


def test_fok_is_judged_against_the_breaker_range_of_its_first_fill():
    ex, _, _ = make(**breaker())
    for price in (100, 110, 125):  # 110 is within 20% of 100; 125 is not (of 100), though it is of 110
        ex.limit(SYM, MAKER, "sell", 5, price)
    fok = ex.limit(SYM, PUMPER, "buy", 15, 125, tif="FOK")
    assert (fok.status, fok.filled) == (OrderStatus.REJECTED, 0)


def test_breaker_alerts_say_who_when_and_why():
    ex, _, clock = make(**breaker("queue"))
    pump(ex, clock, [100, 110, 119, 125])
    paused_until = ex.markets[SYM].guards.paused_until
    queued = ex.limit(SYM, HONEST, "buy", 5, 125)
    assert alerts(ex, "circuit_breaker")[-1] == DefenseAlert(
        clock.now, SYM, "circuit_breaker", "queued", f"matching paused until {paused_until.isoformat()}",
        HONEST, queued.id)
    ex.advance(paused_until)  # resumes at the very end of the pause
    assert alerts(ex, "circuit_breaker")[-1] == DefenseAlert(
        paused_until, SYM, "circuit_breaker", "resumed",
        f"pause ended at {paused_until.isoformat()}; 2 queued orders run now")
    assert queued.status == OrderStatus.OPEN


def test_breaker_rejection_alert_names_the_order():
    ex, _, clock = make(**breaker())
    pump(ex, clock, [100, 110, 119, 125])
    paused_until = ex.markets[SYM].guards.paused_until
    late = ex.limit(SYM, HONEST, "buy", 5, 125)
    assert alerts(ex, "circuit_breaker")[-1] == DefenseAlert(
        clock.now, SYM, "circuit_breaker", "rejected", f"matching paused until {paused_until.isoformat()}",
        HONEST, late.id)


def test_a_queued_gtd_order_that_expires_as_the_pause_ends_does_not_run():
    ex, _, clock = make(**breaker("queue"))
    pump(ex, clock, [100, 110, 119, 125])
    paused_until = ex.markets[SYM].guards.paused_until
    ex.limit(SYM, MAKER, "sell", 5, 125)
    gtd = ex.limit(SYM, HONEST, "buy", 5, 125, tif="GTD", expires_at=paused_until)
    assert gtd.status == OrderStatus.QUEUED
    ex.advance(paused_until)
    assert (gtd.status, gtd.reason, gtd.trades) == (OrderStatus.EXPIRED, "expired", [])


def test_breaker_in_queue_mode_runs_queued_orders_when_it_resumes():
    ex, ledger, clock = make(**breaker("queue"))
    orders = pump(ex, clock, [100, 110, 119, 125])
    assert orders[3].status == OrderStatus.QUEUED
    queued = ex.limit(SYM, HONEST, "buy", 5, 125)
    assert queued.status == OrderStatus.QUEUED and queued.hold_id is None
    clock.advance(minutes=16)
    ex.advance()
    assert orders[3].status == OrderStatus.FILLED
    assert queued.status == OrderStatus.OPEN  # the pumper took the ask it would have hit
    assert ledger.check().ok


def test_breaker_queue_lets_a_gtd_order_expire_while_it_waits():
    ex, _, clock = make(**breaker("queue"))
    pump(ex, clock, [100, 110, 119, 125])
    waiting = ex.limit(SYM, HONEST, "buy", 5, 90, tif="GTD", expires_at=clock.now + timedelta(minutes=5))
    assert waiting.status == OrderStatus.QUEUED
    clock.advance(minutes=16)
    ex.advance()
    assert waiting.status == OrderStatus.EXPIRED and waiting.hold_id is None
    assert waiting.id not in ex.live


def test_breaker_ignores_ordinary_moves():
    ex, _, clock = make(**breaker())
    orders = pump(ex, clock, [100, 104, 109, 112, 118, 110, 101])
    assert all(o.status == OrderStatus.FILLED for o in orders)
    assert ex.alerts == []


# -- daily limit ------------------------------------------------------------------------------
DAILY = {"daily_limit": DailyLimit(enabled=True, supply_bps=100)}  # 1% of 1,000,000 = 10,000 a day


def test_daily_limit_refuses_trading_beyond_its_share_of_supply():
    ex, _, clock = make(**DAILY)
    ex.limit(SYM, MAKER, "sell", 9000, 100)
    assert ex.limit(SYM, PUMPER, "buy", 6000, 100).status == OrderStatus.FILLED
    again = ex.limit(SYM, PUMPER, "buy", 6000, 100)
    assert again.status == OrderStatus.REJECTED and again.reason == "daily_limit"
    assert "10000" in alerts(ex, "daily_limit")[0].reason
    clock.now = clock.now.replace(hour=0) + timedelta(days=1)
    assert ex.limit(SYM, PUMPER, "buy", 3000, 100).status == OrderStatus.FILLED


def test_daily_limit_counts_open_orders_too():
    ex, _, _ = make(**DAILY)
    ex.limit(SYM, PUMPER, "buy", 8000, 90)
    assert ex.limit(SYM, PUMPER, "buy", 3000, 90).reason == "daily_limit"


def test_daily_limit_lets_ordinary_volume_pass():
    ex, _, _ = make(**DAILY)
    ex.limit(SYM, MAKER, "sell", 3000, 100)
    for _ in range(3):
        assert ex.limit(SYM, HONEST, "buy", 1000, 100).status == OrderStatus.FILLED
    assert ex.alerts == []


# -- holding cap --------------------------------------------------------------------------------
CAP = {"holding_cap": HoldingCap(enabled=True, supply_bps=500)}  # 50,000 coins


def test_holding_cap_stops_a_whale_from_cornering_the_coin():
    ex, ledger, _ = make(**CAP)
    ex.limit(SYM, MAKER, "sell", 20_000, 100)
    order = ex.limit(SYM, PUMPER, "buy", 15_000, 100)  # holds 40,000 already
    assert order.status == OrderStatus.REJECTED and order.reason == "holding_cap"
    assert ledger.balance(PUMPER, SYM) == 40_000
    assert alerts(ex, "holding_cap")[0].account == PUMPER


def test_holding_cap_also_applies_to_transfers_in():
    ex, ledger, _ = make(**CAP)
    with pytest.raises(CoinError, match="holding_cap"):
        ex.transfer(SYM, MAKER, PUMPER, 15_000)
    assert ledger.balance(PUMPER, SYM) == 40_000


def test_holding_cap_lets_a_normal_buy_pass():
    ex, _, _ = make(**CAP)
    ex.limit(SYM, MAKER, "sell", 5000, 100)
    assert ex.limit(SYM, HONEST, "buy", 5000, 100).status == OrderStatus.FILLED
    assert ex.alerts == []


# -- minimum hold ----------------------------------------------------------------------------------
HOLD = {"min_hold": MinHold(enabled=True, period_seconds=86_400)}


def test_min_hold_stops_a_buy_and_immediate_dump():
    ex, _, clock = make(**HOLD)
    ledger = ex.ledger
    ledger.mint("user:flip", 1_000_000)
    ex.limit(SYM, MAKER, "sell", 1000, 100)
    ex.limit(SYM, "user:flip", "buy", 1000, 100)
    clock.advance(hours=1)
    dump = ex.limit(SYM, "user:flip", "sell", 1000, 99)
    assert dump.status == OrderStatus.REJECTED and dump.reason == "min_hold"
    assert "86400" in alerts(ex, "min_hold")[0].reason
    clock.advance(hours=24)
    assert ex.limit(SYM, "user:flip", "sell", 1000, 99).status == OrderStatus.OPEN


def test_min_hold_also_stops_passing_fresh_coins_to_another_account():
    ex, ledger, clock = make(**HOLD)
    ledger.mint("user:flip", 1_000_000)
    ex.limit(SYM, MAKER, "sell", 1000, 100)
    ex.limit(SYM, "user:flip", "buy", 1000, 100)
    with pytest.raises(CoinError, match="min_hold"):
        ex.transfer(SYM, "user:flip", "user:mule", 1000)
    assert ledger.balance("user:mule", SYM) == 0


def test_min_hold_lets_long_held_coins_be_sold():
    ex, _, _ = make(**HOLD)
    ex.limit(SYM, MAKER, "buy", 500, 100)
    assert ex.limit(SYM, HONEST, "sell", 500, 100).status == OrderStatus.FILLED
    assert ex.alerts == []


# -- vesting ------------------------------------------------------------------------------------------
VEST = {"vesting": Vesting(cliff_days=30, duration_days=360)}


def test_vesting_stops_the_seller_dumping_the_allocation_at_launch():
    ex, ledger, _ = make(allocation=100_000, **VEST)
    ex.limit(SYM, MAKER, "buy", 50_000, 100)
    dump = ex.limit(SYM, SELLER, "sell", 50_000, 100)
    assert dump.status == OrderStatus.REJECTED and dump.reason == "vesting"
    [alert] = alerts(ex, "vesting")
    assert alert.account == SELLER and "still vesting" in alert.reason
    assert ledger.balance(SELLER, SYM) == 0


def test_vesting_does_not_blame_vesting_once_all_has_vested():
    ex, _, clock = make(allocation=1000, **VEST)
    clock.now = T0 + timedelta(days=400)
    ex.release_vested(SYM)
    order = ex.limit(SYM, SELLER, "sell", 5000, 100)
    assert order.reason == "insufficient_funds" and alerts(ex, "vesting") == []


def test_vesting_lets_the_seller_sell_what_has_vested():
    ex, ledger, clock = make(allocation=36_000, **VEST)
    clock.now = T0 + timedelta(days=180)  # half vested
    ex.limit(SYM, MAKER, "buy", 18_000, 100)
    sale = ex.limit(SYM, SELLER, "sell", 18_000, 100)
    assert sale.status == OrderStatus.FILLED
    assert alerts(ex, "vesting") == []


# -- price floor ------------------------------------------------------------------------------------------
FLOOR = {"price_floor": PriceFloor(enabled=True, floor_bps=5000, budget=1_000_000)}


def bought_order_id(ex: Exchange) -> int:
    [floor] = [o for o in ex.book(SYM).orders.values() if o.platform]
    return floor.id


def test_floor_buys_back_a_dump_at_the_floor_price():
    ex, ledger, clock = make(**FLOOR)
    ex.limit(SYM, MAKER, "buy", 100, 90)
    dump = ex.market_order(SYM, PUMPER, "sell", 5000, protection=1)
    assert [t.price for t in dump.trades] == [90, 50]
    assert min(t.price for t in ex.trades) == 50  # nothing traded below the floor
    assert ledger.balance("platform:buyback", SYM) == 4900
    assert [e.entry_type for e in ledger.store.entries(account="platform:buyback", asset=SYM)] == ["BUYBACK"]
    actions = [a.action for a in alerts(ex, "price_floor")]
    assert actions == ["floor_placed", "bought_back"]
    bought = alerts(ex, "price_floor")[1]
    assert bought == DefenseAlert(clock.now, SYM, "price_floor", "bought_back",
                                  f"platform bought 4900 at the floor 50 from {PUMPER}; "
                                  f"{ex.book(SYM).orders[bought_order_id(ex)].remaining} left on the floor order",
                                  PUMPER, dump.id)


def test_floor_reports_when_its_budget_is_used_up():
    ex, _, _ = make(price_floor=PriceFloor(enabled=True, floor_bps=5000, budget=10_200))  # 200 coins at 50
    ex.market_order(SYM, PUMPER, "sell", 500, protection=1)
    assert alerts(ex, "price_floor")[-1].action == "floor_exhausted"


def test_floor_stays_quiet_while_trading_is_above_it():
    ex, ledger, _ = make(**FLOOR)
    ex.limit(SYM, MAKER, "buy", 100, 95)
    assert ex.limit(SYM, HONEST, "sell", 100, 95).status == OrderStatus.FILLED
    assert [a.action for a in alerts(ex, "price_floor")] == ["floor_placed"]
    assert ledger.balance("platform:buyback", SYM) == 0


# -- rate limit ------------------------------------------------------------------------------------------
RATE = {"rate_limit": RateLimit(max_orders=10, window_seconds=60)}


def test_rate_limit_stops_an_order_spammer():
    ex, _, clock = make(**RATE)
    results = []
    for i in range(30):
        results.append(ex.limit(SYM, PUMPER, "buy", 1, 90 - i % 5))
        clock.advance(seconds=1)
    assert sum(o.reason == "rate_limit" for o in results) == 20
    assert len(alerts(ex, "rate_limit")) == 20
    clock.advance(seconds=60)
    assert ex.limit(SYM, PUMPER, "buy", 1, 90).status == OrderStatus.OPEN


def test_rate_limit_lets_a_normal_pace_through():
    ex, _, clock = make(**RATE)
    for _ in range(30):
        assert ex.limit(SYM, HONEST, "buy", 1, 90).status == OrderStatus.OPEN
        clock.advance(seconds=7)
    assert ex.alerts == []
