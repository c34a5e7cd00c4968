"""`Exchange`: the brand-coin market's one entry point. It launches coins, runs one
`CoinMarket` (order book) per coin, validates requests (an order's values:
`CoinMarket.checked_order`), applies the per-user rate limit and the price floor, and hands
out the trade tape and the defense alerts.

Time: every method takes an optional ``now``; without it the exchange's clock is read
(the ledger's clock unless another is given, e.g. the simulator's SimPy time).
Bad input raises ``OrderError`` / ``CoinError`` and changes nothing; an order the market
refuses comes back with status ``rejected`` and a ``reason``.

An Exchange is single-threaded: a service serves it from one worker (or behind one lock),
the simulator from its one process. Ledger errors the market cannot foresee (another
writer spent a taker's funds) stop that order, never half-apply a fill.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from itertools import count

from ledger import Ledger

from . import coins as _coins
from .book import BUY, Order, OrderBook, OrderStatus
from .coins import BrandCoin, CoinError
from .config import MarketConfig
from .defenses import DefenseAlert, RateLimiter
from .matching import CoinMarket, OrderError
from .trades import Trade

__all__ = ["Exchange", "OrderError"]


class Exchange:
    """All brand coins and their markets over one ledger."""

    def __init__(self, ledger: Ledger, config: MarketConfig | None = None, *,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.ledger = ledger
        self.config = config or MarketConfig()
        self.clock = clock or ledger.clock
        self.coins: dict[str, BrandCoin] = {}
        self.markets: dict[str, CoinMarket] = {}
        self.live: dict[int, Order] = {}  # open and queued orders by id
        self.trades: list[Trade] = []
        self.alerts: list[DefenseAlert] = []
        self._trade_subscribers: list[Callable[[Trade], None]] = []
        self._alert_subscribers: list[Callable[[DefenseAlert], None]] = []
        self._order_ids = count(1)
        self._trade_ids = count(1)
        cfg = self.config
        self.rate_limiter = RateLimiter(cfg.rate_limit) if cfg.rate_limit.enabled else None
        self.platform = frozenset({cfg.price_floor.account}) if cfg.price_floor.enabled else frozenset()
        ledger.open_account(cfg.revenue_account)
        # the tape append is the hot path's only callback when nobody subscribes
        self._emit: Callable[[Trade], None] = self.trades.append if cfg.keep_tape else (lambda t: None)

    # -- subscriptions --------------------------------------------------------------------
    def subscribe(self, on_trade: Callable[[Trade], None] | None = None,
                  on_alert: Callable[[DefenseAlert], None] | None = None) -> None:
        """Receive every Trade and/or DefenseAlert as it happens (candles, detector, sim)."""
        if on_trade is not None:
            self._trade_subscribers.append(on_trade)
            self._emit = self._fan_out
            for market in self.markets.values():
                market.emit = self._fan_out
        if on_alert is not None:
            self._alert_subscribers.append(on_alert)

    def _fan_out(self, trade: Trade) -> None:
        if self.config.keep_tape:
            self.trades.append(trade)
        for fn in self._trade_subscribers:
            fn(trade)

    def _alert(self, alert: DefenseAlert) -> None:
        self.alerts.append(alert)
        for fn in self._alert_subscribers:
            fn(alert)

    # -- coins ------------------------------------------------------------------------------
    def launch(self, symbol: str, name: str, seller: str, *, initial_price: int,
               max_supply: int | None = None, allocation: int | None = None,
               floor_price: int | None = None, now: datetime | None = None) -> BrandCoin:
        """Launch a coin: the asset, the seller's allocation (``seller_allocation_bps`` of
        max supply by default; vested if vesting is on), its order book and, with the
        price floor on, the platform's buy-back order."""
        now = now or self.clock()
        cfg = self.config
        if symbol in self.coins:
            raise CoinError(f"symbol {symbol!r} is already taken")
        max_supply = cfg.max_supply if max_supply is None else max_supply
        if allocation is None:  # a bad max_supply is reported by coins.launch
            allocation = max_supply * cfg.seller_allocation_bps // 10000 if type(max_supply) is int else 0
        vest = cfg.vesting
        coin = _coins.launch(self.ledger, symbol, name, seller, max_supply=max_supply,
                             initial_price=initial_price, allocation=allocation, now=now,
                             cliff_days=vest.cliff_days if vest.enabled else 0,
                             vesting_days=vest.duration_days if vest.enabled else 0)
        self.coins[symbol] = coin
        market = CoinMarket(self.ledger, coin, cfg, trade_ids=self._trade_ids, live=self.live,
                            emit=self._emit, alert=self._alert, platform=self.platform)
        self.markets[symbol] = market
        if cfg.price_floor.enabled:
            coin.floor_price = floor_price or max(1, initial_price * cfg.price_floor.floor_bps // 10000)
            self.place_floor(symbol, now=now)
        return coin

    def place_floor(self, symbol: str, *, now: datetime | None = None) -> Order | None:
        """Rest the platform's buy-back order at the coin's floor price, as large as the
        budget and the buy-back account's balance allow (none if one is already open)."""
        now = now or self.clock()
        market, coin, floor = self._market(symbol), self.coins[symbol], self.config.price_floor
        price = coin.floor_price
        if price is None:
            raise CoinError(f"{symbol} has no floor price")
        if any(o.platform for o in market.book.orders.values()):
            return None
        funds = min(floor.budget, self.ledger.balance(floor.account, "COIN"))
        qty = funds * 10000 // (price * (10000 + self.config.maker_fee_bps))
        while qty and market.settlement.buy_lock(price, qty) > funds:
            qty -= 1
        if not qty:
            self._alert(DefenseAlert(now, symbol, "price_floor", "unfunded",
                                     f"{floor.account} has {funds} COIN: not enough to bid at the floor {price}"))
            return None
        order = Order(next(self._order_ids), symbol, floor.account, BUY, "limit", price, qty, created_at=now)
        order.platform = True
        market.submit(order, now)
        self._alert(DefenseAlert(now, symbol, "price_floor", "floor_placed",
                                 f"buy-back order for {qty} at {price} ({order.status})", floor.account, order.id))
        return order

    def earn(self, symbol: str, customer: str, usd_cents: int, *, key: str | None = None,
             ref_id: str | None = None, now: datetime | None = None) -> int:
        """A customer spent ``usd_cents`` at the seller's shop; returns coins earned."""
        coin = self._coin(symbol)
        cfg = self.config
        if cfg.earn_source == "seller" and cfg.vesting.enabled:
            _coins.release_vested(self.ledger, coin, now or self.clock())
        return _coins.earn(self.ledger, coin, customer, usd_cents, coins_per_usd=cfg.earn_coins_per_usd,
                           source=cfg.earn_source, key=key, ref_id=ref_id)

    def redeem(self, symbol: str, user: str, qty: int, *, key: str | None = None,
               ref_id: str | None = None, now: datetime | None = None) -> int:
        """Burn ``qty`` coins at the shop; returns their value in COIN at the coin's
        robust price (`reference_price`), never at the last trade."""
        coin = self._coin(symbol)
        price = self.reference_price(symbol, now=now)
        return _coins.redeem(self.ledger, coin, user, qty, price, key=key, ref_id=ref_id)

    def transfer(self, symbol: str, frm: str, to: str, qty: int, *, key: str | None = None,
                 now: datetime | None = None) -> None:
        """Send coins between users (holding cap and minimum hold apply)."""
        coin = self._coin(symbol)
        now = now or self.clock()
        guards = self.markets[symbol].guards
        if guards is not None:
            bal = self.markets[symbol]._coin_balance
            reason = guards.check_send(frm, qty, now, bal) or guards.check_receive(to, qty, now, bal)
            if reason is not None:
                raise CoinError(f"transfer refused by {reason}", defense=reason)
        _coins.transfer(self.ledger, coin, frm, to, qty, key=key)
        if guards is not None:
            guards.on_acquire(to, qty, now)

    def airdrop(self, symbol: str, recipients: list[str], qty_each: int, *, source: str | None = None,
                key: str | None = None, now: datetime | None = None) -> int:
        """Give ``qty_each`` coins to each recipient (minted, or from ``source``)."""
        coin = self._coin(symbol)
        now = now or self.clock()
        guards = self.markets[symbol].guards
        if guards is not None:
            bal = self.markets[symbol]._coin_balance
            for r in recipients:
                reason = guards.check_receive(r, qty_each, now, bal)
                if reason is not None:
                    raise CoinError(f"airdrop to {r} refused by {reason}", defense=reason)
        total = _coins.airdrop(self.ledger, coin, recipients, qty_each, source=source, key=key)
        if guards is not None:
            for r in recipients:
                guards.on_acquire(r, qty_each, now)
        return total

    def release_vested(self, symbol: str, *, now: datetime | None = None) -> int:
        """Pay the seller what has vested so far; returns how many coins."""
        return _coins.release_vested(self.ledger, self._coin(symbol), now or self.clock())

    # -- orders -------------------------------------------------------------------------------
    def submit(self, symbol: str, account: str, side: str, quantity: int, price: int | None = None, *,
               tif: str = "GTC", post_only: bool = False, expires_at: datetime | None = None,
               market: bool = False, now: datetime | None = None) -> Order:
        """Place an order.

        Limit: ``price`` is the limit, ``tif`` one of GTC, GTD (with ``expires_at``), IOC,
        FOK; ``post_only`` makes it rest or be rejected, never take. Market
        (``market=True``): ``price`` is the protection price (default: the reference
        price +/- ``market_protection_bps``), ``tif`` IOC or FOK; it never rests."""
        m = self.markets.get(symbol)
        if m is None:
            raise OrderError(f"unknown coin {symbol!r}")
        if now is None:
            now = self.clock()
        order = m.checked_order(self._order_ids, account, side, quantity, price, tif, post_only, expires_at, market, now)
        rl = self.rate_limiter
        if rl is not None and account not in self.platform and not rl.allow(account, now):
            self._alert(DefenseAlert(now, "", "rate_limit", "rejected",
                                     f"more than {rl.max_orders} orders in {int(rl.window.total_seconds())} s",
                                     account, order.id))
            order.status = OrderStatus.REJECTED
            order.reason = "rate_limit"
            return order
        return m.submit(order, now)

    def limit(self, symbol: str, account: str, side: str, quantity: int, price: int, **kw) -> Order:
        return self.submit(symbol, account, side, quantity, price, **kw)

    def market_order(self, symbol: str, account: str, side: str, quantity: int,
                     protection: int | None = None, **kw) -> Order:
        return self.submit(symbol, account, side, quantity, protection, market=True, **kw)

    def cancel(self, order_id: int, *, account: str | None = None, now: datetime | None = None) -> Order:
        """Cancel an open or queued order (only its owner's, if ``account`` is given)."""
        order = self.live.get(order_id)
        if order is None:
            raise OrderError(f"no open order {order_id}")
        if account is not None and order.account != account:
            raise OrderError(f"order {order_id} is not {account}'s")
        market = self.markets[order.symbol]
        guards = market.guards
        # let time catch up first, if anything is waiting for it (GTD expiries; with a
        # time given, a paused breaker's resume): advance() alone would find nothing to do
        if market.expiries or (now is not None and guards is not None and guards.paused_until is not None):
            market.advance(now or self.clock())
            if order.status not in (OrderStatus.OPEN, OrderStatus.QUEUED):
                return order  # it expired or ran while time caught up
        return market.cancel(order)

    def advance(self, now: datetime | None = None) -> None:
        """Let time pass on every coin: GTD expiries, circuit-breaker resumes."""
        now = now or self.clock()
        for market in self.markets.values():
            market.advance(now)

    # -- reading ---------------------------------------------------------------------------------
    def book(self, symbol: str) -> OrderBook:
        return self._market(symbol).book

    def last_price(self, symbol: str) -> int:
        """The last trade price, or the launch price before any trade."""
        m = self._market(symbol)
        return m.last_price if m.last_price is not None else m.coin.initial_price

    def reference_price(self, symbol: str, *, now: datetime | None = None) -> int:
        """The manipulation-resistant price payouts are valued at (`market.reference`):
        a VWAP of trades between unrelated accounts, else the last such price, else
        the launch price."""
        return self._market(symbol).robust_price(now or self.clock())

    def open_orders(self, account: str | None = None) -> list[Order]:
        return [o for o in self.live.values() if account is None or o.account == account]

    def _market(self, symbol: str) -> CoinMarket:
        m = self.markets.get(symbol)
        if m is None:
            raise OrderError(f"unknown coin {symbol!r}")
        return m

    def _coin(self, symbol: str) -> BrandCoin:
        coin = self.coins.get(symbol)
        if coin is None:
            raise CoinError(f"unknown coin {symbol!r}")
        return coin

