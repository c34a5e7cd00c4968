"""The brand-coin market inside the service: one `market.Exchange` per process, its
state written to the database with every change so the books survive a restart.

Why this shape: the Exchange keeps its books in memory (that is what makes matching
fast), and one thread makes every change to it, in arrival order: request threads hand
it a job (`run`) and wait for the outcome. On PostgreSQL that thread is the process's
writer (service.writer): a job runs inside the writer's batch transaction, so each fill,
lock and cancel is its own atomic ledger request and the order and trade rows are
written in the same transaction as the ledger (they commit together; nothing is
acknowledged before). If a batch's transaction fails, the writer has the Exchange
rebuilt from the database (`_load`) and runs the jobs again one by one. On SQLite the
writer runs the jobs in order, each committing as it goes.

`restore` rebuilds the books at start-up and reconciles them with the ledger: a
resting order is put back in its book only when its hold is still LOCKED for exactly
what the row says, and every other market hold is returned to its owner (the order is
cancelled with reason ``restart_reconcile``). Coins are recorded before the ledger
launches them, and a record whose asset never reached the ledger is dropped.

One process owns the books: with several uvicorn workers each would hold its own
books, so the service refuses market routes unless it runs with one worker (see
``Settings.workers``). Readers take ``lock`` to see the Exchange between jobs.

This module reaches into `Exchange` internals (``coins``, ``markets``, ``live``, the
id counters) to rebuild it without relaunching coins: a thin adapter, because market/
has no restore API."""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from heapq import heappush
from itertools import count
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Table, delete, func, insert, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from ledger import HoldStatus, Ledger, LedgerError

# Submodules, not the package: the project's editable install maps `market` as a
# namespace package, so `from market import X` fails under the `coinlab` entry point.
from market.book import Order, OrderStatus
from market.coins import SYMBOL_RE, BrandCoin, CoinError, vesting_account
from market.config import MarketConfig
from market.exchange import Exchange
from market.matching import CoinMarket
from market.reference import MAX_TRADES
from market.trades import Trade
from service.tables import brand_coins, market_orders, market_trades

from .writer import Writer

__all__ = ["MarketState", "order_dict"]

T = TypeVar("T")
_LIVE = (OrderStatus.OPEN, OrderStatus.QUEUED)


def _utc(t: datetime | None) -> datetime | None:
    if t is None:
        return None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _state(o: Order) -> tuple[Any, ...]:
    return (o.status, o.remaining, o.filled, o.hold_id, o.locked, o.reason)


def order_dict(o: Order) -> dict[str, Any]:
    return {"id": o.id, "symbol": o.symbol, "account": o.account, "side": o.side, "kind": o.kind,
            "price": o.price, "quantity": o.quantity, "remaining": o.remaining, "filled": o.filled,
            "tif": o.tif, "post_only": o.post_only, "expires_at": o.expires_at, "status": o.status,
            "hold_id": o.hold_id, "locked": o.locked, "reason": o.reason, "created_at": o.created_at}


_ORDER_COLUMNS = [c.name for c in market_orders.columns]
_TRADE_COLUMNS = [c.name for c in market_trades.columns]
_UPDATED = ("remaining", "filled", "status", "hold_id", "locked", "reason")  # what changes in an order


def _insert_columns(table: Table, prefix: str) -> str:
    """INSERT INTO ``table`` all its columns, from one array parameter each (PostgreSQL)."""
    casts = [f"CAST(:{prefix}{c.name} AS {c.type.compile(dialect=postgresql.dialect())}[])" for c in table.columns]
    return (f"INSERT INTO {table.name} ({', '.join(c.name for c in table.columns)}) "
            f"SELECT * FROM unnest({', '.join(casts)})")


@functools.cache
def _pg_market_writes(orders: bool, trades: bool) -> Any:
    """A batch's changed orders (upserted) and new trades in one statement (PostgreSQL)."""
    parts = []
    if orders:
        parts.append(f"o AS ({_insert_columns(market_orders, 'o_')} "
                     "ON CONFLICT (id) DO UPDATE SET " + ", ".join(f"{c} = EXCLUDED.{c}" for c in _UPDATED) + ")")
    if trades:
        parts.append(f"t AS ({_insert_columns(market_trades, 't_')})")
    return text("WITH " + ", ".join(parts) + " SELECT 1")


