"""Market statistics over `Trade` records and ledger balances: tape, 24h stats, all-time
high/low, market cap and leaderboards.

Money (prices, volumes, market caps) is integer COIN. Percentage changes are given both
as exact integer basis points (rounded toward zero) and as a float for display; neither
ever moves money.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, NamedTuple

from .candles import to_utc
from .trades import Trade

if TYPE_CHECKING:
    from ledger import Ledger

__all__ = [
    "DAY",
    "Extremes",
    "Ranked",
    "Stats24h",
    "all_time",
    "by_market_cap",
    "by_volume",
    "holder_balances",
    "is_user_account",
    "last_price",
    "market_cap",
    "market_cap_of",
    "stats_24h",
    "tape",
    "top_gainers",
    "top_holders",
    "top_losers",
]

DAY = timedelta(hours=24)


def is_user_account(account: str) -> bool:
    """Leaderboards of people leave out system, platform and market accounts."""
    return account.startswith("user:")


# -- tape ----------------------------------------------------------------------
def tape(trades: Iterable[Trade], symbol: str | None = None, *, since: datetime | None = None,
         limit: int = 50, offset: int = 0) -> list[Trade]:
    """The trade tape, newest first (later in the input = newer on equal times)."""
    if limit < 0 or offset < 0:
        raise ValueError("limit and offset must be >= 0")
    since_u = None if since is None else to_utc(since)
    rows = [t for t in trades if (symbol is None or t.symbol == symbol)
            and (since_u is None or to_utc(t.time) >= since_u)]
    rows.reverse()
    rows.sort(key=lambda t: to_utc(t.time), reverse=True)  # stable: ties keep newest-first
    return rows[offset:offset + limit]


def last_price(trades: Iterable[Trade], symbol: str, at: datetime | None = None) -> int | None:
    """Price of the last trade of ``symbol`` at or before ``at`` (default: the last one)."""
    at_u = None if at is None else to_utc(at)
    price, when = None, None
    for t in trades:
        if t.symbol != symbol:
            continue
        tt = to_utc(t.time)
        if (at_u is None or tt <= at_u) and (when is None or tt >= when):
            price, when = t.price, tt
    return price


# -- 24h -----------------------------------------------------------------------
def _bps(delta: int, base: int) -> int:
    """delta / base in basis points, rounded toward zero, exact."""
    q = abs(delta) * 10_000 // base
    return q if delta >= 0 else -q


class Stats24h(NamedTuple):
    """The rolling 24 hours (now - 24h, now] of one coin. ``reference`` is the last
    price before the window opened (or the window's first trade if the coin is
    younger); ``change = last - reference``. Prices and volumes are None/0 when the
    coin has never traded."""

    symbol: str
    last: int | None
    reference: int | None
    change: int
    change_bps: int
    high: int | None
    low: int | None
    volume: int  # coins
    quote_volume: int  # COIN
    trades: int

    @property
    def change_pct(self) -> float:
        if not self.reference:
            return 0.0
        return 100.0 * self.change / self.reference


def stats_24h(trades: Iterable[Trade], symbol: str, now: datetime) -> Stats24h:
    now_u = to_utc(now)
    opened = now_u - DAY
    before: Trade | None = None
    inside: list[Trade] = []
    for t in trades:
        if t.symbol != symbol:
            continue
        tt = to_utc(t.time)
        if tt <= opened:
            if before is None or tt >= to_utc(before.time):
                before = t
        elif tt <= now_u:
            inside.append(t)
    inside.sort(key=lambda t: to_utc(t.time))
    if not inside:
        p = before.price if before else None
        return Stats24h(symbol, p, p, 0, 0, None, None, 0, 0, 0)
    last = inside[-1].price
    ref = before.price if before is not None else inside[0].price
    prices = [t.price for t in inside]
    return Stats24h(
        symbol, last, ref, last - ref, _bps(last - ref, ref) if ref else 0, max(prices), min(prices),
        sum(t.quantity for t in inside), sum(t.quote for t in inside), len(inside),
    )


class Extremes(NamedTuple):
    """All-time high and low trade prices and when they were first reached."""

    symbol: str
    high: int
    high_time: datetime
    low: int
    low_time: datetime


def all_time(trades: Iterable[Trade], symbol: str) -> Extremes | None:
    hi: Trade | None = None
    lo: Trade | None = None
    for t in trades:
        if t.symbol != symbol:
            continue
        if hi is None or t.price > hi.price or (t.price == hi.price and to_utc(t.time) < to_utc(hi.time)):
            hi = t
        if lo is None or t.price < lo.price or (t.price == lo.price and to_utc(t.time) < to_utc(lo.time)):
            lo = t
    if hi is None or lo is None:
        return None
    return Extremes(symbol, hi.price, hi.time, lo.price, lo.time)


# -- market cap ----------------------------------------------------------------
def market_cap(price: int, circulating: int) -> int:
    """COIN value of the circulating supply at ``price`` COIN per coin."""
    return price * circulating


def market_cap_of(ledger: Ledger, symbol: str, price: int) -> int:
    """Market cap with circulating supply from the ledger (issued - burned)."""
    return market_cap(price, ledger.supply(symbol).circulating)


# -- leaderboards --------------------------------------------------------------
class Ranked(NamedTuple):
    """One leaderboard row. ``key`` is a symbol (coin boards) or an account (holders);
    ``value`` is what the board ranks by (COIN, coins, or basis points for gainers)."""

    rank: int
    key: str
    value: int


def _rank(items: Iterable[tuple[str, int]], limit: int, descending: bool = True) -> list[Ranked]:
    sign = -1 if descending else 1
    ordered = sorted(items, key=lambda kv: (sign * kv[1], kv[0]))  # ties: by key, stable output
    return [Ranked(i + 1, k, v) for i, (k, v) in enumerate(ordered[:limit])]


def by_market_cap(ledger: Ledger, prices: Mapping[str, int], limit: int = 10) -> list[Ranked]:
    """Coins by market cap; ``prices`` maps symbol -> current price (e.g. last trade)."""
    return _rank(((s, market_cap_of(ledger, s, p)) for s, p in prices.items()), limit)


def by_volume(trades: Iterable[Trade], now: datetime, limit: int = 10) -> list[Ranked]:
    """Coins by 24h quote volume (COIN)."""
    now_u = to_utc(now)
    vol: dict[str, int] = defaultdict(int)
    for t in trades:
        if now_u - DAY < to_utc(t.time) <= now_u:
            vol[t.symbol] += t.quote
    return _rank(vol.items(), limit)


def _changes(trades: Iterable[Trade], now: datetime) -> list[tuple[str, int]]:
    """(symbol, 24h change in bps) of every coin that traded in the last 24h: one pass to
    group the tape by coin, then one `stats_24h` per coin."""
    by_symbol: dict[str, list[Trade]] = defaultdict(list)
    for t in trades:
        by_symbol[t.symbol].append(t)
    out = []
    for s in sorted(by_symbol):
        st = stats_24h(by_symbol[s], s, now)
        if st.trades:
            out.append((s, st.change_bps))
    return out


def top_gainers(trades: Iterable[Trade], now: datetime, limit: int = 10) -> list[Ranked]:
    """Coins that traded in the last 24h with the largest rise (value in basis points)."""
    rows = [r for r in _changes(trades, now) if r[1] > 0]
    return _rank(rows, limit)


def top_losers(trades: Iterable[Trade], now: datetime, limit: int = 10) -> list[Ranked]:
    """Coins that traded in the last 24h with the largest fall (value in basis points)."""
    rows = [r for r in _changes(trades, now) if r[1] < 0]
    return _rank(rows, limit, descending=False)


def holder_balances(ledger: Ledger, symbol: str) -> dict[str, int]:
    """What each user account owns of ``symbol``: spendable balance plus what is locked
    in holds (a resting sell order's coins sit in escrow but still belong to the user)."""
    from ledger import HoldStatus

    owned: dict[str, int] = defaultdict(int)
    for account, asset, amount in ledger.store.stored_balances():
        if asset == symbol and is_user_account(account) and amount:
            owned[account] += amount
    for h in ledger.store.holds(status=HoldStatus.LOCKED):
        if h.asset == symbol and is_user_account(h.account):
            owned[h.account] += h.amount
    return dict(owned)


def top_holders(ledger_or_balances: Ledger | Mapping[str, int], symbol: str, limit: int = 10) -> list[Ranked]:
    """Largest holders of ``symbol`` among user accounts (system accounts excluded)."""
    if isinstance(ledger_or_balances, Mapping):
        balances = {a: n for a, n in ledger_or_balances.items() if is_user_account(a) and n > 0}
    else:
        balances = holder_balances(ledger_or_balances, symbol)
    return _rank(balances.items(), limit)
