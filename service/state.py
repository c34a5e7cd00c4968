"""Everything a request needs, built once per process: the ledger over the SQL store,
the economy (rules, packages, payments, pools, belt challenges, tournaments), the key
store and the market.

The hot write routes make ONE call here each (`daily_login`, `vote`, `transfer_coin`,
`place_order`): whether the write joins the writer's batch or runs in the thread pool
is this object's business, not the route's."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from ledger import EntryType, Ledger, Posting, Transaction, TransferRequest, user_account
from ledger.economy import Economy
from ledger.economy.config import load_config
from ledger.economy.contests import BeltChallenges, SqlContestStore, Tournaments
from ledger.economy.payments import make_stripe_client
from ledger.economy.rules import DailyLogin, utc_day
from ledger.sql import SqlStore
from market.book import Order, OrderStatus

from .batching import BatchingStore
from .database import upgrade
from .idempotency import IdempotencyStore
from .keys import KeyStore
from .market_state import MarketState
from .problems import ApiError, insufficient_extras
from .settings import Settings
from .writer import Writer
from .writer_socket import RemoteWriter, WriterServer

__all__ = ["ServiceState", "require_market"]

T = TypeVar("T")


class ServiceState:
    """``market`` is None in a process that does not own the brand-coin market (see
    Settings.workers and Settings.market_socket)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        if settings.migrate:
            upgrade(settings.db)
        self.store = SqlStore(settings.db)
        self.engine = self.store.engine
        # Concurrent requests share COMMITs (service.batching): every ledger write and
        # market change goes through one writer (service.writer): this process's, or,
        # in a worker of several, the market process's (service.writer_socket).
        owns_market = settings.workers == 1 and not settings.market_socket
        remote = settings.writer_socket if settings.writer_socket and not owns_market else None
        self.writer = Writer(self.store) if settings.group_commit and not remote else None
        self.remote_writer = RemoteWriter(remote) if remote else None
        writer = self.remote_writer or self.writer
        self.batching = BatchingStore(self.store, writer=writer) if writer is not None else None
        self.writer_server = (WriterServer(self.writer, settings.writer_socket)
                              if settings.writer_socket and owns_market and self.writer is not None else None)
        self.ledger = Ledger(self.batching or self.store)
        client = make_stripe_client(settings.stripe_api_key, settings.stripe_api_base)
        self.economy = Economy.build(self.ledger, load_config(settings.economy_config), stripe_client=client,
                                     webhook_secret=settings.stripe_webhook_secret)
        contests = SqlContestStore(self.engine)
        self.challenges = BeltChallenges(self.ledger, self.economy.challenges, contests)
        self.tournaments = Tournaments(self.ledger, self.economy.challenges, contests)
        self.idempotency = IdempotencyStore(self.engine, group_commit=settings.group_commit)
        self.keys = KeyStore(self.engine, settings.key_cache_seconds)
        # The market's ledger is the bare store: its jobs already run on the writer.
        self.market = MarketState(Ledger(self.store), self.engine, writer=self.writer) if owns_market else None

    async def write(self, job: Callable[[], T], *,
                    rows: Callable[[], Iterable[tuple[str, str]]] | None = None) -> T:
        """Run a route's domain work (``job``: sync code that writes through `ledger`
        and `market`) where writes are cheapest: on PostgreSQL as a job of the process's
        writer, inside its batch transaction, awaited once committed; elsewhere in the
        thread pool. The hot write routes use this; any route may. ``rows``: the balance
        rows the job will probably touch (see `Writer.submit`)."""
        if self.writer is not None:
            return await asyncio.wrap_future(self.writer.submit(job, rows=rows))
        return await run_in_threadpool(job)

    async def post(self, request: TransferRequest) -> Transaction:
        """`Ledger.post` for an async route: on PostgreSQL the request goes straight to the
        process's writer and is awaited there (no thread waits on it, and it shares the
        batch's apply_many); elsewhere Ledger.post runs in the thread pool. A route whose
        ledger work is a request it can build without reading (a vote, a COIN transfer)
        posts it this way and skips the thread-pool hop, the costliest part of a write."""
        if self.writer is not None:
            return await asyncio.wrap_future(self.writer.submit_write(request, self.ledger.clock()))
        return await run_in_threadpool(self.ledger.post, request)

    async def existing_keys(self, keys: Iterable[str]) -> set[str]:
        """Which of ``keys`` are ledger idempotency keys: with the writer's next batch (one
        query for all of its probes), or in the thread pool without a writer."""
        if self.writer is not None:
            return await asyncio.wrap_future(self.writer.existing_keys(keys))
        return await run_in_threadpool(self.store.existing_keys, list(keys))

    # -- the hot writes: one call each from its route --------------------------------------
    async def daily_login(self, user: str) -> DailyLogin:
        """`EconomyRules.daily_login`. With a writer, in one of its batches: the login
        reward and the probe of the previous days' login and bonus keys (the streak) go
        together; without one, or with facts to read first (a stake; the anti-sybil account
        age, activity and cluster), in the thread pool."""
        rules = self.economy.rules
        if self.writer is None or rules.reads_facts:
            return await run_in_threadpool(rules.daily_login, user)
        day = utc_day(self.ledger.clock())
        probed = rules.streak_keys(user, day)
        login, present = await asyncio.gather(self._post_optional(rules.daily_login_request(user, day)),
                                              self.existing_keys(probed))
        length, due = rules.streak_from_keys(day, login is not None, probed, present)
        streak = await self._post_optional(rules.streak_bonus_request(user, day)) if due else None
        return DailyLogin(login, streak, length)

    async def vote(self, user: str, claim_id: str) -> Transaction | None:
        return await self._post_optional(self.economy.rules.vote_request(user, claim_id))

    async def transfer_coin(self, frm: str, to: str, amount: int, *, key: str | None,
                            note: str | None) -> Transaction:
        """COIN from user ``frm`` to user ``to``."""
        return await self.post(TransferRequest(
            (Posting(user_account(frm), user_account(to), "COIN", amount),), EntryType.TRANSFER,
            idempotency_key=key, ref_type="user", ref_id=to, note=note))

    async def place_order(self, symbol: str, user: str, *, side: str, quantity: int, price: int | None, tif: str,
                          post_only: bool, expires_at: datetime | None, market: bool) -> Order:
        """Submit an order (on the writer, its likely rows locked with its batch's). An
        order the market refuses is an ApiError: 409 ``insufficient_funds`` (with
        ``required`` and ``balance``), 429 ``rate_limited``, else 409 ``order_rejected``;
        each names the ``reason`` and the ``orderId``."""
        m = require_market(self)
        account = user_account(user)

        def submit() -> tuple[Order, tuple[int, int, str] | None]:
            order = m.submit(symbol, account=account, side=side, quantity=quantity, price=price, tif=tif,
                             post_only=post_only, expires_at=expires_at, market=market)
            short = None
            if order.status == OrderStatus.REJECTED and order.reason == "insufficient_funds":
                short = m.shortfall(order)
            return order, short

        order, short = await self.write(submit, rows=lambda: m.order_rows(symbol, account, side, quantity, price))
        if order.status != OrderStatus.REJECTED:
            return order
        reason = order.reason or "rejected"
        facts: dict[str, Any] = {"reason": reason, "order_id": order.id}
        if short is not None:
            required, balance, asset = short
            raise ApiError(409, "insufficient_funds", f"the order needs {required} {asset}; {user} has {balance}",
                           asset=asset, **insufficient_extras(required, balance), **facts)
        if reason == "rate_limit":
            raise ApiError(429, "rate_limited", "too many orders: the market's rate limit refused this one",
                           **facts)
        raise ApiError(409, "order_rejected", f"the market refused the order: {reason}", **facts)

    async def balance_after(self, account: str, tx: Transaction | None, asset: str = "COIN") -> int:
        """The account's balance right after ``tx``, from the journal rows it wrote (no
        query); for a replayed or missing transaction, the current balance."""
        if tx is not None and not tx.replayed:
            for e in reversed(tx.entries):
                if e.asset == asset and account in (e.from_account, e.to_account):
                    return e.to_after if e.to_account == account else e.from_after
        return await run_in_threadpool(self.ledger.balance, account, asset)

    async def _post_optional(self, request: TransferRequest | None) -> Transaction | None:
        return None if request is None else await self.post(request)

    @property
    def payments_configured(self) -> bool:
        """A Stripe API key and a webhook signing secret are both set."""
        s = self.settings
        return bool(s.stripe_webhook_secret) and bool(s.stripe_api_key) and s.stripe_api_key != "sk_test_unset"

    def healthy(self) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(text("SELECT 1")).scalar() == 1

    def close(self) -> None:
        if self.writer_server is not None:
            self.writer_server.close()
        if self.market is not None:
            self.market.close()
        if self.batching is not None:
            self.batching.close()
        if self.writer is not None:
            self.writer.close()
        if self.remote_writer is not None:
            self.remote_writer.close()
        self.idempotency.close()
        self.engine.dispose()


def require_market(state: ServiceState) -> MarketState:
    """The process's market, or 503 ``market_single_worker`` where it runs elsewhere."""
    if state.market is None:
        raise ApiError(503, "market_single_worker",
                       "the brand-coin market runs only when the service has one worker (--workers 1)")
    return state.market