class _Job(NamedTuple):
    symbol: str | None  # the coin whose changed orders are persisted afterwards
    fn: Callable[[Exchange], Any]
    extra: tuple[Order, ...]  # other orders the job may change


class MarketState:
    def __init__(self, ledger: Ledger, engine: Engine, config: MarketConfig | None = None,
                 writer: Writer | None = None) -> None:
        self.ledger = ledger
        self.engine = engine
        self.config = config or MarketConfig()
        self.lock = threading.RLock()
        self._pg = engine.dialect.name == "postgresql"
        self.restored = 0
        self.reconciled = 0
        self._load()
        # the service's writer, or one of the market's own (a MarketState used alone)
        self._own_writer = writer is None
        self.writer = writer or Writer(ledger.store)
        self.writer.on_rollback.append(self._load)
        self.writer.before_commit.append(self._flush)

    def _load(self) -> None:
        with self.lock:
            self.exchange = Exchange(self.ledger, self.config)
            self._fresh: list[Trade] = []
            self.exchange.subscribe(on_trade=self._fresh.append)
            self._saved: dict[int, tuple[Any, ...]] = {}
            self._pending: dict[int, Order] = {}  # touched in the writer's open batch
            self.restore()

    def close(self) -> None:
        if self._own_writer:
            self.writer.close()

    # -- running one change --------------------------------------------------------------
    def run(self, symbol: str | None, fn: Callable[[Exchange], T], extra: Iterable[Order] = ()) -> T:
        """Have the writer run ``fn`` on the exchange, persist every order of ``symbol``
        that changed (and ``extra``) and the trades it made; returns once committed. An
        Order result is a snapshot: the live order may change in later batches."""
        job = _Job(symbol, fn, tuple(extra))
        result = self.writer.run(lambda: self._attempt(job))
        if isinstance(result, BaseException):  # run directly by a job on the writer
            raise result
        return result

    def submit(self, symbol: str, **kw: Any) -> Order:
        return self.run(symbol, lambda ex: ex.submit(symbol, **kw))

    def order_rows(self, symbol: str, account: str, side: str, quantity: int,
                   price: int | None) -> set[tuple[str, str]]:
        """The balance rows an order would touch if it ran now (`CoinMarket.rows_touched`):
        the hint the writer locks a batch's rows by (`Writer.submit`)."""
        with self.lock:
            market = self.exchange.markets.get(symbol)
            return market.rows_touched(account, side, quantity, price) if market is not None else set()

    def cancel(self, order_id: int, account: str) -> Order:
        order = self.exchange.live.get(order_id)  # only to know which book to persist
        return self.run(order.symbol if order is not None else None,
                        lambda ex: ex.cancel(order_id, account=account), [order] if order is not None else [])

    def launch(self, symbol: str, name: str, seller: str, *, initial_price: int,
               max_supply: int | None, allocation: int | None) -> BrandCoin:
        return self.run(None, lambda ex: self._launch(symbol, name, seller, initial_price=initial_price,
                                                      max_supply=max_supply, allocation=allocation))

    def _attempt(self, job: _Job) -> Any:
        """One job under the lock; its own failure is its result, but a database error
        is raised (the writer decides what it fails: see service.writer)."""
        with self.lock:
            market = self.exchange.markets.get(job.symbol) if job.symbol else None
            before = list(market.book.orders.values()) if market is not None else []
            result: Any = None
            try:
                result = job.fn(self.exchange)
            except DBAPIError:
                raise
            except Exception as err:
                result = err
            after = list(market.book.orders.values()) if market is not None else []
            touched = [*before, *after, *job.extra]
            if isinstance(result, Order):
                touched.append(result)
                result = copy.copy(result)
            self._persist(touched)
            return result

    def _launch(self, symbol: str, name: str, seller: str, *, initial_price: int,
                max_supply: int | None, allocation: int | None) -> BrandCoin:
        ex, cfg = self.exchange, self.exchange.config
        if type(symbol) is not str or not SYMBOL_RE.match(symbol) or symbol in ("COIN", "USD"):
            raise CoinError(f"coin symbol must be 2-16 upper-case letters/digits, not COIN or USD; got {symbol!r}")
        if symbol in ex.coins or symbol in self.ledger.store.assets():
            raise CoinError(f"symbol {symbol!r} is already taken")
        max_supply = cfg.max_supply if max_supply is None else max_supply
        if allocation is None and type(max_supply) is int:
            allocation = max_supply * cfg.seller_allocation_bps // 10000
        now = ex.clock()
        vest = cfg.vesting
        # recorded first, in a transaction of its own: a crash after the ledger launch
        # must not lose the coin (restore drops a record the ledger never got)
        with self.engine.begin() as conn:
            conn.execute(insert(brand_coins).values(
                symbol=symbol, name=name, seller=seller, max_supply=max_supply, initial_price=initial_price,
                launched_at=now, allocation=allocation or 0, cliff_days=vest.cliff_days if vest.enabled else 0,
                vesting_days=vest.duration_days if vest.enabled else 0, floor_price=None))
        try:
            coin = ex.launch(symbol, name, seller, initial_price=initial_price, max_supply=max_supply,
                             allocation=allocation, now=now)
        except BaseException:
            with self.engine.begin() as conn:
                conn.execute(delete(brand_coins).where(brand_coins.c.symbol == symbol))
            raise
        if coin.floor_price is not None:
            with self._writing() as conn:
                conn.execute(brand_coins.update().where(brand_coins.c.symbol == symbol)
                             .values(floor_price=coin.floor_price))
        self._persist(ex.markets[symbol].book.orders.values())
        return coin

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        """The writer's batch transaction, or (SQLite) one of its own."""
        conn = self.writer.conn
        if conn is not None:
            yield conn
            return
        with self.engine.begin() as conn:
            yield conn

    # -- persistence -----------------------------------------------------------------------
    def _persist(self, orders: Iterable[Order]) -> None:
        if self.writer.conn is not None:
            # in the writer's batch: written once, in their final state, at its end
            for o in orders:
                self._pending[o.id] = o
            return
        self._write_orders(orders)

    def _flush(self) -> None:
        with self.lock:
            pending, self._pending = self._pending, {}
            self._write_orders(pending.values())

    def _write_orders(self, orders: Iterable[Order]) -> None:
        changed: dict[int, Order] = {}
        for o in orders:
            if o.id not in changed and self._saved.get(o.id) != _state(o):
                changed[o.id] = o
        trades, self._fresh[:] = list(self._fresh), []
        if not changed and not trades:
            return
        rows = [order_dict(o) for o in changed.values()]
        with self._writing() as conn:
            if self._pg:
                # both tables in one statement of whole columns: one round trip, and a text
                # psycopg parses once (a multi-row VALUES was rendered anew for each batch)
                params = {f"o_{c}": [r[c] for r in rows] for c in _ORDER_COLUMNS}
                params.update({f"t_{c}": [getattr(t, c) for t in trades] for c in _TRADE_COLUMNS})
                conn.execute(_pg_market_writes(bool(rows), bool(trades)), params)
            else:  # SQLite
                if rows:
                    stmt = sqlite_insert(market_orders)
                    stmt = stmt.on_conflict_do_update(index_elements=["id"],
                                                      set_={c: getattr(stmt.excluded, c) for c in _UPDATED})
                    conn.execute(stmt, rows)
                if trades:
                    conn.execute(insert(market_trades), [t._asdict() for t in trades])
        for o in changed.values():
            if o.status in _LIVE:
                self._saved[o.id] = _state(o)
            else:
                self._saved.pop(o.id, None)

    def _replay_reference_window(self) -> None:
        """Feed each coin's robust price the trades still in its window, so a restart
        does not put payouts back at the launch price (the price set before the window
        is not kept: it falls back to the launch price until the market trades)."""
        ex = self.exchange
        since = ex.clock() - timedelta(seconds=ex.config.reference.window_seconds)
        with self.engine.connect() as conn:
            recent = conn.execute(select(market_trades).order_by(market_trades.c.id.desc()).limit(MAX_TRADES)).all()
        for t in reversed(recent):
            m, at = ex.markets.get(t.symbol), _utc(t.time)
            if m is not None and at is not None and at > since:
                m.robust.add(at, t.buyer, t.seller, t.price, t.quantity, t.taker_order_id)

    def restore(self) -> None:
        """Rebuild coins and books from the database and reconcile them with the ledger."""
        ex = self.exchange
        with self.engine.connect() as conn:
            coins = conn.execute(select(brand_coins).order_by(brand_coins.c.launched_at)).all()
            max_order = conn.execute(select(func.max(market_orders.c.id))).scalar() or 0
            max_trade = conn.execute(select(func.max(market_trades.c.id))).scalar() or 0
            rows = conn.execute(select(market_orders).where(market_orders.c.status.in_(_LIVE))
                                .order_by(market_orders.c.id)).all()
            last = {r.symbol: r.price for r in conn.execute(
                select(market_trades.c.symbol, market_trades.c.price)
                .where(market_trades.c.id.in_(select(func.max(market_trades.c.id)).group_by(market_trades.c.symbol))))}
        ex._order_ids = count(max_order + 1)
        ex._trade_ids = count(max_trade + 1)
        assets = self.ledger.store.assets()
        for r in coins:
            if r.symbol not in assets:  # recorded, but the launch never reached the ledger
                with self.engine.begin() as conn:
                    conn.execute(delete(brand_coins).where(brand_coins.c.symbol == r.symbol))
                continue
            coin = BrandCoin(r.symbol, r.name, r.seller, r.max_supply, r.initial_price, _utc(r.launched_at) or r.launched_at,
                             r.allocation, 0, r.cliff_days, r.vesting_days, r.floor_price)
            coin.released = (r.allocation - self.ledger.balance(vesting_account(r.symbol), r.symbol)
                             if coin.vests else r.allocation)
            ex.coins[r.symbol] = coin
            m = CoinMarket(self.ledger, coin, ex.config, trade_ids=ex._trade_ids, live=ex.live, emit=ex._emit,
                           alert=ex._alert, platform=ex.platform)
            m.last_price = last.get(r.symbol)
            ex.markets[r.symbol] = m
        self._replay_reference_window()
        kept: set[str] = set()
        for r in rows:
            hold = self.ledger.store.get_hold(r.hold_id) if r.hold_id else None
            om = ex.markets.get(r.symbol)
            if (om is not None and r.status == OrderStatus.OPEN and hold is not None
                    and hold.status == HoldStatus.LOCKED and hold.amount == r.locked):
                o = Order(r.id, r.symbol, r.account, r.side, r.kind, r.price, r.quantity, r.tif, r.post_only,
                          _utc(r.expires_at), _utc(r.created_at))
                o.remaining, o.filled, o.status, o.hold_id, o.locked = r.remaining, r.filled, OrderStatus.OPEN, r.hold_id, r.locked
                o.platform = r.account in ex.platform
                om.book.add(o)
                ex.live[o.id] = o
                if o.tif == "GTD" and o.expires_at is not None:
                    heappush(om.expiries, (o.expires_at, o.id, o))
                self._saved[o.id] = _state(o)
                kept.add(r.hold_id)
                self.restored += 1
                continue
            status = OrderStatus.FILLED if hold is not None and hold.status == HoldStatus.RELEASED else OrderStatus.CANCELLED
            with self.engine.begin() as conn:
                conn.execute(market_orders.update().where(market_orders.c.id == r.id)
                             .values(status=status, reason="restart_reconcile", hold_id=None, locked=0))
            self.reconciled += 1
        for h in self.ledger.store.holds(status=HoldStatus.LOCKED):
            if h.ref_type == "order" and h.id not in kept:
                try:
                    self.ledger.void(h.id, note="market restart: order not in the book")
                    self.reconciled += 1
                except LedgerError:
                    continue

    # -- reading -----------------------------------------------------------------------------
    def trades(self, symbol: str | None = None, *, limit: int | None = None, offset: int = 0,
               newest_first: bool = True) -> list[Trade]:
        t = market_trades
        q = select(t)
        if symbol is not None:
            q = q.where(t.c.symbol == symbol)
        q = q.order_by(t.c.id.desc() if newest_first else t.c.id).offset(offset)
        if limit is not None:
            q = q.limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return [Trade(r.id, r.symbol, _utc(r.time), r.price, r.quantity, r.quote, r.buyer, r.seller,  # type: ignore[arg-type]
                      r.taker_side, r.maker_order_id, r.taker_order_id, r.buyer_fee, r.seller_fee) for r in rows]

    def orders(self, account: str, *, limit: int, offset: int) -> list[dict[str, Any]]:
        t = market_orders
        with self.engine.connect() as conn:
            rows = conn.execute(select(t).where(t.c.account == account).order_by(t.c.id.desc())
                                .limit(limit).offset(offset)).all()
        out = []
        for r in rows:
            d = dict(r._mapping)
            del d["hold_id"], d["locked"]
            d["created_at"], d["expires_at"] = _utc(d["created_at"]), _utc(d["expires_at"])
            out.append(d)
        return out
