"""Matching for one coin: price-time priority, the time-in-force rules, self-trade
prevention, and the defenses that act during matching.

An incoming order trades with the best resting orders while their price is within its
limit; every fill is at the resting order's price and settles at once (one ledger
transaction, see ``settlement``). What is left then rests (limit GTC/GTD) with a ledger
hold, or is cancelled (IOC, FOK, market orders, and any order a defense or self-trade
prevention stopped). A resting order's hold and its place in the book come and go
together, so a hold never outlives its order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from datetime import datetime
from heapq import heappop, heappush
from itertools import count

from ledger import ESCROW, InvalidRequest, Ledger, LedgerError

from .book import BUY, SELL, TIFS, Order, OrderBook, OrderStatus, new_order
from .coins import BrandCoin, release_vested
from .config import MarketConfig
from .defenses import NO_LIMIT, CoinGuards, DefenseAlert
from .reference import RobustPrice
from .settlement import Settlement
from .trades import Trade

__all__ = ["CoinMarket", "OrderError"]

_OPEN = OrderStatus.OPEN
_FILLED = OrderStatus.FILLED
_CANCELLED = OrderStatus.CANCELLED
_REJECTED = OrderStatus.REJECTED
_QUEUED = OrderStatus.QUEUED
# Trades are built with tuple.__new__: the NamedTuple's generated constructor (argument
# binding, defaults) costs more than the tuple itself, once per fill.
_new = tuple.__new__


class OrderError(InvalidRequest):
    """A malformed order or cancel request; nothing was changed."""

    code = "order_error"


def _paused_until(guards: CoinGuards) -> datetime | None:
    """``guards.paused_until`` as it is now. Read through this after a call that may change
    it (a resume, an order tripping the breaker): mypy keeps an attribute narrowed across
    calls, and compiled code (mypyc) trusts the narrowed type, so a direct read there would
    fail on the new value."""
    return guards.paused_until


class CoinMarket:
    """The order book of one brand coin and everything that happens on it.

    ``live`` is the exchange-wide map of open and queued orders (for cancel by id);
    ``emit`` receives every Trade; ``alert`` every DefenseAlert."""

    def __init__(self, ledger: Ledger, coin: BrandCoin, config: MarketConfig, *,
                 trade_ids: count, live: dict[int, Order], emit: Callable[[Trade], None],
                 alert: Callable[[DefenseAlert], None], platform: frozenset[str] = frozenset()) -> None:
        self.ledger = ledger
        # what Ledger.balance does, one call less per order (as settlement posts to the store)
        self.balance = ledger.store.balance
        self.coin = coin
        self.symbol = coin.symbol
        self.config = config
        self.book = OrderBook(coin.symbol)
        self.settlement = Settlement(ledger, coin.symbol, config, platform)
        self.trade_ids = trade_ids
        self.live = live
        self.emit = emit
        self.alert = alert
        self.platform = platform
        self.stp = config.stp_mode
        self.max_bps = max(config.maker_fee_bps, config.taker_fee_bps)
        self.taker_bps = config.taker_fee_bps
        self.protection_bps = config.market_protection_bps
        self.vesting_on = config.vesting.enabled
        self.last_price: int | None = None
        self.robust = RobustPrice(config.reference, coin.initial_price)
        self.expiries: list[tuple[datetime, int, Order]] = []
        self._draining = False
        needs_guards = any(getattr(config, name).enabled for name in
                           ("price_band", "circuit_breaker", "daily_limit", "holding_cap", "min_hold"))
        exempt = platform | {coin.seller, f"vesting:{coin.symbol}"}
        self.guards: CoinGuards | None = (
            CoinGuards(coin.symbol, config, coin.max_supply, coin.initial_price, alert, frozenset(exempt),
                       self.robust)
            if needs_guards else None)

    # -- prices ------------------------------------------------------------------------
    def reference_price(self, now: datetime) -> int:
        """Where a market order's protection is measured from: the robust price when
        the defenses are on, else the last trade (else the launch price)."""
        if self.guards is not None:
            return self.robust.at(now)
        return self.last_price if self.last_price is not None else self.coin.initial_price

    def robust_price(self, now: datetime) -> int:
        """What payouts are valued at (`market.reference`), never the last trade."""
        return self.robust.at(now)

    def protection_price(self, side: str, now: datetime) -> int:
        """Default limit of a market order: ``market_protection_bps`` beyond the reference."""
        ref = self.reference_price(now)
        if side == BUY:
            return ref * (10000 + self.protection_bps) // 10000
        return max(1, -(-ref * (10000 - self.protection_bps) // 10000))

    # -- entry ---------------------------------------------------------------------------
    def checked_order(self, ids: Iterator[int], account: str, side: object, quantity: object, price: object,
                  tif: object, post_only: bool, expires_at: object, market: bool, now: datetime) -> Order:
        """The order `Exchange.submit` asked for, checked (OrderError says what is wrong),
        with the next id from ``ids`` (drawn only if it is fine). The values checked here
        are typed ``object``: they come from the caller unchecked, and compiled (mypyc) a
        narrower type would refuse a wrong one with a TypeError before this could say
        what is wrong with it."""
        if not isinstance(side, str) or (side != BUY and side != SELL):
            raise OrderError(f"side must be 'buy' or 'sell', got {side!r}")
        if type(quantity) is not int or quantity <= 0:
            raise OrderError(f"quantity must be a positive integer, got {quantity!r}")
        if not isinstance(tif, str) or tif not in TIFS:
            raise OrderError(f"tif must be one of {', '.join(TIFS)}, got {tif!r}")
        if market:
            if tif == "GTC":
                tif = "IOC"
            if tif not in ("IOC", "FOK") or post_only:
                raise OrderError("a market order is IOC or FOK and cannot be post-only")
            if price is None:
                price = self.protection_price(side, now)
                guards = self.guards
                if guards is not None and guards.band_on:
                    lo, hi = guards.band(now)
                    price = min(price, hi) if side == BUY else max(price, lo)
        if type(price) is not int or price <= 0:
            raise OrderError(f"price must be a positive integer (COIN per coin), got {price!r}")
        if tif == "GTD":
            if not isinstance(expires_at, datetime) or expires_at <= now:
                raise OrderError("a GTD order needs expires_at in the future")
        elif expires_at is not None:
            raise OrderError("expires_at is only for GTD orders")
        if post_only and tif not in ("GTC", "GTD"):
            raise OrderError("post-only orders are GTC or GTD")
        return new_order(next(ids), self.symbol, account, side, "market" if market else "limit", price, quantity,
                         tif, post_only, expires_at, now)

    def submit(self, order: Order, now: datetime) -> Order:
        """Process a validated new order (or a queued one coming back)."""
        if self.expiries and self.expiries[0][0] <= now:
            self.expire(now)
        if order.expires_at is not None and order.expires_at <= now:  # it expired in the queue
            order.status, order.reason = OrderStatus.EXPIRED, "expired"
            return order
        guards = self.guards
        if guards is not None:
            until = guards.paused_until
            if until is not None:
                if now >= until:
                    self._resume(now)  # queued orders go first; they may trip it again
                if _paused_until(guards) is not None:
                    return self._paused(order, now)
            reason = guards.check_entry(order, now, self._coin_balance)
            if reason is not None:
                return self._reject(order, reason)
        # funds: the worst case of the whole order, so matching cannot run short midway;
        # and the top of the other side's heap, for the check below
        price, tif = order.price, order.tif
        resting = tif == "GTC" or tif == "GTD"
        if order.side == BUY:
            quote = price * order.remaining
            bps = self.max_bps if resting else self.taker_bps
            need, have = quote + quote * bps // 10000, self.balance(order.account, "COIN")
            heap, key = self.book.ask_heap, price
        else:
            need = order.remaining
            have = self.balance(order.account, self.symbol)
            coin = self.coin
            if need > have and self.vesting_on and order.account == coin.seller and coin.released < coin.allocation:
                have += release_vested(self.ledger, coin, now)
                if need > have:
                    self.alert(DefenseAlert(now, self.symbol, "vesting", "rejected",
                                            f"seller has {have} vested coins free, selling {need}; "
                                            f"{coin.allocation - coin.released} still vesting",
                                            order.account, order.id))
                    return self._reject(order, "vesting")
            heap, key = self.book.bid_heap, -price
        if need > have:
            return self._reject(order, "insufficient_funds")
        # Nothing on the other side within the limit (every heap key is >= the top, and a
        # stale top only hides worse prices): a GTC/GTD limit order rests at once, without
        # the sweep's set-up (post-only too: it would not cross).
        if resting and (not heap or heap[0] > key) and guards is None and order.kind == "limit":
            return self._rest(order, now)
        return self._execute(order, now)

    def rows_touched(self, account: str, side: str, quantity: int, price: int | None) -> set[tuple[str, str]]:
        """The (account, asset) balance rows an order would touch if it ran now: its
        owner's, the escrow's and the fee account's, and those of the resting orders it
        would fill against (best price first, while they cross ``price``, until
        ``quantity`` is covered). A hint for a store that locks rows up front (the
        service's writer); defenses and self-trade prevention may touch fewer."""
        sym = self.symbol
        rows = {(account, "COIN"), (account, sym), (ESCROW, "COIN"), (ESCROW, sym),
                (self.settlement.fee_account, "COIN")}
        buy = side == BUY
        levels = self.book.asks if buy else self.book.bids
        left = quantity
        for level_price in sorted(levels, reverse=not buy):
            if price is not None and (level_price > price if buy else level_price < price):
                break
            for maker in levels[level_price]:
                rows.add((maker.account, "COIN"))
                rows.add((maker.account, sym))
                left -= maker.remaining
                if left <= 0:
                    return rows
        return rows

    def _coin_balance(self, account: str) -> int:
        return self.balance(account, self.symbol)

    def _reject(self, order: Order, reason: str) -> Order:
        order.status = _REJECTED
        order.reason = reason
        return order

    def _paused(self, order: Order, now: datetime) -> Order:
        guards = self.guards
        assert guards is not None and guards.paused_until is not None
        until = guards.paused_until.isoformat()
        if guards.queue_mode:
            order.status = _QUEUED
            (guards.queue.appendleft if self._draining else guards.queue.append)(order)
            self.live[order.id] = order
            self.alert(DefenseAlert(now, self.symbol, "circuit_breaker", "queued",
                                    f"matching paused until {until}",
                                    order.account, order.id))
            return order
        self.alert(DefenseAlert(now, self.symbol, "circuit_breaker", "rejected",
                                f"matching paused until {until}",
                                order.account, order.id))
        return self._reject(order, "circuit_breaker")

    def _resume(self, now: datetime) -> None:
        guards = self.guards
        assert guards is not None and guards.paused_until is not None
        self.alert(DefenseAlert(now, self.symbol, "circuit_breaker", "resumed",
                                f"pause ended at {guards.paused_until.isoformat()}; "
                                f"{len(guards.queue)} queued orders run now"))
        guards.paused_until = None
        self._draining = True
        try:
            while guards.queue and _paused_until(guards) is None:
                order = guards.queue.popleft()
                del self.live[order.id]
                order.status = OrderStatus.NEW
                self.submit(order, now)
        finally:
            self._draining = False

    # -- matching -------------------------------------------------------------------------
    def _execute(self, order: Order, now: datetime) -> Order:
        book = self.book
        buy = order.side == BUY
        if buy:
            levels, heap, in_heap, sign = book.asks, book.ask_heap, book.ask_in_heap, 1
        else:
            levels, heap, in_heap, sign = book.bids, book.bid_heap, book.bid_in_heap, -1
        limit_key = order.price * sign
        if order.post_only:
            best = book.best_ask() if buy else book.best_bid()
            if best is not None and best * sign <= limit_key:
                return self._reject(order, "post_only_would_cross")
            return self._rest(order, now)
        guards = self.guards
        if guards is not None:
            band = guards.band(now)
            lo, hi = guards.bounds(now, band)
        else:
            band, lo, hi = (0, NO_LIMIT), 0, NO_LIMIT
        if order.tif == "FOK" and not self._fok_fillable(order, now, band):
            return self._reject(order, "fok_unfillable")

        account = order.account
        remaining = order.remaining
        filled = order.filled
        fill = self.settlement.fill
        orders = book.orders
        live = self.live
        emit = self.emit
        symbol = self.symbol
        trade_ids = self.trade_ids
        taker_side = order.side
        taker_id = order.id
        taker_trades = order.trades  # made here: the loop below may append
        # RobustPrice.add_trade, inlined: one call less per fill
        robust = self.robust
        robust_append = robust.trades.append
        stopped: str | None = None
        while remaining:
            while heap:
                key = heap[0]
                level = levels.get(key * sign)
                if level is not None:
                    break
                heappop(heap)
                in_heap.discard(key * sign)
            else:
                break
            if key > limit_key:
                break
            price = key * sign
            if price < lo or price > hi:
                assert guards is not None
                stopped = guards.out_of_bounds(price, order, now, band)
                break
            while True:  # the level's orders in time priority, until it or the order runs out
                maker = level[0]
                if maker.account == account:
                    remaining, stopped = self._self_trade(order, maker, level, levels, price, remaining, now)
                    break  # the sweep looks at the level again: the resting order may have gone
                qty = remaining if remaining < maker.remaining else maker.remaining
                try:
                    buyer_fee, seller_fee = fill(maker, account, price, qty)
                except LedgerError:
                    stopped = "insufficient_funds"  # the taker's funds moved under us (another writer)
                    break
                remaining -= qty
                filled += qty
                maker.remaining -= qty
                maker.filled += qty
                if buy:
                    buyer, seller = account, maker.account
                else:
                    buyer, seller = maker.account, account
                trade = _new(Trade, (next(trade_ids), symbol, now, price, qty, price * qty, buyer, seller,
                                     taker_side, maker.id, taker_id, buyer_fee, seller_fee))
                if not maker.remaining:
                    level.popleft()
                    if not level:
                        del levels[price]
                    del orders[maker.id]
                    del live[maker.id]
                    maker.status = _FILLED
                taker_trades.append(trade)
                self.last_price = price
                robust_append(trade)
                robust._stale = True
                emit(trade)
                if guards is not None:
                    guards.on_trade(price, qty, buyer, seller, maker, now)
                    lo, hi = guards.bounds(now, band)
                if maker.platform:
                    self._bought_back(maker, trade, now)
                # done with this level; with the defenses on, the sweep checks the level's
                # price against the bounds the trade may have moved
                if not remaining or not level or guards is not None:
                    break
            if stopped is not None:
                break
        order.filled = filled
        order.remaining = remaining
        if not remaining and stopped is None:
            order.status = _FILLED
            return order
        if stopped is None and order.kind == "limit" and (order.tif == "GTC" or order.tif == "GTD"):
            return self._rest(order, now)
        if stopped == "circuit_breaker" and guards is not None and guards.queue_mode:
            return self._paused(order, now)
        order.status = _CANCELLED
        order.reason = stopped or "unfilled"
        return order

    def _rest(self, order: Order, now: datetime) -> Order:
        try:
            self.settlement.lock(order)
        except LedgerError:
            order.status = _CANCELLED
            order.reason = "insufficient_funds"
            return order
        # OrderBook.add, inlined: one call less per resting order
        book = self.book
        price = order.price
        if order.side == BUY:
            level = book.bids.get(price)
            if level is None:
                level = book.bids[price] = deque()
                if price not in book.bid_in_heap:
                    heappush(book.bid_heap, -price)
                    book.bid_in_heap.add(price)
        else:
            level = book.asks.get(price)
            if level is None:
                level = book.asks[price] = deque()
                if price not in book.ask_in_heap:
                    heappush(book.ask_heap, price)
                    book.ask_in_heap.add(price)
        level.append(order)
        book.orders[order.id] = order
        self.live[order.id] = order
        order.status = _OPEN
        if self.guards is not None:
            self.guards.on_rest(order)
        if order.expires_at is not None:
            heappush(self.expiries, (order.expires_at, order.id, order))
        return order

    def _self_trade(self, order: Order, maker: Order, level: deque, levels: dict, price: int,
                    remaining: int, now: datetime) -> tuple[int, str | None]:
        """The incoming order met its owner's resting order: apply the STP mode. Returns the
        incoming order's new remaining quantity and a stop reason (None: keep matching)."""
        mode = self.stp
        if mode == "cancel_newest":
            return remaining, "self_trade"
        if mode == "decrement":
            d = remaining if remaining < maker.remaining else maker.remaining
            self.settlement.shrink(maker, d)
            if self.guards is not None:
                self.guards.on_leave(maker, d)
            maker.remaining -= d
            if not maker.remaining:
                self._unlink(maker, level, levels, price)
                maker.status, maker.reason = _CANCELLED, "self_trade"
            remaining -= d  # decremented, not filled
            return remaining, (None if remaining else "self_trade")
        # cancel_oldest / cancel_both: the resting order goes
        self._unlink(maker, level, levels, price)
        self.settlement.release(maker)
        if self.guards is not None:
            self.guards.on_leave(maker, maker.remaining)
        maker.status, maker.reason = _CANCELLED, "self_trade"
        return remaining, ("self_trade" if mode == "cancel_both" else None)

    def _unlink(self, maker: Order, level: deque, levels: dict, price: int) -> None:
        level.popleft()
        if not level:
            del levels[price]
        del self.book.orders[maker.id]
        del self.live[maker.id]

    def _fok_fillable(self, order: Order, now: datetime, band: tuple[int, int]) -> bool:
        """Would the whole order fill now? Walks the book as the sweep would: a level
        outside the band, or outside the circuit breaker's range as the earlier fills
        would move it, stops the sweep (so the order does not fill at all); meeting the
        owner's own order fails it unless STP just cancels the resting one."""
        buy = order.side == BUY
        book = self.book.asks if buy else self.book.bids
        prices = sorted((p for p in book if (p <= order.price if buy else p >= order.price)), reverse=not buy)
        guards = self.guards
        planned: tuple[int, int] | None = None  # lowest and highest price filled so far
        need = order.remaining
        for p in prices:
            if guards is not None:
                lo, hi = guards.bounds(now, band, planned)
                if p < lo or p > hi:
                    return False
            for maker in book[p]:
                if maker.account == order.account:
                    if self.stp != "cancel_oldest":
                        return False
                    continue
                need -= maker.remaining
                planned = (p, p) if planned is None else (min(planned[0], p), max(planned[1], p))
                if need <= 0:
                    return True
        return False

    def _bought_back(self, maker: Order, trade: Trade, now: datetime) -> None:
        self.alert(DefenseAlert(now, self.symbol, "price_floor", "bought_back",
                                f"platform bought {trade.quantity} at the floor {trade.price} from {trade.seller}; "
                                f"{maker.remaining} left on the floor order", trade.seller, trade.taker_order_id))
        if not maker.remaining:
            self.alert(DefenseAlert(now, self.symbol, "price_floor", "floor_exhausted",
                                    f"the buy-back budget at {maker.price} is used up; the floor no longer holds",
                                    maker.account, maker.id))

    # -- leaving --------------------------------------------------------------------------
    def cancel(self, order: Order, status: str = _CANCELLED, reason: str = "cancelled") -> Order:
        """Take an open or queued order out and return its hold."""
        if order.status == _OPEN:
            # OrderBook.remove, inlined: one call less per cancel
            book = self.book
            levels = book.bids if order.side == BUY else book.asks
            level = levels[order.price]
            level.remove(order)
            if not level:
                del levels[order.price]
            del book.orders[order.id]
            self.settlement.release(order)
            if self.guards is not None:
                self.guards.on_leave(order, order.remaining)
        elif order.status == _QUEUED:
            assert self.guards is not None
            self.guards.queue.remove(order)
        else:
            raise ValueError(f"order {order.id} is {order.status}, not open")
        del self.live[order.id]
        order.status = status
        order.reason = reason
        return order

    def expire(self, now: datetime) -> list[Order]:
        """Cancel every GTD order whose expiry has come (status EXPIRED)."""
        expired = []
        heap = self.expiries
        while heap and heap[0][0] <= now:
            _, _, order = heappop(heap)
            if order.status == _OPEN:
                expired.append(self.cancel(order, OrderStatus.EXPIRED, "expired"))
        return expired

    def advance(self, now: datetime) -> None:
        """Let time pass: expire GTD orders, resume a paused market."""
        if self.expiries and self.expiries[0][0] <= now:
            self.expire(now)
        guards = self.guards
        if guards is not None and guards.paused_until is not None and now >= guards.paused_until:
            self._resume(now)
