"""Random order streams: no coin or COIN is created or destroyed, every hold belongs to a
live resting order (and every resting order has its hold), the book is never crossed."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import BURN, ESCROW, HoldStatus, Ledger, MemoryStore
from market import (
    CircuitBreaker,
    DailyLimit,
    Exchange,
    HoldingCap,
    MarketConfig,
    MinHold,
    OrderStatus,
    PriceBand,
    RateLimit,
)
from tests.support.clock import Clock

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SYM = "HEATHER"
USERS = ["user:a", "user:b", "user:c"]


def random_stream(rng: random.Random, n: int) -> list[tuple]:
    """A busy stream: mostly GTC limits around a mid of 10, so orders rest and cross."""
    out: list[tuple] = []
    for _ in range(n):
        r = rng.random()
        user, side = rng.choice(USERS), rng.choice(["buy", "sell"])
        if r < 0.6:
            tif = rng.choice(["GTC", "GTC", "GTC", "GTD", "IOC", "FOK"])
            out.append(("limit", user, side, rng.randint(1, 30), rng.randint(7, 13), tif, rng.random() < 0.1))
        elif r < 0.72:
            out.append(("market", user, side, rng.randint(1, 40), rng.choice([None, rng.randint(5, 15)])))
        elif r < 0.92:
            out.append(("cancel", rng.randrange(50)))
        else:
            out.append(("tick", rng.randint(1, 20)))
    return out


configs = st.builds(
    dict,
    stp_mode=st.sampled_from(["cancel_newest", "cancel_oldest", "cancel_both", "decrement"]),
    maker_fee_bps=st.integers(0, 500),
    taker_fee_bps=st.integers(0, 500),
    fee_destination=st.sampled_from(["revenue", "burn"]),
)


def defended(cfg: dict) -> MarketConfig:
    """Every order-book defense on, tight enough to act inside a short stream."""
    return MarketConfig.bare(
        **cfg,
        price_band=PriceBand(width_bps=3000),
        circuit_breaker=CircuitBreaker(move_bps=2500, window_seconds=300, pause_seconds=300, mode="queue"),
        daily_limit=DailyLimit(enabled=True, supply_bps=100),
        holding_cap=HoldingCap(enabled=True, supply_bps=230),
        min_hold=MinHold(enabled=True, period_seconds=600),
        rate_limit=RateLimit(max_orders=8, window_seconds=60),
        max_supply=10_000,
    )


def check_invariants(ex: Exchange, ledger: Ledger, coin_total: int, brand_total: int) -> None:
    book = ex.book(SYM)
    assert not book.is_crossed()
    resting = {o.id: o for o in ex.live.values() if o.status == OrderStatus.OPEN}
    assert resting == book.orders
    for o in ex.live.values():
        assert o.status in (OrderStatus.OPEN, OrderStatus.QUEUED)
        if o.status == OrderStatus.QUEUED:
            assert o.hold_id is None
    locked = {h.id: h for h in ledger.store.holds(status=HoldStatus.LOCKED)}
    assert set(locked) == {o.hold_id for o in resting.values()}
    market = ex.markets[SYM]
    for o in resting.values():
        hold = locked[o.hold_id]
        assert hold.amount == o.locked and hold.account == o.account
        if o.side == "buy":
            assert hold.asset == "COIN" and o.locked >= market.settlement.buy_lock(o.price, o.remaining)
        else:
            assert hold.asset == SYM and o.locked == o.remaining
    # nothing created or destroyed: issuance unchanged, and every unit is in some account
    assert ledger.supply("COIN").issued == coin_total
    assert ledger.supply(SYM).issued == brand_total
    accounts = USERS + [ESCROW, BURN, "platform:revenue", "user:heather", "vesting:" + SYM]
    assert sum(ledger.balance(a, "COIN") for a in accounts) == coin_total
    assert sum(ledger.balance(a, SYM) for a in accounts) == brand_total


def run(stream: list, config: MarketConfig) -> Exchange:
    clock = Clock(T0)
    ledger = Ledger(MemoryStore(), clock=clock)
    ex = Exchange(ledger, config, clock=clock)
    ex.launch(SYM, "Heather's coin", "user:heather", initial_price=10, allocation=1000)
    for u in USERS:
        ledger.mint(u, 3000)
    ex.airdrop(SYM, USERS, 200)
    clock.now += timedelta(hours=1)  # past the minimum hold of the airdrop
    coin_total, brand_total = ledger.supply("COIN").issued, ledger.supply(SYM).issued
    placed = []
    for op in stream:
        if op[0] == "limit":
            _, user, side, qty, price, tif, post_only = op
            if post_only and tif in ("IOC", "FOK"):
                post_only = False
            expires = clock.now + timedelta(minutes=10) if tif == "GTD" else None
            placed.append(ex.limit(SYM, user, side, qty, price, tif=tif, post_only=post_only, expires_at=expires))
        elif op[0] == "market":
            _, user, side, qty, protection = op
            placed.append(ex.market_order(SYM, user, side, qty, protection))
        elif op[0] == "cancel":
            live = [o for o in placed if o.id in ex.live]
            if live:
                ex.cancel(live[op[1] % len(live)].id)
        else:
            clock.now += timedelta(minutes=op[1])
            ex.advance()
        check_invariants(ex, ledger, coin_total, brand_total)
    report = ledger.check()
    assert report.ok, report.problems
    return ex


@settings(max_examples=150, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(10, 120), configs)
def test_random_streams_conserve_value_and_keep_holds_and_book_consistent(rng, n, cfg):
    run(random_stream(rng, n), MarketConfig.bare(**cfg))


@settings(max_examples=100, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(10, 120), configs)
def test_random_streams_with_every_defense_on_keep_the_same_invariants(rng, n, cfg):
    run(random_stream(rng, n), defended(cfg))
