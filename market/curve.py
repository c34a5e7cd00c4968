"""A bonding curve: the alternative market mechanism for a brand coin.

The curve is the only counterparty. Its spot price rises with the supply ``s`` it has
issued: ``price(s) = base + slope*s + quad*s**2`` COIN per coin (linear with ``quad=0``,
the classic quadratic with ``base=slope=0``). Coefficients are exact Fractions.

- A buy of ``n`` mints ``n`` coins to the buyer and moves ``cost = F(s+n) - F(s)`` COIN
  (``F`` the integral of the price) from the buyer into the reserve account
  ``market:curve:<SYMBOL>``, plus a fee.
- A sell of ``n`` burns the coins and pays ``F(s) - F(s-n)`` from the reserve, less a fee.
  The curve pays only for coins it issued: each account may sell back at most what it
  bought from the curve and has not sold back yet (``outstanding``). Coins earned at a
  shop, airdropped or bought on a book are the same asset but were never paid into the
  reserve, so they cannot take money out of it; the buyers' claims add up to the supply,
  so a buyer can always sell back what they bought.

Rounding, always in the platform's favour: a buy's cost is rounded UP, a sale's payout
DOWN, fees UP. The integral itself is exact (Fractions over integers), so by induction
``reserve >= F(supply) - F(0) >= payout for selling the whole supply at once``, and
selling it in pieces pays even less (each payout is floored). Fees go to the platform
revenue account or are burned, by config; they never come out of the reserve.

Each buy or sell is ONE atomic ledger transaction (coin leg, COIN leg, fee leg), and
yields `Trade` records (counterparty: the reserve account) so candles, stats, portfolios
and the detector work unchanged. Because a curve fill's average price is rarely a whole
number of COIN, a fill of ``n`` coins for ``A`` COIN is reported as at most two trades
with integer prices, ``n - A % n`` coins at ``A // n`` and ``A % n`` coins at
``A // n + 1``: each trade keeps ``quote == price * quantity`` and the quotes sum to A.

Defenses plug in through an optional ``guard`` (`CurveGuard`): ``approve`` sees every
order before anything moves and raises to refuse it; ``record`` sees every fill.
`DefenseGuard` plugs in the order-book defenses that apply to a curve: the order rate
limit, the daily trading limit, the holding cap and the minimum hold (on sells). Price
bands and the circuit breaker do not: they stop fills against resting orders, and a
curve's price is not set by orders but by its formula.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from math import ceil, floor
from typing import TYPE_CHECKING, NamedTuple, Protocol

from ledger import BURN, MINT, EntryType, IdempotencyConflict, Posting, Transaction, TransferRequest

from .trades import Trade

if TYPE_CHECKING:
    from ledger import Ledger

    from .config import MarketConfig
    from .defenses import CoinGuards, DefenseAlert, RateLimiter

__all__ = [
    "BondingCurve",
    "CurveConfig",
    "CurveError",
    "CurveFill",
    "CurveGuard",
    "CurveOrder",
    "CurveQuote",
    "DefenseGuard",
    "MaxSupplyExceeded",
    "OrderRefused",
    "SlippageExceeded",
    "Solvency",
    "reserve_account",
]

QUOTE = "COIN"


def reserve_account(symbol: str) -> str:
    return f"market:curve:{symbol}"


class CurveError(Exception):
    """A curve order was refused; nothing moved."""


class SlippageExceeded(CurveError):
    pass


class MaxSupplyExceeded(CurveError):
    pass


class OrderRefused(CurveError):
    """A guard (defense) refused the order. ``reason`` says which and why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class CurveConfig:
    """Shape, cap and fee of a curve. Defaults: price starts at 1 COIN and rises by
    1 COIN per 1,000 coins issued; 1,000,000 coins at most; 2% fee to revenue."""

    base: Fraction = Fraction(1)
    slope: Fraction = Fraction(1, 1000)
    quad: Fraction = Fraction(0)
    max_supply: int = 1_000_000
    fee_bps: int = 200
    fee_to: str = "revenue"  # "revenue" (to fee_account) or "burn"
    fee_account: str = "platform:revenue"

    def __post_init__(self) -> None:
        for name in ("base", "slope", "quad"):
            raw = getattr(self, name)
            if isinstance(raw, float):  # 0.1 would become 3602879701896397/36028797018963968
                raise ValueError(f"{name} must be an int, Fraction or 'p/q' string, not a float")
            v = Fraction(raw)
            if v < 0:
                raise ValueError(f"{name} must be >= 0, got {v}")
            object.__setattr__(self, name, v)
        if self.base == self.slope == self.quad == 0:
            raise ValueError("a curve needs a positive base, slope or quad")
        if type(self.max_supply) is not int or self.max_supply <= 0:
            raise ValueError("max_supply must be a positive integer")
        if type(self.fee_bps) is not int or not 0 <= self.fee_bps < 10_000:
            raise ValueError("fee_bps must be an integer 0..9999")
        if self.fee_to not in ("revenue", "burn"):
            raise ValueError("fee_to must be 'revenue' or 'burn'")

    def integral(self, s: int) -> Fraction:
        """F(s): the exact COIN it takes to issue the first ``s`` coins."""
        return self.base * s + self.slope * s * s / 2 + self.quad * s * s * s / 3

    def price(self, s: int) -> Fraction:
        """Spot price at supply ``s`` (COIN per coin)."""
        return self.base + self.slope * s + self.quad * s * s

    def fee(self, amount: int) -> int:
        return ceil(Fraction(amount * self.fee_bps, 10_000))


