"""Matching semantics: priority, partial fills, each time-in-force, STP modes, fees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import BURN, ESCROW, Ledger, MemoryStore
from market import Exchange, MarketConfig, OrderError, OrderStatus, PriceBand, Vesting
from tests.support.clock import Clock

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SYM = "HEATHER"


def make(**cfg) -> tuple[Exchange, Ledger, Clock]:
    clock = Clock(T0)
    ledger = Ledger(MemoryStore(), clock=clock)
    ex = Exchange(ledger, MarketConfig.bare(**cfg), clock=clock)
    ex.launch(SYM, "Heather's coin", "user:heather", initial_price=10, allocation=0)
    for u in ("a", "b", "c", "d"):
        ledger.mint(f"user:{u}", 1_000_000)
    ex.airdrop(SYM, [f"user:{u}" for u in ("a", "b", "c", "d")], 10_000)
    return ex, ledger, clock


def coin(ledger: Ledger, u: str) -> int:
    return ledger.balance(f"user:{u}", "COIN")


def brand(ledger: Ledger, u: str) -> int:
    return ledger.balance(f"user:{u}", SYM)


# -- priority ---------------------------------------------------------------------------
def test_better_price_trades_first():
    ex, _, _ = make()
    worse = ex.limit(SYM, "user:a", "sell", 5, 12)
    better = ex.limit(SYM, "user:b", "sell", 5, 11)
    taker = ex.limit(SYM, "user:c", "buy", 5, 12)
    assert [t.maker_order_id for t in taker.trades] == [better.id]
    assert worse.status == OrderStatus.OPEN


def test_earlier_order_at_same_price_trades_first():
    ex, _, _ = make()
    first = ex.limit(SYM, "user:a", "sell", 5, 11)
    second = ex.limit(SYM, "user:b", "sell", 5, 11)
    taker = ex.limit(SYM, "user:c", "buy", 7, 11)
    assert [(t.maker_order_id, t.quantity) for t in taker.trades] == [(first.id, 5), (second.id, 2)]


def test_fill_happens_at_the_resting_orders_price():
    ex, _, _ = make()
    ex.limit(SYM, "user:a", "buy", 5, 9)
    taker = ex.limit(SYM, "user:c", "sell", 5, 7)
    assert [t.price for t in taker.trades] == [9]


def test_sweep_walks_levels_in_price_order():
    ex, _, _ = make()
    for p in (13, 11, 12):
        ex.limit(SYM, "user:a", "sell", 2, p)
    taker = ex.limit(SYM, "user:c", "buy", 6, 13)
    assert [t.price for t in taker.trades] == [11, 12, 13]
    assert len(ex.book(SYM)) == 0


# -- partial fills -------------------------------------------------------------------------
def test_partial_fill_leaves_the_maker_resting_with_a_smaller_hold():
    ex, ledger, _ = make()
    maker = ex.limit(SYM, "user:a", "sell", 10, 11)
    ex.limit(SYM, "user:c", "buy", 4, 11)
    assert maker.status == OrderStatus.OPEN and maker.remaining == 6 and maker.filled == 4
    assert ledger.get_hold(maker.hold_id).amount == 6
    assert ledger.balance(ESCROW, SYM) == 6


def test_partly_filled_limit_rests_its_remainder():
    ex, ledger, _ = make()
    ex.limit(SYM, "user:a", "sell", 4, 11)
    taker = ex.limit(SYM, "user:c", "buy", 10, 11)
    assert taker.filled == 4 and taker.remaining == 6 and taker.status == OrderStatus.OPEN
    assert ex.book(SYM).best_bid() == 11
    assert ledger.get_hold(taker.hold_id).amount == 11 * 6 + 11 * 6 * 200 // 10000


# -- time in force ----------------------------------------------------------------------------
def test_gtc_rests_until_cancelled_and_cancel_returns_the_funds():
    ex, ledger, _ = make()
    before = coin(ledger, "a")
    order = ex.limit(SYM, "user:a", "buy", 10, 9)
    assert coin(ledger, "a") == before - (90 + 1)
    ex.cancel(order.id)
    assert order.status == OrderStatus.CANCELLED
    assert coin(ledger, "a") == before
    assert ledger.balance(ESCROW, "COIN") == 0


def test_gtd_expires_and_returns_its_hold():
    ex, ledger, clock = make()
    before = brand(ledger, "a")
    order = ex.limit(SYM, "user:a", "sell", 10, 12, tif="GTD", expires_at=T0 + timedelta(minutes=5))
    clock.now = T0 + timedelta(minutes=4)
    ex.advance()
    assert order.status == OrderStatus.OPEN
    clock.now = T0 + timedelta(minutes=5)
    ex.advance()
    assert order.status == OrderStatus.EXPIRED
    assert brand(ledger, "a") == before and len(ex.book(SYM)) == 0


def test_expired_gtd_does_not_trade_with_a_later_order():
    ex, _, clock = make()
    ex.limit(SYM, "user:a", "sell", 10, 12, tif="GTD", expires_at=T0 + timedelta(minutes=5))
    clock.now = T0 + timedelta(minutes=6)
    taker = ex.limit(SYM, "user:c", "buy", 10, 12, tif="IOC")
    assert taker.trades == [] and taker.status == OrderStatus.CANCELLED


def test_gtd_needs_a_future_expiry():
    ex, _, _ = make()
    with pytest.raises(OrderError):
        ex.limit(SYM, "user:a", "sell", 1, 12, tif="GTD")
    with pytest.raises(OrderError):
        ex.limit(SYM, "user:a", "sell", 1, 12, tif="GTD", expires_at=T0)


def test_ioc_cancels_the_unfilled_rest_and_locks_nothing():
    ex, ledger, _ = make()
    ex.limit(SYM, "user:a", "sell", 3, 11)
    taker = ex.limit(SYM, "user:c", "buy", 10, 11, tif="IOC")
    assert taker.filled == 3 and taker.status == OrderStatus.CANCELLED and taker.hold_id is None
    assert ex.book(SYM).best_bid() is None
    assert ledger.balance(ESCROW, "COIN") == 0


def test_fok_that_cannot_fill_entirely_does_nothing():
    ex, ledger, _ = make()
    ex.limit(SYM, "user:a", "sell", 3, 11)
    ex.limit(SYM, "user:b", "sell", 3, 13)
    before = coin(ledger, "c")
    taker = ex.limit(SYM, "user:c", "buy", 5, 12, tif="FOK")
    assert taker.status == OrderStatus.REJECTED and taker.reason == "fok_unfillable"
    assert taker.trades == [] and coin(ledger, "c") == before and len(ex.book(SYM)) == 2


def test_fok_that_can_fill_fills_across_levels():
    ex, _, _ = make()
    ex.limit(SYM, "user:a", "sell", 3, 11)
    ex.limit(SYM, "user:b", "sell", 3, 12)
    taker = ex.limit(SYM, "user:c", "buy", 5, 12, tif="FOK")
    assert taker.status == OrderStatus.FILLED and [t.quantity for t in taker.trades] == [3, 2]


def test_post_only_that_would_cross_is_rejected():
    ex, _, _ = make()
    ex.limit(SYM, "user:a", "sell", 3, 11)
    order = ex.limit(SYM, "user:c", "buy", 3, 11, post_only=True)
    assert order.status == OrderStatus.REJECTED and order.reason == "post_only_would_cross"
    assert order.trades == []


def test_post_only_that_does_not_cross_rests():
    ex, _, _ = make()
    ex.limit(SYM, "user:a", "sell", 3, 11)
    order = ex.limit(SYM, "user:c", "buy", 3, 10, post_only=True)
    assert order.status == OrderStatus.OPEN


def test_market_order_stops_at_its_protection_price():
    ex, _, _ = make()
    ex.limit(SYM, "user:a", "sell", 3, 11)
    ex.limit(SYM, "user:b", "sell", 3, 15)
    order = ex.market_order(SYM, "user:c", "buy", 6, protection=12)
    assert order.filled == 3 and order.status == OrderStatus.CANCELLED and order.hold_id is None
    assert ex.book(SYM).best_ask() == 15


def test_market_order_default_protection_is_relative_to_the_reference():
    ex, _, _ = make(market_protection_bps=1000)
    ex.limit(SYM, "user:a", "sell", 3, 11)  # launch price 10: protection 11
    ex.limit(SYM, "user:b", "sell", 3, 12)
    order = ex.market_order(SYM, "user:c", "buy", 6)
    assert order.price == 11 and order.filled == 3


def test_market_sell_fills_against_bids():
    ex, _, _ = make()
    ex.limit(SYM, "user:a", "buy", 4, 10)
    order = ex.market_order(SYM, "user:c", "sell", 4)
    assert order.status == OrderStatus.FILLED and order.trades[0].price == 10


# -- self-trade prevention ---------------------------------------------------------------------
def test_stp_cancel_newest_cancels_the_incoming_order():
    ex, _, _ = make(stp_mode="cancel_newest")
    resting = ex.limit(SYM, "user:a", "sell", 5, 11)
    incoming = ex.limit(SYM, "user:a", "buy", 5, 11)
    assert incoming.status == OrderStatus.CANCELLED and incoming.reason == "self_trade"
    assert resting.status == OrderStatus.OPEN and ex.trades == []


def test_stp_cancel_newest_keeps_fills_made_before_the_own_order():
    ex, _, _ = make(stp_mode="cancel_newest")
    ex.limit(SYM, "user:b", "sell", 2, 11)
    ex.limit(SYM, "user:a", "sell", 5, 12)
    incoming = ex.limit(SYM, "user:a", "buy", 5, 12)
    assert incoming.filled == 2 and incoming.status == OrderStatus.CANCELLED
    assert ex.book(SYM).best_bid() is None  # the rest did not rest across its own ask


def test_stp_cancel_oldest_cancels_the_resting_order_and_goes_on():
    ex, ledger, _ = make(stp_mode="cancel_oldest")
    resting = ex.limit(SYM, "user:a", "sell", 5, 11)
    hold = resting.hold_id
    ex.limit(SYM, "user:b", "sell", 5, 12)
    incoming = ex.limit(SYM, "user:a", "buy", 5, 12)
    assert resting.status == OrderStatus.CANCELLED and resting.reason == "self_trade"
    assert ledger.get_hold(hold).status == "VOIDED"
    assert incoming.status == OrderStatus.FILLED and incoming.trades[0].seller == "user:b"


def test_stp_cancel_both_cancels_both():
    ex, _, _ = make(stp_mode="cancel_both")
    resting = ex.limit(SYM, "user:a", "sell", 5, 11)
    incoming = ex.limit(SYM, "user:a", "buy", 5, 11)
    assert resting.status == incoming.status == OrderStatus.CANCELLED
    assert len(ex.book(SYM)) == 0 and ex.trades == []


def test_stp_decrement_shrinks_both_without_a_trade():
    ex, ledger, _ = make(stp_mode="decrement")
    before = brand(ledger, "a")
    resting = ex.limit(SYM, "user:a", "sell", 8, 11)
    incoming = ex.limit(SYM, "user:a", "buy", 5, 11)
    assert resting.remaining == 3 and resting.status == OrderStatus.OPEN
    assert ledger.get_hold(resting.hold_id).amount == 3
    assert brand(ledger, "a") == before - 3
    assert incoming.status == OrderStatus.CANCELLED and incoming.filled == 0 and ex.trades == []


# -- fees ------------------------------------------------------------------------------------------
def test_fees_are_charged_to_both_sides_and_paid_to_revenue():
    ex, ledger, _ = make(maker_fee_bps=100, taker_fee_bps=300)
    a0, c0 = coin(ledger, "a"), coin(ledger, "c")
    ex.limit(SYM, "user:a", "sell", 10, 50)  # quote 500
    taker = ex.limit(SYM, "user:c", "buy", 10, 50)
    t = taker.trades[0]
    assert (t.quote, t.seller_fee, t.buyer_fee) == (500, 5, 15)
    assert coin(ledger, "a") == a0 + 500 - 5
    assert coin(ledger, "c") == c0 - 500 - 15
    assert ledger.balance("platform:revenue", "COIN") == 20


def test_fees_can_be_burned():
    ex, ledger, _ = make(fee_destination="burn")
    ex.limit(SYM, "user:a", "sell", 10, 50)
    ex.limit(SYM, "user:c", "buy", 10, 50)
    assert ledger.balance("platform:revenue", "COIN") == 0
    assert ledger.balance(BURN, "COIN") == 20
    assert ledger.supply("COIN").burned == 20


def test_fee_is_floored_per_fill():
    ex, _, _ = make()
    ex.limit(SYM, "user:a", "sell", 7, 7)  # quote 49: 2% is 0.98 -> 0
    taker = ex.limit(SYM, "user:c", "buy", 7, 7)
    assert taker.trades[0].buyer_fee == 0 and taker.trades[0].seller_fee == 0


def test_resting_buy_returns_its_fee_slack_when_it_completes():
    ex, ledger, _ = make()
    c0 = coin(ledger, "c")
    maker = ex.limit(SYM, "user:c", "buy", 10, 7)  # locks 70 + floor(1.4) = 71
    ex.limit(SYM, "user:a", "sell", 5, 7)  # fee floor(0.7) = 0
    ex.limit(SYM, "user:b", "sell", 5, 7)
    assert maker.status == OrderStatus.FILLED
    assert coin(ledger, "c") == c0 - 70  # the unused 1 came back
    assert ledger.balance(ESCROW, "COIN") == 0


# -- refusals ---------------------------------------------------------------------------------------
def test_order_without_funds_is_rejected_and_changes_nothing():
    ex, ledger, _ = make()
    ledger.mint("user:poor", 10)
    order = ex.limit(SYM, "user:poor", "buy", 5, 10)
    assert order.status == OrderStatus.REJECTED and order.reason == "insufficient_funds"
    assert ledger.balance("user:poor", "COIN") == 10 and len(ex.book(SYM)) == 0


@pytest.mark.parametrize("args,kw", [
    (("NOPE", "user:a", "buy", 1, 10), {}),
    ((SYM, "user:a", "hold", 1, 10), {}),
    ((SYM, "user:a", "buy", 0, 10), {}),
    ((SYM, "user:a", "buy", 1.5, 10), {}),
    ((SYM, "user:a", "buy", 1, 0), {}),
    ((SYM, "user:a", "buy", 1, 10.0), {}),
    ((SYM, "user:a", "buy", 1, 10), {"tif": "DAY"}),
    ((SYM, "user:a", "buy", 1, 10), {"tif": "IOC", "post_only": True}),
    ((SYM, "user:a", "buy", 1, 10), {"market": True, "tif": "GTD"}),
])
def test_malformed_orders_raise_and_change_nothing(args, kw):
    ex, ledger, _ = make()
    journal = len(ledger.store.book.journal)
    with pytest.raises(OrderError):
        ex.submit(*args, **kw)
    assert len(ledger.store.book.journal) == journal and len(ex.book(SYM)) == 0


def test_a_refused_request_draws_no_order_id():
    ex, _, _ = make()
    first = ex.limit(SYM, "user:a", "buy", 1, 10)
    for bad in ((SYM, "user:a", "buy", 1.5, 10), (SYM, "user:a", "hold", 1, 10), (SYM, "user:a", "buy", 1, 0)):
        with pytest.raises(OrderError):
            ex.submit(*bad)
    assert ex.limit(SYM, "user:a", "buy", 1, 10).id == first.id + 1


def test_cancel_of_unknown_or_foreign_order_raises():
    ex, _, _ = make()
    order = ex.limit(SYM, "user:a", "buy", 1, 9)
    with pytest.raises(OrderError):
        ex.cancel(999)
    with pytest.raises(OrderError):
        ex.cancel(order.id, account="user:b")
    assert order.status == OrderStatus.OPEN


# -- the rows an order touches (the service's writer locks them up front) -------------------
_resting = st.lists(st.tuples(st.sampled_from("abcd"), st.sampled_from(["buy", "sell"]), st.integers(1, 20),
                              st.integers(8, 12)), max_size=12)
_taker = st.tuples(st.sampled_from("abcd"), st.sampled_from(["buy", "sell"]), st.integers(1, 60),
                   st.one_of(st.none(), st.integers(7, 13)))


@settings(max_examples=150, deadline=None)
@given(_resting, _taker)
def test_an_order_touches_only_the_rows_its_hint_names(resting, taker):
    ex, ledger, _ = make()
    for who, side, qty, price in resting:
        ex.limit(SYM, f"user:{who}", side, qty, price)
    who, side, qty, price = taker
    hint = ex.markets[SYM].rows_touched(f"user:{who}", side, qty, price)
    seen = len(ledger.store.book.journal)
    ex.submit(SYM, f"user:{who}", side, qty, price, market=price is None)
    touched = {(a, e.asset) for e in ledger.store.book.journal[seen:] for a in (e.from_account, e.to_account)}
    assert touched <= hint


def test_the_hint_stops_at_the_limit_price_and_the_quantity():
    ex, _, _ = make()
    ex.limit(SYM, "user:a", "sell", 5, 10)
    ex.limit(SYM, "user:b", "sell", 5, 11)
    ex.limit(SYM, "user:c", "sell", 5, 12)
    makers = {a for a, _ in ex.markets[SYM].rows_touched("user:d", "buy", 6, 12) if a.startswith("user:")}
    assert makers == {"user:a", "user:b", "user:d"}  # 6 coins: a's 5, then b's
    makers = {a for a, _ in ex.markets[SYM].rows_touched("user:d", "buy", 50, 11) if a.startswith("user:")}
    assert makers == {"user:a", "user:b", "user:d"}  # c's 12 is above the limit


# -- issue 18: the tests that would catch the next money bug ---------------------------------
def funded(ex: Exchange, ledger: Ledger, account: str, coin_amount: int) -> str:
    ledger.mint(account, coin_amount)
    return account


def test_an_ioc_buy_reserves_the_taker_fee_to_the_exact_coin():
    ex, ledger, _ = make(maker_fee_bps=300, taker_fee_bps=100)
    ex.limit(SYM, "user:a", "sell", 10, 33)  # quote 330: taker fee 3.3 -> 3, maker fee 9.9 -> 9
    short = ex.limit(SYM, funded(ex, ledger, "user:short", 332), "buy", 10, 33, tif="IOC")
    assert short.status == OrderStatus.REJECTED and short.reason == "insufficient_funds"
    assert ledger.balance("user:short", "COIN") == 332 and short.trades == []
    exact = ex.limit(SYM, funded(ex, ledger, "user:exact", 333), "buy", 10, 33, tif="IOC")
    assert exact.status == OrderStatus.FILLED
    [t] = exact.trades
    assert (t.buyer_fee, t.seller_fee) == (3, 9)
    assert ledger.balance("user:exact", "COIN") == 0 and ledger.balance("user:exact", SYM) == 10


def test_a_resting_buy_reserves_the_larger_fee_to_the_exact_coin():
    ex, ledger, _ = make(maker_fee_bps=300, taker_fee_bps=100)
    short = ex.limit(SYM, funded(ex, ledger, "user:short", 338), "buy", 10, 33)
    assert short.status == OrderStatus.REJECTED and short.reason == "insufficient_funds"
    exact = ex.limit(SYM, funded(ex, ledger, "user:exact", 339), "buy", 10, 33)
    assert exact.status == OrderStatus.OPEN and exact.locked == 339
    taker = ex.limit(SYM, "user:a", "sell", 10, 33)
    [t] = taker.trades
    assert (t.buyer_fee, t.seller_fee) == (9, 3)  # the buyer made: maker fee; the seller took: taker fee
    assert ledger.balance("user:exact", "COIN") == 0 and ledger.balance(ESCROW, "COIN") == 0
    assert coin(ledger, "a") == 1_000_000 + 330 - 3


def test_a_sell_taker_pays_the_taker_fee_and_the_resting_buyer_the_maker_fee():
    ex, ledger, _ = make(maker_fee_bps=50, taker_fee_bps=250)
    ex.limit(SYM, "user:a", "buy", 10, 40)  # quote 400: maker 2, taker 10
    taker = ex.limit(SYM, "user:b", "sell", 10, 40)
    [t] = taker.trades
    assert (t.buyer_fee, t.seller_fee) == (2, 10)
    assert coin(ledger, "a") == 1_000_000 - 402 and coin(ledger, "b") == 1_000_000 + 390
    assert ledger.balance("platform:revenue", "COIN") == 12


def test_funds_moved_under_an_order_stop_it_between_fills_and_nothing_half_applies():
    ex, ledger, _ = make()
    first = ex.limit(SYM, "user:a", "sell", 5, 10)
    second = ex.limit(SYM, "user:b", "sell", 5, 11)
    taker = funded(ex, ledger, "user:taker", 200)

    def spend_the_rest(trade) -> None:  # another writer spends the taker's COIN after the first fill
        if trade.taker_order_id is not None and ledger.balance(taker, "COIN") > 0:
            ledger.transfer(taker, "user:d", ledger.balance(taker, "COIN"))

    ex.subscribe(on_trade=spend_the_rest)
    order = ex.limit(SYM, taker, "buy", 10, 11)
    assert order.status == OrderStatus.CANCELLED and order.reason == "insufficient_funds"
    assert order.filled == 5 and [t.maker_order_id for t in order.trades] == [first.id]
    assert order.id not in ex.live and order.hold_id is None  # a stopped order does not rest
    assert second.status == OrderStatus.OPEN and second.remaining == 5
    assert ledger.get_hold(second.hold_id).amount == 5
    assert ledger.balance(taker, SYM) == 5 and ledger.check().ok


def test_a_vesting_seller_sells_with_free_and_newly_vested_coins_together():
    clock = Clock(T0)
    ledger = Ledger(MemoryStore(), clock=clock)
    ex = Exchange(ledger, MarketConfig.bare(vesting=Vesting(cliff_days=0, duration_days=360)), clock=clock)
    ex.launch(SYM, "Heather's coin", "user:heather", initial_price=10, allocation=3600)  # 10 a day
    clock.advance(days=10)
    assert ex.release_vested(SYM) == 100
    clock.advance(days=10)  # 100 free + 100 newly vested
    order = ex.limit(SYM, "user:heather", "sell", 150, 10)
    assert order.status == OrderStatus.OPEN and ledger.balance("user:heather", SYM) == 50
    too_much = ex.limit(SYM, "user:heather", "sell", 51, 10)
    assert too_much.status == OrderStatus.REJECTED and too_much.reason == "vesting"
    [alert] = [a for a in ex.alerts if a.defense == "vesting"]
    assert "has 50 vested coins free, selling 51" in alert.reason and alert.order_id == too_much.id


def test_a_vesting_seller_with_enough_free_coins_is_not_refused():
    clock = Clock(T0)
    ledger = Ledger(MemoryStore(), clock=clock)
    ex = Exchange(ledger, MarketConfig.bare(vesting=Vesting(cliff_days=0, duration_days=360)), clock=clock)
    ex.launch(SYM, "Heather's coin", "user:heather", initial_price=10, allocation=3600)
    clock.advance(days=10)
    ex.release_vested(SYM)
    order = ex.limit(SYM, "user:heather", "sell", 100, 10)
    assert order.status == OrderStatus.OPEN and ex.coins[SYM].released == 100


@pytest.mark.parametrize(("ask", "ok"), [(90, True), (89, False)])
def test_fok_buy_meets_the_lower_band_edge_of_an_ask_left_behind(ask, ok):
    ex, _, _ = make(price_band=PriceBand(width_bps=1000))
    ex.markets[SYM].robust.price = 90  # band 81..99: the ask may rest
    ex.limit(SYM, "user:a", "sell", 5, ask)
    ex.markets[SYM].robust.price = 100  # band 90..110 (the robust price moved up)
    fok = ex.limit(SYM, "user:c", "buy", 5, 100, tif="FOK")
    assert (fok.status, fok.filled) == ((OrderStatus.FILLED, 5) if ok else (OrderStatus.REJECTED, 0))
    if not ok:
        assert fok.reason == "fok_unfillable"
        ioc = ex.limit(SYM, "user:c", "buy", 5, 100, tif="IOC")
        assert (ioc.status, ioc.reason, ioc.trades) == (OrderStatus.CANCELLED, "price_band", [])


@pytest.mark.parametrize(("ask", "ok"), [(110, True), (111, False)])
def test_fok_buy_meets_the_upper_band_edge(ask, ok):
    ex, _, _ = make(price_band=PriceBand(width_bps=1000))
    ex.markets[SYM].robust.price = 100  # band 90..110
    ex.limit(SYM, "user:a", "sell", 5, 100)
    ex.limit(SYM, "user:b", "sell", 5, ask)
    fok = ex.market_order(SYM, "user:c", "buy", 10, tif="FOK")
    assert (fok.status, fok.filled) == ((OrderStatus.FILLED, 10) if ok else (OrderStatus.REJECTED, 0))


@pytest.mark.parametrize(("bid", "ok"), [(90, True), (89, False)])
def test_fok_sell_meets_the_lower_band_edge(bid, ok):
    ex, _, _ = make(price_band=PriceBand(width_bps=1000))
    ex.markets[SYM].robust.price = 100  # band 90..110
    ex.limit(SYM, "user:a", "buy", 5, 100)
    ex.limit(SYM, "user:b", "buy", 5, bid)
    fok = ex.market_order(SYM, "user:c", "sell", 10, tif="FOK")
    assert (fok.status, fok.filled) == ((OrderStatus.FILLED, 10) if ok else (OrderStatus.REJECTED, 0))


def test_reasons_of_expiry_cancel_self_trade_and_an_unfilled_ioc():
    ex, _, clock = make()
    gtd = ex.limit(SYM, "user:a", "sell", 1, 20, tif="GTD", expires_at=T0 + timedelta(hours=1))
    gtc = ex.limit(SYM, "user:a", "sell", 1, 21)
    assert ex.cancel(gtc.id).reason == "cancelled" and gtc.status == OrderStatus.CANCELLED
    clock.advance(hours=2)
    ex.advance()
    assert (gtd.status, gtd.reason) == (OrderStatus.EXPIRED, "expired")
    ioc = ex.limit(SYM, "user:b", "buy", 1, 5, tif="IOC")
    assert (ioc.status, ioc.reason) == (OrderStatus.CANCELLED, "unfilled")
    ex.limit(SYM, "user:c", "sell", 1, 7)
    own = ex.limit(SYM, "user:c", "buy", 1, 7)
    assert (own.status, own.reason) == (OrderStatus.CANCELLED, "self_trade")


def test_a_decremented_resting_order_that_runs_out_is_cancelled_for_self_trade():
    ex, ledger, _ = make(stp_mode="decrement")
    resting = ex.limit(SYM, "user:a", "sell", 3, 10)
    incoming = ex.limit(SYM, "user:a", "buy", 3, 10)
    assert (resting.status, resting.reason) == (OrderStatus.CANCELLED, "self_trade")
    assert (incoming.status, incoming.reason) == (OrderStatus.CANCELLED, "self_trade")
    assert resting.id not in ex.live and len(ex.book(SYM)) == 0
    assert brand(ledger, "a") == 10_000 and coin(ledger, "a") == 1_000_000 and ledger.check().ok


def test_trades_get_consecutive_ids_and_set_the_last_price():
    ex, _, _ = make()
    ex.limit(SYM, "user:a", "sell", 2, 11)
    ex.limit(SYM, "user:b", "sell", 2, 12)
    taker = ex.limit(SYM, "user:c", "buy", 4, 12)
    assert [t.id for t in taker.trades] == [1, 2]
    assert ex.last_price(SYM) == 12


def test_a_fok_that_would_meet_its_owners_resting_order_does_not_fill_at_all():
    ex, _, _ = make()  # stp cancel_newest
    ex.limit(SYM, "user:a", "sell", 5, 10)
    ex.limit(SYM, "user:c", "sell", 5, 11)
    fok = ex.limit(SYM, "user:c", "buy", 10, 11, tif="FOK")
    assert (fok.status, fok.reason, fok.trades) == (OrderStatus.REJECTED, "fok_unfillable", [])


@pytest.mark.parametrize(("bid", "fills"), [(14, True), (13, False)])
def test_market_sell_default_protection_is_the_reference_less_the_margin_rounded_up(bid, fills):
    clock = Clock(T0)
    ledger = Ledger(MemoryStore(), clock=clock)
    ex = Exchange(ledger, MarketConfig.bare(market_protection_bps=1000), clock=clock)
    ex.launch(SYM, "Heather's coin", "user:heather", initial_price=15, allocation=0)  # 15 * 0.9 = 13.5 -> 14
    ledger.mint("user:a", 10_000)
    ex.airdrop(SYM, ["user:b"], 10)
    ex.limit(SYM, "user:a", "buy", 1, bid)
    order = ex.market_order(SYM, "user:b", "sell", 1)
    assert order.price == 14 and order.filled == (1 if fills else 0)


def test_a_buy_one_coin_short_of_price_plus_a_whole_fee_is_rejected():
    ex, ledger, _ = make()  # 2%: 10 at 100 needs 1,000 + 20
    short = ex.limit(SYM, funded(ex, ledger, "user:short", 1019), "buy", 10, 100)
    assert (short.status, short.reason) == (OrderStatus.REJECTED, "insufficient_funds")
    assert ex.limit(SYM, funded(ex, ledger, "user:exact", 1020), "buy", 10, 100).status == OrderStatus.OPEN


def test_a_partly_filled_buy_whose_funds_moved_cannot_rest_and_is_cancelled():
    ex, ledger, _ = make()
    ex.limit(SYM, "user:a", "sell", 5, 10)
    taker = funded(ex, ledger, "user:taker", 200)

    def spend_the_rest(trade) -> None:
        ledger.transfer(taker, "user:d", ledger.balance(taker, "COIN"))

    ex.subscribe(on_trade=spend_the_rest)
    order = ex.limit(SYM, taker, "buy", 10, 11)
    assert (order.status, order.reason, order.filled) == (OrderStatus.CANCELLED, "insufficient_funds", 5)
    assert order.id not in ex.live and len(ex.book(SYM)) == 0 and ledger.check().ok
