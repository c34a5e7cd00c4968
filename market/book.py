"""Orders and the price-time-priority order book of one coin. Pure data, no ledger.

Each side is a dict ``price -> deque of orders`` (time priority inside a level) plus a
heap of prices for the best level. Empty levels are deleted from the dict at once and
their heap entries dropped lazily when they reach the top; a set remembers which
prices are in the heap so re-created levels do not pile up duplicates.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime
from heapq import heappop, heappush
from typing import Final, NamedTuple

__all__ = [
    "BUY",
    "SELL",
    "TIFS",
    "Level",
    "Order",
    "OrderBook",
    "OrderStatus",
    "new_order",
]

BUY = "buy"
SELL = "sell"
TIFS = ("GTC", "GTD", "IOC", "FOK")


class OrderStatus:
    """An order's life: NEW while being processed; OPEN resting in the book (possibly
    partly filled); QUEUED waiting for a paused market; then one of the final states.
    (Final: compiled by mypyc, constants read through the class must be declared so.)"""

    NEW: Final = "new"
    OPEN: Final = "open"
    QUEUED: Final = "queued"
    FILLED: Final = "filled"
    CANCELLED: Final = "cancelled"
    EXPIRED: Final = "expired"
    REJECTED: Final = "rejected"
    FINAL: Final = frozenset({"filled", "cancelled", "expired", "rejected"})


class Order:
    """One order. Mutable: matching updates ``remaining`` and ``status`` in place.

    account: the owner's ledger account (``user:alice``).
    side: BUY or SELL.  kind: ``limit`` or ``market``.
    price: limit price in COIN per coin; for a market order, its protection price.
    quantity: coins asked for; ``remaining`` is what is still open; ``filled`` is traded.
    tif: GTC, GTD (needs ``expires_at``), IOC or FOK.  post_only: never takes liquidity.
    hold_id / locked: the ledger hold of a resting order and how much it still locks
      (coins for a sell; COIN for a buy: price * remaining + the maker fee on it).
    reason: why it was rejected or cancelled (``post_only_would_cross``, ``self_trade``,
      ``price_band`` ...).  trades: the fills this order took part in as the taker.
    """

    __slots__ = (
        "id", "symbol", "account", "side", "kind", "price", "quantity", "remaining", "filled",
        "tif", "post_only", "expires_at", "status", "hold_id", "locked", "created_at",
        "reason", "_trades", "platform",
    )

    def __init__(self, id: int, symbol: str, account: str, side: str, kind: str, price: int,
                 quantity: int, tif: str = "GTC", post_only: bool = False,
                 expires_at: datetime | None = None, created_at: datetime | None = None) -> None:
        self.id = id
        self.symbol = symbol
        self.account = account
        self.side = side
        self.kind = kind
        self.price = price
        self.quantity = quantity
        self.remaining = quantity
        self.filled = 0
        self.tif = tif
        self.post_only = post_only
        self.expires_at = expires_at
        self.status = OrderStatus.NEW
        self.hold_id: str | None = None
        self.locked = 0
        self.created_at = created_at
        self.reason: str | None = None
        self._trades: list | None = None  # see ``trades``
        self.platform = False  # the platform's own order (the price-floor buy-back)

    @property
    def trades(self) -> list:
        """The fills this order took part in as the taker, made on first use: most orders
        never take, and an empty list for each was ~5% of a bare resting order (building
        it, and the garbage collector scanning it with the order)."""
        trades = self._trades
        if trades is None:
            trades = self._trades = []
        return trades

    def __copy__(self) -> Order:
        """A snapshot (shallow, as `copy.copy` makes one: the trade list is shared). Written
        out because compiled by mypyc Order is a native class, which copy's generic
        reconstruction cannot build (it calls the class without arguments)."""
        c = new_order(self.id, self.symbol, self.account, self.side, self.kind, self.price, self.quantity,
                      self.tif, self.post_only, self.expires_at, self.created_at)
        c.remaining, c.filled, c.status, c.hold_id = self.remaining, self.filled, self.status, self.hold_id
        c.locked, c.reason, c._trades, c.platform = self.locked, self.reason, self._trades, self.platform
        return c

    @property
    def is_open(self) -> bool:
        return self.status == OrderStatus.OPEN

    def __repr__(self) -> str:
        return (f"Order({self.id} {self.account} {self.side} {self.remaining}/{self.quantity}"
                f" @{self.price} {self.kind} {self.tif} {self.status}"
                f"{' ' + self.reason if self.reason else ''})")


_object_new = object.__new__
# True when this module runs compiled by mypyc (market/_compiled.py loads the build)
COMPILED: Final = not __file__.endswith(".py")


def new_order(id: int, symbol: str, account: str, side: str, kind: str, price: int, quantity: int,
              tif: str, post_only: bool, expires_at: datetime | None, created_at: datetime | None) -> Order:
    """``Order(...)`` with every argument given, built without the class call: calling a
    class runs ``__init__`` through the type's slot (in CPython 3.11 a fresh interpreter
    frame), which cost ~10% of a bare resting order. Sets exactly what ``__init__`` sets
    (a test compares every slot). Compiled, the class call is the fast one (a native
    class has no interpreter frame, and refuses ``object.__new__``)."""
    if COMPILED:
        return Order(id, symbol, account, side, kind, price, quantity, tif, post_only, expires_at, created_at)
    self = _object_new(Order)
    self.id = id
    self.symbol = symbol
    self.account = account
    self.side = side
    self.kind = kind
    self.price = price
    self.quantity = quantity
    self.remaining = quantity
    self.filled = 0
    self.tif = tif
    self.post_only = post_only
    self.expires_at = expires_at
    self.status = OrderStatus.NEW
    self.hold_id = None
    self.locked = 0
    self.created_at = created_at
    self.reason = None
    self._trades = None
    self.platform = False
    return self


class Level(NamedTuple):
    """One price level of a book snapshot."""

    price: int
    quantity: int
    orders: int


class OrderBook:
    """The resting orders of one coin. ``orders`` maps id -> resting order."""

    __slots__ = ("symbol", "bids", "asks", "bid_heap", "ask_heap", "bid_in_heap", "ask_in_heap", "orders")

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.bids: dict[int, deque[Order]] = {}
        self.asks: dict[int, deque[Order]] = {}
        self.bid_heap: list[int] = []  # negated prices: heap[0] is the best (highest) bid
        self.ask_heap: list[int] = []
        self.bid_in_heap: set[int] = set()
        self.ask_in_heap: set[int] = set()
        self.orders: dict[int, Order] = {}

    # -- changing ------------------------------------------------------------------
    def add(self, order: Order) -> None:
        """Rest ``order`` at the back of its price level."""
        price = order.price
        if order.side == BUY:
            level = self.bids.get(price)
            if level is None:
                level = self.bids[price] = deque()
                if price not in self.bid_in_heap:
                    heappush(self.bid_heap, -price)
                    self.bid_in_heap.add(price)
        else:
            level = self.asks.get(price)
            if level is None:
                level = self.asks[price] = deque()
                if price not in self.ask_in_heap:
                    heappush(self.ask_heap, price)
                    self.ask_in_heap.add(price)
        level.append(order)
        self.orders[order.id] = order

    def remove(self, order: Order) -> None:
        """Take a resting order out of the book (cancel, expiry)."""
        levels = self.bids if order.side == BUY else self.asks
        level = levels[order.price]
        level.remove(order)
        if not level:
            del levels[order.price]
        del self.orders[order.id]

    # -- reading -------------------------------------------------------------------
    def best_bid(self) -> int | None:
        heap, levels = self.bid_heap, self.bids
        while heap:
            price = -heap[0]
            if price in levels:
                return price
            heappop(heap)
            self.bid_in_heap.discard(price)
        return None

    def best_ask(self) -> int | None:
        heap, levels = self.ask_heap, self.asks
        while heap:
            price = heap[0]
            if price in levels:
                return price
            heappop(heap)
            self.ask_in_heap.discard(price)
        return None

    def is_crossed(self) -> bool:
        bid, ask = self.best_bid(), self.best_ask()
        return bid is not None and ask is not None and bid >= ask

    def depth(self, side: str, levels: int = 10) -> list[Level]:
        """The best ``levels`` price levels of one side, best first."""
        book = self.bids if side == BUY else self.asks
        prices = sorted(book, reverse=side == BUY)[:levels]
        return [Level(p, sum(o.remaining for o in book[p]), len(book[p])) for p in prices]

    def __len__(self) -> int:
        return len(self.orders)

    def __contains__(self, order_id: int) -> bool:
        return order_id in self.orders
