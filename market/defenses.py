"""Defenses against pump-and-dump, each switched on in ``MarketConfig`` and each
reporting a ``DefenseAlert`` (when, which defense, what it did and why) when it acts.

``CoinGuards`` holds the state of the per-coin defenses (price band, circuit breaker,
daily limit, holding cap, minimum hold); ``RateLimiter`` is per user across all coins.
Vesting and the price floor live with the coin and the exchange (they move money) but
report through the same alerts. Time always comes in as ``now``: nothing here reads a
clock, so the simulator's SimPy time drives it.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import NamedTuple

from .book import BUY, Order
from .config import MarketConfig, RateLimit
from .reference import RobustPrice

__all__ = ["NO_LIMIT", "CoinGuards", "DefenseAlert", "RateLimiter"]

NO_LIMIT = 1 << 62  # an upper price bound that never binds


class DefenseAlert(NamedTuple):
    """A defense acted.

    time: when.  symbol: the coin ("" for the per-user rate limit).
    defense: price_band, circuit_breaker, daily_limit, holding_cap, min_hold, vesting,
      price_floor or rate_limit.
    action: rejected (an order refused), stopped (matching halted mid-order), paused /
      resumed (circuit breaker), queued, bought_back, floor_placed, floor_exhausted.
    reason: the numbers that made it act, in words.
    account / order_id: whose order, if an order was involved."""

    time: datetime
    symbol: str
    defense: str
    action: str
    reason: str
    account: str | None = None
    order_id: int | None = None


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


class RateLimiter:
    """At most ``max_orders`` order submissions per user in any ``window_seconds``."""

    def __init__(self, config: RateLimit) -> None:
        self.max_orders = config.max_orders
        self.window = timedelta(seconds=config.window_seconds)
        self.recent: dict[str, deque[datetime]] = defaultdict(deque)

    def allow(self, account: str, now: datetime) -> bool:
        """Count a submission; False (and not counted) if it is over the limit."""
        times = self.recent[account]
        cutoff = now - self.window
        while times and times[0] <= cutoff:
            times.popleft()
        if len(times) >= self.max_orders:
            return False
        times.append(now)
        return True


class CoinGuards:
    """Per-coin defense state. ``exempt`` accounts (the seller's vesting account, the
    platform's) are not limited by the daily limit, holding cap and minimum hold."""

    def __init__(self, symbol: str, config: MarketConfig, max_supply: int, launch_price: int,
                 alert: Callable[[DefenseAlert], None], exempt: frozenset[str] = frozenset(),
                 robust: RobustPrice | None = None) -> None:
        self.symbol = symbol
        self.alert = alert
        self.exempt = exempt
        # the band's centre; the coin's market feeds it every trade
        self.robust = robust or RobustPrice(config.reference, launch_price)
        band, brk = config.price_band, config.circuit_breaker
        self.band_on = band.enabled
        self.band_bps = band.width_bps
        self.breaker_on = brk.enabled
        self.move_bps = brk.move_bps
        self.breaker_window = timedelta(seconds=brk.window_seconds)
        self.pause = timedelta(seconds=brk.pause_seconds)
        self.queue_mode = brk.mode == "queue"
        self.mins: deque[tuple[datetime, int]] = deque()  # increasing prices: min at [0]
        self.maxs: deque[tuple[datetime, int]] = deque()  # decreasing prices: max at [0]
        self.paused_until: datetime | None = None
        self.queue: deque[Order] = deque()
        self.daily_on = config.daily_limit.enabled
        self.daily_max = max_supply * config.daily_limit.supply_bps // 10000
        self.day: object = None
        self.traded_today: dict[str, int] = defaultdict(int)
        self.cap_on = config.holding_cap.enabled
        self.cap_max = max_supply * config.holding_cap.supply_bps // 10000
        self.hold_on = config.min_hold.enabled
        self.hold_period = timedelta(seconds=config.min_hold.period_seconds)
        self.acquired: dict[str, deque[tuple[datetime, int]]] = defaultdict(deque)
        # open quantity of resting orders per (account, side): the daily limit and the
        # holding cap count what a user has asked for, not only what has traded
        self.open_qty: dict[tuple[str, str], int] = defaultdict(int)

    # -- reference price and trade bounds -------------------------------------------
    def reference(self, now: datetime) -> int:
        """The robust price (`market.reference`): a ring's own trades do not move it."""
        return self.robust.at(now)

    def band(self, now: datetime) -> tuple[int, int]:
        if not self.band_on:
            return 0, NO_LIMIT
        ref = self.reference(now)
        return max(1, _ceil_div(ref * (10000 - self.band_bps), 10000)), ref * (10000 + self.band_bps) // 10000

    def breaker_bounds(self, now: datetime, planned: tuple[int, int] | None = None) -> tuple[int, int]:
        """Prices a trade may have without moving more than ``move_bps`` from any trade
        in the breaker window. ``planned``: the lowest and highest price of fills that
        would happen first, now (a fill-or-kill order's plan)."""
        if not self.breaker_on:
            return 0, NO_LIMIT
        cutoff = now - self.breaker_window
        mins, maxs = self.mins, self.maxs
        while mins and mins[0][0] <= cutoff:
            mins.popleft()
        while maxs and maxs[0][0] <= cutoff:
            maxs.popleft()
        low, high = planned if planned is not None else (NO_LIMIT, 0)
        if mins:
            low, high = min(low, mins[0][1]), max(high, maxs[0][1])
        if low > high:  # no trade in the window and none planned
            return 0, NO_LIMIT
        m = self.move_bps
        return max(0, _ceil_div(high * (10000 - m), 10000)), low * (10000 + m) // 10000

    def bounds(self, now: datetime, band: tuple[int, int] | None = None,
               planned: tuple[int, int] | None = None) -> tuple[int, int]:
        """The price range a trade may happen in now: the band (``band`` if given: an
        order keeps the band of its arrival for its whole sweep, so its own fills cannot
        drag the reference along) and the breaker's range together (after the
        ``planned`` fills, see `breaker_bounds`)."""
        blo, bhi = self.band(now) if band is None else band
        clo, chi = self.breaker_bounds(now, planned)
        return max(blo, clo), min(bhi, chi)

    # -- circuit breaker -------------------------------------------------------------
    def is_paused(self, now: datetime) -> bool:
        return self.paused_until is not None and now < self.paused_until

    def out_of_bounds(self, price: int, order: Order, now: datetime, band: tuple[int, int]) -> str:
        """A fill at ``price`` is outside ``bounds``: say which defense stops it, tripping
        the breaker if it is the one."""
        blo, bhi = band
        if not blo <= price <= bhi:
            self.alert(DefenseAlert(now, self.symbol, "price_band", "stopped",
                                    f"fill at {price} outside band {blo}..{bhi} set when the order arrived",
                                    order.account, order.id))
            return "price_band"
        clo, chi = self.breaker_bounds(now)
        self.paused_until = now + self.pause
        self.alert(DefenseAlert(now, self.symbol, "circuit_breaker", "paused",
                                f"fill at {price} would move price beyond {clo}..{chi} "
                                f"({self.move_bps} bps within {int(self.breaker_window.total_seconds())} s); "
                                f"matching paused until {self.paused_until.isoformat()}",
                                order.account, order.id))
        return "circuit_breaker"

    # -- order entry -------------------------------------------------------------------
    def check_entry(self, order: Order, now: datetime, balance: Callable[[str], int]) -> str | None:
        """Why a new order may not enter (reporting an alert), or None if it may.
        ``balance(account)`` reads the account's free brand-coin balance."""
        acct, qty, sym = order.account, order.remaining, self.symbol
        if self.band_on and order.kind == "limit":
            lo, hi = self.band(now)
            if (order.side == BUY and order.price > hi) or (order.side != BUY and order.price < lo):
                self.alert(DefenseAlert(now, sym, "price_band", "rejected",
                                        f"{order.side} limit {order.price} outside band {lo}..{hi}", acct, order.id))
                return "price_band"
        if acct in self.exempt:
            return None
        if self.daily_on:
            self._roll_day(now)
            used = self.traded_today[acct] + self.open_qty[(acct, BUY)] + self.open_qty[(acct, "sell")]
            if used + qty > self.daily_max:
                self.alert(DefenseAlert(now, sym, "daily_limit", "rejected",
                                        f"{used} traded or open today + {qty} > daily limit {self.daily_max}", acct, order.id))
                return "daily_limit"
        if self.cap_on and order.side == BUY:
            have = balance(acct) + self.open_qty[(acct, BUY)]
            if have + qty > self.cap_max:
                self.alert(DefenseAlert(now, sym, "holding_cap", "rejected",
                                        f"holding {have} (with open buys) + {qty} > cap {self.cap_max}", acct, order.id))
                return "holding_cap"
        if self.hold_on and order.side != BUY:
            young = self.young_coins(acct, now)
            free = balance(acct) - young
            if qty > free:
                self.alert(DefenseAlert(now, sym, "min_hold", "rejected",
                                        f"selling {qty} but {young} of the balance were acquired less than "
                                        f"{int(self.hold_period.total_seconds())} s ago", acct, order.id))
                return "min_hold"
        return None

    def check_receive(self, account: str, qty: int, now: datetime, balance: Callable[[str], int]) -> str | None:
        """Holding cap for coins arriving by transfer or airdrop."""
        if self.cap_on and account not in self.exempt:
            have = balance(account) + self.open_qty[(account, BUY)]
            if have + qty > self.cap_max:
                self.alert(DefenseAlert(now, self.symbol, "holding_cap", "rejected",
                                        f"{account} holds {have} + {qty} > cap {self.cap_max}", account))
                return "holding_cap"
        return None

    def check_send(self, account: str, qty: int, now: datetime, balance: Callable[[str], int]) -> str | None:
        """Minimum hold for coins leaving by transfer."""
        if self.hold_on and account not in self.exempt:
            young = self.young_coins(account, now)
            if qty > balance(account) - young:
                self.alert(DefenseAlert(now, self.symbol, "min_hold", "rejected",
                                        f"sending {qty} but {young} were acquired less than "
                                        f"{int(self.hold_period.total_seconds())} s ago", account))
                return "min_hold"
        return None

    def young_coins(self, account: str, now: datetime) -> int:
        lots = self.acquired.get(account)
        if not lots:
            return 0
        cutoff = now - self.hold_period
        while lots and lots[0][0] <= cutoff:
            lots.popleft()
        return sum(q for _, q in lots)

    def _roll_day(self, now: datetime) -> None:
        day = now.date()
        if day != self.day:
            self.day = day
            self.traded_today.clear()

    # -- bookkeeping hooks ---------------------------------------------------------------
    def on_rest(self, order: Order) -> None:
        self.open_qty[(order.account, order.side)] += order.remaining

    def on_leave(self, order: Order, qty: int) -> None:
        """``qty`` of a resting order left the book without trading."""
        self.open_qty[(order.account, order.side)] -= qty

    def on_acquire(self, account: str, qty: int, now: datetime) -> None:
        if self.hold_on and account not in self.exempt:
            self.acquired[account].append((now, qty))

    def on_trade(self, price: int, qty: int, buyer: str, seller: str, maker: Order, now: datetime) -> None:
        self.open_qty[(maker.account, maker.side)] -= qty
        if self.breaker_on:
            mins, maxs = self.mins, self.maxs
            while mins and mins[-1][1] >= price:
                mins.pop()
            mins.append((now, price))
            while maxs and maxs[-1][1] <= price:
                maxs.pop()
            maxs.append((now, price))
        if self.daily_on:
            self._roll_day(now)
            self.traded_today[buyer] += qty
            self.traded_today[seller] += qty
        if self.hold_on and buyer not in self.exempt:
            self.acquired[buyer].append((now, qty))
