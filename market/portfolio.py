"""Portfolios: quantity, average-cost basis and realized/unrealized P&L per account and
coin, from `Trade` records plus non-trade coin movements (`Movement`).

Average-cost method, all in integer COIN:
- a buy adds ``quote + buyer_fee`` to the cost basis;
- earned, airdropped or vested coins add their ``cost`` (0 by default);
- a sale removes ``cost * sold // held`` of the basis (all of it when the position is
  closed, so no rounding dust is left behind) and realizes
  ``quote - seller_fee - removed cost``;
- a transfer out or a redemption removes basis the same way but realizes nothing
  (no COIN came back; the redemption's value is recorded by whoever redeems).
Coins sold or sent that the inputs never showed arriving (e.g. a seller's launch
allocation not passed in) are treated as acquired at zero cost and counted in
``untracked``, so quantity never goes negative.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from fractions import Fraction
from typing import NamedTuple

from .candles import to_utc
from .trades import Trade

__all__ = ["ACQUISITIONS", "DISPOSALS", "Movement", "Position", "Valuation", "portfolio", "positions", "value"]

ACQUISITIONS = frozenset({"earn", "airdrop", "transfer_in", "vesting", "grant"})
DISPOSALS = frozenset({"transfer_out", "redeem", "burn"})


class Movement(NamedTuple):
    """A non-trade change of an account's coins. ``kind`` is one of ACQUISITIONS (adds
    ``quantity`` at ``cost`` COIN in total, 0 for earned/airdropped coins) or DISPOSALS
    (removes ``quantity`` at average cost). ``quantity`` is positive."""

    time: datetime
    account: str
    symbol: str
    kind: str
    quantity: int
    cost: int = 0


class Position(NamedTuple):
    """One account's holding of one coin. ``cost`` is the cost basis in COIN of the
    ``quantity`` still held; ``realized`` is P&L in COIN from sales, net of fees."""

    account: str
    symbol: str
    quantity: int = 0
    cost: int = 0
    realized: int = 0
    bought: int = 0  # coins bought on the market
    sold: int = 0
    acquired: int = 0  # coins from movements (earned, airdropped, ...)
    disposed: int = 0
    fees: int = 0  # COIN paid in fees, both sides
    untracked: int = 0  # coins that left without having been seen arriving

    @property
    def average_cost(self) -> Fraction:
        """Exact COIN per coin (not money that moves, so a Fraction is fine)."""
        return Fraction(self.cost, self.quantity) if self.quantity else Fraction(0)

    def market_value(self, price: int) -> int:
        return price * self.quantity

    def unrealized(self, price: int) -> int:
        return price * self.quantity - self.cost


class Valuation(NamedTuple):
    """A position marked at ``price``."""

    position: Position
    price: int
    market_value: int
    unrealized: int
    total_pnl: int  # realized + unrealized


def value(position: Position, price: int) -> Valuation:
    u = position.unrealized(price)
    return Valuation(position, price, position.market_value(price), u, position.realized + u)


def _add(p: Position, qty: int, cost: int) -> Position:
    return p._replace(quantity=p.quantity + qty, cost=p.cost + cost)


def _remove(p: Position, qty: int) -> tuple[Position, int]:
    """Take ``qty`` out at average cost; returns (position, cost removed)."""
    missing = max(0, qty - p.quantity)
    if missing:  # unseen coins: acquired at zero cost
        p = p._replace(quantity=p.quantity + missing, untracked=p.untracked + missing)
    removed = p.cost if qty == p.quantity else p.cost * qty // p.quantity
    return p._replace(quantity=p.quantity - qty, cost=p.cost - removed), removed


def positions(
    trades: Iterable[Trade], movements: Iterable[Movement] = (), *, account: str | None = None,
    symbol: str | None = None,
) -> dict[tuple[str, str], Position]:
    """Every (account, symbol) position after applying trades and movements in time
    order (ties: trades before movements, each in input order)."""
    events: list[tuple[datetime, int, int, Trade | Movement]] = []
    for i, t in enumerate(trades):
        if symbol is None or t.symbol == symbol:
            events.append((to_utc(t.time), 0, i, t))
    for i, m in enumerate(movements):
        if m.kind not in ACQUISITIONS and m.kind not in DISPOSALS:
            raise ValueError(f"unknown movement kind {m.kind!r}")
        if type(m.quantity) is not int or m.quantity <= 0 or type(m.cost) is not int or m.cost < 0:
            raise ValueError(f"movement needs a positive integer quantity and a cost >= 0: {m!r}")
        if symbol is None or m.symbol == symbol:
            events.append((to_utc(m.time), 1, i, m))
    events.sort(key=lambda e: e[:3])

    book: dict[tuple[str, str], Position] = {}

    def get(acct: str, sym: str) -> Position:
        return book.get((acct, sym)) or Position(acct, sym)

    for _, _, _, ev in events:
        if isinstance(ev, Trade):
            if account is None or ev.buyer == account:
                p = get(ev.buyer, ev.symbol)
                p = _add(p, ev.quantity, ev.quote + ev.buyer_fee)
                book[ev.buyer, ev.symbol] = p._replace(bought=p.bought + ev.quantity, fees=p.fees + ev.buyer_fee)
            if account is None or ev.seller == account:
                p, removed = _remove(get(ev.seller, ev.symbol), ev.quantity)
                book[ev.seller, ev.symbol] = p._replace(
                    realized=p.realized + ev.quote - ev.seller_fee - removed,
                    sold=p.sold + ev.quantity, fees=p.fees + ev.seller_fee,
                )
        elif account is None or ev.account == account:
            p = get(ev.account, ev.symbol)
            if ev.kind in ACQUISITIONS:
                p = _add(p, ev.quantity, ev.cost)._replace(acquired=p.acquired + ev.quantity)
            else:
                p, _ = _remove(p, ev.quantity)
                p = p._replace(disposed=p.disposed + ev.quantity)
            book[ev.account, ev.symbol] = p
    return book


def portfolio(
    account: str, trades: Iterable[Trade], movements: Iterable[Movement], prices: Mapping[str, int],
) -> list[Valuation]:
    """One account's positions marked at ``prices`` (symbol -> COIN per coin; a coin
    without a price is marked at 0), sorted by market value, largest first."""
    rows = [value(p, prices.get(p.symbol, 0)) for p in positions(trades, movements, account=account).values()
            if p.account == account]
    rows.sort(key=lambda v: (-v.market_value, v.position.symbol))
    return rows