class CurveQuote(NamedTuple):
    """What a buy or sell of ``quantity`` would do at supply ``supply``. ``amount`` is
    the curve's side (cost into the reserve, or payout out of it); ``total`` is what
    the user pays (buy: amount + fee) or receives (sell: amount - fee)."""

    side: str
    quantity: int
    supply: int
    amount: int
    fee: int
    total: int


class CurveOrder(NamedTuple):
    """An order as a guard sees it, before anything moves."""

    symbol: str
    account: str
    side: str  # "buy" or "sell"
    quantity: int
    quote: CurveQuote
    time: datetime


class CurveFill(NamedTuple):
    """A settled buy or sell. ``replayed``: an idempotent retry; nothing moved again
    and no new trades were produced."""

    order: CurveOrder
    quote: CurveQuote
    supply_after: int
    transaction: Transaction
    trades: tuple[Trade, ...]
    replayed: bool = False


class Solvency(NamedTuple):
    """``reserve`` (COIN held) against what the curve owes: ``integral`` = exact
    F(supply) - F(0), and ``sell_all`` = the payout for selling the whole supply."""

    supply: int
    reserve: int
    integral: Fraction
    sell_all: int

    @property
    def ok(self) -> bool:
        return self.reserve >= self.integral and self.reserve >= self.sell_all


class CurveGuard(Protocol):
    """Defenses that apply to a curve (holding cap, daily limit, rate limit, ...)."""

    def approve(self, order: CurveOrder) -> None:
        """Raise (`OrderRefused` preferably) to refuse the order."""

    def record(self, fill: CurveFill) -> None:
        """Called after each settled fill (e.g. to count daily volume)."""


