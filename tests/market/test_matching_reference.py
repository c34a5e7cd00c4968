"""Matching against a brute-force reference: a list of resting orders searched from
scratch for every fill (best price, then earliest), with no heaps, no level dicts and no
shortcuts. On random GTC/IOC/cancel streams both must make the same trades, in the same
order, and leave the same book."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import Ledger, MemoryStore
from market import Exchange, MarketConfig, OrderStatus

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SYM = "HEATHER"
USERS = ["user:a", "user:b", "user:c", "user:d"]


class ReferenceBook:
    """Price-time priority the slow, obvious way (STP: cancel the incoming order)."""

    def __init__(self) -> None:
        self.resting: list[dict] = []  # in arrival order
        self.trades: list[tuple[int, int, int, int]] = []  # maker id, taker id, price, qty

    def submit(self, oid: int, account: str, side: str, qty: int, price: int, tif: str) -> None:
        while qty:
            other = [o for o in self.resting if o["side"] != side
                     and (o["price"] <= price if side == "buy" else o["price"] >= price)]
            if not other:
                break
            best_price = min(o["price"] for o in other) if side == "buy" else max(o["price"] for o in other)
            maker = next(o for o in other if o["price"] == best_price)  # the earliest at that price
            if maker["account"] == account:
                return  # self-trade: the incoming order's rest is cancelled
            q = min(qty, maker["qty"])
            self.trades.append((maker["id"], oid, maker["price"], q))
            qty -= q
            maker["qty"] -= q
            if not maker["qty"]:
                self.resting.remove(maker)
        if qty and tif == "GTC":
            self.resting.append({"id": oid, "account": account, "side": side, "qty": qty, "price": price})

    def cancel(self, oid: int) -> None:
        self.resting = [o for o in self.resting if o["id"] != oid]

    def book(self) -> set[tuple[int, int]]:
        return {(o["id"], o["qty"]) for o in self.resting}


def funded_exchange() -> Exchange:
    """A bare market (fees on, defenses off) whose users can pay for any order here."""
    ledger = Ledger(MemoryStore(), clock=lambda: T0)
    ex = Exchange(ledger, MarketConfig.bare(max_supply=10**12), clock=lambda: T0)
    ex.launch(SYM, "Heather", "user:seller", initial_price=100, allocation=0, now=T0)
    for u in USERS:
        ledger.mint(u, 10**9)
    ex.airdrop(SYM, USERS, 10**6, now=T0)
    return ex


def replay(rng: random.Random, n: int, spread: int) -> tuple[Exchange, ReferenceBook]:
    ex, ref = funded_exchange(), ReferenceBook()
    ids: list[int] = []
    for _ in range(n):
        if ids and rng.random() < 0.25:
            oid = rng.choice(ids)
            if oid in ex.live:
                ex.cancel(oid, now=T0)
            ref.cancel(oid)
            continue
        account, side = rng.choice(USERS), rng.choice(["buy", "sell"])
        qty, price = rng.randint(1, 20), 100 + rng.randint(-spread, spread)
        tif = "IOC" if rng.random() < 0.15 else "GTC"
        order = ex.submit(SYM, account, side, qty, price, tif=tif, now=T0)
        ref.submit(order.id, account, side, qty, price, tif)
        ids.append(order.id)
    return ex, ref


@settings(max_examples=150, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(1, 200), st.integers(0, 6))
def test_matching_makes_the_same_trades_and_book_as_a_brute_force_reference(rng, n, spread):
    ex, ref = replay(rng, n, spread)
    assert [(t.maker_order_id, t.taker_order_id, t.price, t.quantity) for t in ex.trades] == ref.trades
    assert {(o.id, o.remaining) for o in ex.book(SYM).orders.values()} == ref.book()
    assert all(o.status == OrderStatus.OPEN for o in ex.book(SYM).orders.values())


def test_a_stale_best_level_left_by_a_fill_neither_hides_nor_fakes_liquidity():
    """The emptied best ask stays in the heap until it reaches the top again: a buy
    below the next ask rests, a buy at it trades there."""
    ex = funded_exchange()
    ex.submit(SYM, "user:a", "sell", 5, 100, now=T0)
    far = ex.submit(SYM, "user:a", "sell", 5, 103, now=T0)
    ex.submit(SYM, "user:b", "buy", 5, 100, now=T0)  # empties the 100 level
    below = ex.submit(SYM, "user:c", "buy", 5, 102, now=T0)
    assert below.status == OrderStatus.OPEN and below.trades == []
    at = ex.submit(SYM, "user:d", "buy", 2, 103, now=T0)
    assert at.status == OrderStatus.FILLED and [(t.maker_order_id, t.price) for t in at.trades] == [(far.id, 103)]


def check_book_structure(ex: Exchange) -> None:
    """What OrderBook's readers rely on, however matching and cancels changed the book:
    every level is non-empty and in its side's heap (and heap set), every order sits in
    the level of its price and side, and ``orders`` holds exactly the levels' orders."""
    book = ex.book(SYM)
    seen = {}
    for levels, heap, in_heap, sign, side in ((book.bids, book.bid_heap, book.bid_in_heap, -1, "buy"),
                                              (book.asks, book.ask_heap, book.ask_in_heap, 1, "sell")):
        assert in_heap == {key * sign for key in heap} and len(heap) == len(in_heap)
        for price, level in levels.items():
            assert level and price in in_heap
            for o in level:
                assert o.side == side and o.price == price and o.status == OrderStatus.OPEN
                seen[o.id] = o
    assert seen == book.orders


@settings(max_examples=100, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(1, 200), st.integers(0, 6))
def test_matching_and_cancels_keep_the_book_structure_consistent(rng, n, spread):
    ex, _ = replay(rng, n, spread)
    check_book_structure(ex)
