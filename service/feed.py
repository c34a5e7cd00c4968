"""The live market feed: per brand coin, every trade and every change of a book level,
numbered, pushed to subscribers (Server-Sent Events, see routes.market).

Numbers: each coin's events are numbered 1, 2, 3, ... in commit order. Events are staged
while the writer's batch runs (`stage`) and numbered and sent only once it has
committed (`commit`): nothing is announced that a rollback could take back. A rollback
drops them and sends ``reset``: the books were rebuilt from the database, so a client
fetches a snapshot again. A book event carries each changed level's whole new state
(price, quantity, orders; quantity 0: the level is gone), so applying it twice, or to a
snapshot that already had it, is harmless.

A client that misses a number (it reconnected, or it read too slowly and its queue
overflowed) re-syncs from a snapshot: the book (`GET /api/market/{symbol}/book`, with
its ``sequence``) and then the events numbered after it. On reconnecting with
``Last-Event-ID`` the stream replays the missed events while they are still in the
recent ring (the last 1,024 per coin), else it starts with a snapshot.

Thread use: `stage`, `commit` and `discard` run on the writer thread; subscribers live
on event loops, and get their events with ``call_soon_threadsafe``."""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict, deque
from typing import Any, NamedTuple

__all__ = ["Event", "Feed", "Subscription"]

RING = 1024
QUEUE = 4096


class Event(NamedTuple):
    """``kind``: trade, book or reset; ``data``: the body (camelCase keys)."""

    symbol: str
    sequence: int
    kind: str
    data: dict[str, Any]


class Subscription:
    """One client's queue. ``overflowed``: events were dropped (the client must re-sync)."""

    def __init__(self, symbol: str, loop: asyncio.AbstractEventLoop) -> None:
        self.symbol, self.loop = symbol, loop
        self.queue: asyncio.Queue[Event] = asyncio.Queue(QUEUE)
        self.overflowed = False

    def _put(self, event: Event) -> None:  # on the subscriber's loop
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True


class Feed:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sequence: dict[str, int] = defaultdict(int)
        self._recent: dict[str, deque[Event]] = defaultdict(lambda: deque(maxlen=RING))
        self._subscribers: dict[str, set[Subscription]] = defaultdict(set)
        self._staged: list[tuple[str, str, dict[str, Any]]] = []

    def sequence(self, symbol: str) -> int:
        """The number of the coin's last event sent."""
        return self._sequence.get(symbol, 0)

    def stage(self, symbol: str, kind: str, data: dict[str, Any]) -> None:
        """An event of the writer's open batch: sent when the batch commits."""
        self._staged.append((symbol, kind, data))

    def commit(self) -> None:
        """The batch committed: number its events and send them."""
        if not self._staged:
            return
        staged, self._staged = self._staged, []
        with self._lock:
            for symbol, kind, data in staged:
                self._send(symbol, kind, data)

    def discard(self) -> None:
        """The batch rolled back: drop its events; every coin's subscribers re-sync."""
        self._staged = []
        with self._lock:
            for symbol in list(self._sequence):
                self._send(symbol, "reset", {"reason": "the market was rebuilt from the database"})

    def _send(self, symbol: str, kind: str, data: dict[str, Any]) -> None:
        seq = self._sequence[symbol] = self._sequence[symbol] + 1
        event = Event(symbol, seq, kind, {"sequence": seq, "symbol": symbol, **data})
        self._recent[symbol].append(event)
        for sub in self._subscribers.get(symbol, ()):
            sub.loop.call_soon_threadsafe(sub._put, event)

    def subscribe(self, symbol: str, after: int | None = None) -> tuple[Subscription, list[Event] | None]:
        """A subscription to ``symbol`` on the running loop, and the events numbered after
        ``after`` still in the ring (None: they are not all there: re-sync from a snapshot)."""
        sub = Subscription(symbol, asyncio.get_running_loop())
        with self._lock:
            self._subscribers[symbol].add(sub)
            missed: list[Event] | None = None
            if after is not None and 0 <= after <= self._sequence[symbol]:
                ring = self._recent[symbol]
                missed = [e for e in ring if e.sequence > after]
                if after < self._sequence[symbol] and (not missed or missed[0].sequence != after + 1):
                    missed = None
        return sub, missed

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subscribers[sub.symbol].discard(sub)