class BondingCurve:
    """The curve market of one coin over a ledger. Supply is recovered from the
    journal (curve mints minus curve burns), so a curve survives a restart."""

    def __init__(
        self,
        ledger: Ledger,
        symbol: str,
        config: CurveConfig | None = None,
        *,
        guard: CurveGuard | None = None,
        trade_ids: Callable[[], int] | None = None,
    ) -> None:
        if symbol not in ledger.store.assets():
            raise ValueError(f"unknown asset {symbol!r}: create the coin first")
        self.ledger = ledger
        self.symbol = symbol
        self.config = config or CurveConfig()
        self.guard = guard
        self.reserve = reserve_account(symbol)
        self._next_trade_id = trade_ids or itertools.count(1).__next__
        self._lock = threading.RLock()
        self._keyed: dict[str, CurveFill] = {}  # idempotency key -> its fill, for retries
        self.issued: Counter[str] = Counter()  # per account: bought from the curve, not sold back
        self.supply = self._recover_supply()

    def _recover_supply(self) -> int:
        store = self.ledger.store
        for e in store.entries(entry_type=EntryType.CURVE_MINT, asset=self.symbol):
            self.issued[e.to_account] += e.amount
        for e in store.entries(entry_type=EntryType.CURVE_BURN, asset=self.symbol):
            self.issued[e.from_account] -= e.amount
        return sum(self.issued.values())

    def outstanding(self, account: str) -> int:
        """Coins ``account`` may sell back: bought from the curve and not sold back yet."""
        return self.issued[account]

    # -- pricing -----------------------------------------------------------------
    def spot_price(self) -> Fraction:
        return self.config.price(self.supply)

    def quote_buy(self, quantity: int, supply: int | None = None) -> CurveQuote:
        s = self.supply if supply is None else supply
        _check_quantity(quantity)
        if s + quantity > self.config.max_supply:
            raise MaxSupplyExceeded(
                f"{self.symbol}: buying {quantity} would pass max supply {self.config.max_supply} (supply {s})")
        cost = ceil(self.config.integral(s + quantity) - self.config.integral(s))
        fee = self.config.fee(cost)
        return CurveQuote("buy", quantity, s, cost, fee, cost + fee)

    def quote_sell(self, quantity: int, supply: int | None = None) -> CurveQuote:
        s = self.supply if supply is None else supply
        _check_quantity(quantity)
        if quantity > s:
            raise CurveError(f"{self.symbol}: cannot sell {quantity} back, the curve issued only {s}")
        payout = floor(self.config.integral(s) - self.config.integral(s - quantity))
        fee = min(self.config.fee(payout), payout)
        return CurveQuote("sell", quantity, s, payout, fee, payout - fee)

    def max_buy_for(self, budget: int) -> int:
        """The most coins ``budget`` COIN buys now, fee included (0 if none)."""
        lo, hi = 0, self.config.max_supply - self.supply
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.quote_buy(mid).total <= budget:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def solvency(self) -> Solvency:
        s = self.supply
        owed = self.config.integral(s) - self.config.integral(0)
        sell_all = self.quote_sell(s).amount if s else 0
        return Solvency(s, self.ledger.balance(self.reserve, QUOTE), owed, sell_all)

    # -- trading -----------------------------------------------------------------
    def buy(self, account: str, quantity: int, *, max_cost: int | None = None, key: str | None = None) -> CurveFill:
        """Buy ``quantity`` coins; refuse if the total (cost + fee) would exceed ``max_cost``."""
        with self._lock:
            if key is not None and (prior := self._replay(key, account, "buy", quantity)) is not None:
                return prior
            q = self.quote_buy(quantity)
            if max_cost is not None and q.total > max_cost:
                raise SlippageExceeded(f"buying {quantity} {self.symbol} costs {q.total} COIN > max {max_cost}")
            order = self._approve(account, q)
            fee_leg = self._fee_leg(account, q.fee)
            legs = [
                Posting(MINT, account, self.symbol, quantity, EntryType.CURVE_MINT),
                Posting(account, self.reserve, QUOTE, q.amount),
                *fee_leg,
            ]
            return self._settle(order, q, legs, key, supply_after=q.supply + quantity)

    def buy_for(self, account: str, budget: int, *, key: str | None = None) -> CurveFill:
        """Spend at most ``budget`` COIN (fee included) on as many coins as it buys."""
        with self._lock:
            n = self.max_buy_for(budget)
            if n == 0:
                raise SlippageExceeded(f"{budget} COIN does not buy one {self.symbol}")
            return self.buy(account, n, max_cost=budget, key=key)

    def sell(self, account: str, quantity: int, *, min_payout: int | None = None, key: str | None = None) -> CurveFill:
        """Sell ``quantity`` coins back; refuse if the net payout would be below ``min_payout``."""
        with self._lock:
            if key is not None and (prior := self._replay(key, account, "sell", quantity)) is not None:
                return prior
            q = self.quote_sell(quantity)
            if quantity > self.issued[account]:
                raise CurveError(f"{account} can sell back at most {self.issued[account]} {self.symbol}: the curve "
                                 f"pays only for coins it issued to them, not for coins from elsewhere")
            if min_payout is not None and q.total < min_payout:
                raise SlippageExceeded(f"selling {quantity} {self.symbol} pays {q.total} COIN < min {min_payout}")
            order = self._approve(account, q)
            legs = [Posting(account, BURN, self.symbol, quantity, EntryType.CURVE_BURN)]
            if q.total:
                legs.append(Posting(self.reserve, account, QUOTE, q.total))
            legs += self._fee_leg(self.reserve, q.fee)
            return self._settle(order, q, legs, key, supply_after=q.supply - quantity)

    # -- internals -----------------------------------------------------------------
    def _approve(self, account: str, q: CurveQuote) -> CurveOrder:
        if account == self.reserve:
            raise CurveError("the reserve cannot trade with itself")
        order = CurveOrder(self.symbol, account, q.side, q.quantity, q, self.ledger.clock())
        if self.guard is not None:
            self.guard.approve(order)
        return order

    def _fee_leg(self, payer: str, fee: int) -> list[Posting]:
        if not fee:
            return []
        if self.config.fee_to == "burn":
            return [Posting(payer, BURN, QUOTE, fee, EntryType.FEE_BURN)]
        return [Posting(payer, self.config.fee_account, QUOTE, fee, EntryType.FEE)]

    def _settle(self, order: CurveOrder, q: CurveQuote, legs: list[Posting], key: str | None,
                supply_after: int) -> CurveFill:
        req = TransferRequest(
            tuple(legs), EntryType.TRADE, key, "curve", self.symbol,
            {"side": q.side, "quantity": q.quantity, "amount": q.amount, "fee": q.fee, "supply": q.supply},
        )
        try:
            tx = self.ledger.post(req)  # raises (nothing moved) e.g. on insufficient funds
        except IdempotencyConflict:
            # A retry after the price moved asks for different amounts than the first
            # try did; if the key settled this same order, replay it from the journal.
            prior = self._replay(key or "", order.account, q.side, q.quantity)
            if prior is None:
                raise
            return prior
        if tx.replayed:
            return CurveFill(order, q, self.supply, tx, (), replayed=True)
        self.supply = supply_after
        self.issued[order.account] += q.quantity if q.side == "buy" else -q.quantity
        fill = CurveFill(order, q, supply_after, tx, self._trades(order, q, tx.time))
        if key is not None:
            self._keyed[key] = fill
        if self.guard is not None:
            self.guard.record(fill)
        return fill

    def _replay(self, key: str, account: str, side: str, quantity: int) -> CurveFill | None:
        """The fill an earlier request with ``key`` made, if it was this same order:
        from memory, else from the journal (after a restart)."""
        fill = self._keyed.get(key)
        if fill is None:
            kind = EntryType.CURVE_MINT if side == "buy" else EntryType.CURVE_BURN
            legs = [e for e in self.ledger.store.entries(entry_type=kind, asset=self.symbol)
                    if e.idempotency_key == key]
            if not legs:
                return None
            e = legs[0]
            who = e.to_account if side == "buy" else e.from_account
            # every leg of a curve transaction touches the trader or the reserve
            found = {x.id: x for a in (who, self.reserve) for x in self.ledger.store.entries(account=a)
                     if x.tx_id == e.tx_id}
            entries = tuple(found[i] for i in sorted(found))
            m = e.metadata or {}
            q = CurveQuote(side, e.amount, m.get("supply", 0), m.get("amount", 0), m.get("fee", 0),
                           m.get("amount", 0) + m.get("fee", 0) * (1 if side == "buy" else -1))
            order = CurveOrder(self.symbol, who, side, e.amount, q, e.time)
            tx = Transaction(e.tx_id, e.time, EntryType.TRADE, entries, key, None, replayed=True)
            fill = CurveFill(order, q, self.supply, tx, ())
        if (fill.order.account, fill.order.side, fill.order.quantity) != (account, side, quantity):
            return None
        return fill._replace(trades=(), replayed=True,
                             transaction=fill.transaction._replace(replayed=True))

    def _trades(self, order: CurveOrder, q: CurveQuote, at: datetime) -> tuple[Trade, ...]:
        n, amount = q.quantity, q.amount
        low, extra = divmod(amount, n)  # `extra` coins at low + 1, the rest at low
        parts = [(low, n - extra), (low + 1, extra)]
        if q.side == "sell":
            parts.reverse()  # a sale walks the curve down
        parts = [(p, k) for p, k in parts if k]
        buyer, seller = (order.account, self.reserve) if q.side == "buy" else (self.reserve, order.account)
        out = []
        fee_left = q.fee
        for i, (price, k) in enumerate(parts):
            fee = fee_left if i == len(parts) - 1 else q.fee * k // n
            fee_left -= fee
            out.append(Trade(
                self._next_trade_id(), self.symbol, at, price, k, price * k, buyer, seller, q.side,
                buyer_fee=fee if q.side == "buy" else 0, seller_fee=fee if q.side == "sell" else 0,
            ))
        return tuple(out)


