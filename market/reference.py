"""The manipulation-resistant reference price of one coin: the price band's centre and
the value of every payout (redeem), never the last trade.

It is the volume-weighted average price of the trades of the last ``window_seconds``,
counting only trades between unrelated accounts: a trade inside a ring (see `rings`)
and a trade of an account with itself are left out. It moves only when the counted
trades reach ``min_volume`` coins between at least ``min_accounts`` distinct accounts;
otherwise it stays at the last price that did (the launch price at first). So two
accounts trading 1 coin back and forth at the band's edge move nothing: their trades
are a ring's, and two accounts are fewer than five anyway.

The average is floored (``quote // quantity``): a payout valued at it never pays the
fraction of a COIN, so no rounding creates money. It is recomputed when asked for, if a
trade came in or left the window since the last time. The window keeps at most the
last ``MAX_TRADES`` trades, so a flood of trades costs bounded memory and time; a flood
can only push counted trades out, which holds the price where it was, never moves it.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable
from datetime import datetime, timedelta

from .config import ReferencePrice
from .trades import Trade

__all__ = ["MAX_TRADES", "RobustPrice", "rings"]

MAX_TRADES = 10_000


def rings(pairs: Iterable[tuple[str, str]], *, min_repeats: int, max_accounts: int,
          share_bps: int) -> list[frozenset[str]]:
    """The small sets of accounts that trade mostly with each other, from the (buyer,
    seller) pairs of a window's trades.

    Accounts are joined when they traded with each other ``min_repeats`` times or more;
    a joined set of 2..``max_accounts`` accounts is a ring when more than ``share_bps``
    of the trades its members took part in were between members. A one-off trade joins
    nobody, and a market maker whose customers trade elsewhere too is not in a ring.
    Sorted for a stable answer."""
    per_pair: Counter[tuple[str, str]] = Counter()
    per_account: Counter[str] = Counter()
    for buyer, seller in pairs:
        if buyer == seller:
            continue
        per_pair[(buyer, seller) if buyer < seller else (seller, buyer)] += 1
        per_account[buyer] += 1
        per_account[seller] += 1
    joined: dict[str, set[str]] = {}
    for (a, b), n in per_pair.items():
        if n >= min_repeats:
            joined.setdefault(a, set()).add(b)
            joined.setdefault(b, set()).add(a)
    out = []
    seen: set[str] = set()
    for start in sorted(joined):
        if start in seen:
            continue
        group, todo = {start}, [start]
        while todo:
            for other in joined[todo.pop()]:
                if other not in group:
                    group.add(other)
                    todo.append(other)
        seen |= group
        if len(group) > max_accounts:
            continue
        inside = sum(n for (a, b), n in per_pair.items() if a in group and b in group)
        involving = sum(per_account[a] for a in group) - inside  # an inside trade has two members
        if inside * 10_000 > share_bps * involving:
            out.append(frozenset(group))
    return out


class RobustPrice:
    """The reference price of one coin, fed every trade with `add_trade` (or `add`).

    The window keeps the trades themselves (matching appends each Trade it makes to
    ``trades`` directly: no second record per fill)."""

    def __init__(self, config: ReferencePrice, initial_price: int) -> None:
        self.config = config
        self.window = timedelta(seconds=config.window_seconds)
        self.price = initial_price  # the last robust price
        self.trades: deque[Trade] = deque(maxlen=MAX_TRADES)  # read: time, buyer, seller, price, quantity, taker order
        self._stale = False

    def add(self, time: datetime, buyer: str, seller: str, price: int, quantity: int,
            order: int | None = None) -> None:
        """A trade; ``order`` is the taker order's id (its fills are one trade to `rings`)."""
        self.add_trade(Trade(0, "", time, price, quantity, price * quantity, buyer, seller, "",
                             taker_order_id=order))

    def add_trade(self, trade: Trade) -> None:
        """A trade (only its time, buyer, seller, price, quantity and taker order count)."""
        self.trades.append(trade)
        self._stale = True

    def at(self, now: datetime) -> int:
        """The reference price at ``now``."""
        cutoff = now - self.window
        trades = self.trades
        while trades and trades[0][2] <= cutoff:  # its time
            trades.popleft()
            self._stale = True
        if self._stale:
            self._stale = False
            self._update()
        return self.price

    def _update(self) -> None:
        cfg = self.config
        ring_of: dict[str, frozenset[str]] = {}
        for ring in rings(_one_per_order(self.trades), min_repeats=cfg.ring_min_repeats,
                          max_accounts=cfg.ring_max_accounts, share_bps=cfg.ring_share_bps):
            for account in ring:
                ring_of[account] = ring
        quote = qty = 0
        accounts = set()
        # unpacked, not read by field name: a Trade's field properties cost more
        for _, _, _, price, quantity, _, buyer, seller, _, _, _, _, _ in self.trades:
            if buyer == seller or seller in ring_of.get(buyer, ()):
                continue
            quote += price * quantity
            qty += quantity
            accounts.add(buyer)
            accounts.add(seller)
        if qty >= cfg.min_volume and len(accounts) >= cfg.min_accounts:
            self.price = quote // qty


def _one_per_order(trades: Iterable[Trade]) -> Iterable[tuple[str, str]]:
    """(buyer, seller) per trade, the consecutive fills of one taker order once."""
    last = None
    for _, _, _, _, _, _, buyer, seller, _, _, order, _, _ in trades:
        if order is None or order != last:
            yield buyer, seller
        last = order