class DefenseGuard:
    """`CurveGuard` over the market's defenses (`market.defenses`): a per-user
    `RateLimiter` and a coin's `CoinGuards` (daily limit, holding cap, minimum hold).
    Every refusal is reported as a `DefenseAlert` through ``alert``."""

    def __init__(self, ledger: Ledger, guards: CoinGuards, rate_limiter: RateLimiter | None = None,
                 alert: Callable[[DefenseAlert], None] | None = None) -> None:
        self.ledger = ledger
        self.guards = guards
        self.rate_limiter = rate_limiter
        self.alert = alert or guards.alert
        self._ids = itertools.count(1)

    @classmethod
    def from_config(cls, ledger: Ledger, symbol: str, config: MarketConfig, *, max_supply: int | None = None,
                    alert: Callable[[DefenseAlert], None], exempt: frozenset[str] = frozenset()) -> DefenseGuard:
        """The applicable defenses as switched on in ``config`` (band and breaker left out)."""
        from .config import CircuitBreaker, PriceBand
        from .defenses import CoinGuards, RateLimiter

        cfg = config.with_(price_band=PriceBand(enabled=False), circuit_breaker=CircuitBreaker(enabled=False))
        guards = CoinGuards(symbol, cfg, max_supply or config.max_supply, 0, alert,
                            frozenset({reserve_account(symbol), config.revenue_account}) | exempt)
        limiter = RateLimiter(config.rate_limit) if config.rate_limit.enabled else None
        return cls(ledger, guards, limiter, alert)

    def approve(self, order: CurveOrder) -> None:
        from .book import Order
        from .defenses import DefenseAlert

        now = order.time
        rl = self.rate_limiter
        if rl is not None and not rl.allow(order.account, now):
            self.alert(DefenseAlert(now, "", "rate_limit", "rejected",
                                    f"more than {rl.max_orders} orders in {int(rl.window.total_seconds())} s",
                                    order.account))
            raise OrderRefused("rate_limit")
        avg = max(1, order.quote.amount // order.quantity)
        as_order = Order(next(self._ids), order.symbol, order.account, order.side, "market", avg,
                         order.quantity, tif="IOC", created_at=now)
        reason = self.guards.check_entry(as_order, now, lambda a: self.ledger.balance(a, order.symbol))
        if reason is not None:
            raise OrderRefused(reason)

    def record(self, fill: CurveFill) -> None:
        from .book import BUY, SELL, Order

        reserve = reserve_account(fill.order.symbol)
        for t in fill.trades:
            # the reserve is the resting side of every curve trade
            maker = Order(0, t.symbol, reserve, SELL if t.taker_side == BUY else BUY, "limit", t.price, t.quantity)
            self.guards.on_trade(t.price, t.quantity, t.buyer, t.seller, maker, t.time)


def _check_quantity(quantity: int) -> None:
    if type(quantity) is not int or quantity <= 0:
        raise CurveError(f"quantity must be a positive integer, got {quantity!r}")
